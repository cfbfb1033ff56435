//! Wire types of the Luffy front end's contract (`api-contract.md`), with their OpenAPI
//! schemas. Absolute URLs and yuan strings are made here, at the edge.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use shop_app::accounts::UserView;
use shop_app::catalog::{BannerView, CategoryView, ChapterView, CourseView, Page, SectionView, TeacherView};
use utoipa::ToSchema;

use crate::links::Links;
use crate::schemas;

/// `{code, msg}`: the envelope of action endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// 100 for success, otherwise a documented code.
    #[schema(example = 100)]
    pub code: i32,
    /// Human-readable message.
    #[schema(example = "ok")]
    pub msg: String,
}

impl Message {
    /// A message with a code.
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Message { code, msg: msg.into() }
    }
}

/// A home-page banner.
#[derive(Debug, Serialize, ToSchema)]
pub struct BannerDto {
    /// Title.
    pub title: String,
    /// Absolute image URL.
    pub image: String,
    /// Where a click goes.
    pub link: String,
}

/// `{code, msg, result: [Banner]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BannerList {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Banners by display priority.
    pub result: Vec<BannerDto>,
}

/// A course category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// `{code, msg, result: [Category]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Categories by display priority.
    pub result: Vec<CategoryDto>,
}

/// A teacher.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeacherDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// 0 讲师 lecturer, 1 导师 mentor, 2 班主任 class teacher.
    pub role: i16,
    /// Title.
    pub title: String,
    /// Signature line.
    pub signature: String,
    /// Absolute image URL.
    pub image: String,
    /// Introduction.
    pub brief: String,
}

/// One of the first four sections shown on a course card.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectionBriefDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Media key of the section.
    pub section_link: String,
    /// `mm:ss`.
    pub duration: String,
    /// Watchable without buying (the tutorial's spelling).
    pub free_trail: bool,
}

/// A course.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Absolute cover URL.
    pub course_img: String,
    /// Price in yuan with two decimals.
    #[schema(example = "99.00")]
    pub price: String,
    /// Learners.
    pub students: i32,
    /// Sections published so far.
    pub pub_sections: i32,
    /// Sections in total.
    pub sections: i32,
    /// HTML introduction.
    pub brief: String,
    /// Downloadable material.
    pub attachment_path: String,
    /// Days of access after purchase (0 = forever).
    pub period: i32,
    /// 免费课 / 实战课 / 轻课.
    pub course_type_name: String,
    /// 初级 / 中级 / 高级.
    pub level_name: String,
    /// 上线 / 下线 / 预上线.
    pub status_name: String,
    /// The teacher.
    pub teacher: TeacherDto,
    /// Up to four first sections.
    pub section_list: Vec<SectionBriefDto>,
    /// Whether the logged-in user may use this course now (false when not logged in).
    pub owned: bool,
}

/// A page of courses, as DRF's page-number pagination renders it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoursePage {
    /// Courses matching in total.
    pub count: u64,
    /// Absolute URL of the next page, or null.
    pub next: Option<String>,
    /// Absolute URL of the previous page, or null.
    pub previous: Option<String>,
    /// This page.
    pub results: Vec<CourseDto>,
}

/// A section of a chapter.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectionDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Display priority.
    pub orders: i32,
    /// 0 document, 1 exercise, 2 video.
    pub section_type: i16,
    /// Media key.
    pub section_link: String,
    /// `mm:ss`.
    pub duration: String,
    /// Publication time.
    pub pub_date: DateTime<Utc>,
    /// Watchable without buying.
    pub free_trail: bool,
    /// Id of the chapter.
    pub chapter: i64,
}

/// A chapter with its sections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChapterDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Chapter number.
    pub chapter: i32,
    /// Summary.
    pub summary: String,
    /// Sections by display priority.
    pub coursesections: Vec<SectionDto>,
}

/// The logged-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Absolute avatar URL.
    pub icon: String,
    /// `user` or `admin`.
    pub role: String,
    /// When the account was created.
    pub created_time: DateTime<Utc>,
}

/// `{code, msg, result: User}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The user.
    pub result: UserDto,
}

/// `PATCH user/user/me/`: the fields a buyer may change. Any other field (`mobile`,
/// `password`, `role`, `icon`, unknown names) is refused with 400 (code 1000).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// A new email address: a six-digit code is sent to it, and it becomes the account's
    /// email once confirmed with `POST user/user/email/verify/`.
    #[schema(schema_with = schemas::email_body, required = false)]
    pub email: Option<String>,
    /// A new username (3 to 32 letters, digits, `_`, `-`, `.`).
    #[schema(schema_with = schemas::username_body, required = false)]
    pub username: Option<String>,
}

/// `{code:100, msg, result: User, email_pending}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The user (its `email` unchanged until the new one is confirmed).
    pub result: UserDto,
    /// The new address a confirmation code was sent to, if any.
    pub email_pending: Option<String>,
}

/// `POST user/user/email/verify/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailVerify {
    /// The six-digit code from the email.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::sms_code_body)]
    pub code: String,
}

/// `{code, msg, token, username, icon}`: what the front end keeps in cookies.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Access token: send it as `Authorization: jwt <token>` (or `Bearer`).
    pub token: String,
    /// Username.
    pub username: String,
    /// Absolute avatar URL.
    pub icon: String,
}

/// Accepts a JSON string or number and yields its text (the front end sends either).
pub fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::S(s) => s,
        Raw::N(n) => n.to_string(),
    })
}

/// Password login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordLogin {
    /// Username, mobile number or email.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::login_identifier_body)]
    pub username: String,
    /// Password.
    #[schema(schema_with = schemas::login_password_body)]
    pub password: String,
}

/// SMS login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsLogin {
    /// Mobile number.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::mobile_body)]
    pub mobile: String,
    /// The six-digit code.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::sms_code_body)]
    pub code: String,
}

/// Registration with a mobile number.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MobileRegister {
    /// Mobile number; it also becomes the username.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::mobile_body)]
    pub mobile: String,
    /// The six-digit code.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::sms_code_body)]
    pub code: String,
    /// 8 to 128 characters.
    #[schema(schema_with = schemas::new_password_body)]
    pub password: String,
}

impl BannerDto {
    /// The wire form.
    pub fn from_view(b: &BannerView, links: &Links) -> Self {
        BannerDto { title: b.title.clone(), image: links.media(&b.image), link: b.link.clone() }
    }
}

impl From<&CategoryView> for CategoryDto {
    fn from(c: &CategoryView) -> Self {
        CategoryDto { id: c.id, name: c.name.clone() }
    }
}

impl TeacherDto {
    fn from_view(t: &TeacherView, links: &Links) -> Self {
        TeacherDto {
            id: t.id,
            name: t.name.clone(),
            role: t.role.code(),
            title: t.title.clone(),
            signature: t.signature.clone(),
            image: links.media(&t.image),
            brief: t.brief.clone(),
        }
    }
}

impl CourseDto {
    /// The wire form.
    pub fn from_view(c: &CourseView, links: &Links, owned: bool) -> Self {
        CourseDto {
            owned,
            id: c.id,
            name: c.name.clone(),
            course_img: links.media(&c.course_img),
            price: c.price.to_string(),
            students: c.students,
            pub_sections: c.pub_sections,
            sections: c.sections,
            brief: c.brief.clone(),
            attachment_path: c.attachment_path.clone(),
            period: c.period,
            course_type_name: c.course_type.label().to_owned(),
            level_name: c.level.label().to_owned(),
            status_name: c.status.label().to_owned(),
            teacher: TeacherDto::from_view(&c.teacher, links),
            section_list: c
                .section_list
                .iter()
                .map(|s| SectionBriefDto {
                    id: s.id,
                    name: s.name.clone(),
                    section_link: s.section_link.clone(),
                    duration: s.duration.clone(),
                    free_trail: s.free_trail,
                })
                .collect(),
        }
    }
}

impl CoursePage {
    /// The wire form of a page; `next`/`previous` are absolute URLs of the same request with
    /// another `page`.
    pub fn from_page(
        page: &Page<std::sync::Arc<CourseView>>,
        links: &Links,
        path: &str,
        query: &str,
        owned: &std::collections::HashSet<i64>,
    ) -> Self {
        let n = page.request.page();
        CoursePage {
            count: page.count,
            next: page.has_next().then(|| links.page_url(path, query, Some(n + 1))),
            previous: page.has_previous().then(|| links.page_url(path, query, (n > 2).then_some(n - 1))),
            results: page
                .items
                .iter()
                .map(|c| CourseDto::from_view(c, links, owned.contains(&c.id)))
                .collect(),
        }
    }
}

impl From<&SectionView> for SectionDto {
    fn from(s: &SectionView) -> Self {
        SectionDto {
            id: s.id,
            name: s.name.clone(),
            orders: s.orders,
            section_type: s.section_type.code(),
            section_link: s.section_link.clone(),
            duration: s.duration.clone(),
            pub_date: s.pub_date,
            free_trail: s.free_trail,
            chapter: s.chapter,
        }
    }
}

impl From<&ChapterView> for ChapterDto {
    fn from(c: &ChapterView) -> Self {
        ChapterDto {
            id: c.id,
            name: c.name.clone(),
            chapter: c.chapter,
            summary: c.summary.clone(),
            coursesections: c.coursesections.iter().map(SectionDto::from).collect(),
        }
    }
}

impl UserDto {
    /// The wire form.
    pub fn from_view(u: UserView, links: &Links) -> Self {
        UserDto {
            id: u.id,
            icon: links.media(&u.icon),
            username: u.username,
            email: u.email,
            mobile: u.mobile,
            role: u.role.as_str().to_owned(),
            created_time: u.created_time,
        }
    }
}

/// Accepts JSON strings, numbers, or a list of them, as text (the front end sends ids and
/// amounts either way).
pub fn strings_or_numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(serde_json::Number),
    }
    Ok(Vec::<Raw>::deserialize(d)?
        .into_iter()
        .map(|r| match r {
            Raw::S(s) => s,
            Raw::N(n) => n.to_string(),
        })
        .collect())
}

fn optional_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    string_or_number(d).map(Some)
}

/// A purchase.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PayRequest {
    /// Course ids (numbers or strings).
    #[serde(deserialize_with = "strings_or_numbers")]
    #[schema(schema_with = schemas::courses_body)]
    pub courses: Vec<String>,
    /// The total the buyer saw, in yuan (number or string); must equal the server's sum.
    #[serde(deserialize_with = "string_or_number")]
    #[schema(schema_with = schemas::total_amount_body)]
    pub total_amount: String,
    /// Shown at Alipay's cashier.
    #[schema(schema_with = schemas::subject_body)]
    pub subject: String,
    /// 1 Alipay (default), 2 WeChat Pay, 3 Stripe.
    #[serde(default, deserialize_with = "optional_string_or_number")]
    #[schema(schema_with = schemas::pay_type_body, required = false)]
    pub pay_type: Option<String>,
    /// Where this order's purchase email goes when the account has no confirmed email (kept
    /// on the order; the account's confirmed email wins).
    #[serde(default)]
    #[schema(schema_with = schemas::email_body, required = false)]
    pub email: Option<String>,
    /// The `ref` of the course page the buyer came from (a campaign or page variant, 1 to 64
    /// letters, digits, `-`, `_`, `.`), for the checkout funnel.
    #[serde(default, rename = "ref")]
    #[schema(rename = "ref", required = false)]
    pub ref_tag: Option<String>,
}

/// `{code:100, msg, pay_url, out_trade_no, purchase_url}`: open `pay_url` to pay.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The page to open: Alipay's signed page-pay URL (the simulator's cashier in
    /// development), for WeChat Pay our cashier page showing the QR code and polling the
    /// status, for Stripe the Checkout Session's page (the simulator's card form in
    /// development).
    pub pay_url: String,
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat Pay only: the QR code's content (`weixin://wxpay/bizpayurl?pr=...`), for a front
    /// end that draws the code itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    /// The order's private purchase page (`/p/<token>`): after payment its courses and
    /// download links, without logging in. The same URL is in the purchase email. Absent only
    /// for an order without an account when the answer is the open order an earlier request
    /// made for the same email and purchase (the page is that request's; retries with its
    /// `Idempotency-Key` get it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_url: Option<String>,
}

/// A course of a purchase page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseCourseDto {
    /// Course id.
    pub id: i64,
    /// Course name.
    pub name: String,
}

/// A download link of a purchase page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseLinkDto {
    /// The material's name.
    pub name: String,
    /// The version a download serves now (the latest); `null` before a file was uploaded.
    pub version: Option<String>,
    /// The private download URL (`/d/<token>`).
    pub url: String,
    /// Downloads left.
    pub downloads_left: i32,
}

/// `GET /p/{token}` with `Accept: application/json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchasePageDto {
    /// 100.
    pub code: i32,
    /// Our order number.
    pub out_trade_no: String,
    /// 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 paid after cancel, 5 refunded.
    pub order_status: i16,
    /// The courses bought.
    pub courses: Vec<PurchaseCourseDto>,
    /// The working download links (none before payment or after a refund).
    pub links: Vec<PurchaseLinkDto>,
}

impl From<shop_app::delivery::PurchasePage> for PurchasePageDto {
    fn from(p: shop_app::delivery::PurchasePage) -> Self {
        PurchasePageDto {
            code: 100,
            out_trade_no: p.out_trade_no,
            order_status: p.status.code(),
            courses: p.courses.into_iter().map(|(id, name)| PurchaseCourseDto { id, name }).collect(),
            links: p
                .links
                .into_iter()
                .map(|l| PurchaseLinkDto {
                    name: l.name,
                    version: l.version,
                    url: l.url,
                    downloads_left: l.downloads_left,
                })
                .collect(),
        }
    }
}

/// The payment status.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStatusResponse {
    /// 100 paid, 101 not (yet).
    #[schema(example = 100)]
    pub code: i32,
    /// Message.
    pub msg: String,
    /// 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 paid after cancel (being refunded), 5 refunded.
    pub order_status: i16,
}

/// A line of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineDto {
    /// Course id.
    pub course: i64,
    /// Course name.
    pub course_name: String,
    /// Price at order time.
    #[schema(example = "99.00")]
    pub price: String,
    /// Price paid.
    #[schema(example = "99.00")]
    pub real_price: String,
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    /// Our order number.
    pub out_trade_no: String,
    /// Subject.
    pub subject: String,
    /// Total in yuan.
    #[schema(example = "99.00")]
    pub total_amount: String,
    /// 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 paid after cancel, 5 refunded.
    pub order_status: i16,
    /// Status in words.
    pub order_status_name: String,
    /// 1 Alipay, 2 WeChat Pay, 3 Stripe.
    pub pay_type: i16,
    /// The provider's trade number, once paid (Stripe: the PaymentIntent `pi_...`).
    pub trade_no: Option<String>,
    /// Payment time.
    pub pay_time: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_time: DateTime<Utc>,
    /// Payment deadline.
    pub expires_at: Option<DateTime<Utc>>,
    /// Refunded so far, in yuan.
    pub refunded_amount: String,
    /// The pay URL, while the order can still be paid.
    pub pay_url: Option<String>,
    /// The order's private purchase page (`/p/<token>`): its courses and download links,
    /// without logging in.
    pub purchase_url: String,
    /// The courses.
    pub details: Vec<OrderLineDto>,
}

impl OrderDto {
    /// The wire form of an order; `public_url` is the shop's (for the purchase page).
    pub fn from_view(o: shop_app::payments::OrderView, public_url: &str) -> Self {
        OrderDto {
            purchase_url: shop_app::guests::purchase_url(public_url, &o.purchase_token),
            out_trade_no: o.out_trade_no,
            subject: o.subject,
            total_amount: o.total_amount.to_string(),
            order_status: o.status.code(),
            order_status_name: o.status.label().to_owned(),
            pay_type: o.pay_type,
            trade_no: o.trade_no,
            pay_time: o.pay_time,
            created_time: o.created_time,
            expires_at: o.expires_at,
            refunded_amount: o.refunded.to_string(),
            pay_url: o.pay_url,
            details: o
                .lines
                .into_iter()
                .map(|l| OrderLineDto {
                    course: l.course_id,
                    course_name: l.course_name,
                    price: l.price.to_string(),
                    real_price: l.real_price.to_string(),
                })
                .collect(),
        }
    }
}

/// `{code, msg, result: [Order]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Orders, newest first.
    pub result: Vec<OrderDto>,
}

/// `{code, msg, result: Order}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The order.
    pub result: OrderDto,
}
