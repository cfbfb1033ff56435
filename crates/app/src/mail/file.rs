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

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = build_message(&self.from, email)?;
        let name = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), uuid::Uuid::now_v7());
        let path = self.dir.join(format!("{name}.eml"));
        let partial = self.dir.join(format!(".{name}.eml.tmp"));
        let io = |e: std::io::Error| MailError::Transient(format!("cannot write {}: {e}", path.display()));
        // One hop to the blocking pool for the three file operations (each `tokio::fs` call
        // is one: a thread hand-off each, per email).
        let (dir, written) = (self.dir.clone(), path.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&partial, message.formatted())?;
            std::fs::rename(&partial, &written)
        })
        .await
        .map_err(|e| MailError::Transient(format!("cannot write {}: {e}", path.display())))?
        .map_err(io)?;
        tracing::info!(mail.file = %path.display(), "mail written to file");
        Ok(())
    }
}
