//! The one home of what buyers and sellers read: the language of an answer ([`Lang`],
//! negotiated from `Accept-Language` with the configured `api.default_language`) and the
//! catalogue of messages ([`Text`], each written in Chinese and English side by side).
//!
//! Use cases return their messages as [`Text`] (inside [`crate::AppError`] or an answer);
//! the HTTP layer picks the language of the request when it writes `msg` or a page. Where the
//! tutorial front end had a wording (发送短信成功, 注册成功, 登录成功 ...), the Chinese text
//! keeps it. Logs use the English text ([`Text`]'s `Display`).
use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

/// A language of the shop's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Simplified Chinese (the shop's default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Every language, for tests and documentation.
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The language of a BCP 47 tag (`zh`, `zh-CN`, `zh-Hans-CN`, `en`, `en-GB` ...), by its
    /// primary subtag; `None` for the languages the shop does not speak (and `*`).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("zh") {
            Some(Lang::Zh)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of an answer: the spoken language the `Accept-Language` header ranks
    /// highest (`q` weights; the earlier one on a tie), else `default` (no header, an empty
    /// or unreadable one, only other languages or `*`).
    pub fn negotiate(accept_language: Option<&str>, default: Lang) -> Lang {
        let Some(header) = accept_language else { return default };
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else { continue };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .map_or(Some(1000), parse_q);
            let Some(q) = q.filter(|q| *q > 0) else { continue };
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(default, |(_, lang)| lang)
    }

    /// The value of the HTML `lang` attribute.
    pub fn html_tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The value of a `Content-Language` header and of the setting.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// A `q` value in thousandths (`0.8` → 800); `None` when it is not one.
fn parse_q(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A message in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    zh: Cow<'static, str>,
    en: Cow<'static, str>,
}

impl Text {
    /// A fixed message.
    pub const fn fixed(zh: &'static str, en: &'static str) -> Text {
        Text { zh: Cow::Borrowed(zh), en: Cow::Borrowed(en) }
    }

    /// A message with values in it.
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Text {
        Text { zh: zh.into(), en: en.into() }
    }

    /// The message in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// The English message (logs, `Display`).
    pub fn en(&self) -> &str {
        &self.en
    }

    /// `prefix: self`, in both languages (`prefix` is a wire name, the same in both).
    pub fn prefixed(&self, prefix: &str) -> Text {
        Text::new(format!("{prefix}: {}", self.zh), format!("{prefix}: {}", self.en))
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// The catalogue: every message a buyer or seller reads, Chinese first.
pub mod msg {
    use super::Text;
    use shop_domain::money::MoneyError as YuanError;
    use shop_domain::paging::PageError;
    use shop_domain::search::SearchTermError;
    use shop_domain::user::UserValueError;

    // ---- success answers ----
    /// The tutorial's `msg` of a plain success.
    pub const OK: Text = Text::fixed("成功", "ok");
    /// A login.
    pub const LOGGED_IN: Text = Text::fixed("登录成功", "login succeeded");
    /// `user/user/mobile/`: registered.
    pub const MOBILE_REGISTERED: Text = Text::fixed("手机号已存在", "this mobile number is registered");
    /// `user/user/mobile/`: not registered.
    pub const MOBILE_NOT_REGISTERED: Text =
        Text::fixed("手机号不存在", "this mobile number is not registered");
    /// An SMS code was sent.
    pub const SMS_SENT: Text = Text::fixed("发送短信成功", "verification code sent");
    /// A registration.
    pub const REGISTERED: Text = Text::fixed("注册成功", "registered");
    /// An order was created.
    pub const ORDER_CREATED: Text = Text::fixed("订单创建成功", "order created");
    /// The buyer's open order for the same courses was answered again.
    pub const ORDER_EXISTING: Text = Text::fixed("您已有该课程的待支付订单", "existing order");
    /// Paid.
    pub const PAYMENT_RECEIVED: Text = Text::fixed("支付成功", "payment received");
    /// Not paid yet (the tutorial's wording).
    pub const PAYMENT_NOT_YET: Text =
        Text::fixed("暂未收到您的付款,请稍后刷新再试", "payment not received yet");
    /// Cancelled or expired.
    pub const ORDER_CANCELLED: Text = Text::fixed("订单已取消", "the order was cancelled");
    /// Paid after it was cancelled.
    pub const ORDER_CANCELLED_REFUNDING: Text =
        Text::fixed("订单已取消，款项将原路退回", "the order was cancelled; the payment is being refunded");
    /// Refunded.
    pub const PAYMENT_REFUNDED: Text = Text::fixed("款项已退回", "the payment was refunded");

    // ---- errors by code ----
    /// 1004 for a path no route matches.
    pub const NO_ROUTE: Text = Text::fixed("没有这个接口", "no route matches this path");
    /// 1004, generic.
    pub const NOT_FOUND: Text = Text::fixed("未找到", "not found");
    /// 1003.
    pub const METHOD_NOT_ALLOWED: Text = Text::fixed("不支持该请求方法", "method not allowed");
    /// 1002.
    pub const TOO_LARGE: Text = Text::fixed("请求体过大", "request body is too large");
    /// 1005, generic.
    pub const UNSUPPORTED_MEDIA_TYPE: Text = Text::fixed("不支持的内容类型", "unsupported content type");
    /// 1005 for a JSON endpoint.
    pub const BODY_MUST_BE_JSON: Text = Text::fixed(
        "请求体必须是 JSON（Content-Type: application/json）",
        "the body must be JSON (Content-Type: application/json)",
    );
    /// 1005 for a form endpoint.
    pub const BODY_MUST_BE_FORM: Text = Text::fixed("请求体必须是表单编码", "the body must be form-encoded");
    /// 1001 for a NUL character anywhere in the request.
    pub const NUL_IN_REQUEST: Text =
        Text::fixed("请求中含有 NUL 字符", "the request contains a NUL character");
    /// 1099.
    pub const INTERNAL: Text = Text::fixed("服务器内部错误", "internal error");
    /// 1050 for a dependency that is down.
    pub const UNAVAILABLE: Text =
        Text::fixed("服务暂时不可用，请稍后重试", "service unavailable, please retry shortly");
    /// 1050 for the database.
    pub const DATABASE_UNAVAILABLE: Text =
        Text::fixed("服务繁忙，请稍后重试", "the service is briefly unavailable, please retry in a moment");
    /// 1011.
    pub const BAD_CREDENTIALS: Text = Text::fixed("用户名或密码错误", "wrong username or password");
    /// 1012 for a disabled account.
    pub const ACCOUNT_DISABLED: Text = Text::fixed("该账号已被禁用", "this account is disabled");
    /// 1012.
    pub const FORBIDDEN: Text = Text::fixed("没有权限", "not allowed");
    /// 102.
    pub const BAD_MOBILE: Text = Text::fixed("手机号不合法", "not a valid mobile number");
    /// 1013.
    pub const BAD_SMS_CODE: Text =
        Text::fixed("验证码错误或已过期", "the verification code is wrong or has expired");
    /// 101 for an SMS that could not be sent.
    pub const SMS_NOT_SENT: Text = Text::fixed("发送短信失败", "the verification code could not be sent");
    /// 1042.
    pub const MEDIA_EXPIRED: Text = Text::fixed("该媒体链接已过期", "this media URL has expired");
    /// 1043.
    pub const MEDIA_BAD_SIGNATURE: Text = Text::fixed("该媒体链接无效", "this media URL is not valid");
    /// 1043 without a signature.
    pub const MEDIA_UNSIGNED: Text = Text::fixed("该媒体链接未签名", "this media URL is not signed");
    /// 1004 for a download token.
    pub const NO_SUCH_LINK: Text = Text::fixed("没有这个下载链接", "no such download link");
    /// 1004 for a material not uploaded yet.
    pub const FILE_NOT_READY: Text = Text::fixed("文件尚未上传", "the file is not available yet");
    /// 1040.
    pub const DOWNLOADS_USED: Text = Text::fixed("下载次数已用完", "no downloads are left on this link");
    /// 1041.
    pub const LINK_REVOKED: Text =
        Text::fixed("该订单已退款，链接已失效", "this purchase was refunded; the link no longer works");

    /// 1029.
    pub fn rate_limited(retry_after_secs: u64) -> Text {
        Text::new(
            format!("操作过于频繁，请 {retry_after_secs} 秒后再试"),
            format!("too many requests, retry in {retry_after_secs} s"),
        )
    }

    /// 1004 for a thing of the shop (`what` is the English noun a use case names).
    pub fn not_found(what: &str) -> Text {
        let zh = match what {
            "course" => "课程",
            "order" => "订单",
            "account" => "账号",
            "section" => "课时",
            "media" => "媒体文件",
            "media of this section" => "该课时的媒体文件",
            "download link" => "下载链接",
            "page" => "页码",
            "simulator" => "支付模拟器（alipay.mode 不是 \"simulator\"）",
            _ => "资源",
        };
        let en = if what == "simulator" {
            "simulator (alipay.mode is not \"simulator\")".to_owned()
        } else {
            format!("{what} not found")
        };
        Text::new(format!("{zh}不存在"), en)
    }

    /// 1001 for a body that is not JSON.
    pub fn malformed_json(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("JSON 格式错误：{detail}"), format!("malformed JSON: {detail}"))
    }

    /// 1000 for a JSON value of the wrong type.
    pub fn invalid_field(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("字段无效：{detail}"), format!("invalid field: {detail}"))
    }

    /// 1001 for a body that cannot be read.
    pub fn unreadable_body(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("无法读取请求体：{detail}"), format!("cannot read the body: {detail}"))
    }

    /// 1001 for a form that cannot be read.
    pub fn unreadable_form(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("无法读取表单：{detail}"), format!("cannot read the form: {detail}"))
    }

    /// 1000 for a query string that cannot be read.
    pub fn invalid_query(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("查询参数无效：{detail}"), format!("invalid query string: {detail}"))
    }

    /// A status without a message of its own (its reason phrase).
    pub fn status_reason(reason: &str) -> Text {
        Text::new(format!("请求错误（{reason}）"), reason.to_lowercase())
    }

    // ---- tokens ----
    /// 1010 without a header.
    pub const AUTH_MISSING: Text = Text::fixed(
        "请先登录（缺少 Authorization 头）",
        "authentication required: missing Authorization header",
    );
    /// 1010 for an unreadable header.
    pub const AUTH_MALFORMED: Text =
        Text::fixed("Authorization 头格式错误", "authentication required: malformed Authorization header");
    /// 1010 for another scheme.
    pub const AUTH_SCHEME: Text = Text::fixed(
        "请使用 Authorization: jwt <token> 或 Bearer <token>",
        "authentication required: use Authorization: jwt <token> or Bearer <token>",
    );
    /// 1010 for an expired token.
    pub const TOKEN_EXPIRED: Text =
        Text::fixed("登录已过期，请重新登录", "authentication required: token expired");
    /// 1010 for a token from the future.
    pub const TOKEN_NOT_YET_VALID: Text =
        Text::fixed("登录凭证尚未生效", "authentication required: token is not valid yet");
    /// 1010 for a bad signature.
    pub const TOKEN_BAD_SIGNATURE: Text =
        Text::fixed("登录凭证签名无效", "authentication required: token signature is invalid");
    /// 1010 for another algorithm.
    pub const TOKEN_BAD_ALGORITHM: Text =
        Text::fixed("登录凭证算法不被接受", "authentication required: token algorithm is not accepted");
    /// 1010 for anything else.
    pub const TOKEN_INVALID: Text =
        Text::fixed("登录凭证无效", "authentication required: token is malformed or invalid");
    /// 1010 for a deleted account.
    pub const ACCOUNT_GONE: Text =
        Text::fixed("账号不存在，请重新登录", "authentication required: account no longer exists");
    /// 1010 for a disabled account.
    pub const TOKEN_ACCOUNT_DISABLED: Text =
        Text::fixed("该账号已被禁用", "authentication required: account is disabled");

    // ---- fields ----
    /// A required field is missing.
    pub const REQUIRED: Text = Text::fixed("不能为空", "is required");
    /// Not a positive integer.
    pub const POSITIVE_INTEGER: Text = Text::fixed("必须是正整数", "must be a positive integer");
    /// The catalogue orderings.
    pub const BAD_ORDERING: Text = Text::fixed(
        "必须是 orders、students、-students、price、-price 之一",
        "must be one of orders, students, -students, price, -price",
    );
    /// `min_price` above `max_price`.
    pub const MIN_ABOVE_MAX: Text = Text::fixed("不能大于 max_price", "must not be above max_price");
    /// `pay_type` other than Alipay.
    pub const ONLY_ALIPAY: Text = Text::fixed("仅支持 1（支付宝）", "only 1 (Alipay) is supported");
    /// An `Idempotency-Key` that is not visible ASCII.
    pub const IDEMPOTENCY_KEY_FORMAT: Text =
        Text::fixed("必须是 1 到 255 个可见 ASCII 字符", "must be 1 to 255 visible ASCII characters");

    /// A user value (mobile, email, username, password).
    pub fn user_value(e: &UserValueError) -> Text {
        match e {
            UserValueError::Mobile => BAD_MOBILE,
            UserValueError::Email => Text::fixed("邮箱地址不合法", "not a valid email address"),
            UserValueError::Username => Text::fixed(
                "用户名须为 3 到 32 个字母、数字、'_'、'-' 或 '.'",
                "username must be 3 to 32 letters, digits, '_', '-' or '.'",
            ),
            UserValueError::Password => {
                Text::new(format!("密码长度须为 {}", password_range()), e.to_string())
            }
        }
    }

    fn password_range() -> String {
        use shop_domain::user::Password;
        format!("{} 到 {} 个字符", Password::MIN_CHARS, Password::MAX_CHARS)
    }

    /// An amount in yuan that does not follow the rule.
    pub fn yuan(e: YuanError) -> Text {
        let zh = match e {
            YuanError::NotDecimal => "不是以元为单位的金额",
            YuanError::TooPrecise => "最多两位小数",
            YuanError::Negative => "金额不能为负",
            YuanError::TooLarge => "金额过大",
        };
        Text::new(zh, e.as_str())
    }

    /// A page or page size out of range.
    pub fn page(e: &PageError) -> Text {
        let zh = match e {
            PageError::BadPage => {
                format!("页码必须是 1 到 {} 的整数", shop_domain::paging::PageRequest::MAX_PAGE)
            }
            PageError::BadSize => {
                format!("每页数量必须是 1 到 {} 的整数", shop_domain::paging::PageRequest::MAX_SIZE)
            }
        };
        Text::new(zh, e.to_string())
    }

    /// A search term out of bounds.
    pub fn search_term(e: &SearchTermError) -> Text {
        let SearchTermError::TooLong { max } = e;
        Text::new(format!("搜索词不能超过 {max} 个字符"), e.to_string())
    }

    // ---- accounts and profiles ----
    /// 1014.
    pub const BAD_EMAIL_CODE: Text =
        Text::fixed("邮箱验证码错误或已过期", "the email code is wrong or has expired");
    /// `PATCH user/user/me/` with a new email: a code went to it.
    pub const EMAIL_CODE_SENT: Text = Text::fixed(
        "验证码已发送到新邮箱，请在确认后使用",
        "a confirmation code was sent to the new email address",
    );
    /// `PATCH user/user/me/` without a new email.
    pub const PROFILE_UPDATED: Text = Text::fixed("修改成功", "profile updated");
    /// `POST user/user/email/verify/`.
    pub const EMAIL_CONFIRMED: Text = Text::fixed("邮箱验证成功", "email address confirmed");
    /// A profile field that only other routes change.
    pub const FIELD_PROTECTED: Text = Text::fixed("不能在此修改", "cannot be changed here");
    /// A body that is not a JSON object.
    pub const MUST_BE_OBJECT: Text = Text::fixed("必须是 JSON 对象", "must be a JSON object");
    /// Not a string.
    pub const MUST_BE_TEXT: Text = Text::fixed("必须是字符串", "must be a string");
    /// A field that does not exist.
    pub fn unknown_field(name: &str) -> Text {
        let name: String = name.chars().take(40).collect();
        Text::new(format!("未知字段 {name:?}"), format!("unknown field {name:?}"))
    }
    /// The subject of the email with a confirmation code.
    pub const EMAIL_CODE_SUBJECT: Text = Text::fixed("邮箱验证码", "Your email confirmation code");
    /// Its first line.
    pub const EMAIL_CODE_INTRO: Text =
        Text::fixed("您正在为账号绑定此邮箱，验证码：", "Use this code to confirm your email address:");
    /// Its validity (minutes).
    pub fn email_code_validity(minutes: i64) -> Text {
        Text::new(
            format!("验证码 {minutes} 分钟内有效，仅可使用一次。如非本人操作，请忽略本邮件。"),
            format!(
                "It is valid for {minutes} minutes and works once. If you did not ask for it, ignore this email."
            ),
        )
    }

    // ---- accounts ----
    /// Registration with a number that has an account.
    pub const MOBILE_TAKEN: Text = Text::fixed("手机号已被注册", "this mobile number is already registered");
    /// A username that has an account.
    pub const USERNAME_TAKEN: Text = Text::fixed("用户名已被占用", "this username is already taken");
    /// An email that has an account.
    pub const EMAIL_TAKEN: Text = Text::fixed("该邮箱已被注册", "this email is already registered");

    // ---- orders ----
    /// No course in the order.
    pub const NO_COURSES: Text = Text::fixed("至少选择一门课程", "must name at least one course");
    /// Too many courses.
    pub fn too_many_courses(max: usize) -> Text {
        Text::new(format!("每个订单最多 {max} 门课程"), format!("at most {max} courses per order"))
    }
    /// Not a course id.
    pub fn not_a_course_id(id: impl std::fmt::Display + std::fmt::Debug) -> Text {
        Text::new(format!("{id:?} 不是课程编号"), format!("{id:?} is not a course id"))
    }
    /// A course listed twice.
    pub fn course_twice(id: i64) -> Text {
        Text::new(format!("课程 {id} 重复"), format!("course {id} is listed twice"))
    }
    /// A subject out of bounds.
    pub fn bad_subject(max: usize) -> Text {
        Text::new(
            format!("须为 1 到 {max} 个字符，且不含控制字符"),
            format!("must be 1 to {max} characters without control characters"),
        )
    }
    /// An Idempotency-Key reused for another request.
    pub const IDEMPOTENCY_KEY_REUSED: Text = Text::fixed(
        "该 Idempotency-Key 已用于另一个请求",
        "this Idempotency-Key was used with a different request",
    );
    /// A concurrent request with the same key.
    pub const IDEMPOTENCY_KEY_IN_PROGRESS: Text = Text::fixed(
        "使用该 Idempotency-Key 的请求正在处理中",
        "a request with this Idempotency-Key is in progress",
    );
    /// A course not for sale.
    pub fn course_not_for_sale(id: i64) -> Text {
        Text::new(
            format!("课程 {id} 不存在或不在售"),
            format!("course {id} does not exist or is not for sale"),
        )
    }
    /// An offline course.
    pub fn course_offline(id: i64) -> Text {
        Text::new(format!("课程 {id} 已下线"), format!("course {id} is offline"))
    }
    /// A sum out of range.
    pub const TOTAL_TOO_LARGE: Text = Text::fixed("总价过大", "the total is too large");
    /// The buyer's total differs from the prices.
    pub fn total_mismatch(sent: impl std::fmt::Display, sum: impl std::fmt::Display) -> Text {
        Text::new(
            format!("为 {sent}，但课程总价为 {sum}（价格可能已变动）"),
            format!("is {sent} but the courses cost {sum} (prices may have changed)"),
        )
    }
    /// Free courses.
    pub const FREE_COURSES: Text = Text::fixed("免费课程无需购买", "free courses need no payment");
    /// A course the buyer owns.
    pub fn already_own(id: Option<i64>) -> Text {
        match id {
            Some(id) => Text::new(format!("您已购买课程 {id}"), format!("you already own course {id}")),
            None => Text::fixed("您已购买其中的课程", "you already own one of these courses"),
        }
    }
    /// `total_amount` that is not an amount.
    pub fn bad_amount(sent: &str, e: YuanError) -> Text {
        yuan(e).prefixed(&format!("{sent:?}"))
    }

    // ---- sellers: refunds, campaigns, media, reports, import ----
    /// Reconciling the statement of a provider that is not enabled.
    pub fn no_statement(provider: &str) -> Text {
        Text::new(
            format!("{provider} 未启用，没有可核对的对账单"),
            format!("{provider} is not enabled: it has no statement to reconcile"),
        )
    }
    /// A refund of an order that is not paid.
    pub fn nothing_to_refund(out_trade_no: &str, status: &str) -> Text {
        Text::new(
            format!("订单 {out_trade_no} 状态为 {status}，无可退款项"),
            format!("order {out_trade_no} is {status}: nothing to refund"),
        )
    }
    /// A refund larger than what is left.
    /// A `pay_type` that is not one of ours.
    pub const PAY_TYPE: Text = Text::fixed(
        "须为 1（支付宝）、2（微信支付）或 3（Stripe）",
        "must be 1 (Alipay), 2 (WeChat Pay) or 3 (Stripe)",
    );
    /// A payment method this shop has not enabled.
    pub fn pay_type_off(code: i16, label: &str) -> Text {
        Text::new(format!("支付方式 {code}（{label}）未开通"), format!("{code} ({label}) is not enabled"))
    }
    /// A console change without its session's CSRF token.
    pub const CSRF_REFUSED: Text = Text::fixed(
        "请求缺少本会话的 CSRF 令牌：请刷新页面后重试",
        "the request lacks this session's CSRF token: reload the page and try again",
    );
    /// Refund of more than is left.
    pub fn refund_too_large(amount: i64, left: i64, total: i64) -> Text {
        Text::new(
            format!("无法退款 {amount} 分：订单 {total} 分中还可退 {left} 分"),
            format!("refund of {amount} fen is not possible: {left} fen of {total} are left to refund"),
        )
    }
    /// A campaign subject out of bounds.
    pub const CAMPAIGN_SUBJECT: Text =
        Text::fixed("邮件主题须为 1 到 200 个字符", "the subject must be 1 to 200 characters");
    /// A campaign without a message.
    pub const CAMPAIGN_EMPTY: Text = Text::fixed("邮件正文为空", "the message is empty");
    /// A campaign naming a version that was not uploaded.
    pub fn campaign_no_version(course_id: i64, version: &str) -> Text {
        Text::new(
            format!(
                "课程 {course_id} 没有版本为 {version} 的资料：请先上传（course-shop media put {course_id} FILE --material NAME --version {version}）"
            ),
            format!(
                "no material of course {course_id} has version {version}: upload it first (course-shop media put {course_id} FILE --material NAME --version {version})"
            ),
        )
    }
    /// A file path without a name.
    pub const FILE_NO_NAME: Text = Text::fixed("文件没有名称", "the file has no name");
    /// A file name without usable characters.
    pub const FILE_NAME_UNUSABLE: Text =
        Text::fixed("文件名没有可用的字符", "the file name has no usable characters");
    /// A material name or version out of bounds (`what` is "the material name" or "the version").
    pub fn bad_segment(what: &str) -> Text {
        let zh = if what == "the version" { "版本" } else { "资料名称" };
        Text::new(
            format!("{zh}须为 1 到 32 个字母、数字、'.'、'-' 或 '_'"),
            format!("{what} must be 1 to 32 letters, digits, '.', '-' or '_'"),
        )
    }
    /// A section of another course.
    pub fn section_of_other_course(id: i64, owner: i64, course_id: i64) -> Text {
        Text::new(
            format!("课时 {id} 属于课程 {owner}，不是 {course_id}"),
            format!("section {id} belongs to course {owner}, not {course_id}"),
        )
    }
    /// A material version uploaded before.
    pub fn version_exists(name: &str, version: &str) -> Text {
        Text::new(
            format!("资料 {name} 的版本 {version} 已存在，请使用新版本号"),
            format!("material {name} version {version} exists already; use a new version"),
        )
    }
    /// A storage key that is not allowed.
    pub fn bad_key(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("存储路径无效：{detail}"), detail.to_string())
    }
    /// A report's `since` that is not a date.
    pub fn bad_date(day: &str) -> Text {
        Text::new(format!("{day:?} 不是 YYYY-MM-DD 格式的日期"), format!("{day:?} is not YYYY-MM-DD"))
    }
    /// A payment provider's name, by its stored `pay_type`.
    pub fn provider_name(pay_type: i16) -> Text {
        use shop_domain::order::PayType;
        match PayType::from_code(i64::from(pay_type)) {
            Some(PayType::Alipay) => Text::fixed("支付宝", "Alipay"),
            Some(PayType::WechatPay) => Text::fixed("微信支付", "WeChat Pay"),
            Some(PayType::Stripe) => Text::fixed("银行卡 (Stripe)", "Card (Stripe)"),
            None => Text::new(format!("支付方式 {pay_type}"), format!("pay_type {pay_type}")),
        }
    }
    /// A report's `period` that is not known.
    pub fn bad_period(period: &str) -> Text {
        Text::new(
            format!("{period:?} 不是 today、week 或 all"),
            format!("{period:?} is not today, week or all"),
        )
    }
    /// A catalogue file that cannot be imported.
    pub fn bad_import(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("课程数据无法导入：{detail}"), detail.to_string())
    }
    /// A Stripe webhook whose signature did not verify (or that is not an event).
    pub const WEBHOOK_REFUSED: Text = Text::fixed(
        "Stripe-Signature 验证失败或不是 Stripe 事件：未做任何更改",
        "Stripe-Signature did not verify, or the body is not a Stripe event: nothing changed",
    );
    /// A request the payment simulator refuses (development only).
    pub fn simulator_refused(detail: impl std::fmt::Display) -> Text {
        Text::new(format!("模拟收银台拒绝了该请求：{detail}"), detail.to_string())
    }

    // ---- pages ----
    /// The result page's title.
    pub const PAGE_RESULT: Text = Text::fixed("支付结果", "Payment result");
    /// The result page without an order number.
    pub const PAGE_NO_ORDER: Text = Text::fixed("缺少订单号。", "Missing order number.");
    /// Paid (heading).
    pub const PAGE_PAID: Text = Text::fixed("支付成功", "Payment received");
    /// Paid (text).
    pub const PAGE_PAID_TEXT: Text =
        Text::fixed("支付成功，课程已开通。", "Payment received: your courses are ready.");
    /// Waiting (heading).
    pub const PAGE_WAITING: Text = Text::fixed("等待支付结果", "Waiting for the payment");
    /// Waiting (text).
    pub const PAGE_WAITING_TEXT: Text =
        Text::fixed("尚未收到付款，请稍候刷新。", "Payment not received yet: refresh in a moment.");
    /// Cancelled (heading).
    pub const PAGE_CANCELLED: Text = Text::fixed("订单已取消", "Order cancelled");
    /// Cancelled (text).
    pub const PAGE_CANCELLED_TEXT: Text = Text::fixed("订单已取消。", "The order was cancelled.");
    /// Cancelled after payment (text).
    pub const PAGE_CANCELLED_REFUNDING_TEXT: Text = Text::fixed(
        "订单已取消，款项将原路退回。",
        "The order was cancelled; your payment is being refunded.",
    );
    /// Refunded (heading).
    pub const PAGE_REFUNDED: Text = Text::fixed("已退款", "Refunded");
    /// Refunded (text).
    pub const PAGE_REFUNDED_TEXT: Text = Text::fixed("款项已退回。", "The payment was refunded.");
    /// "Order number" label.
    pub const PAGE_ORDER_NO: Text = Text::fixed("订单号", "Order");
    /// The result page's link to the order's purchase page.
    pub const PAGE_OPEN_PURCHASE: Text =
        Text::fixed("查看购买页面和下载链接", "Open your purchase page and downloads");
    /// The purchase page's title.
    pub const PURCHASE_TITLE: Text = Text::fixed("您的购买", "Your purchase");
    /// The purchase page: what it is.
    pub const PURCHASE_KEEP: Text = Text::fixed(
        "请收藏本页：这是您的私人购买页面，无需登录即可下载，请勿分享。",
        "Bookmark this page: it is your private purchase page, downloads work without logging in. Do not share it.",
    );
    /// The purchase page: courses heading.
    pub const PURCHASE_COURSES: Text = Text::fixed("课程", "Courses");
    /// The purchase page: links heading.
    pub const PURCHASE_LINKS: Text = Text::fixed("下载", "Downloads");
    /// The purchase page: downloads left (followed by the number).
    pub const PURCHASE_LEFT: Text = Text::fixed("剩余下载次数：", "downloads left: ");
    /// The purchase page: version (followed by it).
    pub const PURCHASE_VERSION: Text = Text::fixed("版本 ", "version ");
    /// The purchase page: paid, the links are being made (it refreshes itself).
    pub const PURCHASE_LINKS_PENDING: Text = Text::fixed(
        "下载链接生成中，本页面会自动刷新。",
        "Your download links are being prepared; this page refreshes itself.",
    );
    /// The purchase page: paid, nothing to download.
    pub const PURCHASE_NO_LINKS: Text =
        Text::fixed("该课程暂无可下载的资料。", "Nothing to download for these courses yet.");
    /// The purchase page while unpaid (it refreshes itself).
    pub const PURCHASE_WAITING: Text = Text::fixed(
        "尚未收到付款。本页面每隔几秒自动刷新。",
        "Payment not received yet. This page refreshes itself every few seconds.",
    );
    /// The buy page's heading (followed by the course's name).
    pub const BUY_TITLE: Text = Text::fixed("购买课程", "Buy the course");
    /// The buy page: price label.
    pub const BUY_PRICE: Text = Text::fixed("价格", "Price");
    /// The buy page: the email field.
    pub const BUY_EMAIL: Text = Text::fixed("邮箱", "Email");
    /// The buy page: what the email is for.
    pub const BUY_EMAIL_HINT: Text = Text::fixed(
        "无需注册：购买页面和下载链接会发送到这个邮箱。以后用同一邮箱注册的账号会自动获得本课程。",
        "No account needed: your purchase page and download links are sent to this address. An account that later confirms this address gets the course too.",
    );
    /// The buy page without any payment provider enabled.
    pub const BUY_NO_PROVIDER: Text = Text::fixed("暂不支持在线支付。", "Online payment is not available.");
    /// Order creation without a token and without an email.
    pub const GUEST_NEEDS_EMAIL: Text = Text::fixed(
        "请先登录，或填写邮箱（email）免注册购买",
        "log in, or give an email to buy without an account",
    );
    /// The buy page's summary of a course: its access period (0: forever) and sections.
    pub fn buy_summary(period_days: i32, sections: i32) -> Text {
        let (zh, en) = if period_days == 0 {
            ("永久有效".to_owned(), "access forever".to_owned())
        } else {
            (format!("有效期 {period_days} 天"), format!("access for {period_days} days"))
        };
        Text::new(format!("{zh} · 共 {sections} 节"), format!("{en} · {sections} sections"))
    }
    /// A pay button: "Pay with <provider>", the provider named by [`provider_name`].
    pub fn pay_with(pay_type: i16) -> Text {
        let name = provider_name(pay_type);
        Text::new(
            format!("使用{}支付", name.get(super::Lang::Zh)),
            format!("Pay with {}", name.get(super::Lang::En)),
        )
    }
    /// The cashier's title.
    pub const CASHIER_TITLE: Text = Text::fixed("支付宝收银台（模拟）", "Alipay cashier (simulated)");
    /// The cashier's banner.
    pub const CASHIER_BANNER: Text =
        Text::fixed("支付宝收银台 · 开发模拟器", "Alipay cashier · development simulator");
    /// The cashier's deadline (followed by the time).
    pub const CASHIER_PAY_BEFORE: Text = Text::fixed("请在此时间前付款", "pay before");
    /// The cashier after the deadline.
    pub const CASHIER_EXPIRED: Text = Text::fixed("支付时间已过。", "The payment deadline has passed.");
    /// The cashier's button.
    pub const CASHIER_PAY: Text = Text::fixed("确认付款", "Pay");
    /// The error page's heading for a status without a Chinese name.
    pub fn status_heading(code: u16, reason: &str) -> Text {
        let zh = match code {
            400 => "请求有误",
            401 => "请先登录",
            403 => "无权访问",
            404 => "未找到",
            405 => "不支持该方法",
            409 => "冲突",
            410 => "已失效",
            413 => "请求过大",
            429 => "请求过于频繁",
            500 => "服务器错误",
            503 => "服务暂不可用",
            _ => "出错了",
        };
        Text::new(zh, reason.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_accept_language_and_falls_back_to_the_default() {
        let cases = [
            (None, Lang::Zh, Lang::Zh),
            (None, Lang::En, Lang::En),
            (Some(""), Lang::Zh, Lang::Zh),
            (Some("en"), Lang::Zh, Lang::En),
            (Some("en-US,en;q=0.9"), Lang::Zh, Lang::En),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), Lang::En, Lang::Zh),
            (Some("fr-FR, en;q=0.5, zh;q=0.7"), Lang::En, Lang::Zh),
            (Some("fr, de"), Lang::Zh, Lang::Zh),
            (Some("*"), Lang::En, Lang::En),
            (Some("zh;q=0, en;q=0.1"), Lang::Zh, Lang::En),
            (Some("zh-Hans-CN"), Lang::En, Lang::Zh),
            (Some("EN-gb"), Lang::Zh, Lang::En),
            (Some("en;q=abc, zh;q=0.2"), Lang::En, Lang::Zh),
            (Some("en;q=0.5, zh;q=0.5"), Lang::Zh, Lang::En),
        ];
        for (header, default, want) in cases {
            assert_eq!(Lang::negotiate(header, default), want, "{header:?} / {default:?}");
        }
    }

    #[test]
    fn texts_differ_by_language_and_log_in_english() {
        let t = msg::rate_limited(30);
        assert_eq!(t.get(Lang::Zh), "操作过于频繁，请 30 秒后再试");
        assert_eq!(t.get(Lang::En), "too many requests, retry in 30 s");
        assert_eq!(t.to_string(), "too many requests, retry in 30 s");
        assert_eq!(msg::SMS_SENT.get(Lang::Zh), "发送短信成功");
        assert_eq!(msg::REGISTERED.get(Lang::Zh), "注册成功");
        assert_eq!(msg::not_found("course").get(Lang::Zh), "课程不存在");
        assert_eq!(msg::not_found("course").get(Lang::En), "course not found");
        assert_eq!(msg::REQUIRED.prefixed("mobile").get(Lang::Zh), "mobile: 不能为空");
    }

    #[test]
    fn every_noun_a_use_case_names_has_a_chinese_name() {
        for noun in [
            "course",
            "order",
            "account",
            "section",
            "media",
            "media of this section",
            "download link",
            "page",
            "simulator",
        ] {
            assert!(!msg::not_found(noun).get(Lang::Zh).starts_with("资源"), "{noun}");
        }
    }
}
