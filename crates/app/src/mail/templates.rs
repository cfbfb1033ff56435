//! The buyer emails, rendered as `(subject, text, html)`.
//!
//! Pure functions: no I/O, no clock. [`EmailLanguage`] picks Chinese, English, or both in one
//! message (Chinese first). Money is shown in yuan with two decimals (`¥99.00`), times in
//! Beijing time (UTC+8, `2026-11-21 16:49`).
//!
//! The words and the layout are askama templates in `crates/app/templates/email/` (`.html`
//! for the HTML part, `.txt` for the plain-text part), next to the code that fills them:
//! askama checks them when the crate is compiled and escapes every value of a `.html`
//! template (nothing else in the crate escapes HTML); a `.txt` part is not escaped. Only
//! `http(s)` URLs become links ([`Link`]). The pages the server answers have their own
//! templates in `shop-http`.
use askama::Template;
use chrono::{DateTime, Utc};
use shop_domain::Money;

use crate::config::EmailLanguage;

/// One private download link in an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLinkLine {
    /// What it downloads, e.g. `Python 全栈开发 — slides (v2)`.
    pub title: String,
    /// The personal URL.
    pub url: String,
    /// Downloads still allowed through this link.
    pub downloads_left: i32,
}

/// What the order confirmation shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderConfirmation {
    /// How to greet the buyer (may be empty).
    pub buyer_name: String,
    /// Our order number (`CS...`).
    pub out_trade_no: String,
    /// The order's subject as shown at the cashier.
    pub order_subject: String,
    /// The amount paid.
    pub total: Money,
    /// When the payment was confirmed.
    pub paid_at: DateTime<Utc>,
    /// The courses bought: name and price.
    pub courses: Vec<(String, Money)>,
    /// The buyer's private download links.
    pub links: Vec<DownloadLinkLine>,
    /// The "my courses" page.
    pub my_courses_url: String,
    /// The order's private purchase page (its courses and links, without logging in).
    pub purchase_url: String,
}

/// What a course update email shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseUpdate {
    /// How to greet the buyer (may be empty).
    pub buyer_name: String,
    /// The course concerned.
    pub course_name: String,
    /// The operator's subject.
    pub subject: String,
    /// The operator's message, plain text (newlines kept; blank lines separate paragraphs).
    pub message: String,
    /// The buyer's new or refreshed download links.
    pub links: Vec<DownloadLinkLine>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

fn languages(lang: EmailLanguage) -> &'static [Lang] {
    match lang {
        EmailLanguage::Zh => &[Lang::Zh],
        EmailLanguage::En => &[Lang::En],
        EmailLanguage::Both => &[Lang::Zh, Lang::En],
    }
}

fn html_lang(lang: EmailLanguage) -> &'static str {
    match lang {
        EmailLanguage::En => "en",
        EmailLanguage::Zh | EmailLanguage::Both => "zh-CN",
    }
}

/// `zh`, `en` or `zh / en`.
fn pick(lang: EmailLanguage, zh: &str, en: &str) -> String {
    match lang {
        EmailLanguage::Zh => zh.to_owned(),
        EmailLanguage::En => en.to_owned(),
        EmailLanguage::Both => format!("{zh} / {en}"),
    }
}

/// `2026-11-21 16:49` in Beijing time (UTC+8).
pub fn beijing_time(at: DateTime<Utc>) -> String {
    shop_domain::time::in_beijing(at).format("%Y-%m-%d %H:%M").to_string()
}

/// A header line must not break: newlines become spaces.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).filter(|s| !s.trim().is_empty()).map(str::trim).collect::<Vec<_>>().join(" ")
}

/// A URL in the HTML part: only `http(s)` URLs become links, anything else is shown as text,
/// never made clickable (`email/link.html`).
struct Link<'a> {
    label: &'a str,
    url: &'a str,
    clickable: bool,
}

impl<'a> Link<'a> {
    fn new(url: &'a str, label: &'a str) -> Self {
        let lower = url.trim_start().to_ascii_lowercase();
        let clickable = lower.starts_with("https://") || lower.starts_with("http://");
        Link { label, url: if clickable { url.trim() } else { url }, clickable }
    }
}

/// A download link with its downloads left, in the section's language(s).
struct LinkLine<'a> {
    data: &'a DownloadLinkLine,
    link: Link<'a>,
    left: String,
}

fn link_lines<'a>(langs: &[Lang], links: &'a [DownloadLinkLine]) -> Vec<LinkLine<'a>> {
    links
        .iter()
        .map(|data| LinkLine {
            data,
            link: Link::new(&data.url, &data.title),
            left: langs
                .iter()
                .map(|&l| downloads_left(l, data.downloads_left))
                .collect::<Vec<_>>()
                .join(" / "),
        })
        .collect()
}

/// Renders a template. Only strings, numbers and [`Money`] are interpolated, whose `Display`
/// cannot fail, so neither can rendering.
fn render(template: &impl Template) -> String {
    template.render().unwrap_or_default()
}

fn downloads_left(lang: Lang, n: i32) -> String {
    match (lang, n) {
        (Lang::Zh, n) if n <= 0 => "下载次数已用完".into(),
        (Lang::Zh, n) => format!("可下载 {n} 次"),
        (Lang::En, n) if n <= 0 => "no downloads left".into(),
        (Lang::En, 1) => "1 download left".into(),
        (Lang::En, n) => format!("{n} downloads left"),
    }
}

fn greeting(lang: Lang, name: &str) -> String {
    let name = name.trim();
    match (lang, name.is_empty()) {
        (Lang::Zh, true) => "您好：".into(),
        (Lang::Zh, false) => format!("{name}，您好："),
        (Lang::En, true) => "Hello,".into(),
        (Lang::En, false) => format!("Hello {name},"),
    }
}

/// The email after a successful payment: order summary, private download links, "my courses".
pub fn order_confirmation(lang: EmailLanguage, data: &OrderConfirmation) -> (String, String, String) {
    let no = one_line(&data.out_trade_no);
    let subject = pick(lang, &format!("支付成功：订单 {no}"), &format!("Payment received: order {no}"));
    let sections: Vec<OrderSection<'_>> = languages(lang)
        .iter()
        .map(|&l| {
            let zh = l == Lang::Zh;
            OrderSection {
                lang_attr: if zh { "zh-CN" } else { "en" },
                w: order_words(l),
                greeting: greeting(l, &data.buyer_name),
                colon: if zh { "：" } else { ": " },
                open: if zh { "（" } else { " (" },
                close: if zh { "）" } else { ")" },
                links: link_lines(&[l], &data.links),
                my_courses: Link::new(&data.my_courses_url, order_words(l).my_courses_label),
                purchase: Link::new(&data.purchase_url, order_words(l).purchase_label),
            }
        })
        .collect();
    let paid_at = beijing_time(data.paid_at);
    let text = render(&OrderText { d: data, sections: &sections, paid_at: &paid_at });
    let html = render(&OrderHtml {
        html_lang: html_lang(lang),
        subject: &subject,
        d: data,
        sections: &sections,
        paid_at: &paid_at,
    });
    (subject, text, html)
}

/// One language's part of the order confirmation.
struct OrderSection<'a> {
    lang_attr: &'static str,
    w: OrderWords,
    greeting: String,
    /// Between a course and its price in the text part.
    colon: &'static str,
    /// Around the downloads left in the text part.
    open: &'static str,
    close: &'static str,
    links: Vec<LinkLine<'a>>,
    my_courses: Link<'a>,
    purchase: Link<'a>,
}

impl OrderSection<'_> {
    /// A word as a label of the HTML part: without its colon.
    fn label<'w>(&self, word: &'w str) -> &'w str {
        word.trim_end_matches(['：', ':', ' '])
    }
}

#[derive(Template)]
#[template(path = "email/order_confirmation.txt")]
struct OrderText<'a> {
    d: &'a OrderConfirmation,
    sections: &'a [OrderSection<'a>],
    paid_at: &'a str,
}

#[derive(Template)]
#[template(path = "email/order_confirmation.html")]
struct OrderHtml<'a> {
    html_lang: &'a str,
    subject: &'a str,
    d: &'a OrderConfirmation,
    sections: &'a [OrderSection<'a>],
    paid_at: &'a str,
}

struct OrderWords {
    thanks: &'static str,
    order_no: &'static str,
    item: &'static str,
    paid_at: &'static str,
    time_zone: &'static str,
    courses: &'static str,
    total: &'static str,
    links: &'static str,
    personal: &'static str,
    my_courses_label: &'static str,
    my_courses: &'static str,
    purchase_label: &'static str,
    purchase: &'static str,
}

fn order_words(lang: Lang) -> OrderWords {
    match lang {
        Lang::Zh => OrderWords {
            thanks: "您的订单已支付成功，感谢您的购买！",
            order_no: "订单号：",
            item: "商品：",
            paid_at: "支付时间：",
            time_zone: "（北京时间）",
            courses: "课程明细：",
            total: "合计：",
            links: "您的专属下载链接：",
            personal: "以上链接仅供您本人使用，请勿转发或分享。",
            my_courses_label: "我的课程",
            my_courses: "随时在“我的课程”中查看已购课程：",
            purchase_label: "购买页面",
            purchase: "无需登录即可在您的购买页面查看课程和下载链接：",
        },
        Lang::En => OrderWords {
            thanks: "Your payment has been received. Thank you for your purchase!",
            order_no: "Order number: ",
            item: "Item: ",
            paid_at: "Paid at: ",
            time_zone: " (Beijing time, UTC+8)",
            courses: "Courses:",
            total: "Total: ",
            links: "Your personal download links:",
            personal: "These links are personal: please do not forward or share them.",
            my_courses_label: "My courses",
            my_courses: "Find everything you bought in \"My courses\": ",
            purchase_label: "Purchase page",
            purchase: "Your purchase page shows the courses and links without logging in: ",
        },
    }
}

/// Plain text as paragraphs (separated by blank lines) of lines.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !paragraph.is_empty() {
                out.push(std::mem::take(&mut paragraph));
            }
        } else {
            paragraph.push(line.trim_end());
        }
    }
    if !paragraph.is_empty() {
        out.push(paragraph);
    }
    out
}

#[derive(Template)]
#[template(path = "email/course_update.txt")]
struct UpdateText<'a> {
    greeting: &'a str,
    intros: &'a [String],
    message: &'a str,
    links_title: &'a str,
    colon: &'a str,
    links: &'a [LinkLine<'a>],
    personal: &'a [&'a str],
}

#[derive(Template)]
#[template(path = "email/course_update.html")]
struct UpdateHtml<'a> {
    html_lang: &'a str,
    subject: &'a str,
    greeting: &'a str,
    intros: &'a [String],
    /// The message's paragraphs, each a list of lines.
    paragraphs: Vec<Vec<&'a str>>,
    links_title: &'a str,
    links: &'a [LinkLine<'a>],
    personal: &'a [&'a str],
}

/// An operator's update to the buyers of a course: their subject and message, then the
/// buyer's links.
pub fn course_update(lang: EmailLanguage, data: &CourseUpdate) -> (String, String, String) {
    let langs = languages(lang);
    let course = one_line(&data.course_name);
    let mut subject = one_line(&data.subject);
    if subject.is_empty() {
        subject = pick(lang, &format!("课程更新：{course}"), &format!("Course update: {course}"));
    }
    let intro = |l: Lang| match l {
        Lang::Zh => format!("您购买的课程《{}》有新的更新：", data.course_name.trim()),
        Lang::En => format!("There is an update to your course \"{}\":", data.course_name.trim()),
    };
    let greet = match lang {
        EmailLanguage::Zh => greeting(Lang::Zh, &data.buyer_name),
        EmailLanguage::En => greeting(Lang::En, &data.buyer_name),
        EmailLanguage::Both => {
            let zh = greeting(Lang::Zh, &data.buyer_name);
            format!("{} / {}", zh.trim_end_matches('：'), greeting(Lang::En, &data.buyer_name))
        }
    };
    let intros: Vec<String> = langs.iter().map(|&l| intro(l)).collect();
    let message = data.message.replace("\r\n", "\n").replace('\r', "\n");
    let message = message.trim_matches('\n').trim_end();
    let links_title = pick(lang, "您的专属下载链接", "Your personal download links");
    let personal = langs
        .iter()
        .map(|l| match l {
            Lang::Zh => "以上链接仅供您本人使用，请勿转发或分享。",
            Lang::En => "These links are personal: please do not forward or share them.",
        })
        .collect::<Vec<_>>();

    let links = link_lines(langs, &data.links);
    let colon = if lang == EmailLanguage::Zh { "：" } else { ":" };
    let text = render(&UpdateText {
        greeting: &greet,
        intros: &intros,
        message,
        links_title: &links_title,
        colon,
        links: &links,
        personal: &personal,
    });
    let html = render(&UpdateHtml {
        html_lang: html_lang(lang),
        subject: &subject,
        greeting: &greet,
        intros: &intros,
        paragraphs: paragraphs(message),
        links_title: &links_title,
        links: &links,
        personal: &personal,
    });
    (subject, text, html)
}

#[derive(Template)]
#[template(path = "email/email_code.html")]
struct EmailCodeHtml<'a> {
    html_lang: &'a str,
    subject: &'a str,
    intro: &'a str,
    code: &'a str,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_code.txt")]
struct EmailCodeText<'a> {
    intro: &'a str,
    code: &'a str,
    validity: &'a str,
}

/// The email with a code confirming a new address, in the language of the request that
/// asked for it (the words are in [`crate::i18n::msg`]).
pub fn email_code(lang: crate::i18n::Lang, code: &str, minutes: i64) -> (String, String, String) {
    use crate::i18n::msg;
    let subject = msg::EMAIL_CODE_SUBJECT.get(lang).to_owned();
    let intro = msg::EMAIL_CODE_INTRO;
    let intro = intro.get(lang);
    let validity = msg::email_code_validity(minutes);
    let validity = validity.get(lang);
    let text = render(&EmailCodeText { intro, code, validity });
    let html =
        render(&EmailCodeHtml { html_lang: lang.html_tag(), subject: &subject, intro, code, validity });
    (subject, text, html)
}
