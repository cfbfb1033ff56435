//! The HTML pages the server answers a browser with: the payment result page, the
//! development cashier and the error page of the page routes.
//!
//! Each page is an askama template in `crates/http/templates/` (all extending `page.html`),
//! checked when the crate is compiled; askama escapes every value put into them, the one
//! HTML escaper of the workspace. The buyer emails are templates of `shop-app`
//! (`crates/app/templates/email/`), rendered by the same engine: an email is content of a use
//! case, a page is how HTTP answers a browser, so each crate keeps the templates it renders.
//! Which errors become [`ErrorPage`]s is decided in [`crate::error::html_for_browsers`].
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use askama::Template;
use shop_app::AppError;
use shop_app::i18n::{Lang, Text, msg};
use shop_app::payments::QrCashier;
use shop_app::payments::simulator::Cashier;
use shop_domain::time::in_beijing;

use crate::error::ApiError;

/// Where Alipay sends the buyer back: the order's status in words.
#[derive(Template)]
#[template(path = "pay_result.html")]
pub struct PayResult<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The heading (and the page title).
    pub title: &'a str,
    /// What the status means.
    pub text: &'a str,
    /// The order, when the request named one.
    pub out_trade_no: Option<&'a str>,
}

impl PayResult<'_> {
    /// "Order number" in the page's language.
    pub fn order_label(&self) -> String {
        msg::PAGE_ORDER_NO.get(self.lang).to_owned()
    }
}

/// The simulated Alipay cashier with its Pay button.
#[derive(Template)]
#[template(path = "cashier.html")]
pub struct CashierPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// What the cashier shows.
    pub c: &'a Cashier,
}

impl CashierPage<'_> {
    /// The page's title.
    pub fn title(&self) -> String {
        msg::CASHIER_TITLE.get(self.lang).to_owned()
    }
    /// The line above the subject.
    pub fn banner(&self) -> String {
        msg::CASHIER_BANNER.get(self.lang).to_owned()
    }
    /// "Order number".
    pub fn order_label(&self) -> String {
        msg::PAGE_ORDER_NO.get(self.lang).to_owned()
    }
    /// Before the deadline.
    pub fn pay_before(&self) -> String {
        msg::CASHIER_PAY_BEFORE.get(self.lang).to_owned()
    }
    /// After the deadline.
    pub fn expired_text(&self) -> String {
        msg::CASHIER_EXPIRED.get(self.lang).to_owned()
    }
    /// The button.
    pub fn pay(&self) -> String {
        msg::CASHIER_PAY.get(self.lang).to_owned()
    }
}

/// What our WeChat Pay cashier shows of an order, as text.
pub struct QrCashierView {
    /// Our order number.
    pub out_trade_no: String,
    /// Subject.
    pub subject: String,
    /// Amount in yuan (`"99.00"`).
    pub amount: String,
    /// The deadline, Beijing time.
    pub expires_at: Option<String>,
    /// Paid already.
    pub paid: bool,
    /// Still payable.
    pub payable: bool,
}

impl From<&QrCashier> for QrCashierView {
    fn from(c: &QrCashier) -> Self {
        QrCashierView {
            out_trade_no: c.out_trade_no.clone(),
            subject: c.subject.clone(),
            amount: c.amount.to_string(),
            expires_at: c.expires_at.map(|t| in_beijing(t).format("%Y-%m-%d %H:%M:%S").to_string()),
            paid: c.paid,
            payable: c.payable,
        }
    }
}

/// Our WeChat Pay cashier: the QR code, the status (polled by its script), and in the
/// development simulator a "scan and pay" button.
#[derive(Template)]
#[template(path = "wechat_cashier.html")]
pub struct WechatCashierPage<'a> {
    /// The page's language (its texts are in both).
    pub lang: Lang,
    /// What it shows.
    pub c: &'a QrCashierView,
    /// The QR code of `code_url` as an SVG `data:` URI.
    pub qr_data_uri: &'a str,
    /// Whether the "scan and pay" button of the simulator is shown.
    pub simulator: bool,
}

/// What the simulator's Stripe card form shows.
pub struct StripeCardView {
    /// The Checkout Session.
    pub session_id: String,
    /// Our order number.
    pub out_trade_no: String,
    /// The amount as text (`99.00`).
    pub amount: String,
    /// The currency, upper case (`CNY`).
    pub currency: String,
    /// Beijing time, when it expires.
    pub expires_at: Option<String>,
    /// Whether it can still be paid.
    pub open: bool,
}

impl From<&shop_app::payments::stripe::CardForm> for StripeCardView {
    fn from(c: &shop_app::payments::stripe::CardForm) -> Self {
        StripeCardView {
            session_id: c.session_id.clone(),
            out_trade_no: c.out_trade_no.clone(),
            amount: shop_domain::Money::from_fen(c.amount)
                .map_or_else(|| c.amount.to_string(), |m| m.to_string()),
            currency: c.currency.to_uppercase(),
            expires_at: c.expires_at.map(|t| in_beijing(t).format("%Y-%m-%d %H:%M:%S").to_string()),
            open: c.open,
        }
    }
}

/// The development simulator's Stripe Checkout page: a card form whose button pays (the
/// simulator then sends a signed webhook to the shop).
#[derive(Template)]
#[template(path = "stripe_card.html")]
pub struct StripeCardPage<'a> {
    /// The page's language (its texts are in both).
    pub lang: Lang,
    /// What it shows.
    pub c: &'a StripeCardView,
}

/// The QR code of `content` as an SVG image in a `data:` URI (made here: no CDN, no script).
///
/// # Errors
/// Content too long for a QR code: 500.
pub fn qr_svg_data_uri(content: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let code = qrcode::QrCode::new(content.as_bytes())
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("making the QR code: {e}")))?;
    let svg =
        code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build();
    Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
}

/// A purchase's private page (`/p/<token>`): status, courses, download links.
#[derive(Template)]
#[template(path = "purchase.html")]
pub struct PurchaseHtml<'a> {
    /// The page's language.
    pub lang: Lang,
    /// What it shows.
    pub p: &'a shop_app::delivery::PurchasePage,
    /// The course names.
    pub courses: Vec<String>,
    /// The status in words.
    pub status_text: &'a str,
    /// Paid: the links are shown.
    pub paid: bool,
    /// Unpaid, or the links are being issued: the page refreshes itself.
    pub waiting: bool,
}

impl PurchaseHtml<'_> {
    /// A text in the page's language.
    pub fn word(&self, text: Text) -> String {
        text.get(self.lang).to_owned()
    }
}

/// The hosted buy page of a course (`/buy/<id>`): summary, price, email, a pay button per
/// enabled provider.
#[derive(Template)]
#[template(path = "buy.html")]
pub struct BuyHtml<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The course.
    pub course_id: i64,
    /// Its name.
    pub course_name: &'a str,
    /// Its summary in words (access period, sections).
    pub summary: String,
    /// Its price in yuan.
    pub price: String,
    /// The pay buttons: `pay_type` and label.
    pub buttons: Vec<(i16, String)>,
    /// The email given (after a refused attempt).
    pub email: &'a str,
    /// The idempotency key of this page's form (a double click makes one order).
    pub key: &'a str,
    /// The funnel's `ref`, carried to the order.
    pub ref_tag: Option<&'a str>,
    /// Why the last attempt was refused.
    pub error: Option<String>,
}

impl BuyHtml<'_> {
    /// A text in the page's language.
    pub fn word(&self, text: Text) -> String {
        text.get(self.lang).to_owned()
    }
}

/// An error of a page route, for a browser.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The status's code.
    pub code: u16,
    /// The heading: the status's name in the page's language.
    pub heading: String,
    /// The message of the error envelope.
    pub msg: &'a str,
}

impl<'a> ErrorPage<'a> {
    /// The page of an error with `status` and `msg` (already in `lang`).
    pub fn new(lang: Lang, status: StatusCode, msg: &'a str) -> Self {
        let reason = status.canonical_reason().unwrap_or("Error");
        let heading = msg::status_heading(status.as_u16(), reason).get(lang).to_owned();
        ErrorPage { lang, code: status.as_u16(), heading, msg }
    }
}

/// A `200 OK` page.
///
/// # Errors
/// A template that cannot be rendered (a value whose `Display` fails): 500.
pub fn page(template: &impl Template) -> Result<HttpResponse, ApiError> {
    let body =
        template.render().map_err(|e| AppError::Unexpected(anyhow::anyhow!("rendering a page: {e}")))?;
    Ok(HttpResponse::Ok().content_type(ContentType::html()).body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "<script>alert('x')</script> & \"q\"";
    const ESCAPED: &str = "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;q&#34;";

    #[test]
    fn the_result_page_escapes_what_it_shows() {
        let html = PayResult { lang: Lang::Zh, title: EVIL, text: EVIL, out_trade_no: Some(EVIL) }
            .render()
            .expect("page");
        assert!(html.starts_with("<!doctype html>") && html.contains("<title>"), "{html}");
        assert_eq!(html.matches(ESCAPED).count(), 4, "title, heading, text, order:\n{html}");
        assert!(!html.contains("<script>"), "{html}");
        let html =
            PayResult { lang: Lang::Zh, title: "支付结果", text: "缺少订单号", out_trade_no: None }
                .render()
                .expect("page");
        assert!(!html.contains("订单号:"), "{html}");
        assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
        let html = PayResult { lang: Lang::En, title: "t", text: "x", out_trade_no: Some("CS1") }
            .render()
            .expect("page");
        assert!(html.contains("<html lang=\"en\">") && html.contains("Order: CS1"), "{html}");
    }

    #[test]
    fn the_cashier_escapes_what_it_shows() {
        let c = Cashier {
            out_trade_no: EVIL.into(),
            subject: EVIL.into(),
            amount: "99.00".into(),
            time_expire: Some(EVIL.into()),
            expired: false,
            signed_query: format!("a=1&b={EVIL}"),
        };
        let html = CashierPage { lang: Lang::Zh, c: &c }.render().expect("page");
        assert_eq!(html.matches(ESCAPED).count(), 4, "subject, order, deadline, form value:\n{html}");
        assert!(html.contains(&format!("name=\"q\" value=\"a=1&#38;b={ESCAPED}\"")), "{html}");
        assert!(html.contains("确认付款") && !html.contains("<script>"), "{html}");
        let en = CashierPage { lang: Lang::En, c: &c }.render().expect("page");
        assert!(en.contains(">Pay</button>") && !en.contains("确认付款"), "{en}");
        let html = CashierPage { lang: Lang::Zh, c: &Cashier { expired: true, ..c } }.render().expect("page");
        assert!(html.contains("支付时间已过") && !html.contains("<form"), "{html}");
    }

    #[test]
    fn the_wechat_cashier_escapes_what_it_shows_and_draws_the_code() {
        let c = QrCashierView {
            out_trade_no: EVIL.into(),
            subject: EVIL.into(),
            amount: "99.00".into(),
            expires_at: Some(EVIL.into()),
            paid: false,
            payable: true,
        };
        let qr = qr_svg_data_uri("weixin://wxpay/bizpayurl?pr=abc").expect("qr");
        assert!(qr.starts_with("data:image/svg+xml;base64,"), "{qr}");
        let html = WechatCashierPage { lang: Lang::Zh, c: &c, qr_data_uri: &qr, simulator: true }
            .render()
            .expect("page");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains(ESCAPED) && html.contains(&qr), "{html}");
        assert!(html.contains("/pay/wechat/cashier.js") && html.contains("/dev/wechatpay/pay"), "{html}");
        let html = WechatCashierPage { lang: Lang::Zh, c: &c, qr_data_uri: &qr, simulator: false }
            .render()
            .expect("page");
        assert!(!html.contains("/dev/wechatpay/pay"), "no simulator button without the simulator");
        let paid = QrCashierView { paid: true, payable: false, ..c };
        let html = WechatCashierPage { lang: Lang::Zh, c: &paid, qr_data_uri: &qr, simulator: true }
            .render()
            .expect("page");
        assert!(html.contains("支付成功") && !html.contains("<img"), "{html}");
    }

    #[test]
    fn the_purchase_and_buy_pages_escape_what_they_show() {
        use shop_app::delivery::{PurchaseLink, PurchasePage};
        use shop_domain::order::OrderStatus;
        let p = PurchasePage {
            out_trade_no: EVIL.into(),
            status: OrderStatus::Paid,
            courses: vec![(1, EVIL.into())],
            links: vec![PurchaseLink {
                course_id: 1,
                name: EVIL.into(),
                version: Some(EVIL.into()),
                url: "https://shop.example/d/x".into(),
                downloads_left: 3,
                max_downloads: 5,
            }],
            links_pending: false,
        };
        let page = |lang, paid, waiting| {
            PurchaseHtml { lang, p: &p, courses: vec![EVIL.into()], status_text: EVIL, paid, waiting }
                .render()
                .expect("page")
        };
        let html = page(Lang::Zh, true, false);
        assert_eq!(html.matches(ESCAPED).count(), 5, "status, order, course, link, version:\n{html}");
        assert!(
            html.contains("剩余下载次数：3") && !html.contains("<script>") && !html.contains("refresh"),
            "{html}"
        );
        let en = page(Lang::En, false, true);
        assert!(
            en.contains("http-equiv=\"refresh\"") && !en.contains("/d/x") && en.contains("Your purchase"),
            "{en}"
        );
        let pending = PurchasePage { links: vec![], links_pending: true, ..p.clone() };
        let html = PurchaseHtml {
            lang: Lang::En,
            p: &pending,
            courses: vec![],
            status_text: "",
            paid: true,
            waiting: true,
        }
        .render()
        .expect("page");
        assert!(html.contains("being prepared") && html.contains("refresh"), "{html}");
        let buy = |error: Option<String>| {
            BuyHtml {
                lang: Lang::En,
                course_id: 7,
                course_name: EVIL,
                summary: "s".into(),
                price: "9.90".into(),
                buttons: vec![(1, "Pay with Alipay".into()), (3, "Pay with Stripe".into())],
                email: EVIL,
                key: "buy-k",
                ref_tag: Some("spring"),
                error,
            }
            .render()
            .expect("page")
        };
        let html = buy(Some(EVIL.into()));
        assert_eq!(html.matches(ESCAPED).count(), 4, "title, heading, email, error:\n{html}");
        assert!(html.contains("action=\"/buy/7\"") && html.contains("value=\"3\">Pay with Stripe"), "{html}");
        assert!(!buy(None).contains("role=\"alert\""));
    }

    #[test]
    fn the_error_page_escapes_its_message() {
        let html = ErrorPage::new(Lang::En, StatusCode::GONE, EVIL).render().expect("page");
        assert!(html.contains("<title>410 Gone</title>") && html.contains("<h1>Gone</h1>"), "{html}");
        let zh = ErrorPage::new(Lang::Zh, StatusCode::GONE, "x").render().expect("page");
        assert!(zh.contains("<title>410 已失效</title>") && zh.contains("<h1>已失效</h1>"), "{zh}");
        assert!(html.contains(&format!("<p>{ESCAPED}</p>")), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
