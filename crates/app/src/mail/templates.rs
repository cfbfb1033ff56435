//! The buyer emails, rendered as `(subject, text, html)`.
//!
//! Pure functions: no I/O, no clock. [`EmailLanguage`] picks Chinese, English, or both in one
//! message (Chinese first). Every interpolated value is HTML-escaped in the HTML part, and
//! only `http(s)` URLs become links. Money is shown in yuan with two decimals (`¥99.00`),
//! times in Beijing time (UTC+8, `2026-11-21 16:49`).
use std::fmt::Write as _;

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

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-21 16:49` in Beijing time (UTC+8).
pub fn beijing_time(at: DateTime<Utc>) -> String {
    shop_domain::time::in_beijing(at).format("%Y-%m-%d %H:%M").to_string()
}

/// A header line must not break: newlines become spaces.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).filter(|s| !s.trim().is_empty()).map(str::trim).collect::<Vec<_>>().join(" ")
}

/// `<a href>` for http(s) URLs; anything else is shown as text, never made clickable.
fn html_link(url: &str, label: &str) -> String {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape_html(url.trim()), escape_html(label))
    } else if url.is_empty() {
        escape_html(label)
    } else {
        format!("{} ({})", escape_html(label), escape_html(url))
    }
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

fn html_document(lang: EmailLanguage, subject: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n</head>\n\
         <body style=\"font-family: -apple-system, 'PingFang SC', 'Microsoft YaHei', Arial, sans-serif; \
         color: #222; line-height: 1.6; max-width: 640px; margin: 0 auto; padding: 16px;\">\n{}</body>\n</html>\n",
        html_lang(lang),
        escape_html(subject),
        body
    )
}

const TEXT_SEPARATOR: &str = "\n----------------------------------------\n\n";
const HTML_SEPARATOR: &str = "<hr style=\"border: none; border-top: 1px solid #ddd; margin: 24px 0;\">\n";

/// The email after a successful payment: order summary, private download links, "my courses".
pub fn order_confirmation(lang: EmailLanguage, data: &OrderConfirmation) -> (String, String, String) {
    let no = one_line(&data.out_trade_no);
    let subject = pick(lang, &format!("支付成功：订单 {no}"), &format!("Payment received: order {no}"));
    let sections: Vec<(String, String)> =
        languages(lang).iter().map(|&l| (order_text(l, data), order_html(l, data))).collect();
    let text = sections.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(TEXT_SEPARATOR);
    let body = sections.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(HTML_SEPARATOR);
    let html = html_document(lang, &subject, &body);
    (subject, text, html)
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
        },
    }
}

fn order_text(lang: Lang, d: &OrderConfirmation) -> String {
    let w = order_words(lang);
    let sep = if lang == Lang::Zh { "：" } else { ": " };
    let mut t = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(t, "{}\n\n{}\n", greeting(lang, &d.buyer_name), w.thanks);
    let _ = writeln!(t, "{}{}", w.order_no, d.out_trade_no);
    if !d.order_subject.trim().is_empty() {
        let _ = writeln!(t, "{}{}", w.item, d.order_subject);
    }
    let _ = writeln!(t, "{}{}{}\n", w.paid_at, beijing_time(d.paid_at), w.time_zone);
    if !d.courses.is_empty() {
        let _ = writeln!(t, "{}", w.courses);
        for (name, price) in &d.courses {
            let _ = writeln!(t, "- {name}{sep}¥{price}");
        }
    }
    let _ = writeln!(t, "{}¥{}\n", w.total, d.total);
    if !d.links.is_empty() {
        let _ = writeln!(t, "{}", w.links);
        for link in &d.links {
            let left = downloads_left(lang, link.downloads_left);
            let _ = if lang == Lang::Zh {
                writeln!(t, "- {}（{left}）\n  {}", link.title, link.url)
            } else {
                writeln!(t, "- {} ({left})\n  {}", link.title, link.url)
            };
        }
        let _ = writeln!(t, "{}\n", w.personal);
    }
    let _ = writeln!(t, "{}{}", w.my_courses, d.my_courses_url);
    t
}

fn order_html(lang: Lang, d: &OrderConfirmation) -> String {
    let w = order_words(lang);
    let strip = |s: &str| s.trim_end_matches(['：', ':', ' ']).to_owned();
    let lang_attr = if lang == Lang::Zh { "zh-CN" } else { "en" };
    let cell = "style=\"padding: 4px 12px 4px 0;\"";
    let num = "style=\"padding: 4px 0; text-align: right; white-space: nowrap;\"";
    let mut h = String::new();
    let _ = writeln!(h, "<div lang=\"{lang_attr}\">");
    let _ = writeln!(
        h,
        "<p>{}</p>\n<p>{}</p>",
        escape_html(&greeting(lang, &d.buyer_name)),
        escape_html(w.thanks)
    );
    let _ = writeln!(h, "<table style=\"border-collapse: collapse;\">");
    let _ = writeln!(
        h,
        "<tr><td {cell}>{}</td><td>{}</td></tr>",
        strip(w.order_no),
        escape_html(&d.out_trade_no)
    );
    if !d.order_subject.trim().is_empty() {
        let _ = writeln!(
            h,
            "<tr><td {cell}>{}</td><td>{}</td></tr>",
            strip(w.item),
            escape_html(&d.order_subject)
        );
    }
    let _ = writeln!(
        h,
        "<tr><td {cell}>{}</td><td>{}{}</td></tr>\n</table>",
        strip(w.paid_at),
        beijing_time(d.paid_at),
        escape_html(w.time_zone)
    );
    let _ = writeln!(h, "<h3 style=\"margin-bottom: 4px;\">{}</h3>", strip(w.courses));
    let _ = writeln!(h, "<table style=\"border-collapse: collapse; min-width: 60%;\">");
    for (name, price) in &d.courses {
        let _ = writeln!(h, "<tr><td {cell}>{}</td><td {num}>¥{price}</td></tr>", escape_html(name));
    }
    let _ = writeln!(
        h,
        "<tr><td {cell}><strong>{}</strong></td><td {num}><strong>¥{}</strong></td></tr>\n</table>",
        strip(w.total),
        d.total
    );
    if !d.links.is_empty() {
        let _ = writeln!(h, "<h3 style=\"margin-bottom: 4px;\">{}</h3>", strip(w.links));
        h.push_str(&links_html(&[lang], &d.links));
        let _ = writeln!(h, "<p style=\"color: #a33;\">{}</p>", escape_html(w.personal));
    }
    let _ = writeln!(
        h,
        "<p>{}{}</p>\n</div>",
        escape_html(w.my_courses),
        html_link(&d.my_courses_url, w.my_courses_label)
    );
    h
}

/// `<ul>` of links, each followed by its downloads left in the given languages.
fn links_html(langs: &[Lang], links: &[DownloadLinkLine]) -> String {
    let mut h = String::from("<ul>\n");
    for link in links {
        let left =
            langs.iter().map(|&l| downloads_left(l, link.downloads_left)).collect::<Vec<_>>().join(" / ");
        let _ = writeln!(
            h,
            "<li>{} <span style=\"color: #666;\">({left})</span></li>",
            html_link(&link.url, &link.title)
        );
    }
    h.push_str("</ul>\n");
    h
}

/// Plain text with blank-line paragraphs as HTML paragraphs, single newlines as `<br>`.
fn paragraphs_html(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, out: &mut String| {
        if !paragraph.is_empty() {
            let lines: Vec<String> = paragraph.iter().map(|l| escape_html(l.trim_end())).collect();
            let _ = writeln!(out, "<p>{}</p>", lines.join("<br>\n"));
            paragraph.clear();
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut out);
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut paragraph, &mut out);
    out
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

    let mut text = format!("{greet}\n\n{}\n\n{message}\n", intros.join("\n"));
    if !data.links.is_empty() {
        let colon = if lang == EmailLanguage::Zh { "：" } else { ":" };
        let _ = writeln!(text, "\n{links_title}{colon}");
        for link in &data.links {
            let left =
                langs.iter().map(|&l| downloads_left(l, link.downloads_left)).collect::<Vec<_>>().join(" / ");
            let _ = writeln!(text, "- {} ({left})\n  {}", link.title, link.url);
        }
        let _ = writeln!(text, "{}", personal.join("\n"));
    }

    let mut body = format!("<p>{}</p>\n", escape_html(&greet));
    let _ =
        writeln!(body, "<p>{}</p>", intros.iter().map(|i| escape_html(i)).collect::<Vec<_>>().join("<br>\n"));
    let _ = writeln!(body, "<div style=\"margin: 16px 0;\">\n{}</div>", paragraphs_html(message));
    if !data.links.is_empty() {
        let _ = writeln!(body, "<h3 style=\"margin-bottom: 4px;\">{}</h3>", escape_html(&links_title));
        body.push_str(&links_html(langs, &data.links));
        let _ = writeln!(body, "<p style=\"color: #a33;\">{}</p>", personal.join("<br>\n"));
    }
    let html = html_document(lang, &subject, &body);
    (subject, text, html)
}
