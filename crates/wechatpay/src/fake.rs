//! A fake WeChat Pay (cargo feature `fake`, for tests only; release builds leave it out): an
//! HTTP server on 127.0.0.1 with freshly generated keys that answers Native create, order query,
//! close, refund and refund query the way WeChat Pay API v3 does: it verifies every merchant
//! request (`Authorization`, `Wechatpay-Serial`, `Accept`, `User-Agent`), signs every answer, and
//! keeps orders and refunds in memory. Faults ([`Fault`]) make it answer with bad signatures,
//! signature probes, stale timestamps, unsigned or signed errors, or late.
//!
//! The test plays the buyer with [`FakeWechatPay::pay`] (which also returns the signed,
//! encrypted `TRANSACTION.SUCCESS` notification to post to the shop) and WeChat's refund
//! processing with [`FakeWechatPay::complete_refund`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use secrecy::SecretString;

use crate::client::ClientConfig;
use crate::gateway::WechatPayGateway;
use crate::keys::{ApiV3Key, KeyError, MerchantPrivateKey, WechatPayPublicKey};
use crate::model::{ErrorBody, Transaction};
use crate::sign::{SignError, answer_message, new_nonce};
use crate::simulator::{SimulatorError, WechatPaySimulator};
use crate::verify::{SignatureHeaders, header};

/// The fake's merchant id.
pub const MCH_ID: &str = "1900000109";
/// The fake's app id.
pub const APP_ID: &str = "wxd678efh567hg6787";
/// The fake merchant certificate serial number.
pub const MERCHANT_SERIAL_NO: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// The fake WeChat Pay public key id.
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092026113000000000000001";

/// How the fake misbehaves (until [`FakeWechatPay::set_fault`] clears it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers signed with another key.
    BadSignature,
    /// Answers naming another `Wechatpay-Serial`.
    WrongSerial,
    /// Answers carrying a signature probe (`WECHATPAY/SIGNTEST/...`).
    SignatureProbe,
    /// Answers signed with a timestamp ten minutes old.
    StaleTimestamp,
    /// Answers whose body was changed after signing.
    TamperedBody,
    /// An unsigned answer with this status (a proxy or load balancer error).
    Unsigned(u16),
    /// A signed error answer: status, code, message.
    Error(u16, String, String),
    /// The same, unsigned.
    UnsignedError(u16, String, String),
    /// Answers after this delay (client timeouts).
    Delay(Duration),
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Method.
    pub method: String,
    /// Path and query as sent.
    pub path_and_query: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// A header by (case-insensitive) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// The fake failed to start or to play a part.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// Key generation.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Binding the port.
    #[error("bind: {0}")]
    Io(#[from] std::io::Error),
    /// Signing.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// No such order or refund, or not in a state that allows it.
    #[error("{0}")]
    State(String),
}

#[derive(Default)]
struct Control {
    fault: Option<Fault>,
    requests: Vec<SeenRequest>,
}

struct Inner {
    simulator: WechatPaySimulator,
    other_key: MerchantPrivateKey,
    control: Mutex<Control>,
}

fn error(status: u16, code: &str, message: &str) -> (u16, Vec<u8>) {
    (
        status,
        serde_json::to_vec(&ErrorBody { code: code.into(), message: message.into() }).unwrap_or_default(),
    )
}

impl Inner {
    fn control(&self) -> MutexGuard<'_, Control> {
        // A panicking test thread must not hide the fake's state from the others.
        self.control.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().as_str().to_owned();
        let path_and_query =
            request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = match request.into_body().collect().await {
            Ok(b) => b.to_bytes().to_vec(),
            Err(_) => Vec::new(),
        };
        let seen = SeenRequest { method, path_and_query, headers, body };
        let fault = {
            let mut control = self.control();
            control.requests.push(seen.clone());
            control.fault.clone()
        };
        if let Some(Fault::Delay(d)) = &fault {
            tokio::time::sleep(*d).await;
        }
        let (status, body) = match &fault {
            Some(Fault::Error(status, code, message) | Fault::UnsignedError(status, code, message)) => {
                error(*status, code, message)
            }
            _ => self.simulator.answer(
                &seen.method,
                &seen.path_and_query,
                |name| seen.header(name).map(str::to_owned),
                &seen.body,
                Utc::now().timestamp(),
            ),
        };
        self.respond(status, body, fault.as_ref())
    }

    fn respond(&self, status: u16, body: Vec<u8>, fault: Option<&Fault>) -> Response<Full<Bytes>> {
        let now = Utc::now().timestamp();
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        builder = builder
            .header(header::REQUEST_ID, format!("08F78BB5AF0610{:010}", self.control().requests.len()));
        let signed = match fault {
            Some(Fault::Unsigned(s)) => {
                let mut r = Response::new(Full::new(Bytes::from_static(b"<html>502 Bad Gateway</html>")));
                *r.status_mut() = StatusCode::from_u16(*s).unwrap_or(StatusCode::BAD_GATEWAY);
                return r;
            }
            Some(Fault::UnsignedError(..)) => None,
            Some(Fault::BadSignature) => self.simulator.gateway().sign(&body, now).ok().and_then(|mut h| {
                let message = answer_message(&h.timestamp, &h.nonce, &body);
                h.signature = self.other_key.rsa().sign_base64(&message).ok()?;
                Some(h)
            }),
            Some(Fault::StaleTimestamp) => self.simulator.gateway().sign(&body, now - 600).ok(),
            _ => self.simulator.gateway().sign(&body, now).ok(),
        };
        let mut body = body;
        if let Some(mut h) = signed {
            match fault {
                Some(Fault::WrongSerial) => h.serial = "PUB_KEY_ID_0000000000000000000000000000000000".into(),
                Some(Fault::SignatureProbe) => h.signature = format!("WECHATPAY/SIGNTEST/{}", h.signature),
                Some(Fault::TamperedBody) => body.extend_from_slice(b" "),
                _ => {}
            }
            for (name, value) in h.to_pairs() {
                builder = builder.header(name, value);
            }
        }
        builder.body(Full::new(Bytes::from(body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}

/// The fake WeChat Pay server. Stops when dropped.
pub struct FakeWechatPay {
    base_url: String,
    inner: Arc<Inner>,
    merchant_key: MerchantPrivateKey,
    private_key: MerchantPrivateKey,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWechatPay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for FakeWechatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeWechatPay").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl FakeWechatPay {
    /// Starts a fake on 127.0.0.1 (a free port) with freshly generated merchant and WeChat Pay
    /// keys and a random APIv3 key. Needs a Tokio runtime.
    ///
    /// # Errors
    /// [`FakeError`].
    pub async fn start() -> Result<Self, FakeError> {
        let merchant_key = MerchantPrivateKey::generate()?;
        let private_key = MerchantPrivateKey::generate()?;
        let other_key = MerchantPrivateKey::generate()?;
        let api_v3_key = ApiV3Key::parse(&new_nonce()).map_err(|e| FakeError::State(e.to_string()))?;
        let gateway = WechatPayGateway::new(
            private_key.clone(),
            PUBLIC_KEY_ID,
            api_v3_key,
            MCH_ID,
            MERCHANT_SERIAL_NO,
            merchant_key.public_key()?,
        )?;
        let inner = Arc::new(Inner {
            simulator: WechatPaySimulator::new(gateway, APP_ID),
            other_key,
            control: Mutex::new(Control::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let served = Arc::clone(&inner);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let inner = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let inner = Arc::clone(&inner);
                        async move { Ok::<_, Infallible>(inner.handle(request).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    // A client that hangs up early is not the fake's problem.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        Ok(FakeWechatPay { base_url, inner, merchant_key, private_key, task })
    }

    /// `http://127.0.0.1:PORT` (the client's `base_url`).
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A client configuration for this fake.
    #[must_use]
    pub fn client_config(&self, timeout: Duration) -> ClientConfig {
        ClientConfig {
            mch_id: MCH_ID.into(),
            app_id: APP_ID.into(),
            merchant_serial_no: MERCHANT_SERIAL_NO.into(),
            merchant_private_key: self.merchant_key.clone(),
            wechatpay_public_key: self.inner.simulator.gateway().public_key().clone(),
            base_url: self.base_url.clone(),
            timeout,
        }
    }

    /// WeChat Pay's side (to sign notifications by hand).
    #[must_use]
    pub fn gateway(&self) -> &WechatPayGateway {
        self.inner.simulator.gateway()
    }

    /// The merchant private key as PKCS#8 PEM (what the shop configures).
    ///
    /// # Errors
    /// [`KeyError`].
    pub fn merchant_private_key_pem(&self) -> Result<SecretString, KeyError> {
        self.merchant_key.to_pkcs8_pem()
    }

    /// The WeChat Pay public key as SPKI PEM (what the shop configures).
    #[must_use]
    pub fn wechatpay_public_key_pem(&self) -> String {
        self.inner.simulator.gateway().public_key().rsa().to_spki_pem()
    }

    /// The WeChat Pay public key with its id.
    #[must_use]
    pub fn wechatpay_public_key(&self) -> &WechatPayPublicKey {
        self.inner.simulator.gateway().public_key()
    }

    /// The WeChat Pay private key (PKCS#8 PEM), for a simulator playing WeChat Pay.
    ///
    /// # Errors
    /// [`KeyError`].
    pub fn wechatpay_private_key_pem(&self) -> Result<SecretString, KeyError> {
        self.private_key.to_pkcs8_pem()
    }

    /// The APIv3 key.
    #[must_use]
    pub fn api_v3_key(&self) -> &ApiV3Key {
        self.inner.simulator.gateway().api_v3_key()
    }

    /// Sets (or with `None` clears) a fault for every following answer.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner.control().fault = fault;
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.inner.control().requests.clone()
    }

    /// The order as the query would answer it.
    #[must_use]
    pub fn order(&self, out_trade_no: &str) -> Option<Transaction> {
        self.inner.simulator.order(out_trade_no)
    }

    /// The buyer scans and pays (see [`WechatPaySimulator::pay`]): returns the signed,
    /// encrypted `TRANSACTION.SUCCESS` notification `(headers, body)` WeChat would send.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown order or one that is not `NOTPAY`.
    pub fn pay(&self, out_trade_no: &str) -> Result<(SignatureHeaders, String), SimulatorError> {
        self.inner.simulator.pay(out_trade_no, Utc::now().timestamp())
    }

    /// WeChat finishes a refund (see [`WechatPaySimulator::complete_refund`]): returns the
    /// signed `REFUND.SUCCESS` notification `(headers, body)`.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown refund.
    pub fn complete_refund(&self, out_refund_no: &str) -> Result<(SignatureHeaders, String), SimulatorError> {
        self.inner.simulator.complete_refund(out_refund_no, Utc::now().timestamp())
    }

    /// The in-memory WeChat Pay behind the server.
    #[must_use]
    pub fn simulator(&self) -> &WechatPaySimulator {
        &self.inner.simulator
    }
}
