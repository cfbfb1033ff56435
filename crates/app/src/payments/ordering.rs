//! Creating orders (with idempotency) and reading a user's orders.
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use shop_db::entities::{order, order_detail};
use shop_db::orders::{self, Created, NewLine, NewOrder};
use shop_db::{Conflict, WriteError};
use shop_domain::Money;
use shop_domain::catalog::CourseStatus;
use shop_domain::order::{OrderStatus, PayType, Subject};

use super::apply::pay_type_of;
use super::context::PaymentsContext;
use super::provider::{NewPayment, PaymentLine};
use crate::error::{AppError, AppResult};
use crate::guests;
use crate::i18n::msg;
use crate::jobs::{self, Job};
use crate::limits::{self, Limit};

/// Fewest courses in one order (the published API spec's `minItems` of `courses`).
pub const MIN_COURSES: usize = 1;
/// Most courses in one order (the spec's `maxItems`).
pub const MAX_COURSES: usize = 50;

/// A purchase as the buyer asked for it (already parsed from the wire).
#[derive(Debug, Clone)]
pub struct Purchase {
    /// Course ids, in the order given.
    pub course_ids: Vec<i64>,
    /// The total the buyer saw.
    pub total: Money,
    /// Subject shown at the cashier.
    pub subject: String,
    /// `pay_type` as sent.
    pub pay_type: i64,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
}

/// An order ready to pay.
#[derive(Debug, Clone)]
pub struct PurchaseOutcome {
    /// Our order number.
    pub out_trade_no: String,
    /// The page to open: Alipay's cashier (the signed page-pay URL), or ours showing the
    /// WeChat Pay QR code.
    pub pay_url: String,
    /// The QR code's content (WeChat Pay Native's `code_url`), for QR payments.
    pub code_url: Option<String>,
    /// `false` when an existing order was returned (idempotent retry or repeat).
    pub created: bool,
    /// The order made earlier for this same `Idempotency-Key` was returned (a retry).
    pub replayed: bool,
    /// The token of the order's purchase page (`guests::purchase_url`); `None` for a guest
    /// whose request was answered with an open order made earlier by another request (the
    /// page is its holder's: see [`create_guest_order`]).
    pub purchase_token: Option<String>,
}

/// One line of an order view.
#[derive(Debug, Clone)]
pub struct OrderLine {
    /// Course id.
    pub course_id: i64,
    /// Course name (from the catalog; empty when the course is gone).
    pub course_name: String,
    /// Price at order time.
    pub price: Money,
    /// Price paid.
    pub real_price: Money,
}

/// An order as its buyer sees it.
#[derive(Debug, Clone)]
pub struct OrderView {
    /// Our order number.
    pub out_trade_no: String,
    /// Subject.
    pub subject: String,
    /// Total.
    pub total_amount: Money,
    /// Status.
    pub status: OrderStatus,
    /// Pay type code.
    pub pay_type: i16,
    /// The provider's trade number, once paid.
    pub trade_no: Option<String>,
    /// Payment time.
    pub pay_time: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_time: DateTime<Utc>,
    /// Payment deadline.
    pub expires_at: Option<DateTime<Utc>>,
    /// Refunded so far.
    pub refunded: Money,
    /// The page to pay on (see [`PurchaseOutcome::pay_url`]), while the order is payable.
    pub pay_url: Option<String>,
    /// The lines.
    pub lines: Vec<OrderLine>,
    /// The token of the order's purchase page (`guests::purchase_url`).
    pub purchase_token: String,
}

fn request_hash(course_ids: &[i64], total: Money, subject: &str, pay_type: i64) -> String {
    let mut ids = course_ids.to_vec();
    ids.sort_unstable();
    let text = format!(
        "{}|{}|{}|{}",
        ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
        total.fen(),
        subject,
        pay_type
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Longest order number we issue: what every provider takes (WeChat Pay: 6 to 32 of
/// `[0-9A-Za-z_|*-]`; Alipay: 64). Orders made before keep their longer numbers.
const OUT_TRADE_NO_MAX: usize = 32;

/// `CS`, the second it was made in Beijing time (`yyyymmddHHMMSS`), and 64 random bits in
/// upper-case hex: 32 letters and digits, ordered by time, unguessable.
fn new_out_trade_no(now: DateTime<Utc>) -> String {
    let at = shop_domain::time::in_beijing(now).format("%Y%m%d%H%M%S");
    let no = format!("CS{at}{:016X}", rand::random::<u64>());
    debug_assert!(no.len() <= OUT_TRADE_NO_MAX, "{no}");
    no
}

fn validate(p: &Purchase) -> AppResult<()> {
    if p.course_ids.len() < MIN_COURSES {
        return Err(AppError::invalid("courses", msg::NO_COURSES));
    }
    if p.course_ids.len() > MAX_COURSES {
        return Err(AppError::invalid("courses", msg::too_many_courses(MAX_COURSES)));
    }
    let mut seen = HashSet::new();
    for id in &p.course_ids {
        if *id <= 0 {
            return Err(AppError::invalid("courses", msg::not_a_course_id(id)));
        }
        if !seen.insert(*id) {
            return Err(AppError::invalid("courses", msg::course_twice(*id)));
        }
    }
    if Subject::parse(&p.subject).is_none() {
        return Err(AppError::invalid("subject", msg::bad_subject(Subject::MAX_CHARS)));
    }
    if PayType::from_code(p.pay_type).is_none() {
        return Err(AppError::invalid("pay_type", msg::PAY_TYPE));
    }
    if let Some(key) = &p.idempotency_key
        && (key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(AppError::invalid("Idempotency-Key", msg::IDEMPOTENCY_KEY_FORMAT));
    }
    Ok(())
}

/// The lines of `purchase` at the catalog's prices, and their sum; refused: a course not for
/// sale or offline, a total that is not the sum, a free total.
///
/// Courses and prices come from the in-memory catalog, the one the buyer browsed: it follows
/// every catalog write within `catalog.refresh_seconds`, and it holds only public (shown, not
/// deleted) courses.
fn priced_lines(ctx: &PaymentsContext, purchase: &Purchase) -> AppResult<(Vec<NewLine>, Money)> {
    let snapshot = ctx.catalog.snapshot();
    let mut lines = Vec::with_capacity(purchase.course_ids.len());
    let mut sum = Money::ZERO;
    for id in &purchase.course_ids {
        let course = snapshot
            .course(*id)
            .ok_or_else(|| AppError::invalid("courses", msg::course_not_for_sale(*id)))?;
        if course.status == CourseStatus::Offline {
            return Err(AppError::invalid("courses", msg::course_offline(*id)));
        }
        sum = sum
            .checked_add(course.price)
            .ok_or_else(|| AppError::invalid("courses", msg::TOTAL_TOO_LARGE))?;
        lines.push(NewLine { course_id: *id, price_fen: course.price });
    }
    if sum != purchase.total {
        return Err(AppError::invalid("total_amount", msg::total_mismatch(purchase.total, sum)));
    }
    if sum == Money::ZERO {
        return Err(AppError::invalid("courses", msg::FREE_COURSES));
    }
    Ok((lines, sum))
}

/// The lines of a payment: each course's name (from the catalog that priced it; the subject
/// if it has gone meanwhile) and price.
fn payment_lines(ctx: &PaymentsContext, lines: &[NewLine], subject: &str) -> Vec<PaymentLine> {
    let snapshot = ctx.catalog.snapshot();
    lines
        .iter()
        .map(|l| PaymentLine {
            name: snapshot.course(l.course_id).map_or_else(|| subject.to_owned(), |c| c.name.clone()),
            amount_fen: l.price_fen.fen(),
        })
        .collect()
}

async fn outcome(ctx: &PaymentsContext, order: &order::Model) -> AppResult<PurchaseOutcome> {
    let stored = order.pay_url.as_deref().ok_or_else(|| {
        AppError::Unexpected(anyhow::anyhow!("order {} has no pay URL", order.out_trade_no))
    })?;
    let links = ctx.payments.provider_of(order.pay_type)?.links(&order.out_trade_no, stored);
    Ok(PurchaseOutcome {
        out_trade_no: order.out_trade_no.clone(),
        pay_url: links.pay_url,
        code_url: links.code_url,
        created: false,
        replayed: false,
        purchase_token: Some(guests::token_of(&ctx.db, &ctx.settings, order).await?),
    })
}

/// Replays an existing order for the same idempotency key, or refuses a different body.
async fn replay(ctx: &PaymentsContext, existing: &order::Model, hash: &str) -> AppResult<PurchaseOutcome> {
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(PurchaseOutcome { replayed: true, ..outcome(ctx, existing).await? })
    } else {
        Err(AppError::Conflict(msg::IDEMPOTENCY_KEY_REUSED))
    }
}

/// Creates an order for `user_id` and returns how to pay it (the payment is created at the
/// provider of its `pay_type` first: Alipay's signed page-pay URL, WeChat Pay's Native order).
///
/// Refused with nothing written: an empty or repeated course list, an unknown, hidden,
/// deleted or offline course, a free total, a course the user owns, a total that differs
/// from the server's sum, a pay type that is unknown or not enabled. The order and its lines are committed
/// in one transaction before the URL is returned. With an `Idempotency-Key`, retries get
/// the same order and URL (another body with the same key is a conflict); without one, an
/// identical purchase while an unpaid order for it is still valid gets that order.
///
/// # Errors
/// `Validation`, `Conflict`, `NotFound`, or database and signing failures.
pub async fn create_order(
    ctx: impl Into<PaymentsContext>,
    user_id: i64,
    purchase: Purchase,
) -> AppResult<PurchaseOutcome> {
    let ctx: PaymentsContext = ctx.into();
    let ctx = &ctx;
    validate(&purchase)?;
    let pay_type =
        PayType::from_code(purchase.pay_type).ok_or_else(|| AppError::invalid("pay_type", msg::PAY_TYPE))?;
    let provider = ctx
        .payments
        .provider(pay_type)
        .ok_or_else(|| AppError::invalid("pay_type", msg::pay_type_off(pay_type.code(), pay_type.label())))?;
    // Refused before anything is read or written: courses and prices (below again).
    priced_lines(ctx, &purchase)?;
    let subject = purchase.subject.trim().to_owned();
    let hash = request_hash(&purchase.course_ids, purchase.total, &subject, purchase.pay_type);
    let now = Utc::now();

    // With an Idempotency-Key a retry is found by the unique index when inserting (below);
    // without one, an identical unpaid and valid order is reused.
    if purchase.idempotency_key.is_none()
        && let Some(existing) = orders::reusable(&ctx.db, user_id, &hash, now).await?
    {
        return outcome(ctx, &existing).await;
    }
    let (lines, sum) = priced_lines(ctx, &purchase)?;
    let out_trade_no = new_out_trade_no(now);
    let expires_at = now + Duration::minutes(ctx.settings.alipay.order_timeout_minutes);
    let payment = NewPayment {
        out_trade_no: out_trade_no.clone(),
        subject: subject.clone(),
        total_fen: sum.fen(),
        lines: payment_lines(ctx, &lines, &subject),
        expires_at,
        now,
    };
    let stored = provider.create(&payment).await.map_err(|e| match e {
        super::provider::ProviderError::Retryable(why) => {
            AppError::Unavailable(format!("{} cannot be reached: {why}", pay_type.label()))
        }
        other => AppError::Unexpected(anyhow::anyhow!("{other}")),
    })?;
    let links = provider.links(&out_trade_no, &stored);
    let purchase_token = guests::purchase_token(&ctx.settings, &out_trade_no);

    let new = NewOrder {
        out_trade_no: out_trade_no.clone(),
        subject,
        total_amount_fen: sum,
        pay_type: pay_type.code(),
        user_id,
        expires_at,
        pay_url: stored,
        idempotency_key: purchase.idempotency_key.clone(),
        request_hash: hash.clone(),
        purchase_token_hash: Some(guests::token_hash(&purchase_token)),
    };
    // The ownership check, the order, its lines and the buyer's holds on the courses are one
    // atomic write; a course held by another order of the buyer is decided in `replace_held`.
    let created = match orders::create(&ctx.db, new.clone(), &lines, now).await {
        Err(WriteError::Conflict(Conflict(orders::HOLD))) => {
            replace_held(ctx, new, &lines, &hash, now).await?
        }
        other => other.map(Placed::from),
    };
    match created {
        Ok(Placed::New) => {
            tracing::info!(order.out_trade_no = %out_trade_no, order.total_fen = sum.fen(), user.id = user_id, "order created");
            Ok(PurchaseOutcome {
                out_trade_no,
                pay_url: links.pay_url,
                code_url: links.code_url,
                created: true,
                replayed: false,
                purchase_token: Some(purchase_token),
            })
        }
        Ok(Placed::Existing(existing)) => outcome(ctx, &existing).await,
        Ok(Placed::AlreadyOwned) => {
            let owned =
                crate::delivery::owned_course_ids(&ctx.db, user_id, Some(&purchase.course_ids)).await?;
            Err(AppError::Conflict(msg::already_own(
                purchase.course_ids.iter().find(|id| owned.contains(id)).copied(),
            )))
        }
        Err(WriteError::Conflict(Conflict(orders::IDEMPOTENCY_KEY))) => {
            // A concurrent request with the same key won; answer with its order.
            let key = purchase.idempotency_key.as_deref().unwrap_or_default();
            let existing = orders::by_idempotency_key(&ctx.db, user_id, key)
                .await?
                .ok_or_else(|| AppError::Conflict(msg::IDEMPOTENCY_KEY_IN_PROGRESS))?;
            replay(ctx, &existing, &hash).await
        }
        Err(WriteError::Conflict(c)) => Err(AppError::Unexpected(c.into())),
        Err(WriteError::Db(e)) => Err(e.into()),
    }
}

/// Where [`create_order`]'s write ended.
enum Placed {
    /// The new order was written.
    New,
    /// An identical, still payable order of the buyer answers the request instead.
    Existing(Box<order::Model>),
    /// The buyer owns one of the courses: nothing written.
    AlreadyOwned,
}

impl From<Created> for Placed {
    fn from(c: Created) -> Self {
        match c {
            Created::Inserted(_) => Placed::New,
            Created::AlreadyOwned => Placed::AlreadyOwned,
        }
    }
}

/// Whether `order` is an unpaid, still payable order for the purchase hashed as `hash`.
fn payable_repeat(order: &order::Model, hash: &str, now: DateTime<Utc>) -> bool {
    order.order_status == OrderStatus::Unpaid
        && order.expires_at.is_some_and(|at| at > now)
        && order.request_hash.as_deref() == Some(hash)
}

/// One open order per buyer and course: another order of the buyer holds one of the courses
/// of `new`. Decided in one write transaction with the buyer locked, so concurrent purchases
/// of one buyer are decided one after the other:
///
/// - an identical purchase that is still payable answers the request (a double click, or
///   concurrent retries without an `Idempotency-Key`): nothing is written;
/// - any other unpaid order holding one of the courses is cancelled and its trade closed at
///   its provider through the outbox: the buyer's newest choice replaces it (money that still
///   arrives for it follows the late-payment rule, and a course paid twice is refunded);
/// - a hold whose order is no longer open (paid, cancelled, expired) is taken over.
async fn replace_held(
    ctx: &PaymentsContext,
    new: NewOrder,
    lines: &[NewLine],
    hash: &str,
    now: DateTime<Utc>,
) -> AppResult<Result<Placed, WriteError>> {
    let user_id = new.user_id;
    let ids: Vec<i64> = lines.iter().map(|l| l.course_id).collect();
    let txn = shop_db::begin_write(&ctx.db).await?;
    orders::lock_buyer(&txn, user_id).await?;
    if let Some(key) = new.idempotency_key.as_deref()
        && orders::by_idempotency_key(&txn, user_id, key).await?.is_some()
    {
        // A retry of a request that made an order: answered like the key's conflict below.
        return Ok(Err(WriteError::Conflict(Conflict(orders::IDEMPOTENCY_KEY))));
    }
    let mut holders = orders::holders(&txn, user_id, &ids).await?;
    if let Some(at) = holders.iter().position(|o| payable_repeat(o, hash, now)) {
        return Ok(Ok(Placed::Existing(Box::new(holders.swap_remove(at)))));
    }
    for held in holders {
        if held.order_status == OrderStatus::Unpaid
            && orders::close_unpaid(&txn, held.id, OrderStatus::Cancelled).await?
        {
            jobs::enqueue(&txn, &Job::close(pay_type_of(&held)?, held.out_trade_no.clone())).await?;
            tracing::info!(order.out_trade_no = %held.out_trade_no, user.id = user_id, "unpaid order replaced by a newer order for the same course");
        }
    }
    if !shop_db::delivery::active_course_ids(&txn, user_id, Some(&ids), now).await?.is_empty() {
        return Ok(Ok(Placed::AlreadyOwned));
    }
    let order = match orders::insert(&txn, new, lines, now).await {
        Ok(order) => order,
        Err(e) => return Ok(Err(e)),
    };
    orders::take_holds(&txn, user_id, &ids, order.id, now).await?;
    txn.commit().await?;
    Ok(Ok(Placed::New))
}

fn view(ctx: &PaymentsContext, order: order::Model, lines: Vec<order_detail::Model>) -> OrderView {
    let status = order.order_status;
    let purchase_token = guests::purchase_token(&ctx.settings, &order.out_trade_no);
    let snapshot = ctx.catalog.snapshot();
    let payable = status == OrderStatus::Unpaid && order.expires_at.is_some_and(|at| at > Utc::now());
    let pay_url = order.pay_url.as_deref().filter(|_| payable).and_then(|stored| {
        let provider = ctx.payments.provider_of(order.pay_type).ok()?;
        Some(provider.links(&order.out_trade_no, stored).pay_url)
    });
    OrderView {
        lines: lines
            .into_iter()
            .map(|l| OrderLine {
                course_id: l.course_id,
                course_name: snapshot.course(l.course_id).map(|c| c.name.clone()).unwrap_or_default(),
                price: l.price_fen,
                real_price: l.real_price_fen,
            })
            .collect(),
        out_trade_no: order.out_trade_no,
        subject: order.subject,
        total_amount: order.total_amount_fen,
        status,
        pay_type: order.pay_type,
        trade_no: order.trade_no,
        pay_time: order.pay_time,
        created_time: order.created_time,
        expires_at: order.expires_at,
        refunded: order.refunded_fen,
        pay_url,
        purchase_token,
    }
}

/// The user's orders, newest first (at most 200).
///
/// # Errors
/// Database errors.
pub async fn orders_of(ctx: impl Into<PaymentsContext>, user_id: i64) -> AppResult<Vec<OrderView>> {
    let ctx: PaymentsContext = ctx.into();
    let mut views = Vec::new();
    for (order, lines) in orders::for_user(&ctx.db, user_id, 200).await? {
        guests::token_of(&ctx.db, &ctx.settings, &order).await?;
        views.push(view(&ctx, order, lines));
    }
    Ok(views)
}

/// One of the user's orders; another user's order is `NotFound`, as is an unknown one.
///
/// # Errors
/// `NotFound`, database errors.
pub async fn order_detail(
    ctx: impl Into<PaymentsContext>,
    user_id: i64,
    out_trade_no: &str,
) -> AppResult<OrderView> {
    let ctx: PaymentsContext = ctx.into();
    let order = orders::by_out_trade_no(&ctx.db, out_trade_no)
        .await?
        .filter(|o| o.user_id == user_id && !o.is_delete)
        .ok_or(AppError::NotFound("order"))?;
    let lines = orders::details(&ctx.db, order.id).await?;
    guests::token_of(&ctx.db, &ctx.settings, &order).await?;
    Ok(view(&ctx, order, lines))
}

/// Creates an order ([`create_order`]); `email`, when given, is kept on the order as its
/// delivery address (used when the buyer has no confirmed email, see `buyers::delivery_address`).
///
/// # Errors
/// Those of [`create_order`]; `Validation` of `email`.
pub async fn create_order_with_email(
    ctx: impl Into<PaymentsContext>,
    user_id: i64,
    purchase: Purchase,
    email: Option<&str>,
) -> AppResult<PurchaseOutcome> {
    let email = email
        .map(|e| {
            shop_domain::user::Email::parse(e).map_err(|e| AppError::invalid("email", msg::user_value(&e)))
        })
        .transpose()?;
    let ctx: PaymentsContext = ctx.into();
    let outcome = create_order(&ctx, user_id, purchase).await?;
    if let Some(email) = email {
        shop_db::buyers::set_delivery_email(&ctx.db, user_id, &outcome.out_trade_no, email.as_str()).await?;
    }
    Ok(outcome)
}

/// The pay types whose provider is enabled, in code order (the buy page's buttons).
pub fn enabled_pay_types(ctx: impl Into<PaymentsContext>) -> Vec<PayType> {
    let ctx: PaymentsContext = ctx.into();
    PayType::ALL.iter().copied().filter(|t| ctx.payments.provider(*t).is_some()).collect()
}

/// Creates an order without an account, for `email` (checkout with only an email): the
/// checks, idempotency and one-open-order rules of [`create_order`], per email address (the
/// order belongs to the address's guest buyer, see [`crate::guests`]), the address kept on
/// the order as its delivery address. Limited per client address and per email address
/// (`delivery.guest_orders_per_*`), counted once the request is otherwise valid; a refused
/// request writes no order and no guest buyer.
///
/// Anyone may give any address, so the purchase page of an order is handed out only to the
/// request that made it and to its retries with the same `Idempotency-Key`: an identical
/// purchase answered with the open order of the address (the one-open-order rule) gets its
/// number and pay URL but no `purchase_token` (the page's link came with the first answer
/// and comes with the purchase email).
///
/// # Errors
/// Those of [`create_order`]; `Validation` of `email`; `RateLimited`.
pub async fn create_guest_order(
    ctx: impl Into<PaymentsContext>,
    client: &str,
    email: &str,
    purchase: Purchase,
) -> AppResult<PurchaseOutcome> {
    let email = shop_domain::user::Email::parse(email)
        .map_err(|e| AppError::invalid("email", msg::user_value(&e)))?;
    let ctx: PaymentsContext = ctx.into();
    validate(&purchase)?;
    let pay_type =
        PayType::from_code(purchase.pay_type).ok_or_else(|| AppError::invalid("pay_type", msg::PAY_TYPE))?;
    if ctx.payments.provider(pay_type).is_none() {
        return Err(AppError::invalid("pay_type", msg::pay_type_off(pay_type.code(), pay_type.label())));
    }
    priced_lines(&ctx, &purchase)?;
    limits::check(&ctx.db, &ctx.settings, Limit::GuestOrderPerAddress, client).await?;
    let key = guests::email_limit_key(&ctx.settings, email.as_str());
    limits::check(&ctx.db, &ctx.settings, Limit::GuestOrderPerEmail, &key).await?;
    let buyer = guests::buyer_of(&ctx.db, email.as_str()).await?;
    let mut outcome = create_order(&ctx, buyer, purchase).await?;
    if !outcome.created && !outcome.replayed {
        outcome.purchase_token = None;
    }
    shop_db::buyers::set_delivery_email(&ctx.db, buyer, &outcome.out_trade_no, email.as_str()).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_hash_ignores_course_order_but_not_content() {
        let total = Money::from_fen(100).expect("money");
        assert_eq!(request_hash(&[1, 2], total, "s", 1), request_hash(&[2, 1], total, "s", 1));
        assert_ne!(request_hash(&[1, 2], total, "s", 1), request_hash(&[1, 3], total, "s", 1));
        assert_ne!(request_hash(&[1], total, "s", 1), request_hash(&[1], total, "t", 1));
    }

    #[test]
    fn order_numbers_fit_every_provider() {
        let now = "2026-11-30T16:05:09Z".parse().expect("time");
        let no = new_out_trade_no(now);
        assert_eq!(no.len(), OUT_TRADE_NO_MAX, "{no}");
        assert!(no.starts_with("CS20261201000509"), "Beijing time: {no}");
        assert!(no.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()), "{no}");
        assert_ne!(no, new_out_trade_no(now));
    }
}

/// Amounts and statuses cross the database boundary typed: a value stored out of range (by
/// hand, by another program, by a bug) makes reading its row an error on both backends,
/// never a free order, line or refund.
#[cfg(test)]
mod stored_values {
    use sea_orm::{ConnectionTrait, DbErr};
    use shop_db::{orders, payments};
    use shop_domain::money::MAX_FEN;

    use super::*;

    const CATALOG: &str = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[{"id":1,"name":"C","teacher_id":1,"price":"9.90","period":30}]}"#;

    fn corrupt<T: std::fmt::Debug>(read: Result<T, DbErr>, what: &str) {
        match read {
            Err(DbErr::Type(why)) => assert!(why.contains("not an amount"), "{what}: {why}"),
            other => panic!("{what}: a corrupt amount must be an error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_corrupt_stored_amount_is_an_error_not_zero() {
        for (db, buyer) in crate::test_support::seeded_on_both_backends(CATALOG).await {
            let backend = db.get_database_backend();
            let price = Money::from_fen(990).expect("money");
            let new = NewOrder {
                out_trade_no: "CSCORRUPT1".into(),
                subject: "s".into(),
                total_amount_fen: price,
                pay_type: PayType::Alipay.code(),
                user_id: buyer.id,
                expires_at: Utc::now(),
                pay_url: "https://example.invalid".into(),
                idempotency_key: None,
                request_hash: "h".into(),
                purchase_token_hash: None,
            };
            let lines = [NewLine { course_id: 1, price_fen: price }];
            let order = orders::insert(&db, new, &lines, Utc::now()).await.expect("order");
            payments::insert_refund(&db, order.id, "CSCORRUPT1R1", price, "test").await.expect("refund");
            let sound = orders::by_id(&db, order.id).await.expect("read").expect("order");
            assert_eq!(
                (sound.total_amount_fen, sound.order_status),
                (price, OrderStatus::Unpaid),
                "{backend:?}"
            );

            // Negative amounts where no CHECK constraint stops them, and one past the maximum
            // where `>= 0` does.
            let write = |sql: String| {
                let db = &db;
                async move { db.execute_unprepared(&sql).await.expect("raw write") }
            };
            write("UPDATE order_details SET real_price_fen = -1".into()).await;
            corrupt(orders::details(&db, order.id).await, &format!("{backend:?} line"));
            write("UPDATE refunds SET refund_fee_fen = -5".into()).await;
            corrupt(payments::refunds_of(&db, order.id).await, &format!("{backend:?} refund"));
            write(format!("UPDATE orders SET total_amount_fen = {}", MAX_FEN + 1)).await;
            corrupt(orders::by_id(&db, order.id).await, &format!("{backend:?} order"));
            corrupt(orders::for_user(&db, buyer.id, 10).await, &format!("{backend:?} orders of a buyer"));
        }
    }
}
