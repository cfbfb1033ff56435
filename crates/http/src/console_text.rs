//! The words of the seller's console, in Chinese and English: one table per language
//! ([`ZH`], [`EN`]), each a [`Texts`] whose fields the console's templates show. Every text a
//! seller sees on a console page is a field here, so moving the console onto a shared message
//! catalogue is a matter of replacing the two tables.
use actix_web::HttpRequest;

/// The cookie that keeps the chosen language.
pub const LANG_COOKIE: &str = "console_lang";

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文 (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// From `?lang=`, else the `console_lang` cookie, else `Accept-Language` (English only
    /// when it comes before any Chinese), else Chinese.
    pub fn of(req: &HttpRequest) -> Lang {
        let query = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned());
        let chosen = query.or_else(|| req.cookie(LANG_COOKIE).map(|c| c.value().to_owned()));
        match chosen.as_deref() {
            Some("en") => return Lang::En,
            Some("zh") => return Lang::Zh,
            _ => {}
        }
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        match (accept.find("en"), accept.find("zh")) {
            (Some(en), Some(zh)) if en < zh => Lang::En,
            (Some(_), None) => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The `lang` attribute of the page.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// Every text of the console's pages.
#[derive(Debug)]
pub struct Texts {
    /// The other language's `?lang=` value and its name, for the switch.
    pub other_lang: (&'static str, &'static str),
    pub console: &'static str,
    pub login: &'static str,
    pub logout: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub login_hint: &'static str,
    pub needs_js: &'static str,
    pub home: &'static str,
    pub orders: &'static str,
    pub catalog: &'static str,
    pub updates: &'static str,
    pub sales: &'static str,
    pub signed_in_as: &'static str,
    pub welcome: &'static str,
    pub api_hint: &'static str,
    pub search: &'static str,
    pub order_no: &'static str,
    pub buyer: &'static str,
    pub buyer_hint: &'static str,
    pub status: &'static str,
    pub any: &'static str,
    pub provider: &'static str,
    pub date_from: &'static str,
    pub date_to: &'static str,
    pub subject: &'static str,
    pub amount: &'static str,
    pub refunded: &'static str,
    pub created: &'static str,
    pub paid_at: &'static str,
    pub none_found: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub lines: &'static str,
    pub course: &'static str,
    pub price: &'static str,
    pub notifications: &'static str,
    pub received: &'static str,
    pub verdict: &'static str,
    pub reason: &'static str,
    pub jobs: &'static str,
    pub kind: &'static str,
    pub attempts: &'static str,
    pub last_error: &'static str,
    pub refunds: &'static str,
    pub refund: &'static str,
    pub refund_amount_hint: &'static str,
    pub refund_reason_default: &'static str,
    pub refund_left: &'static str,
    pub nothing_to_refund: &'static str,
    pub back: &'static str,
}

/// 中文.
pub static ZH: Texts = Texts {
    other_lang: ("en", "English"),
    console: "店铺后台",
    login: "登录",
    logout: "退出",
    username: "用户名 / 手机号 / 邮箱",
    password: "密码",
    login_hint: "仅限管理员。创建管理员：course-shop user add 用户名 --admin",
    needs_js: "后台需要启用 JavaScript。",
    home: "首页",
    orders: "订单",
    catalog: "课程目录",
    updates: "买家通知",
    sales: "销售",
    signed_in_as: "当前管理员",
    welcome: "在浏览器里管理店铺：订单与退款、课程目录、买家通知、销售与转化漏斗。",
    api_hint: "每个操作都对应 /api/v1/admin/ 下的接口（见 /docs/），可用管理员令牌编写脚本。",
    search: "搜索",
    order_no: "订单号",
    buyer: "买家",
    buyer_hint: "手机号、邮箱或用户名",
    status: "状态",
    any: "全部",
    provider: "支付方式",
    date_from: "起始日期",
    date_to: "截止日期",
    subject: "标题",
    amount: "金额",
    refunded: "已退款",
    created: "创建时间",
    paid_at: "支付时间",
    none_found: "没有符合条件的记录。",
    previous: "上一页",
    next: "下一页",
    lines: "订单明细",
    course: "课程",
    price: "价格",
    notifications: "收到的支付通知",
    received: "收到时间",
    verdict: "结论",
    reason: "原因",
    jobs: "后台任务",
    kind: "类型",
    attempts: "尝试次数",
    last_error: "最近错误",
    refunds: "退款",
    refund: "退款",
    refund_amount_hint: "金额（元），留空则退还全部剩余金额",
    refund_reason_default: "店铺发起的退款",
    refund_left: "可退金额",
    nothing_to_refund: "此订单没有可退的款项。",
    back: "返回",
};

/// English.
pub static EN: Texts = Texts {
    other_lang: ("zh", "中文"),
    console: "Shop console",
    login: "Log in",
    logout: "Log out",
    username: "Username / mobile / email",
    password: "Password",
    login_hint: "Administrators only. Make one with: course-shop user add NAME --admin",
    needs_js: "The console needs JavaScript.",
    home: "Home",
    orders: "Orders",
    catalog: "Catalog",
    updates: "Updates",
    sales: "Sales",
    signed_in_as: "Signed in as",
    welcome: "Run the shop in the browser: orders and refunds, the catalog, updates to buyers, sales and the checkout funnel.",
    api_hint: "Every action is an endpoint under /api/v1/admin/ (see /docs/): script it with an administrator's token.",
    search: "Search",
    order_no: "Order number",
    buyer: "Buyer",
    buyer_hint: "mobile, email or username",
    status: "Status",
    any: "any",
    provider: "Provider",
    date_from: "From",
    date_to: "To",
    subject: "Subject",
    amount: "Amount",
    refunded: "Refunded",
    created: "Created",
    paid_at: "Paid at",
    none_found: "Nothing matches.",
    previous: "Previous",
    next: "Next",
    lines: "Lines",
    course: "Course",
    price: "Price",
    notifications: "Payment notifications received",
    received: "Received",
    verdict: "Verdict",
    reason: "Reason",
    jobs: "Outbox jobs",
    kind: "Kind",
    attempts: "Attempts",
    last_error: "Last error",
    refunds: "Refunds",
    refund: "Refund",
    refund_amount_hint: "Amount in yuan; empty refunds everything left",
    refund_reason_default: "refund by the shop",
    refund_left: "Left to refund",
    nothing_to_refund: "This order holds no money to refund.",
    back: "Back",
};
