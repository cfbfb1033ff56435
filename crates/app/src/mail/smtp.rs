//! Sending over SMTP with lettre's pooled async transport.
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::{Email, MailError, Mailer, build_message, parse_from};
use crate::config::{EmailSettings, SmtpTls};

/// Sends through an SMTP server: `smtp_tls = none` talks plain text, `starttls` requires the
/// STARTTLS upgrade (and fails rather than send in clear), `tls` uses implicit TLS. Logs in
/// when `smtp_username` is not empty. Connections are pooled and reused.
///
/// The transport is built at the first [`Mailer::send`] (lettre's pool spawns a task, which
/// needs a running Tokio runtime); [`SmtpMailer::new`] itself does not need one.
pub struct SmtpMailer {
    from: Mailbox,
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    timeout: Duration,
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No builder: it holds the credentials.
        f.debug_struct("SmtpMailer").field("from", &self.from).field("server", &self.server).finish()
    }
}

impl SmtpMailer {
    /// A mailer for the `[email]` SMTP settings.
    ///
    /// # Errors
    /// An unparsable `from`, or TLS parameters that cannot be built for `smtp_host`.
    pub fn new(settings: &EmailSettings) -> anyhow::Result<Self> {
        let from = parse_from(&settings.from)?;
        let host = settings.smtp_host.trim();
        anyhow::ensure!(!host.is_empty(), "email.smtp_host is required with email.transport = \"smtp\"");
        let tls = match settings.smtp_tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters(host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(host)?),
        };
        let timeout = Duration::from_secs(settings.timeout_seconds.max(1));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.smtp_port)
            .tls(tls)
            .timeout(Some(timeout));
        if !settings.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.smtp_username.clone(),
                settings.smtp_password.expose_secret().to_owned(),
            ));
        }
        Ok(SmtpMailer {
            from,
            builder,
            transport: OnceLock::new(),
            timeout,
            server: format!("{host}:{}", settings.smtp_port),
        })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }
}

fn tls_parameters(host: &str) -> anyhow::Result<TlsParameters> {
    TlsParameters::new(host.to_owned())
        .map_err(|e| anyhow::anyhow!("TLS parameters for email.smtp_host {host:?}: {e}"))
}

/// 5xx replies and lettre's own refusals (say, a non-ASCII address the server cannot take)
/// will fail again; everything else (4xx, connection refused or reset, timeouts, TLS
/// handshakes, garbled replies) may pass later.
fn classify(err: &SmtpError) -> MailError {
    if err.is_permanent() || err.is_client() {
        MailError::Permanent(err.to_string())
    } else {
        MailError::Transient(err.to_string())
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = build_message(&self.from, email)?;
        // lettre bounds the connect with the timeout; this bounds the whole exchange.
        let sent = tokio::time::timeout(self.timeout * 2, self.transport().send(message)).await;
        match sent {
            Ok(Ok(_response)) => {
                // lettre parks the connection back in its pool from a spawned task; let it
                // run, so that the next message (the outbox sends one after the other)
                // reuses the connection instead of opening another.
                tokio::task::yield_now().await;
                tracing::debug!(mail.server = %self.server, "mail sent");
                Ok(())
            }
            Ok(Err(err)) => {
                let err = classify(&err);
                tracing::warn!(mail.server = %self.server, error = %err, "mail not sent");
                Err(err)
            }
            Err(_elapsed) => {
                tracing::warn!(mail.server = %self.server, "mail not sent: timed out");
                Err(MailError::Transient(format!("SMTP exchange with {} timed out", self.server)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use secrecy::SecretString;

    use super::*;
    use crate::config::{EmailLanguage, EmailTransport};

    fn settings(port: u16) -> EmailSettings {
        EmailSettings {
            transport: EmailTransport::Smtp,
            file_dir: PathBuf::from("unused"),
            from: "course-shop <no-reply@course-shop.local>".into(),
            language: EmailLanguage::Both,
            smtp_host: "127.0.0.1".into(),
            smtp_port: port,
            smtp_username: "mailer".into(),
            smtp_password: SecretString::from("hunter2-secret"),
            smtp_tls: SmtpTls::None,
            timeout_seconds: 2,
            allow_file_transport_in_production: false,
        }
    }

    #[test]
    fn debug_does_not_print_the_password() {
        let mailer = SmtpMailer::new(&settings(25)).expect("mailer");
        let printed = format!("{mailer:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn every_tls_mode_builds_without_a_runtime() {
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            let mut s = settings(25);
            s.smtp_host = "smtp.example.com".into();
            s.smtp_tls = tls;
            assert!(SmtpMailer::new(&s).is_ok(), "{tls:?}");
        }
    }

    #[tokio::test]
    async fn connection_refused_is_transient() {
        // Bind then drop a listener: nothing listens on that port any more.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let mut s = settings(port);
        s.smtp_username.clear();
        let mailer = SmtpMailer::new(&s).expect("mailer");
        let email =
            Email { to: "a@example.com".into(), subject: "s".into(), text: "t".into(), html: "h".into() };
        let err = mailer.send(&email).await.expect_err("nobody listens");
        assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    }
}
