//! Writing messages as `.eml` files (development).
use std::path::{Path, PathBuf};

use lettre::message::Mailbox;

use super::{Email, MailError, Mailer, build_message, parse_from};
use crate::config::EmailSettings;

/// Writes each message, exactly as SMTP would send it (RFC 5322, CRLF line ends), to
/// `<file_dir>/<UTC time>-<uuid v7>.eml`, e.g. `20261121T085900Z-019a….eml`: names sort by
/// time and never collide. The directory is created when missing; a file appears complete
/// (written under a temporary name, then renamed).
///
/// lettre's own file transport names files by a random UUID alone, hence this one.
#[derive(Debug)]
pub struct FileMailer {
    from: Mailbox,
    dir: PathBuf,
}

impl FileMailer {
    /// A mailer writing into `settings.file_dir`.
    ///
    /// # Errors
    /// An unparsable `from`.
    pub fn new(settings: &EmailSettings) -> anyhow::Result<Self> {
        Ok(FileMailer { from: parse_from(&settings.from)?, dir: settings.file_dir.clone() })
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A message to write: its final path, the temporary one it is written under, and the text.
struct ToWrite {
    path: PathBuf,
    partial: PathBuf,
    text: Vec<u8>,
}

impl FileMailer {
    /// The message of `email` and the paths it is written to (see [`FileMailer`]).
    fn prepare(&self, email: &Email) -> Result<ToWrite, MailError> {
        let message = build_message(&self.from, email)?;
        let name = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), uuid::Uuid::now_v7());
        Ok(ToWrite {
            path: self.dir.join(format!("{name}.eml")),
            partial: self.dir.join(format!(".{name}.eml.tmp")),
            text: message.formatted(),
        })
    }

    /// Writes `messages` in one hop to the blocking pool (a thread hand-off each would make a
    /// batch wait for as many): an outcome per message, in order.
    async fn write_all(&self, messages: Vec<ToWrite>) -> Vec<Result<(), MailError>> {
        let count = messages.len();
        if count == 0 {
            return Vec::new();
        }
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || {
            let made = std::fs::create_dir_all(&dir);
            messages
                .into_iter()
                .map(|m| {
                    let io = |e: std::io::Error| {
                        MailError::Transient(format!("cannot write {}: {e}", m.path.display()))
                    };
                    made.as_ref().map_err(|e| io(std::io::Error::new(e.kind(), e.to_string())))?;
                    std::fs::write(&m.partial, &m.text).map_err(io)?;
                    std::fs::rename(&m.partial, &m.path).map_err(io)?;
                    tracing::debug!(mail.file = %m.path.display(), "mail written to file");
                    Ok(())
                })
                .collect::<Vec<_>>()
        })
        .await;
        written.unwrap_or_else(|e| {
            (0..count)
                .map(|_| Err(MailError::Transient(format!("cannot write to {}: {e}", self.dir.display()))))
                .collect()
        })
    }
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        self.send_all(std::slice::from_ref(email)).await.pop().unwrap_or(Ok(()))
    }

    async fn send_all(&self, emails: &[Email]) -> Vec<Result<(), MailError>> {
        let mut outcomes: Vec<Option<Result<(), MailError>>> = Vec::with_capacity(emails.len());
        let mut messages = Vec::with_capacity(emails.len());
        for email in emails {
            match self.prepare(email) {
                Ok(message) => {
                    messages.push(message);
                    outcomes.push(None);
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        let mut written = self.write_all(messages).await.into_iter();
        let outcomes: Vec<Result<(), MailError>> =
            outcomes.into_iter().map(|o| o.unwrap_or_else(|| written.next().unwrap_or(Ok(())))).collect();
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        if ok > 0 {
            tracing::info!(mail.dir = %self.dir.display(), mail.count = ok, "mail written to files");
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &str, subject: &str) -> Email {
        Email { to: to.into(), subject: subject.into(), text: "你好".into(), html: "<p>你好</p>".into() }
    }

    /// A batch is written in one go, a file per message; a message that cannot be built
    /// fails alone, and the others are written.
    #[tokio::test]
    async fn a_batch_writes_a_file_per_message_and_a_bad_one_fails_alone() {
        let dir = std::env::temp_dir().join(format!("file-mailer-{}", uuid::Uuid::now_v7()));
        let from = parse_from("course-shop <no-reply@course-shop.local>").expect("from");
        let mailer = FileMailer { from, dir: dir.join("mail") };
        let batch =
            [email("a@example.com", "one"), email("not an address", "two"), email("b@example.com", "three")];
        let outcomes = mailer.send_all(&batch).await;
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        assert!(matches!(outcomes[1], Err(MailError::Permanent(_))), "{outcomes:?}");
        let mut files: Vec<String> = std::fs::read_dir(mailer.dir())
            .expect("mail dir")
            .map(|f| std::fs::read_to_string(f.expect("entry").path()).expect("eml"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "no temporary file left, none for the bad address");
        assert!(files.iter().any(|f| f.contains("To: a@example.com") && f.contains("Subject: one")));
        assert!(files.iter().any(|f| f.contains("To: b@example.com") && f.contains("Subject: three")));
        // One message alone goes the same way.
        mailer.send(&email("c@example.com", "four")).await.expect("sent");
        assert_eq!(std::fs::read_dir(mailer.dir()).expect("mail dir").count(), 3);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
