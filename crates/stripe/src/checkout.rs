//! The parameters of `POST /v1/checkout/sessions`, form-encoded with Stripe's bracket syntax:
//!
//! ```text
//! mode=payment
//! line_items[0][price_data][currency]=cny           (one line item per course of the order)
//! line_items[0][price_data][unit_amount]=9990
//! line_items[0][price_data][product_data][name]=...
//! line_items[0][quantity]=1
//! line_items[1][price_data][currency]=cny
//! ...
//! client_reference_id=<out_trade_no>
//! metadata[out_trade_no]=<out_trade_no>
//! payment_intent_data[metadata][out_trade_no]=<out_trade_no>   (so charge.refunded carries it)
//! expires_at=<unix>        (31 minutes to 24 hours from now)
//! success_url=...  cancel_url=...
//! ```

/// The earliest `expires_at` accepted here: 31 minutes from now (Stripe's minimum is 30).
pub const MIN_EXPIRES_IN_SECS: i64 = 31 * 60;
/// The latest `expires_at`: 24 hours from now.
pub const MAX_EXPIRES_IN_SECS: i64 = 24 * 3600;

const METADATA_OUT_TRADE_NO: &str = "metadata[out_trade_no]";
const PAYMENT_INTENT_METADATA_OUT_TRADE_NO: &str = "payment_intent_data[metadata][out_trade_no]";

/// Why a request was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {0}")]
pub struct InvalidRequest(pub String);

/// The most line items a Checkout Session in `payment` mode takes.
pub const MAX_LINE_ITEMS: usize = 100;

/// One line item of a session, priced inline (`price_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    /// Product name shown on the payment page.
    pub name: String,
    /// Price per unit in the smallest currency unit.
    pub unit_amount: i64,
    /// Quantity (at least 1).
    pub quantity: u32,
}

/// A Checkout Session: its line items, all in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSession {
    /// Our order number (`client_reference_id` and metadata; at most 200 characters).
    pub out_trade_no: String,
    /// The line items (1 to [`MAX_LINE_ITEMS`]).
    pub line_items: Vec<LineItem>,
    /// Lower-case ISO currency, e.g. `cny`.
    pub currency: String,
    /// Unix seconds, 31 minutes to 24 hours after `now`.
    pub expires_at: i64,
    /// Where Stripe sends the buyer after paying (may contain `{CHECKOUT_SESSION_ID}`).
    pub success_url: String,
    /// Where Stripe sends the buyer who cancels.
    pub cancel_url: String,
}

fn check_url(name: &str, value: &str) -> Result<(), InvalidRequest> {
    let parsed = url::Url::parse(value).map_err(|e| InvalidRequest(format!("{name}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(InvalidRequest(format!("{name} must be http(s)")));
    }
    Ok(())
}

/// A lower-case three-letter ISO currency code.
///
/// # Errors
/// [`InvalidRequest`].
pub fn check_currency(currency: &str) -> Result<(), InvalidRequest> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(InvalidRequest("currency must be three lower-case letters, e.g. cny".into()));
    }
    Ok(())
}

impl CreateSession {
    /// Amount of the session: the sum of `unit_amount * quantity` of its line items, if it
    /// does not overflow.
    #[must_use]
    pub fn amount_total(&self) -> Option<i64> {
        self.line_items
            .iter()
            .try_fold(0_i64, |sum, l| l.unit_amount.checked_mul(i64::from(l.quantity))?.checked_add(sum))
    }

    /// The form parameters in order, after checking every field. `now` is the current Unix time.
    ///
    /// # Errors
    /// [`InvalidRequest`].
    pub fn to_form(&self, now: i64) -> Result<Vec<(String, String)>, InvalidRequest> {
        let no = &self.out_trade_no;
        if no.is_empty() || no.chars().count() > 200 {
            return Err(InvalidRequest("out_trade_no must be 1 to 200 characters".into()));
        }
        if self.line_items.is_empty() || self.line_items.len() > MAX_LINE_ITEMS {
            return Err(InvalidRequest(format!("1 to {MAX_LINE_ITEMS} line items are needed")));
        }
        if self.line_items.iter().any(|l| l.name.trim().is_empty()) {
            return Err(InvalidRequest("a line item's name is empty".into()));
        }
        if self.line_items.iter().any(|l| l.unit_amount < 1 || l.quantity < 1)
            || self.amount_total().is_none()
        {
            return Err(InvalidRequest("unit_amount and quantity must be positive".into()));
        }
        check_currency(&self.currency)?;
        let ahead = self.expires_at - now;
        if !(MIN_EXPIRES_IN_SECS..=MAX_EXPIRES_IN_SECS).contains(&ahead) {
            return Err(InvalidRequest("expires_at must be 31 minutes to 24 hours from now".into()));
        }
        check_url("success_url", &self.success_url)?;
        check_url("cancel_url", &self.cancel_url)?;
        let mut pairs = vec![("mode".to_owned(), "payment".to_owned())];
        for (i, l) in self.line_items.iter().enumerate() {
            let item = |field: &str| format!("line_items[{i}]{field}");
            pairs.push((item("[price_data][currency]"), self.currency.clone()));
            pairs.push((item("[price_data][unit_amount]"), l.unit_amount.to_string()));
            pairs.push((item("[price_data][product_data][name]"), l.name.clone()));
            pairs.push((item("[quantity]"), l.quantity.to_string()));
        }
        let rest = [
            ("client_reference_id", no.clone()),
            (METADATA_OUT_TRADE_NO, no.clone()),
            (PAYMENT_INTENT_METADATA_OUT_TRADE_NO, no.clone()),
            ("expires_at", self.expires_at.to_string()),
            ("success_url", self.success_url.clone()),
            ("cancel_url", self.cancel_url.clone()),
        ];
        pairs.extend(rest.into_iter().map(|(k, v)| (k.to_owned(), v)));
        Ok(pairs)
    }
}

/// `application/x-www-form-urlencoded` of the pairs (brackets percent-encoded, as Stripe's SDKs do).
#[must_use]
pub fn encode_form(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_in: i64) -> CreateSession {
        CreateSession {
            out_trade_no: "CS20261130abc".into(),
            line_items: vec![
                LineItem { name: "Rust 实战 & co".into(), unit_amount: 9990, quantity: 1 },
                LineItem { name: "Go".into(), unit_amount: 1, quantity: 1 },
            ],
            currency: "cny".into(),
            expires_at: 1_000_000 + expires_in,
            success_url: "https://shop.example.com/paid?session={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "https://shop.example.com/cancel".into(),
        }
    }

    #[test]
    fn expiry_window_is_31_minutes_to_24_hours() {
        assert!(session(30 * 60).to_form(1_000_000).is_err());
        assert!(session(31 * 60 - 1).to_form(1_000_000).is_err());
        assert!(session(31 * 60).to_form(1_000_000).is_ok());
        assert!(session(24 * 3600).to_form(1_000_000).is_ok());
        assert!(session(24 * 3600 + 1).to_form(1_000_000).is_err());
    }

    #[test]
    fn form_carries_the_order_number_three_times_and_encodes_brackets() {
        let form = session(3600).to_form(1_000_000).expect("form");
        let encoded = encode_form(&form);
        assert!(
            encoded.starts_with("mode=payment&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=cny&"),
            "{encoded}"
        );
        assert!(encoded.contains("&metadata%5Bout_trade_no%5D=CS20261130abc&"));
        assert!(encoded.contains("&payment_intent_data%5Bmetadata%5D%5Bout_trade_no%5D=CS20261130abc&"));
        assert!(encoded.contains("&client_reference_id=CS20261130abc&"));
        assert!(encoded.contains("%5Bname%5D=Rust+%E5%AE%9E%E6%88%98+%26+co&"));
        // One line item per course, each with its own price, quantity 1.
        assert!(encoded.contains("&line_items%5B1%5D%5Bprice_data%5D%5Bunit_amount%5D=1&"), "{encoded}");
        assert!(encoded.contains("&line_items%5B1%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Go&"));
        assert!(encoded.contains("&line_items%5B1%5D%5Bquantity%5D=1&"));
        assert_eq!(session(3600).amount_total(), Some(9991));
        let mut bad = session(3600);
        bad.currency = "CNY".into();
        assert!(bad.to_form(1_000_000).is_err());
        bad = session(3600);
        bad.line_items[1].unit_amount = 0;
        assert!(bad.to_form(1_000_000).is_err());
        bad = session(3600);
        bad.line_items.clear();
        assert!(bad.to_form(1_000_000).is_err());
        bad = session(3600);
        bad.line_items[0].unit_amount = i64::MAX;
        assert!(bad.to_form(1_000_000).is_err(), "an overflowing total");
    }
}
