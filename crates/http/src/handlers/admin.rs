//! Admin endpoints (`/api/v1/admin/`); every one checks the administrator role on the
//! server ([`Admin`]): a script sends a bearer token, the console (`/admin/`) its session
//! cookie and, on every change, the session's CSRF token.
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shop_app::console;
use shop_app::delivery::{self, ReportPeriod, SalesReport};
use shop_app::i18n::msg;
use utoipa::{IntoParams, ToSchema};

use crate::dto::{Message, PasswordLogin};
use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::{Admin, ClientAddr, Language, SESSION_COOKIE};
use crate::state::State;

/// The console session as the console sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDto {
    /// The administrator's username.
    pub username: String,
    /// The token to send as `X-CSRF-Token` on every POST of this session (null for a
    /// bearer token, which needs none).
    pub csrf_token: Option<String>,
    /// When the session ends (null for a bearer token).
    pub expires_at: Option<DateTime<Utc>>,
}

/// `{code, msg, result: Session}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The session.
    pub result: SessionDto,
}

/// The session cookie: HttpOnly, SameSite=Strict, for the whole site (the console's pages
/// and its API), Secure when the shop is served over https.
fn session_cookie(state: &State, value: String, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.links.base().starts_with("https://"))
        .max_age(max_age)
        .finish()
}

/// Logs an administrator in to the console: sets the session cookie and answers the
/// session's CSRF token. Rate-limited per client address like every password login; an
/// account that is not an administrator gets 403 and no session.
#[utoipa::path(
    post,
    path = "/api/v1/admin/session/",
    tag = "admin",
    request_body = PasswordLogin,
    responses(
        (status = 200, description = "Logged in; `Set-Cookie: console_session=…; HttpOnly; SameSite=Strict`", body = SessionResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong username or password (code 1011)", body = ErrorBody),
        (status = 403, description = "Not an administrator, or disabled", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody)
    )
)]
pub async fn login(
    state: web::Data<State>,
    client: ClientAddr,
    body: web::Json<PasswordLogin>,
) -> Result<HttpResponse, ApiError> {
    let new = console::login(&state.ctx, &client.0, &body.username, &body.password).await?;
    let seconds = (new.session.expires_at - Utc::now()).num_seconds().max(0);
    let cookie = session_cookie(&state, new.token, time::Duration::seconds(seconds));
    Ok(HttpResponse::Ok().cookie(cookie).json(SessionResponse {
        code: codes::OK,
        msg: "logged in".into(),
        result: SessionDto {
            username: new.session.user.username,
            csrf_token: Some(new.session.csrf_token),
            expires_at: Some(new.session.expires_at),
        },
    }))
}

/// The administrator of this request, and the CSRF token of its console session.
#[utoipa::path(
    get,
    path = "/api/v1/admin/session/",
    tag = "admin",
    security(("jwt" = []), ("console" = [])),
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)
    )
)]
pub async fn session(admin: Admin) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(SessionResponse {
        code: codes::OK,
        msg: "ok".into(),
        result: SessionDto {
            username: admin.user.username,
            csrf_token: admin.session.as_ref().map(|s| s.csrf_token.clone()),
            expires_at: admin.session.map(|s| s.expires_at),
        },
    }))
}

/// Ends the console session (CSRF token required) and clears its cookie.
#[utoipa::path(
    post,
    path = "/api/v1/admin/session/logout/",
    tag = "admin",
    security(("console" = [])),
    responses(
        (status = 200, body = Message),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or the CSRF token is missing or wrong (code 1014)", body = ErrorBody)
    )
)]
pub async fn logout(
    state: web::Data<State>,
    req: HttpRequest,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        console::logout(&state.ctx, cookie.value()).await?;
    }
    let mut gone = session_cookie(&state, String::new(), time::Duration::ZERO);
    gone.make_removal();
    Ok(HttpResponse::Ok().cookie(gone).json(Message::new(codes::OK, "logged out")))
}

/// Which orders the report covers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// `today`, `week` (7 days) or `all` (default `all`).
    pub period: Option<String>,
    /// Orders created since this date (`YYYY-MM-DD`, UTC); overrides `period`.
    pub since: Option<String>,
    /// Add the checkout funnel (views → orders → paid → refunds) per course.
    #[serde(default)]
    pub funnel: bool,
    /// The funnel per course and `ref` (implies `funnel`).
    #[serde(default)]
    pub by_ref: bool,
    /// The funnel per course and day (implies `funnel`).
    #[serde(default)]
    pub by_day: bool,
}

/// One line of the checkout funnel.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelRowDto {
    /// The day (Beijing time), with `by_day`.
    pub day: Option<String>,
    /// Course id.
    pub course_id: i64,
    /// Course name.
    pub name: String,
    /// The `ref` (empty: none), with `by_ref`.
    #[serde(rename = "ref")]
    #[schema(rename = "ref")]
    pub ref_tag: Option<String>,
    /// Visitors who saw the course page (once per visitor and day; bots left out).
    pub views: u64,
    /// Orders created.
    pub orders_created: u64,
    /// Of those, paid.
    pub orders_paid: u64,
    /// Of those, refunded (in part or in full).
    pub refunds: u64,
    /// Orders created per view, in percent.
    pub view_to_order_percent: f64,
    /// Paid per created order, in percent.
    pub order_to_paid_percent: f64,
}

impl From<shop_app::funnel::FunnelRow> for FunnelRowDto {
    fn from(r: shop_app::funnel::FunnelRow) -> Self {
        let round = |v: f64| (v * 10.0).round() / 10.0;
        FunnelRowDto {
            view_to_order_percent: round(r.view_to_order()),
            order_to_paid_percent: round(r.order_to_paid()),
            day: r.day,
            course_id: r.course_id,
            name: r.name,
            ref_tag: r.ref_tag,
            views: r.views,
            orders_created: r.created,
            orders_paid: r.paid,
            refunds: r.refunded,
        }
    }
}

/// Sales of one course.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseSalesDto {
    /// Course id.
    pub course_id: i64,
    /// Course name.
    pub name: String,
    /// Units sold.
    pub units: u64,
    /// Revenue in yuan.
    pub revenue: String,
}

/// One day (Beijing time).
#[derive(Debug, Serialize, ToSchema)]
pub struct DaySalesDto {
    /// The day.
    pub day: Option<NaiveDate>,
    /// Orders created.
    pub created: u64,
    /// Of those, paid.
    pub paid: u64,
    /// Revenue in yuan.
    pub revenue: String,
    /// Refunded in yuan.
    pub refunded: String,
}

/// Orders of one payment provider (the provider mix).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderSalesDto {
    /// The stored `pay_type` (1 Alipay, 2 WeChat Pay, …).
    pub pay_type: i16,
    /// The provider's name (`Alipay`, `WeChat Pay`, …).
    pub provider: String,
    /// Orders created with it.
    pub orders_created: u64,
    /// Of those, paid.
    pub orders_paid: u64,
    /// Revenue in yuan.
    pub revenue: String,
    /// Refunded in yuan.
    pub refunded: String,
    /// Its share of the period's revenue, in percent.
    pub revenue_share_percent: f64,
}

/// The sales report.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesDto {
    /// Orders created since (null: all time).
    pub since: Option<DateTime<Utc>>,
    /// Orders created.
    pub orders_created: u64,
    /// Orders paid.
    pub orders_paid: u64,
    /// Paid per created, in percent.
    pub conversion_percent: f64,
    /// Gross revenue in yuan.
    pub revenue: String,
    /// Refunded in yuan.
    pub refunded: String,
    /// Revenue minus refunds in yuan.
    pub net: String,
    /// Per course, best sellers first.
    pub courses: Vec<CourseSalesDto>,
    /// Per day.
    pub days: Vec<DaySalesDto>,
    /// Per payment provider (the provider mix), in `pay_type` order.
    pub providers: Vec<ProviderSalesDto>,
    /// The checkout funnel, when asked for (`funnel`, `by_ref`, `by_day`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funnel: Option<Vec<FunnelRowDto>>,
    /// The last reconciliations against the providers' statements, newest first, with what
    /// they applied and flagged.
    pub reconciliation: Vec<ReconciliationRunDto>,
}

/// A difference a reconciliation applied or flagged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationLineDto {
    /// `applied` or `flagged`.
    pub outcome: String,
    /// `payment`, `refund` (applied); `unknown_trade`, `amount_differs`, `not_confirmed`,
    /// `refund_exceeds`, `not_listed` (flagged).
    pub kind: String,
    /// The provider's trade number.
    pub trade_no: String,
    /// The order number.
    pub out_trade_no: String,
    /// Amount in yuan.
    pub amount: String,
    /// What was done or seen (Chinese / English).
    pub note: String,
}

/// One reconciliation of a provider's statement of a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationRunDto {
    /// `alipay`, `wechatpay`.
    pub provider: String,
    /// The statement's day (Beijing time).
    pub date: String,
    /// When it ran.
    pub finished_at: DateTime<Utc>,
    /// Statement lines.
    pub lines: i64,
    /// Lines that matched.
    pub matched: i64,
    /// Lines applied.
    pub applied: i64,
    /// Differences flagged.
    pub flagged: i64,
    /// Payments the statement lists, in yuan.
    pub money_in: String,
    /// Refunds the statement lists, in yuan.
    pub money_out: String,
    /// Why the statement was refused (nothing applied), if it was.
    pub error: Option<String>,
    /// What it applied and flagged: at most the first 50 of each (the rest are counted in
    /// `differences_omitted`; `course-shop reconcile` prints every one).
    pub differences: Vec<ReconciliationLineDto>,
    /// Differences of the run not in `differences`.
    pub differences_omitted: i64,
}

fn difference_dto(outcome: &str, d: shop_app::payments::Difference) -> ReconciliationLineDto {
    ReconciliationLineDto {
        outcome: outcome.to_owned(),
        kind: d.kind,
        trade_no: d.trade_no,
        out_trade_no: d.out_trade_no,
        amount: d.amount.to_string(),
        note: d.note,
    }
}

impl From<shop_app::payments::ReconciliationRun> for ReconciliationRunDto {
    fn from(run: shop_app::payments::ReconciliationRun) -> Self {
        let differences_omitted = run.differences_omitted();
        ReconciliationRunDto {
            provider: run.provider,
            date: run.date,
            finished_at: run.finished_at,
            lines: run.lines,
            matched: run.matched,
            applied: run.applied_count,
            flagged: run.flagged_count,
            differences_omitted,
            money_in: run.money_in.to_string(),
            money_out: run.money_out.to_string(),
            error: run.error,
            differences: run
                .applied
                .into_iter()
                .map(|d| difference_dto("applied", d))
                .chain(run.flagged.into_iter().map(|d| difference_dto("flagged", d)))
                .collect(),
        }
    }
}

/// How many reconciliation runs the sales report shows.
const RECONCILIATION_RUNS_SHOWN: u64 = 10;

/// `{code, msg, result: Sales}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The report.
    pub result: SalesDto,
}

impl From<SalesReport> for SalesDto {
    fn from(r: SalesReport) -> Self {
        let round = |v: f64| (v * 10.0).round() / 10.0;
        let providers = r
            .providers
            .iter()
            .map(|p| ProviderSalesDto {
                pay_type: p.pay_type,
                provider: p.name().get(shop_app::i18n::Lang::En).to_owned(),
                orders_created: p.created,
                orders_paid: p.paid,
                revenue: p.revenue.to_string(),
                refunded: p.refunded.to_string(),
                revenue_share_percent: round(r.revenue_share_percent(p)),
            })
            .collect();
        SalesDto {
            providers,
            since: r.since,
            orders_created: r.created,
            orders_paid: r.paid,
            conversion_percent: (r.conversion_percent() * 10.0).round() / 10.0,
            revenue: r.revenue.to_string(),
            refunded: r.refunded.to_string(),
            net: r.net().to_string(),
            courses: r
                .courses
                .into_iter()
                .map(|c| CourseSalesDto {
                    course_id: c.course_id,
                    name: c.name,
                    units: c.units,
                    revenue: c.revenue.to_string(),
                })
                .collect(),
            days: r
                .days
                .into_iter()
                .map(|d| DaySalesDto {
                    day: d.day,
                    created: d.created,
                    paid: d.paid,
                    revenue: d.revenue.to_string(),
                    refunded: d.refunded.to_string(),
                })
                .collect(),
            funnel: None,
            reconciliation: Vec::new(),
        }
    }
}

/// Units and revenue per course and per day, orders created against paid (conversion),
/// refunds, the provider mix, the last reconciliations against the providers' statements;
/// with `funnel` (or `by_ref`, `by_day`) the checkout funnel per course: views →
/// orders created → paid → refunds. Administrators only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/sales/",
    tag = "admin",
    security(("jwt" = []), ("console" = [])),
    params(SalesQuery),
    responses(
        (status = 200, body = SalesResponse),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)
    )
)]
pub async fn sales(
    state: web::Data<State>,
    _admin: Admin,
    lang: Language,
    query: web::Query<SalesQuery>,
) -> Result<HttpResponse, ApiError> {
    let since = ReportPeriod::parse(query.period.as_deref(), query.since.as_deref())?.start(Utc::now());
    let report = delivery::sales_report(&state.ctx.delivery(), since).await?;
    let mut result = SalesDto::from(report);
    if query.funnel || query.by_ref || query.by_day {
        let grouping = shop_app::funnel::FunnelGrouping { by_day: query.by_day, by_ref: query.by_ref };
        let rows = shop_app::funnel::funnel_report(&state.ctx, since, grouping).await?;
        result.funnel = Some(rows.into_iter().map(Into::into).collect());
    }
    result.reconciliation = shop_app::payments::last_runs(&state.ctx, RECONCILIATION_RUNS_SHOWN)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(SalesResponse { code: codes::OK, msg: msg::OK.get(lang.0).into(), result }))
}
