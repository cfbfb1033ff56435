//! The checkout funnel (seed 000): course page views counted on the server, then orders
//! created, paid and refunded, per course, day and `ref` (a campaign or page variant).
//!
//! A view is a course-detail request. The visitor is an HMAC of the shop day, the client's
//! address and its user agent, with a key derived from the JWT secret: nothing personal is
//! stored, and since the day is in the hash a visitor cannot be followed from one day to the
//! next. A visitor counts once per course and day (the table's primary key). Requests whose
//! user agent says bot, spider, crawler or a command-line client are not counted. The `ref`
//! of the course page (`?ref=`) is sent again with the order (`ref` of `order/pay/`), so the
//! funnel compares two versions of a page.
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shop_domain::time::{BEIJING, beijing_day};

use crate::auth::{KeyPurpose, derive_key};
use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::i18n::Text;

/// Words of user agents that are not people.
const BOTS: [&str; 12] = [
    "bot",
    "spider",
    "crawl",
    "slurp",
    "curl",
    "wget",
    "python-",
    "go-http",
    "java/",
    "httpclient",
    "headless",
    "preview",
];

/// Whether a user agent is a bot (an empty one counts as a bot).
#[must_use]
pub fn is_bot(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    ua.trim().is_empty() || BOTS.iter().any(|b| ua.contains(b))
}

/// A `ref` as kept: 1 to 64 letters, digits, `-`, `_` or `.`.
///
/// # Errors
/// `Validation` of `ref`.
pub fn parse_ref(text: &str) -> AppResult<String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(AppError::invalid(
            "ref",
            Text::fixed("1 到 64 个字母、数字、'-'、'_' 或 '.'", "1 to 64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn visitor(ctx: &AppContext, day: &str, client: &str, user_agent: &str) -> String {
    let key = derive_key(KeyPurpose::VisitorHash, &ctx.settings.auth.jwt_secret);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    for part in [day, "\0", client, "\0", user_agent] {
        mac.update(part.as_bytes());
    }
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// A view of a course that counts, claimed by [`claim_view`] and written by [`record_view`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewView {
    day: String,
    course_id: i64,
    visitor: String,
    ref_tag: String,
}

/// Decides, in the request, whether a view of a course by a client (its address and user
/// agent) counts, with the page's `ref` (an invalid one is dropped): not a bot, and the first
/// request of this visitor for this course today in this process. The view is claimed now, so
/// a later request of the same visitor, whose write could otherwise land first, cannot take
/// its place with another `ref`: the first view's `ref` is the one kept. `None`: nothing to
/// write.
#[must_use]
pub fn claim_view(
    ctx: &AppContext,
    course_id: i64,
    client: &str,
    user_agent: &str,
    ref_tag: Option<&str>,
) -> Option<NewView> {
    if is_bot(user_agent) {
        return None;
    }
    let day = beijing_day(Utc::now()).to_string();
    let visitor = visitor(ctx, &day, client, user_agent);
    // Counted today already by this process: no write (a course page is a hot path).
    if !ctx.seen_views.claim(&day, course_id, &visitor) {
        return None;
    }
    let ref_tag = ref_tag.and_then(|r| parse_ref(r).ok()).unwrap_or_default();
    Some(NewView { day, course_id, visitor, ref_tag })
}

/// Writes a view [`claim_view`] claimed; whether it counted (another process may have written
/// this visitor's view of the course today first: the table's primary key keeps one). A write
/// that fails gives the claim back, so the visitor's next request counts.
///
/// # Errors
/// Database errors.
pub async fn record_view(ctx: &AppContext, view: NewView) -> AppResult<bool> {
    let NewView { day, course_id, visitor, ref_tag } = view;
    match shop_db::funnel::record_view(&ctx.db, &day, course_id, &visitor, &ref_tag).await {
        Ok(counted) => Ok(counted),
        Err(e) => {
            ctx.seen_views.forget(&day, course_id, &visitor);
            Err(e.into())
        }
    }
}

/// Records the `ref` an order was placed with.
///
/// # Errors
/// `NotFound`; database errors.
pub async fn attach_ref(ctx: &AppContext, out_trade_no: &str, ref_tag: &str) -> AppResult<()> {
    let order =
        shop_db::orders::by_out_trade_no(&ctx.db, out_trade_no).await?.ok_or(AppError::NotFound("order"))?;
    Ok(shop_db::funnel::record_order_ref(&ctx.db, order.id, ref_tag).await?)
}

/// One line of the funnel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunnelRow {
    /// The day (Beijing time); `None` when summed over days.
    pub day: Option<String>,
    /// The course.
    pub course_id: i64,
    /// Its name.
    pub name: String,
    /// The `ref` (empty: none); `None` when summed over refs.
    pub ref_tag: Option<String>,
    /// Visitors who saw the course page.
    pub views: u64,
    /// Orders created.
    pub created: u64,
    /// Of those, paid.
    pub paid: u64,
    /// Of those, (partly) refunded.
    pub refunded: u64,
}

impl FunnelRow {
    /// Orders created per view, in percent (0 without views).
    pub fn view_to_order(&self) -> f64 {
        percent(self.created, self.views)
    }

    /// Paid per created order, in percent.
    pub fn order_to_paid(&self) -> f64 {
        percent(self.paid, self.created)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// How the funnel is summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelGrouping {
    /// One line per day (else summed over the period).
    pub by_day: bool,
    /// One line per `ref` (else summed over refs).
    pub by_ref: bool,
}

/// The funnel over orders created and views since `since` (all when `None`), per course
/// (and day, and ref, as asked); busiest first.
///
/// # Errors
/// Database errors.
pub async fn funnel_report(
    ctx: &AppContext,
    since: Option<DateTime<Utc>>,
    grouping: FunnelGrouping,
) -> AppResult<Vec<FunnelRow>> {
    let since_day = since.map(|at| beijing_day(at).to_string());
    let views = shop_db::funnel::views(&ctx.db, since_day.as_deref()).await?;
    let orders = shop_db::funnel::orders(&ctx.db, since, BEIJING).await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut rows: std::collections::BTreeMap<(Option<String>, i64, Option<String>), FunnelRow> =
        std::collections::BTreeMap::new();
    let key = |day: String, course: i64, r: String| {
        (grouping.by_day.then_some(day), course, grouping.by_ref.then_some(r))
    };
    for (day, course, r, n) in views {
        let k = key(day, course, r);
        let row = rows.entry(k.clone()).or_insert_with(|| FunnelRow {
            day: k.0,
            course_id: course,
            ref_tag: k.2,
            ..Default::default()
        });
        row.views += count(n);
    }
    for (day, course, r, created, paid, refunded) in orders {
        let k = key(day, course, r);
        let row = rows.entry(k.clone()).or_insert_with(|| FunnelRow {
            day: k.0,
            course_id: course,
            ref_tag: k.2,
            ..Default::default()
        });
        row.created += count(created);
        row.paid += count(paid);
        row.refunded += count(refunded);
    }
    let snapshot = ctx.catalog.snapshot();
    let mut out: Vec<FunnelRow> = rows
        .into_values()
        .map(|mut r| {
            r.name = snapshot.course(r.course_id).map(|c| c.name.clone()).unwrap_or_default();
            r
        })
        .collect();
    out.sort_by(|a, b| {
        b.day
            .cmp(&a.day)
            .then(b.views.cmp(&a.views))
            .then(b.created.cmp(&a.created))
            .then(a.course_id.cmp(&b.course_id))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_are_told_by_their_user_agent() {
        for ua in [
            "",
            "Googlebot/2.1",
            "Mozilla/5.0 (compatible; bingbot/2.0)",
            "curl/8.5",
            "python-requests/2",
            "Baiduspider",
            "HeadlessChrome/120",
        ] {
            assert!(is_bot(ua), "{ua}");
        }
        assert!(!is_bot(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0"
        ));
    }

    #[test]
    fn refs_are_short_plain_tags() {
        assert_eq!(parse_ref("spring-sale_v2.a").ok().as_deref(), Some("spring-sale_v2.a"));
        for bad in ["", "a b", "<x>", &"x".repeat(65), "中文"] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_are_percentages() {
        let r = FunnelRow { views: 8, created: 2, paid: 1, ..Default::default() };
        assert!((r.view_to_order() - 25.0).abs() < 1e-9 && (r.order_to_paid() - 50.0).abs() < 1e-9);
        assert_eq!(FunnelRow::default().view_to_order(), 0.0);
    }
}
