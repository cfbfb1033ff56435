//! A small real SMTP server for the tests: plain TCP on `127.0.0.1:0`, enough ESMTP for
//! lettre (`EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA`, `RSET`, `NOOP`, `QUIT`), several messages
//! per connection and several connections at once. It keeps what it receives, can play an
//! outage ([`SmtpSink::set_down`]) and rejects recipients whose address starts with `bounce`
//! (`550 5.1.1`), so tests can see both kinds of failure.
//!
//! [`ReceivedMail`] decodes what tests look at: the subject (RFC 2047) and the `text/plain`
//! and `text/html` parts (base64, quoted-printable or 7bit, as lettre writes them).
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Longest command line accepted (RFC 5321 says 512 octets; some slack).
const MAX_COMMAND_LINE: u64 = 4096;
/// Longest line inside DATA.
const MAX_DATA_LINE: u64 = 64 * 1024;
/// Largest message accepted.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The `MAIL FROM` address (without angle brackets; empty for the null sender).
    pub from: String,
    /// The `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The raw DATA content, dot-unstuffed, without the final `.` line.
    pub data: String,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<ReceivedMail>>,
    down: AtomicBool,
    connections: AtomicUsize,
}

/// A running SMTP server; stops (with all its connections) when dropped.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts a server on a free port of `127.0.0.1`.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP sink");
        let port = listener.local_addr().expect("SMTP sink address").port();
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            // Dropping the set (when the task is aborted) aborts every session.
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            sessions.spawn(session(stream, Arc::clone(&state)));
                        }
                        // Out of file descriptors and the like: breathe, then go on.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                }
            }
        });
        SmtpSink { port, shared, task }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many connections were accepted so far (including refused ones while down).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// While down, new connections are greeted with `421 4.3.2 Service not available` and
    /// closed, and open ones answer their next command so and are closed.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Waits until at least `count` messages arrived or `timeout` passed, then returns all
    /// the messages received.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

enum Line {
    /// A complete line, without its line end.
    Complete(Vec<u8>),
    /// The limit was reached before a line end.
    TooLong,
    /// The peer closed the connection (possibly mid-line).
    Closed,
}

/// Reads one line of at most `limit` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, limit: u64) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    let n = (&mut *reader).take(limit).read_until(b'\n', &mut buf).await?;
    if n == 0 {
        return Ok(Line::Closed);
    }
    if buf.last() != Some(&b'\n') {
        return Ok(if n as u64 >= limit { Line::TooLong } else { Line::Closed });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Complete(buf))
}

/// Discards the rest of a line; false when the connection closed or `limit` bytes passed
/// without a line end.
async fn skip_line<R: AsyncBufRead + Unpin>(reader: &mut R, limit: u64) -> std::io::Result<bool> {
    let mut skipped = Vec::new();
    (&mut *reader).take(limit).read_until(b'\n', &mut skipped).await?;
    Ok(skipped.last() == Some(&b'\n'))
}

/// The address in `<...>` after `FROM:` / `TO:` (case-insensitive), parameters ignored.
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let argument = argument.trim_start();
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument.get(keyword.len()..)?.trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    // A broken connection just ends the session.
    let _ = run_session(stream, &shared).await;
}

async fn run_session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut reply = async |text: &str| -> std::io::Result<()> {
        // One write per reply: split writes meet Nagle and delayed ACKs (40 ms each).
        write.write_all(format!("{text}\r\n").as_bytes()).await?;
        write.flush().await
    };
    if shared.down.load(Ordering::SeqCst) {
        return reply("421 4.3.2 Service not available").await;
    }
    reply("220 smtp-sink.localhost ESMTP test sink ready").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    loop {
        let line = match read_line(&mut reader, MAX_COMMAND_LINE).await? {
            Line::Complete(line) => String::from_utf8_lossy(&line).into_owned(),
            Line::TooLong => {
                reply("500 5.5.6 Line too long").await?;
                if skip_line(&mut reader, MAX_DATA_LINE).await? {
                    continue;
                }
                return Ok(());
            }
            Line::Closed => return Ok(()),
        };
        if shared.down.load(Ordering::SeqCst) {
            return reply("421 4.3.2 Service not available, closing transmission channel").await;
        }
        let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                (from, to) = (None, Vec::new());
                reply(
                    "250-smtp-sink.localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n\
                     250-SIZE 10485760\r\n250 ENHANCEDSTATUSCODES",
                )
                .await?;
            }
            "HELO" => {
                (from, to) = (None, Vec::new());
                reply("250 smtp-sink.localhost").await?;
            }
            "MAIL" => match (&from, path_argument(argument, "FROM:")) {
                (Some(_), _) => reply("503 5.5.1 Nested MAIL command").await?,
                (None, Some(address)) => {
                    from = Some(address);
                    reply("250 2.1.0 OK").await?;
                }
                (None, None) => reply("501 5.5.4 Syntax: MAIL FROM:<address>").await?,
            },
            "RCPT" => match (&from, path_argument(argument, "TO:")) {
                (None, _) => reply("503 5.5.1 Need MAIL before RCPT").await?,
                (Some(_), None) => reply("501 5.5.4 Syntax: RCPT TO:<address>").await?,
                (Some(_), Some(address)) if address.to_ascii_lowercase().starts_with("bounce") => {
                    reply("550 5.1.1 No such user here").await?;
                }
                (Some(_), Some(address)) => {
                    to.push(address);
                    reply("250 2.1.5 OK").await?;
                }
            },
            "DATA" => {
                let Some(sender) = from.take().filter(|_| !to.is_empty()) else {
                    reply("503 5.5.1 Need MAIL and RCPT before DATA").await?;
                    continue;
                };
                let recipients = std::mem::take(&mut to);
                reply("354 End data with <CR><LF>.<CR><LF>").await?;
                let mut data: Vec<u8> = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    let n = (&mut reader).take(MAX_DATA_LINE).read_until(b'\n', &mut raw).await?;
                    if n == 0 || raw.last() != Some(&b'\n') {
                        return if n as u64 >= MAX_DATA_LINE {
                            reply("552 5.3.4 Line too long").await
                        } else {
                            Ok(()) // closed mid-message: nothing is kept
                        };
                    }
                    if raw == b".\r\n" || raw == b".\n" {
                        break;
                    }
                    let unstuffed = if raw.first() == Some(&b'.') { &raw[1..] } else { &raw[..] };
                    data.extend_from_slice(unstuffed);
                    if data.len() > MAX_MESSAGE {
                        return reply("552 5.3.4 Message too big").await;
                    }
                }
                if shared.down.load(Ordering::SeqCst) {
                    return reply("421 4.3.2 Service not available, closing transmission channel").await;
                }
                let mail = ReceivedMail {
                    from: sender,
                    to: recipients,
                    data: String::from_utf8_lossy(&data).into_owned(),
                };
                shared.messages.lock().unwrap_or_else(PoisonError::into_inner).push(mail);
                reply("250 2.0.0 OK: queued").await?;
            }
            "RSET" => {
                (from, to) = (None, Vec::new());
                reply("250 2.0.0 OK").await?;
            }
            "NOOP" => reply("250 2.0.0 OK").await?,
            "QUIT" => return reply("221 2.0.0 Bye").await,
            "" => reply("500 5.5.2 Syntax error").await?,
            _ => reply("502 5.5.2 Command not implemented").await?,
        }
    }
}

impl ReceivedMail {
    /// The `Subject` header, unfolded and decoded from RFC 2047 encoded words.
    pub fn subject(&self) -> String {
        let normalized = self.data.replace("\r\n", "\n");
        let (headers, _) = parse_entity(&normalized);
        header(&headers, "subject").map(|s| decode_rfc2047(&s)).unwrap_or_default()
    }

    /// The decoded `text/plain` part (line ends as `\n`); empty when there is none.
    pub fn text_part(&self) -> String {
        self.part("text/plain")
    }

    /// The decoded `text/html` part (line ends as `\n`); empty when there is none.
    pub fn html_part(&self) -> String {
        self.part("text/html")
    }

    fn part(&self, mime: &str) -> String {
        let normalized = self.data.replace("\r\n", "\n");
        find_part(&normalized, mime, 0).unwrap_or_default()
    }
}

type Headers = Vec<(String, String)>;

/// Splits a MIME entity (line ends `\n`) into unfolded headers and body.
fn parse_entity(entity: &str) -> (Headers, &str) {
    let (head, body) = match entity.split_once("\n\n") {
        Some((head, body)) => (head, body),
        None => (entity, ""),
    };
    let mut headers: Headers = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header(headers: &Headers, name: &str) -> Option<String> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// A parameter of a header value such as `multipart/alternative; boundary="abc"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (key, v) = p.split_once('=')?;
        key.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The decoded body of the first part of type `mime`, looking into nested multiparts.
fn find_part(entity: &str, mime: &str, depth: usize) -> Option<String> {
    let (headers, body) = parse_entity(entity);
    let content_type = header(&headers, "content-type").unwrap_or_else(|| "text/plain".into());
    let kind = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if kind.starts_with("multipart/") {
        if depth > 8 {
            return None;
        }
        let boundary = parameter(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        let mut parts: Vec<String> = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in body.split('\n') {
            if line.trim_end() == delimiter || line.trim_end() == format!("{delimiter}--") {
                if let Some(lines) = current.take() {
                    parts.push(lines.join("\n"));
                }
                if line.trim_end() != delimiter {
                    break;
                }
                current = Some(Vec::new());
            } else if let Some(lines) = current.as_mut() {
                lines.push(line);
            }
        }
        return parts.iter().find_map(|part| find_part(part, mime, depth + 1));
    }
    if kind != mime {
        return None;
    }
    let encoding = header(&headers, "content-transfer-encoding").unwrap_or_default().to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD.decode(joined).ok()?
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
    Some(text.strip_suffix('\n').map(str::to_owned).unwrap_or(text))
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Quoted-printable (RFC 2045) with line ends `\n`: `=XX` bytes, `=` soft line breaks.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => match (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Decodes `=?charset?B|Q?...?=` words (UTF-8 or ASCII); the whitespace between two encoded
/// words is dropped, bytes of adjacent words are joined before decoding UTF-8.
fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let start = rest.find("=?").unwrap_or(rest.len());
        let (before, after) = rest.split_at(start);
        let decoded = if after.is_empty() { None } else { decode_word(after) };
        match decoded {
            Some((bytes, used)) => {
                // Whitespace between two encoded words is not part of the text.
                if !before.trim().is_empty() || pending.is_empty() {
                    out.push_str(&String::from_utf8_lossy(&std::mem::take(&mut pending)));
                    out.push_str(before);
                }
                pending.extend(bytes);
                rest = &after[used..];
            }
            None => {
                out.push_str(&String::from_utf8_lossy(&std::mem::take(&mut pending)));
                out.push_str(before);
                let skip = after.len().min(2);
                out.push_str(&after[..skip]);
                rest = &after[skip..];
            }
        }
    }
    out.push_str(&String::from_utf8_lossy(&pending));
    out
}

/// One encoded word at the start of `text`: its bytes and its length.
fn decode_word(text: &str) -> Option<(Vec<u8>, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (_charset, rest) = inner.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let payload = &rest[..end];
    if payload.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD.decode(payload).ok()?,
        "Q" | "q" => decode_quoted_printable(&payload.replace('_', " ")),
        _ => return None,
    };
    let used = text.len() - rest.len() + end + 2;
    Some((bytes, used))
}

// The sink's own tests, sending real mail with the application's mailer.

mod sink_tests {
    use std::path::PathBuf;

    use secrecy::SecretString;
    use shop_app::config::{EmailLanguage, EmailSettings, EmailTransport, SmtpTls};
    use shop_app::mail::{Email, MailError, Mailer, SmtpMailer};

    use super::*;

    fn settings(port: u16) -> EmailSettings {
        EmailSettings {
            transport: EmailTransport::Smtp,
            file_dir: PathBuf::from("unused"),
            from: "course-shop <no-reply@course-shop.local>".into(),
            language: EmailLanguage::Both,
            smtp_host: "127.0.0.1".into(),
            smtp_port: port,
            smtp_username: String::new(),
            smtp_password: SecretString::from(""),
            smtp_tls: SmtpTls::None,
            timeout_seconds: 5,
            allow_file_transport_in_production: false,
        }
    }

    fn email(to: &str, subject: &str, text: &str, html: &str) -> Email {
        Email { to: to.into(), subject: subject.into(), text: text.into(), html: html.into() }
    }

    #[tokio::test]
    async fn smtp_sink_two_messages_on_one_connection() {
        let sink = SmtpSink::start().await;
        let mailer = SmtpMailer::new(&settings(sink.port())).expect("mailer");
        let subject = "支付成功：订单 CS20261121000001 / Payment received: order CS20261121000001";
        let text = "李雷，您好：\n\n您的订单已支付成功。\n可下载 5 次 / 5 downloads left";
        let html = format!(
            "<!DOCTYPE html>\n<html><body>\n<p>Hello Li Lei, 你好</p>\n{}</body></html>",
            "<p>A long mostly ASCII body so that lettre picks quoted-printable.</p>\n".repeat(5)
        );
        mailer.send(&email("李雷 <li.lei@example.com>", subject, text, &html)).await.expect("first");
        let dotted = "Line one\n.starts with a dot\n..two dots\n.\nend";
        mailer
            .send(&email("han.meimei@example.com", "Plain ASCII", dotted, "<p>x</p>"))
            .await
            .expect("second");

        let messages = sink.wait_for(2, Duration::from_secs(5)).await;
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert_eq!(sink.connections(), 1, "lettre reuses its pooled connection");

        let first = &messages[0];
        assert_eq!(first.from, "no-reply@course-shop.local");
        assert_eq!(first.to, vec!["li.lei@example.com".to_owned()]);
        assert!(first.data.contains("Subject: =?utf-8?"), "{}", first.data);
        assert!(first.data.contains("Content-Transfer-Encoding: base64"), "{}", first.data);
        assert!(first.data.contains("Content-Transfer-Encoding: quoted-printable"), "{}", first.data);
        assert_eq!(first.subject(), subject);
        assert_eq!(first.text_part(), text);
        assert_eq!(first.html_part(), html);

        let second = &messages[1];
        assert_eq!(second.to, vec!["han.meimei@example.com".to_owned()]);
        assert_eq!(second.subject(), "Plain ASCII");
        assert_eq!(second.text_part(), dotted, "dot-unstuffed:\n{}", second.data);
        assert_eq!(second.html_part(), "<p>x</p>");
    }

    #[tokio::test]
    async fn smtp_sink_outage_is_transient_then_recovers() {
        let sink = SmtpSink::start().await;
        let mailer = SmtpMailer::new(&settings(sink.port())).expect("mailer");
        let mail = email("a@example.com", "outage", "t", "<p>h</p>");
        mailer.send(&mail).await.expect("before the outage");

        sink.set_down(true);
        let err = mailer.send(&mail).await.expect_err("the server is down");
        assert!(matches!(err, MailError::Transient(_)), "{err:?}");
        let err = mailer.send(&mail).await.expect_err("still down");
        assert!(matches!(err, MailError::Transient(ref m) if m.contains("421")), "{err:?}");

        sink.set_down(false);
        mailer.send(&mail).await.expect("after the outage");
        assert_eq!(sink.wait_for(2, Duration::from_secs(5)).await.len(), 2);
    }

    #[tokio::test]
    async fn smtp_sink_rejected_recipient_is_permanent() {
        let sink = SmtpSink::start().await;
        let mailer = SmtpMailer::new(&settings(sink.port())).expect("mailer");
        let err = mailer.send(&email("bounce@example.com", "s", "t", "h")).await.expect_err("rejected");
        assert!(matches!(err, MailError::Permanent(ref m) if m.contains("550")), "{err:?}");
        mailer.send(&email("ok@example.com", "s", "t", "h")).await.expect("the next one passes");
        assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smtp_sink_serves_concurrent_connections() {
        let sink = SmtpSink::start().await;
        let mailer = Arc::new(SmtpMailer::new(&settings(sink.port())).expect("mailer"));
        let mut sends = JoinSet::new();
        for i in 0..6 {
            let mailer = Arc::clone(&mailer);
            sends.spawn(async move {
                mailer.send(&email(&format!("user{i}@example.com"), &format!("n{i}"), "t", "h")).await
            });
        }
        while let Some(result) = sends.join_next().await {
            result.expect("task").expect("sent");
        }
        let messages = sink.wait_for(6, Duration::from_secs(5)).await;
        let mut subjects: Vec<String> = messages.iter().map(ReceivedMail::subject).collect();
        subjects.sort();
        assert_eq!(subjects, (0..6).map(|i| format!("n{i}")).collect::<Vec<_>>());
        assert!(sink.connections() >= 2, "{} connections", sink.connections());
    }

    #[tokio::test]
    async fn smtp_sink_survives_garbage() {
        let sink = SmtpSink::start().await;
        let stream = TcpStream::connect(("127.0.0.1", sink.port())).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut next = async || lines.next_line().await.expect("read").unwrap_or_default();
        assert!(next().await.starts_with("220 "));
        let exchanges: [(&[u8], &str); 7] = [
            (b"\x00\xff\xfe garbage \x1b[31m\r\n", "502 "),
            (b"\r\n", "500 "),
            (b"RCPT TO:<a@example.com>\r\n", "503 "),
            (b"DATA\r\n", "503 "),
            (b"MAIL FROM:no-brackets\r\n", "501 "),
            (b"helo x\r\n", "250 "),
            (b"noop\n", "250 "),
        ];
        for (command, expected) in exchanges {
            write.write_all(command).await.expect("write");
            let answer = next().await;
            assert!(answer.starts_with(expected), "{command:?} -> {answer}");
        }
        let mut long = vec![b'A'; 20_000];
        long.extend_from_slice(b"\r\nNOOP\r\n");
        write.write_all(&long).await.expect("write a very long line");
        assert!(next().await.starts_with("500 "), "too long");
        assert!(next().await.starts_with("250 "), "the next command is read");
        write.write_all(b"QUIT\r\n").await.expect("write");
        assert!(next().await.starts_with("221 "));
        assert_eq!(next().await, "", "closed");

        // Still serving.
        let mailer = SmtpMailer::new(&settings(sink.port())).expect("mailer");
        mailer.send(&email("a@example.com", "after garbage", "t", "h")).await.expect("sent");
        assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await[0].subject(), "after garbage");
    }

    #[test]
    fn smtp_sink_decodes_encoded_words() {
        assert_eq!(decode_rfc2047("=?utf-8?b?5pSv5LuY?= =?utf-8?b?5oiQ5Yqf?= done"), "支付成功 done");
        assert_eq!(decode_rfc2047("=?UTF-8?Q?caf=C3=A9_au_lait?="), "café au lait");
        assert_eq!(decode_rfc2047("plain =? not a word"), "plain =? not a word");
        // A character split across two words.
        assert_eq!(decode_rfc2047("=?utf-8?b?5pQ=?=\n =?utf-8?b?rw==?="), "支");
        assert_eq!(decode_quoted_printable("a=3Db=\nc=ZZ"), b"a=bc=ZZ".to_vec());
    }
}
