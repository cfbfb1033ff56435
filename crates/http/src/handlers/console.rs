//! The seller's console (`/admin/`): pages rendered on the server (askama templates in
//! `templates/console/`), with the console's own script and stylesheet served from the
//! binary. A page only shows; every change is a call of the admin API (`/api/v1/admin/`)
//! that the page's script sends with the session's CSRF token.
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use shop_app::AppError;
use shop_app::catalog::edit;
use shop_app::console::{self, ConsoleSession};
use shop_app::payments::audit::{self, OrderRow};
use shop_domain::order::OrderStatus;

use super::admin_orders::{AdminOrderDetail, AdminOrderLineDto, OrderSearchQuery, provider_name};

use crate::console_text::{LANG_COOKIE, Lang, Texts};
use crate::error::ApiError;
use crate::extract::SESSION_COOKIE;
use crate::html;
use crate::state::State;

/// What every console page shows around its content.
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The session's CSRF token (empty when logged out).
    pub csrf: String,
    /// The administrator's username (empty when logged out).
    pub user: String,
}

impl Chrome {
    fn of(lang: Lang, session: Option<&ConsoleSession>) -> Self {
        Chrome {
            lang,
            csrf: session.map(|s| s.csrf_token.clone()).unwrap_or_default(),
            user: session.map(|s| s.user.username.clone()).unwrap_or_default(),
        }
    }
}

/// The login page.
#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
}

/// The console's home page.
#[derive(Template)]
#[template(path = "console/home.html")]
pub struct HomePage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
}

/// The session of a page request, or the answer that sends the browser to the login page.
pub(crate) async fn page_session(
    state: &State,
    req: &HttpRequest,
) -> Result<Result<ConsoleSession, HttpResponse>, ApiError> {
    let to_login = || HttpResponse::SeeOther().insert_header((header::LOCATION, "/admin/login/")).finish();
    let Some(cookie) = req.cookie(SESSION_COOKIE) else { return Ok(Err(to_login())) };
    match console::authenticate(&state.ctx, cookie.value()).await {
        Ok(session) => Ok(Ok(session)),
        Err(AppError::Unauthorized(_)) => Ok(Err(to_login())),
        Err(e) => Err(e.into()),
    }
}

/// A `200 OK` page; remembers a language chosen with `?lang=`.
pub(crate) fn render(req: &HttpRequest, template: &impl Template) -> Result<HttpResponse, ApiError> {
    let mut res = html::page(template)?;
    let chosen = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, v)| k == "lang" && (v == "zh" || v == "en"))
        .map(|(_, v)| v.into_owned());
    if let Some(lang) = chosen {
        let cookie = Cookie::build(LANG_COOKIE, lang)
            .path("/admin/")
            .same_site(SameSite::Strict)
            .max_age(time::Duration::days(365))
            .finish();
        res.add_cookie(&cookie).map_err(|e| AppError::Unexpected(anyhow::anyhow!("a cookie: {e}")))?;
    }
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /admin/login/`: the login form (the console's home when already logged in).
pub async fn login_page(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if page_session(&state, &req).await?.is_ok() {
        return Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/admin/")).finish());
    }
    let lang = Lang::of(&req);
    render(&req, &LoginPage { c: Chrome::of(lang, None), t: lang.texts() })
}

/// `GET /admin/`: the console's home page.
pub async fn home(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    render(&req, &HomePage { c: Chrome::of(lang, Some(&session)), t: lang.texts() })
}

const CONSOLE_JS: &str = include_str!("../../static/console.js");
const CONSOLE_CSS: &str = include_str!("../../static/console.css");

/// `GET /admin/static/{file}`: the console's script and stylesheet, from the binary.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, content_type) = match file.as_str() {
        "console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        "console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        _ => return Err(AppError::NotFound("console file").into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body))
}

/// When, in the shop's zone (Beijing time).
fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    shop_domain::time::in_beijing(at).format("%Y-%m-%d %H:%M").to_string()
}

/// An order as a page shows it.
pub struct OrderView {
    /// Order number.
    pub out_trade_no: String,
    /// Buyer's username.
    pub buyer: String,
    /// Subject.
    pub subject: String,
    /// Total in yuan.
    pub total: String,
    /// Refunded in yuan.
    pub refunded: String,
    /// Status.
    pub status: &'static str,
    /// Provider.
    pub provider: &'static str,
    /// Created (Beijing time).
    pub created: String,
    /// Paid (Beijing time), or empty.
    pub paid: String,
}

impl From<&OrderRow> for OrderView {
    fn from(o: &OrderRow) -> Self {
        OrderView {
            out_trade_no: o.out_trade_no.clone(),
            buyer: o.buyer.clone(),
            subject: o.subject.clone(),
            total: o.total.to_string(),
            refunded: o.refunded.to_string(),
            status: o.status.label(),
            provider: o.provider.map_or("", provider_name),
            created: when(o.created_time),
            paid: o.pay_time.map(when).unwrap_or_default(),
        }
    }
}

/// The search as it was asked, shown again in the form.
#[derive(Default)]
pub struct SearchEcho {
    /// `out_trade_no`.
    pub out_trade_no: String,
    /// `buyer`.
    pub buyer: String,
    /// `status`.
    pub status: String,
    /// `provider`.
    pub provider: String,
    /// `from`.
    pub from: String,
    /// `to`.
    pub to: String,
}

/// The order search page.
#[derive(Template)]
#[template(path = "console/orders.html")]
pub struct OrdersPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// The search.
    pub q: SearchEcho,
    /// Every status's name.
    pub statuses: Vec<&'static str>,
    /// Orders found (this page).
    pub orders: Vec<OrderView>,
    /// How many match.
    pub count: u64,
    /// The previous page's URL.
    pub previous: Option<String>,
    /// The next page's URL.
    pub next: Option<String>,
    /// A field's validation error.
    pub error: Option<(&'static str, String)>,
}

impl OrdersPage {
    /// The error of `field`, or nothing.
    pub fn error_for(&self, field: &str) -> &str {
        self.error.as_ref().filter(|(f, _)| *f == field).map_or("", |(_, m)| m.as_str())
    }
}

/// `GET /admin/orders/`: the order search (the same use case as `GET admin/orders/`).
pub async fn orders(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<OrderSearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut page = OrdersPage {
        c: Chrome::of(lang, Some(&session)),
        t: lang.texts(),
        q: SearchEcho {
            out_trade_no: text(&query.out_trade_no),
            buyer: text(&query.buyer),
            status: text(&query.status),
            provider: text(&query.provider),
            from: text(&query.from),
            to: text(&query.to),
        },
        statuses: OrderStatus::ALL.iter().map(|s| s.label()).collect(),
        orders: Vec::new(),
        count: 0,
        previous: None,
        next: None,
        error: None,
    };
    let parsed = match query.to_query() {
        Ok(q) => q,
        Err(AppError::Validation { field, message }) => {
            page.error = Some((field, message.get(Lang::of(&req).app()).to_owned()));
            return render(&req, &page);
        }
        Err(e) => return Err(e.into()),
    };
    let found = audit::search_orders(&state.ctx, &parsed).await?;
    let at = |n: u64| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()).filter(|(k, _)| k != "page")
        {
            url.append_pair(&k, &v);
        }
        url.append_pair("page", &n.to_string());
        format!("/admin/orders/?{}", url.finish())
    };
    page.previous = (parsed.page > 1).then(|| at(parsed.page - 1));
    page.next = (parsed.page * parsed.page_size < found.count).then(|| at(parsed.page + 1));
    page.count = found.count;
    page.orders = found.orders.iter().map(Into::into).collect();
    render(&req, &page)
}

/// An order's page.
#[derive(Template)]
#[template(path = "console/order.html")]
pub struct OrderPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// The order.
    pub o: OrderView,
    /// Lines.
    pub lines: Vec<AdminOrderLineDto>,
    /// Refunds: number, amount, reason, status, error, when.
    pub refunds: Vec<(String, String, String, String, String, String)>,
    /// Notifications: when, trade status, verdict, reason.
    pub notifies: Vec<(String, String, String, String)>,
    /// Jobs: kind, status, attempts, error, when.
    pub jobs: Vec<(String, String, i32, String, String)>,
    /// Left to refund, in yuan.
    pub refundable: String,
}

/// `GET /admin/orders/{out_trade_no}/`: an order's page with its refund form.
pub async fn order(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let audit = audit::order_audit(&state.ctx, &path).await?;
    let detail = AdminOrderDetail::from(&audit);
    let page = OrderPage {
        c: Chrome::of(lang, Some(&session)),
        t: lang.texts(),
        o: (&audit.order).into(),
        lines: detail.lines,
        refunds: detail
            .refunds
            .into_iter()
            .map(|r| {
                (
                    r.out_request_no,
                    r.amount,
                    r.reason,
                    r.status,
                    r.last_error.unwrap_or_default(),
                    when(r.created_time),
                )
            })
            .collect(),
        notifies: detail
            .notifies
            .into_iter()
            .map(|n| (when(n.received_at), n.trade_status.unwrap_or_default(), n.verdict, n.reason))
            .collect(),
        jobs: detail
            .jobs
            .into_iter()
            .map(|j| (j.kind, j.status, j.attempts, j.last_error.unwrap_or_default(), when(j.created_time)))
            .collect(),
        refundable: detail.refundable,
    };
    render(&req, &page)
}

/// The course form's values.
pub struct CourseForm {
    /// The course (none: a new one).
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// Type code.
    pub course_type: usize,
    /// Category.
    pub category_id: Option<i64>,
    /// Teacher.
    pub teacher_id: i64,
    /// Level code.
    pub level: usize,
    /// Status code.
    pub status: usize,
    /// Price in yuan.
    pub price: String,
    /// Period in days.
    pub period: i32,
    /// Attachment path.
    pub attachment_path: String,
    /// Display order.
    pub orders: i32,
    /// Brief.
    pub brief: String,
    /// Shown.
    pub is_show: bool,
}

impl CourseForm {
    fn new_course() -> Self {
        CourseForm {
            id: None,
            name: String::new(),
            course_type: 1,
            category_id: None,
            teacher_id: 0,
            level: 0,
            status: 0,
            price: "0.00".into(),
            period: 365,
            attachment_path: String::new(),
            orders: 0,
            brief: String::new(),
            is_show: true,
        }
    }

    fn of(outline: &edit::CourseOutline) -> Self {
        let c = &outline.course;
        let code = |v: i16| usize::try_from(v).unwrap_or(0);
        CourseForm {
            id: Some(c.id),
            name: c.name.clone(),
            course_type: code(c.course_type),
            category_id: c.course_category_id,
            teacher_id: c.teacher_id,
            level: code(c.level),
            status: code(c.status),
            price: c.price_fen.to_string(),
            period: c.period,
            attachment_path: c.attachment_path.clone(),
            orders: c.orders,
            brief: c.brief.clone(),
            is_show: c.is_show,
        }
    }
}

/// The catalog page: courses, categories, teachers, and the forms that add them.
#[derive(Template)]
#[template(path = "console/catalog.html")]
pub struct CatalogPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// Courses: id, name, price, status, shown.
    pub courses: Vec<(i64, String, String, &'static str, bool)>,
    /// Categories: id, name.
    pub categories: Vec<(i64, String)>,
    /// Teachers: id, name.
    pub teachers: Vec<(i64, String)>,
    /// Categories, for editing.
    pub category_rows: Vec<CategoryRow>,
    /// Teachers, for editing.
    pub teacher_rows: Vec<TeacherRow>,
    /// The new course form.
    pub form: CourseForm,
}

/// A category on the catalog page.
pub struct CategoryRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// A teacher on the catalog page.
pub struct TeacherRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Role code.
    pub role: usize,
    /// Title.
    pub title: String,
    /// Signature.
    pub signature: String,
    /// About.
    pub brief: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
    /// The portrait's URL, or empty.
    pub image_url: String,
}

fn label(names: &[&'static str; 3], code: i16) -> &'static str {
    usize::try_from(code).ok().and_then(|i| names.get(i)).copied().unwrap_or("?")
}

/// `GET /admin/catalog/`.
pub async fn catalog(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let t = lang.texts();
    let rows = edit::all_rows(&state.ctx).await?;
    let price = |fen| shop_domain::Money::from_fen(fen).map(|m| m.to_string()).unwrap_or_default();
    let page = CatalogPage {
        c: Chrome::of(lang, Some(&session)),
        t,
        courses: rows
            .courses
            .iter()
            .map(|c| {
                (c.id, c.name.clone(), price(c.price_fen.fen()), label(&t.statuses, c.status), c.is_show)
            })
            .collect(),
        categories: rows.categories.iter().map(|c| (c.id, c.name.clone())).collect(),
        teachers: rows.teachers.iter().map(|x| (x.id, x.name.clone())).collect(),
        teacher_rows: rows
            .teachers
            .iter()
            .map(|x| TeacherRow {
                id: x.id,
                name: x.name.clone(),
                role: usize::try_from(x.role).unwrap_or(0),
                title: x.title.clone(),
                signature: x.signature.clone(),
                brief: x.brief.clone(),
                orders: x.orders,
                is_show: x.is_show,
                image_url: state.links.media(&x.image),
            })
            .collect(),
        category_rows: rows
            .categories
            .iter()
            .map(|c| CategoryRow { id: c.id, name: c.name.clone(), orders: c.orders, is_show: c.is_show })
            .collect(),
        form: CourseForm::new_course(),
    };
    render(&req, &page)
}

/// A section on the course page.
pub struct SectionRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: &'static str,
    /// Duration.
    pub duration: String,
    /// Free trial.
    pub free_trail: bool,
    /// The stored video's key, or empty.
    pub link: String,
    /// Section type code.
    pub type_code: usize,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// A chapter on the course page.
pub struct ChapterRow {
    /// Id.
    pub id: i64,
    /// Number.
    pub number: i32,
    /// Name.
    pub name: String,
    /// Summary.
    pub summary: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
    /// Sections.
    pub sections: Vec<SectionRow>,
}

/// A course's page: its form, cover, chapters and sections, materials.
#[derive(Template)]
#[template(path = "console/course.html")]
pub struct CoursePage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// The course.
    pub id: i64,
    /// Its form.
    pub form: CourseForm,
    /// Categories.
    pub categories: Vec<(i64, String)>,
    /// Teachers.
    pub teachers: Vec<(i64, String)>,
    /// The cover's URL, or empty.
    pub cover: String,
    /// Chapters.
    pub chapters: Vec<ChapterRow>,
    /// The number a new chapter gets.
    pub next_chapter: i32,
    /// Material versions: id, name, version, file name.
    pub materials: Vec<(i64, String, String, String)>,
}

/// `GET /admin/catalog/courses/{id}/`.
pub async fn course(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let t = lang.texts();
    let outline = edit::course_outline(&state.ctx, path.into_inner()).await?;
    let rows = edit::all_rows(&state.ctx).await?;
    let page = CoursePage {
        c: Chrome::of(lang, Some(&session)),
        t,
        id: outline.course.id,
        form: CourseForm::of(&outline),
        categories: rows.categories.iter().map(|c| (c.id, c.name.clone())).collect(),
        teachers: rows.teachers.iter().map(|x| (x.id, x.name.clone())).collect(),
        cover: state.links.media(&outline.course.course_img),
        next_chapter: outline.chapters.iter().map(|(c, _)| c.chapter).max().unwrap_or(0) + 1,
        chapters: outline
            .chapters
            .into_iter()
            .map(|(ch, sections)| ChapterRow {
                id: ch.id,
                number: ch.chapter,
                name: ch.name,
                summary: ch.summary,
                orders: ch.orders,
                is_show: ch.is_show,
                sections: sections
                    .into_iter()
                    .map(|s| SectionRow {
                        id: s.id,
                        name: s.name,
                        kind: label(&t.section_types, s.section_type),
                        duration: s.duration,
                        free_trail: s.free_trail,
                        link: s.section_link,
                        type_code: usize::try_from(s.section_type).unwrap_or(0),
                        orders: s.orders,
                        is_show: s.is_show,
                    })
                    .collect(),
            })
            .collect(),
        materials: outline.materials.into_iter().map(|m| (m.id, m.name, m.version, m.filename)).collect(),
    };
    render(&req, &page)
}

/// A banner on the banners page.
pub struct BannerRow {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Link.
    pub link: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
    /// The image's URL, or empty.
    pub image_url: String,
}

/// The banners page: every banner with its form, image upload and delete, and a new one.
#[derive(Template)]
#[template(path = "console/banners.html")]
pub struct BannersPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// Banners.
    pub banners: Vec<BannerRow>,
}

/// `GET /admin/banners/`.
pub async fn banners(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let rows = edit::all_rows(&state.ctx).await?;
    let page = BannersPage {
        c: Chrome::of(lang, Some(&session)),
        t: lang.texts(),
        banners: rows
            .banners
            .into_iter()
            .map(|b| BannerRow {
                image_url: state.links.media(&b.image),
                id: b.id,
                title: b.title,
                link: b.link,
                orders: b.orders,
                is_show: b.is_show,
            })
            .collect(),
    };
    render(&req, &page)
}

/// A sent update on the updates page.
pub struct CampaignRow {
    /// Id.
    pub id: i64,
    /// Sent (Beijing time).
    pub when: String,
    /// Course.
    pub course: String,
    /// Subject.
    pub subject: String,
    /// Owners when sent.
    pub recipients: i32,
    /// Emails in all.
    pub total: u64,
    /// Done.
    pub done: u64,
    /// Waiting.
    pub pending: u64,
    /// Given up.
    pub failed: u64,
    /// Not reached: username, why.
    pub unreached: Vec<(String, String)>,
}

/// The updates page: compose, and the history with progress.
#[derive(Template)]
#[template(path = "console/updates.html")]
pub struct UpdatesPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// Courses: id, name.
    pub courses: Vec<(i64, String)>,
    /// Sent updates.
    pub campaigns: Vec<CampaignRow>,
}

/// `GET /admin/updates/`.
pub async fn updates(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let rows = edit::all_rows(&state.ctx).await?;
    let history = shop_app::delivery::campaign_history(&state.ctx.delivery(), 50).await?;
    let page = UpdatesPage {
        c: Chrome::of(lang, Some(&session)),
        t: lang.texts(),
        courses: rows.courses.iter().map(|c| (c.id, c.name.clone())).collect(),
        campaigns: history
            .into_iter()
            .map(|p| CampaignRow {
                id: p.campaign.id,
                when: when(p.campaign.created_time),
                course: format!("{} {}", p.campaign.course_id, p.course_name),
                subject: p.campaign.subject,
                recipients: p.campaign.recipients,
                total: p.done + p.pending + p.failed,
                done: p.done,
                pending: p.pending,
                failed: p.failed,
                unreached: p.unreached.into_iter().map(|u| (u.username, u.reason)).collect(),
            })
            .collect(),
    };
    render(&req, &page)
}

/// The sales page: figures, charts, courses.
#[derive(Template)]
#[template(path = "console/sales.html")]
pub struct SalesPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
    /// `period` as asked.
    pub period: String,
    /// `since` as asked.
    pub since: String,
    /// The error of `since` or `period`.
    pub error: String,
    /// Orders created.
    pub created: u64,
    /// Orders paid.
    pub paid: u64,
    /// Conversion, e.g. `66.7%`.
    pub conversion: String,
    /// Revenue.
    pub revenue: String,
    /// Refunded.
    pub refunded: String,
    /// Net.
    pub net: String,
    /// Charts.
    pub charts: Vec<crate::charts::BarChart>,
    /// Courses: id, name, units, revenue.
    pub courses: Vec<(i64, String, u64, String)>,
    /// The provider mix: name, orders created, paid, revenue, refunded, share of revenue.
    pub providers: Vec<(String, u64, u64, String, String, String)>,
    /// The funnel per course (and ref).
    pub funnel: Vec<FunnelLine>,
    /// The funnel is per ref.
    pub by_ref: bool,
    /// The last reconciliation runs.
    pub reconciliation: Vec<ReconciliationLine>,
}

/// A run of the reconciliation table, with its flagged differences.
pub struct ReconciliationLine {
    /// The statement's day.
    pub date: String,
    /// `alipay`, `wechatpay`.
    pub provider: String,
    /// Lines, matched, applied, flagged.
    pub counts: (i64, i64, i64, i64),
    /// Flagged differences not listed (the first [`shop_app::payments::DIFFERENCES_SHOWN`]
    /// are).
    pub omitted: i64,
    /// The refused statement's reason, or empty.
    pub error: String,
    /// What was flagged: kind, order number, amount, note.
    pub flagged: Vec<(String, String, String, String)>,
}

/// A line of the funnel table.
pub struct FunnelLine {
    /// Course id.
    pub course_id: i64,
    /// Name.
    pub name: String,
    /// The ref.
    pub ref_tag: String,
    /// Views.
    pub views: u64,
    /// Orders created.
    pub created: u64,
    /// Paid.
    pub paid: u64,
    /// Refunded.
    pub refunded: u64,
    /// View → order, e.g. `12.5%`.
    pub view_to_order: String,
    /// Order → paid.
    pub order_to_paid: String,
}

/// `GET /admin/sales/`: the sales report of `GET admin/sales/` with charts.
pub async fn sales(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<super::admin::SalesQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::charts::BarChart;
    use shop_app::delivery::{self, ReportPeriod};
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    let t = lang.texts();
    let (period, error) = match ReportPeriod::parse(query.period.as_deref(), query.since.as_deref()) {
        Ok(p) => (p, String::new()),
        Err(AppError::Validation { message, .. }) => (ReportPeriod::All, message.get(lang.app()).to_owned()),
        Err(e) => return Err(e.into()),
    };
    let since = period.start(chrono::Utc::now());
    let r = delivery::sales_report(&state.ctx.delivery(), since).await?;
    let grouping = shop_app::funnel::FunnelGrouping { by_day: false, by_ref: query.by_ref };
    let funnel = shop_app::funnel::funnel_report(&state.ctx, since, grouping).await?;
    let yuan = |fen: i64| fen as f64 / 100.0;
    let money = |v: f64| format!("{v:.2}");
    let count = |v: f64| format!("{v:.0}");
    let days: Vec<String> =
        r.days.iter().map(|d| d.day.map(|x| x.format("%m-%d").to_string()).unwrap_or_default()).collect();
    let top: Vec<_> = r.courses.iter().take(12).collect();
    let provider_names: Vec<String> =
        r.providers.iter().map(|p| p.name().get(lang.app()).to_owned()).collect();
    let charts = vec![
        BarChart::new(
            "chart-revenue",
            t.revenue_per_day,
            &days,
            &[(t.revenue.into(), r.days.iter().map(|d| yuan(d.revenue.fen())).collect())],
            money,
        ),
        BarChart::new(
            "chart-orders",
            t.orders_per_day,
            &days,
            &[
                (t.orders_created.into(), r.days.iter().map(|d| d.created as f64).collect()),
                (t.orders_paid.into(), r.days.iter().map(|d| d.paid as f64).collect()),
            ],
            count,
        ),
        BarChart::new(
            "chart-courses",
            t.revenue_per_course,
            &top.iter().map(|c| format!("{} {}", c.course_id, c.name)).collect::<Vec<_>>(),
            &[(t.revenue.into(), top.iter().map(|c| yuan(c.revenue.fen())).collect())],
            money,
        ),
        BarChart::new(
            "chart-funnel",
            t.funnel_chart,
            &funnel
                .iter()
                .take(12)
                .map(|f| format!("{} {}", f.course_id, f.ref_tag.as_deref().unwrap_or("")))
                .collect::<Vec<_>>(),
            &[
                (t.views.into(), funnel.iter().take(12).map(|f| f.views as f64).collect()),
                (t.orders_created.into(), funnel.iter().take(12).map(|f| f.created as f64).collect()),
                (t.orders_paid.into(), funnel.iter().take(12).map(|f| f.paid as f64).collect()),
            ],
            count,
        ),
        BarChart::new(
            "chart-providers",
            t.revenue_per_provider,
            &provider_names,
            &[
                (t.revenue.into(), r.providers.iter().map(|p| yuan(p.revenue.fen())).collect()),
                (t.refunded.into(), r.providers.iter().map(|p| yuan(p.refunded.fen())).collect()),
            ],
            money,
        ),
        BarChart::new(
            "chart-refunds",
            t.refunds_per_day,
            &days,
            &[(t.refunded.into(), r.days.iter().map(|d| yuan(d.refunded.fen())).collect())],
            money,
        ),
    ];
    let page = SalesPage {
        c: Chrome::of(lang, Some(&session)),
        t,
        period: query.period.clone().unwrap_or_else(|| "all".into()),
        since: query.since.clone().unwrap_or_default(),
        error,
        created: r.created,
        paid: r.paid,
        conversion: format!("{:.1}%", r.conversion_percent()),
        revenue: r.revenue.to_string(),
        refunded: r.refunded.to_string(),
        net: r.net().to_string(),
        charts,
        courses: r
            .courses
            .iter()
            .map(|c| (c.course_id, c.name.clone(), c.units, c.revenue.to_string()))
            .collect(),
        providers: r
            .providers
            .iter()
            .zip(provider_names)
            .map(|(p, name)| {
                let share = format!("{:.1}%", r.revenue_share_percent(p));
                (name, p.created, p.paid, p.revenue.to_string(), p.refunded.to_string(), share)
            })
            .collect(),
        funnel: funnel
            .iter()
            .map(|f| FunnelLine {
                course_id: f.course_id,
                name: f.name.clone(),
                ref_tag: f
                    .ref_tag
                    .clone()
                    .map(|r| if r.is_empty() { t.ref_none.to_owned() } else { r })
                    .unwrap_or_default(),
                views: f.views,
                created: f.created,
                paid: f.paid,
                refunded: f.refunded,
                view_to_order: format!("{:.1}%", f.view_to_order()),
                order_to_paid: format!("{:.1}%", f.order_to_paid()),
            })
            .collect(),
        by_ref: query.by_ref,
        reconciliation: shop_app::payments::last_runs(&state.ctx, 10)
            .await?
            .into_iter()
            .map(|run| ReconciliationLine {
                counts: (run.lines, run.matched, run.applied_count, run.flagged_count),
                omitted: run.flagged_count - i64::try_from(run.flagged.len()).unwrap_or(i64::MAX),
                date: run.date,
                provider: run.provider,
                error: run.error.unwrap_or_default(),
                flagged: run
                    .flagged
                    .into_iter()
                    .map(|d| (d.kind, d.out_trade_no, d.amount.to_string(), d.note))
                    .collect(),
            })
            .collect(),
    };
    render(&req, &page)
}
