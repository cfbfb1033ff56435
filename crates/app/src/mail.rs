//! Outgoing email: one message to one recipient, sent over SMTP or written as `.eml` files.
//!
//! A [`Mailer`] takes an [`Email`] (subject, plain text and HTML) and delivers it; the answer
//! says whether a failure is worth retrying ([`MailError::Transient`]) or not
//! ([`MailError::Permanent`]), which is what the outbox needs to schedule a retry or give up.
//! [`from_settings`] builds the mailer `[email]` names: [`SmtpMailer`] (lettre, pooled
//! connections, STARTTLS or implicit TLS) or [`FileMailer`] (development: one `.eml` per
//! message). Both send the same message: `multipart/alternative` with a `text/plain` and a
//! `text/html` part in UTF-8, `From`, `To`, `Subject` (RFC 2047 encoded when not ASCII),
//! `Date` and `Message-ID`.
//!
//! [`templates`] renders the buyer emails (order confirmation, course update) in Chinese,
//! English or both.
use std::sync::Arc;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::config::{EmailSettings, EmailTransport};

mod file;
mod smtp;
pub mod templates;

pub use file::FileMailer;
pub use smtp::SmtpMailer;
pub use templates::{CourseUpdate, DownloadLinkLine, OrderConfirmation, course_update, order_confirmation};

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient: `user@example.com` or `Name <user@example.com>`.
    pub to: String,
    /// The subject (any Unicode; encoded as needed).
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later: the server is unreachable, timed out, or answered 4xx.
    #[error("temporary mail failure: {0}")]
    Transient(String),
    /// Retrying will not help: the server answered 5xx (a rejected recipient ...) or the
    /// message cannot be built (an address that does not parse).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

impl MailError {
    /// Whether the message may be sent again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Transient(_))
    }
}

/// Delivers emails.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `email`.
    ///
    /// # Errors
    /// [`MailError::Transient`] when a later attempt may succeed, [`MailError::Permanent`]
    /// when it will not.
    async fn send(&self, email: &Email) -> Result<(), MailError>;

    /// Sends `emails`, each on its own: an outcome per email, in order (one failing does not
    /// hold back the others). The default sends them one after the other with [`Self::send`];
    /// [`FileMailer`] writes a batch in one hop to the blocking pool (one hop per email
    /// made the outbox's passes wait on a thread hand-off per email: under load, that and
    /// not the CPU bounded how fast purchase emails went out).
    async fn send_all(&self, emails: &[Email]) -> Vec<Result<(), MailError>> {
        let mut outcomes = Vec::with_capacity(emails.len());
        for email in emails {
            outcomes.push(self.send(email).await);
        }
        outcomes
    }
}

/// The mailer `[email] transport` names. Checks the `From` address (and, for SMTP, the TLS
/// parameters) now, so a bad configuration fails at start-up rather than at the first mail.
///
/// # Errors
/// An unparsable `email.from`, or TLS parameters that cannot be built for `email.smtp_host`.
pub fn from_settings(settings: &EmailSettings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match settings.transport {
        EmailTransport::Smtp => Arc::new(SmtpMailer::new(settings)?),
        EmailTransport::File => Arc::new(FileMailer::new(settings)?),
    })
}

/// Parses the `From` setting.
fn parse_from(from: &str) -> anyhow::Result<Mailbox> {
    from.parse::<Mailbox>().map_err(|e| anyhow::anyhow!("email.from {from:?} is not a valid address: {e}"))
}

/// Builds the complete message: multipart/alternative (text, then HTML), UTF-8, with a
/// `Message-ID` in the sender's domain and the current `Date`.
fn build_message(from: &Mailbox, email: &Email) -> Result<Message, MailError> {
    let to: Mailbox =
        email.to.trim().parse().map_err(|e| {
            MailError::Permanent(format!("recipient {:?} is not a valid address: {e}", email.to))
        })?;
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.as_str())
        .message_id(Some(message_id))
        .date_now()
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder().content_type(ContentType::TEXT_PLAIN).body(email.text.clone()),
                )
                .singlepart(
                    SinglePart::builder().content_type(ContentType::TEXT_HTML).body(email.html.clone()),
                ),
        )
        .map_err(|e| MailError::Permanent(format!("message cannot be built: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &str) -> Email {
        Email {
            to: to.into(),
            subject: "支付成功：订单 CS1".into(),
            text: "你好".into(),
            html: "<p>你好</p>".into(),
        }
    }

    #[test]
    fn a_bad_recipient_is_permanent() {
        let from = parse_from("course-shop <no-reply@course-shop.local>").expect("valid from");
        let err = build_message(&from, &email("not an address")).expect_err("bad address");
        assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
        assert!(!err.is_transient());
        assert!(build_message(&from, &email("李雷 <li.lei@example.com>")).is_ok());
    }

    #[test]
    fn a_bad_from_is_refused_at_start_up() {
        assert!(parse_from("nobody").is_err());
    }

    #[test]
    fn message_has_both_parts_and_headers() {
        let from = parse_from("course-shop <no-reply@course-shop.local>").expect("valid from");
        let raw = build_message(&from, &email("a@example.com")).expect("message").formatted();
        let raw = String::from_utf8(raw).expect("ASCII message");
        assert!(raw.is_ascii(), "{raw}");
        for needle in [
            "Message-ID: <",
            "@course-shop.local>",
            "Date: ",
            "Subject: =?utf-8?b?",
            "multipart/alternative",
            "text/plain; charset=utf-8",
            "text/html; charset=utf-8",
        ] {
            assert!(raw.contains(needle), "{needle} missing in\n{raw}");
        }
    }

    mod templates {
        use chrono::{TimeZone, Utc};
        use shop_domain::Money;

        use super::super::*;
        use crate::config::EmailLanguage;

        fn yuan(text: &str) -> Money {
            Money::parse_yuan(text).expect("amount")
        }

        fn links() -> Vec<DownloadLinkLine> {
            vec![
                DownloadLinkLine {
                    title: "Python 全栈开发 — slides (v2)".into(),
                    url: "https://shop.example.com/d/abc?x=1&y=2".into(),
                    downloads_left: 5,
                },
                DownloadLinkLine {
                    title: "<b>code</b>".into(),
                    url: "javascript:alert(1)".into(),
                    downloads_left: 1,
                },
            ]
        }

        fn order() -> OrderConfirmation {
            OrderConfirmation {
                buyer_name: "<script>alert('x')</script> & Co".into(),
                out_trade_no: "CS20261121000001".into(),
                order_subject: "Python 全栈开发 & 数据分析".into(),
                total: yuan("198.5"),
                paid_at: Utc.with_ymd_and_hms(2026, 11, 21, 8, 49, 30).single().expect("time"),
                courses: vec![
                    ("Python 全栈开发".into(), yuan("99")),
                    ("数据分析 <进阶>".into(), yuan("99.5")),
                ],
                links: links(),
                my_courses_url: "https://shop.example.com/my/courses".into(),
                purchase_url: "https://shop.example.com/p/token".into(),
            }
        }

        fn update() -> CourseUpdate {
            CourseUpdate {
                buyer_name: "Tom & <Jerry>".into(),
                course_name: "Python 全栈开发".into(),
                subject: "课程更新：新增第 12 章\r\nBcc: evil@example.com".into(),
                message: "第一段 <script>x()</script>\r\n第二行 & more\n\nSecond paragraph".into(),
                links: links(),
            }
        }

        #[test]
        fn order_confirmation_in_both_languages() {
            let (subject, text, html) = order_confirmation(EmailLanguage::Both, &order());
            assert_eq!(subject, "支付成功：订单 CS20261121000001 / Payment received: order CS20261121000001");
            let zh = text.find("支付时间").expect("Chinese section");
            let en = text.find("Paid at").expect("English section");
            assert!(zh < en, "Chinese first:\n{text}");
            for needle in [
                "2026-11-21 16:49",
                "¥99.00",
                "¥99.50",
                "¥198.50",
                "可下载 5 次",
                "5 downloads left",
                "1 download left",
                "https://shop.example.com/d/abc?x=1&y=2",
                "仅供您本人使用",
                "personal",
                "https://shop.example.com/my/courses",
                "购买页面查看课程和下载链接：\nhttps://shop.example.com/p/token\n",
                "without logging in: \nhttps://shop.example.com/p/token\n",
                "<script>alert('x')</script> & Co", // the text part is not HTML
            ] {
                assert!(text.contains(needle), "{needle} missing in text:\n{text}");
            }
            for needle in [
                "2026-11-21 16:49",
                "¥99.00",
                "¥198.50",
                "可下载 5 次",
                "5 downloads left",
                "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; Co",
                "数据分析 &#60;进阶&#62;",
                "Python 全栈开发 &#38; 数据分析",
                "<a href=\"https://shop.example.com/d/abc?x=1&#38;y=2\">Python 全栈开发 — slides (v2)</a>",
                "<a href=\"https://shop.example.com/my/courses\">",
                "<a href=\"https://shop.example.com/p/token\">购买页面</a>",
            ] {
                assert!(html.contains(needle), "{needle} missing in html:\n{html}");
            }
            assert!(!html.contains("<script>"), "{html}");
            assert!(!html.contains("<b>code</b>"), "{html}");
            assert!(!html.contains("href=\"javascript"), "{html}");
        }

        #[test]
        fn order_confirmation_in_one_language() {
            let (subject, text, html) = order_confirmation(EmailLanguage::Zh, &order());
            assert_eq!(subject, "支付成功：订单 CS20261121000001");
            assert!(text.contains("可下载 5 次") && !text.contains("downloads left"), "{text}");
            assert!(html.contains("lang=\"zh-CN\"") && !html.contains("Paid at"), "{html}");

            let (subject, text, html) = order_confirmation(EmailLanguage::En, &order());
            assert_eq!(subject, "Payment received: order CS20261121000001");
            assert!(text.contains("5 downloads left") && !text.contains("可下载"), "{text}");
            assert!(text.contains("Total: ¥198.50"), "{text}");
            assert!(html.contains("<html lang=\"en\">") && !html.contains("支付时间"), "{html}");
        }

        #[test]
        fn course_update_escapes_the_operator_message() {
            let (subject, text, html) = course_update(EmailLanguage::Both, &update());
            assert_eq!(subject, "课程更新：新增第 12 章 Bcc: evil@example.com", "one line");
            assert!(
                text.contains("第一段 <script>x()</script>\n第二行 & more\n\nSecond paragraph"),
                "{text}"
            );
            assert!(text.contains("Tom & <Jerry>，您好 / Hello Tom & <Jerry>,"), "{text}");
            assert!(text.contains("《Python 全栈开发》") && text.contains("\"Python 全栈开发\""), "{text}");
            assert!(text.contains("可下载 5 次 / 5 downloads left"), "{text}");
            assert!(text.contains("https://shop.example.com/d/abc?x=1&y=2"), "{text}");
            assert!(
                html.contains("<p>第一段 &#60;script&#62;x()&#60;/script&#62;<br>\n第二行 &#38; more</p>\n<p>Second paragraph</p>"),
                "{html}"
            );
            assert!(html.contains("Tom &#38; &#60;Jerry&#62;"), "{html}");
            assert!(html.contains("可下载 5 次 / 5 downloads left"), "{html}");
            assert!(html.contains("href=\"https://shop.example.com/d/abc?x=1&#38;y=2\""), "{html}");
            assert!(!html.contains("<script>") && !html.contains("href=\"javascript"), "{html}");
        }

        #[test]
        fn course_update_in_one_language_and_without_links() {
            let mut data = update();
            data.links.clear();
            data.subject = "Chapter 12 is out".into();
            let (subject, text, html) = course_update(EmailLanguage::En, &data);
            assert_eq!(subject, "Chapter 12 is out");
            assert!(text.starts_with("Hello Tom & <Jerry>,\n"), "{text}");
            assert!(!text.contains("您好") && !text.contains("download"), "{text}");
            assert!(!html.contains("<ul>"), "{html}");

            data.subject = "  ".into();
            let (subject, text, _) = course_update(EmailLanguage::Zh, &data);
            assert_eq!(subject, "课程更新：Python 全栈开发");
            assert!(text.starts_with("Tom & <Jerry>，您好：\n"), "{text}");
        }

        #[test]
        fn beijing_time_is_utc_plus_8() {
            let at = Utc.with_ymd_and_hms(2026, 11, 21, 20, 5, 0).single().expect("time");
            assert_eq!(templates::beijing_time(at), "2026-11-22 04:05");
        }
    }

    mod file {
        use std::path::PathBuf;

        use base64::Engine as _;
        use secrecy::SecretString;

        use super::super::*;
        use crate::config::{EmailLanguage, SmtpTls};

        fn settings(dir: PathBuf) -> EmailSettings {
            EmailSettings {
                transport: EmailTransport::File,
                file_dir: dir,
                from: "course-shop <no-reply@course-shop.local>".into(),
                language: EmailLanguage::Both,
                smtp_host: String::new(),
                smtp_port: 25,
                smtp_username: String::new(),
                smtp_password: SecretString::from(""),
                smtp_tls: SmtpTls::None,
                timeout_seconds: 5,
                allow_file_transport_in_production: false,
            }
        }

        /// The decoded body of the part whose Content-Type starts with `content_type`.
        fn part(eml: &str, content_type: &str) -> String {
            let (head, body) = eml.split_once("\r\n\r\n").expect("headers, blank line, body");
            let boundary =
                head.split("boundary=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("boundary");
            let delimiter = format!("--{boundary}");
            for part in body.split(delimiter.as_str()) {
                let Some((headers, content)) = part.split_once("\r\n\r\n") else { continue };
                if !headers.to_ascii_lowercase().contains(&format!("content-type: {content_type}")) {
                    continue;
                }
                let content = content.trim_end();
                return if headers.to_ascii_lowercase().contains("content-transfer-encoding: base64") {
                    let joined: String = content.split_whitespace().collect();
                    let bytes = base64::engine::general_purpose::STANDARD.decode(joined).expect("base64");
                    String::from_utf8(bytes).expect("utf-8")
                } else {
                    content.to_owned()
                };
            }
            panic!("no {content_type} part in\n{eml}");
        }

        #[tokio::test]
        async fn writes_a_complete_eml_per_message() {
            let dir = std::env::temp_dir().join(format!("course-shop-mail-{}", uuid::Uuid::new_v4()));
            let mailer = from_settings(&settings(dir.join("nested"))).expect("file mailer");
            let email = Email {
                to: "李雷 <li.lei@example.com>".into(),
                subject: "支付成功：订单 CS1 / Payment received".into(),
                text: "你好，李雷！\n订单已支付。".into(),
                html: "<p>你好，<b>李雷</b>！</p>".into(),
            };
            mailer.send(&email).await.expect("first");
            mailer.send(&email).await.expect("second");

            let mut names: Vec<String> = std::fs::read_dir(dir.join("nested"))
                .expect("directory created")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let result = std::panic::catch_unwind(|| {
                assert_eq!(names.len(), 2, "{names:?}");
                for name in &names {
                    // 20261121T085900Z-<uuid>.eml
                    assert!(name.ends_with(".eml") && name.len() == 16 + 1 + 36 + 4, "{name}");
                    assert_eq!(&name[8..9], "T");
                    assert_eq!(&name[15..17], "Z-");
                }
                let raw = std::fs::read(dir.join("nested").join(&names[0])).expect("read");
                let eml = String::from_utf8(raw).expect("utf-8");
                assert!(eml.is_ascii(), "headers and bodies are encoded:\n{eml}");
                assert!(eml.contains("\r\n"), "CRLF line ends");
                assert!(eml.contains("From: course-shop <no-reply@course-shop.local>\r\n"), "{eml}");
                assert!(eml.contains("li.lei@example.com>\r\n"), "{eml}");
                assert!(eml.contains("Subject: =?utf-8?"), "encoded subject:\n{eml}");
                assert!(!eml.contains("支付成功"));
                assert!(eml.contains("Message-ID: <") && eml.contains("Date: "), "{eml}");
                assert!(eml.contains("Content-Type: multipart/alternative"), "{eml}");
                assert_eq!(part(&eml, "text/plain"), "你好，李雷！\r\n订单已支付。");
                assert_eq!(part(&eml, "text/html"), "<p>你好，<b>李雷</b>！</p>");
            });
            let _ = std::fs::remove_dir_all(&dir);
            if let Err(panic) = result {
                std::panic::resume_unwind(panic);
            }
        }

        #[tokio::test]
        async fn a_bad_recipient_is_not_written() {
            let dir = std::env::temp_dir().join(format!("course-shop-mail-{}", uuid::Uuid::new_v4()));
            let mailer = FileMailer::new(&settings(dir.clone())).expect("file mailer");
            let email =
                Email { to: "nobody".into(), subject: "s".into(), text: "t".into(), html: "h".into() };
            let err = mailer.send(&email).await.expect_err("bad recipient");
            assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
            assert!(!dir.exists());
        }
    }
}
