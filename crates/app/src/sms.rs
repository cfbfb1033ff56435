//! Delivery of SMS verification codes.
//!
//! The development sender writes the code to the log; `disabled` refuses; a production SMS
//! provider (Aliyun, Tencent Cloud ...) implements [`SmsGateway`] and is passed to
//! [`crate::AppContext::assemble`]. There is no code that always works.
use std::sync::Mutex;

use shop_domain::user::Mobile;

use crate::config::SmsSender;

/// Sends a verification code to a phone.
#[async_trait::async_trait]
pub trait SmsGateway: Send + Sync {
    /// Delivers `code` to `mobile`.
    ///
    /// # Errors
    /// A message saying why the code could not be sent.
    async fn send_code(&self, mobile: &Mobile, code: &str) -> Result<(), String>;
}

/// The development sender: the code goes to the server log.
pub struct LogGateway;

#[async_trait::async_trait]
impl SmsGateway for LogGateway {
    async fn send_code(&self, mobile: &Mobile, code: &str) -> Result<(), String> {
        tracing::info!(sms.mobile = %mobile.masked(), sms.code = %code, "development SMS sender: verification code");
        Ok(())
    }
}

/// No sender configured.
pub struct DisabledGateway;

#[async_trait::async_trait]
impl SmsGateway for DisabledGateway {
    async fn send_code(&self, _mobile: &Mobile, _code: &str) -> Result<(), String> {
        Err("no SMS sender is configured".into())
    }
}

/// Keeps sent codes in memory, for tests that play the phone.
#[derive(Default)]
pub struct RecordingGateway {
    sent: Mutex<Vec<(String, String)>>,
}

impl RecordingGateway {
    /// The last code sent to `mobile`.
    pub fn last_code(&self, mobile: &str) -> Option<String> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().rev().find(|(m, _)| m == mobile).map(|(_, c)| c.clone())
    }
}

#[async_trait::async_trait]
impl SmsGateway for RecordingGateway {
    async fn send_code(&self, mobile: &Mobile, code: &str) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((mobile.as_str().to_owned(), code.to_owned()));
        Ok(())
    }
}

/// The gateway `sms.sender` names.
pub fn from_settings(sender: SmsSender) -> std::sync::Arc<dyn SmsGateway> {
    match sender {
        SmsSender::Log => std::sync::Arc::new(LogGateway),
        SmsSender::Disabled => std::sync::Arc::new(DisabledGateway),
    }
}
