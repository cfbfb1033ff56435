//! The HTTP client (reqwest, rustls) for Native create, query, close, refund, refund query and
//! the trade bill. The only module of this crate that does I/O.
//!
//! Every request carries `Authorization` (signed over the exact bytes sent),
//! `Accept: application/json`, a `User-Agent` and `Wechatpay-Serial` (the WeChat Pay public key
//! id). Every answer's signature is verified over the raw body before anything is parsed:
//! * a 2xx answer that does not verify is [`ApiError::Unverified`];
//! * a signed error answer is [`ApiError::Api`] with WeChat's `code` and `signed: true` (or a
//!   typed outcome such as [`QueryOutcome::NotFound`]);
//! * an error answer without signature headers (WeChat cannot sign a `SIGN_ERROR`; the
//!   official SDKs do not check error answers) is [`ApiError::Api`] with `signed: false`: its
//!   code is for logs and diagnosis only and never becomes a typed outcome; without a JSON error
//!   body (e.g. a proxy's 502) it is [`ApiError::HttpStatus`].

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, USER_AGENT};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bill::{BillError, BillLine, HashCheck, TradeBillAnswer, read_trade_bill, tradebill_path};
use crate::keys::{MerchantPrivateKey, WechatPayPublicKey};
use crate::model::{
    CloseBody, ErrorBody, InvalidRequest, NativeCreated, NativeOrder, Refund, RefundRequest, Transaction,
    check_out_refund_no, check_out_trade_no,
};
use crate::sign::{SignError, authorization, new_nonce};
use crate::verify::{SignatureHeaders, VerifyError, header, verify_signed};

/// Production API base.
pub const PRODUCTION_BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// The `User-Agent` sent.
pub const USER_AGENT_VALUE: &str = concat!("shop-wechatpay/", env!("CARGO_PKG_VERSION"));

/// Configuration of a [`WechatPayClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// Merchant id (`mchid`).
    pub mch_id: String,
    /// App id (`appid`) the Native orders are made for.
    pub app_id: String,
    /// Serial number of the merchant API certificate (`serial_no` in `Authorization`).
    pub merchant_serial_no: String,
    /// The merchant API private key.
    pub merchant_private_key: MerchantPrivateKey,
    /// The WeChat Pay public key and its id.
    pub wechatpay_public_key: WechatPayPublicKey,
    /// API base URL without trailing path, e.g. [`PRODUCTION_BASE_URL`] or a fake's URL.
    pub base_url: String,
    /// Upper bound for one whole HTTP exchange.
    pub timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("mch_id", &self.mch_id)
            .field("app_id", &self.app_id)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("merchant_private_key", &self.merchant_private_key)
            .field("wechatpay_public_key", &self.wechatpay_public_key)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Refused before sending (bad order number, amount, configuration).
    #[error(transparent)]
    InvalidRequest(#[from] InvalidRequest),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The exchange timed out: the outcome is unknown; query or retry with the same numbers.
    #[error("timeout")]
    Timeout,
    /// Connection or protocol failure.
    #[error("transport: {0}")]
    Transport(String),
    /// The answer's signature did not verify: nothing in it is trusted.
    #[error("answer not verified (HTTP {status}): {reason}")]
    Unverified {
        /// HTTP status.
        status: u16,
        /// Why.
        reason: VerifyError,
    },
    /// An unsigned error answer without a JSON error body.
    #[error("HTTP {status} without signature")]
    HttpStatus {
        /// HTTP status.
        status: u16,
    },
    /// An error answer from WeChat Pay.
    #[error("wechatpay error (HTTP {status}{}) {code}: {message}", if *signed { "" } else { ", unsigned" })]
    Api {
        /// HTTP status.
        status: u16,
        /// `code`, e.g. `PARAM_ERROR`, `ORDER_CLOSED`, `NOT_ENOUGH`, `SYSTEM_ERROR`.
        code: String,
        /// `message`.
        message: String,
        /// Whether the answer carried a signature that verified (only then can the code be
        /// trusted to decide anything).
        signed: bool,
    },
    /// A verified answer that is not the expected JSON.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

impl ApiError {
    /// Whether retrying the same call (same numbers) later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Timeout | ApiError::Transport(_) => true,
            ApiError::HttpStatus { status } | ApiError::Api { status, .. } => {
                *status >= 500 || *status == 429
            }
            ApiError::Unverified { .. }
            | ApiError::InvalidRequest(_)
            | ApiError::Sign(_)
            | ApiError::Malformed(_) => false,
        }
    }
}

/// The order query found the order, or not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per call; boxing would buy nothing
pub enum QueryOutcome {
    /// The transaction (see [`crate::TradeState`]; `REFUND` means the money was received).
    Found(Transaction),
    /// `ORDER_NOT_EXIST` (signed): WeChat knows no such order.
    NotFound,
}

/// The refund query found the refund, or not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per call; boxing would buy nothing
pub enum RefundQueryOutcome {
    /// The refund.
    Found(Refund),
    /// `RESOURCE_NOT_EXISTS` (signed).
    NotFound,
}

/// A verified answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::Malformed(e.to_string()))
    }

    fn error(&self) -> ApiError {
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(e) => ApiError::Api { status: self.status, code: e.code, message: e.message, signed: true },
            Err(_) => ApiError::Api {
                status: self.status,
                code: String::new(),
                message: String::new(),
                signed: true,
            },
        }
    }

    fn is_error_code(&self, code: &str) -> bool {
        matches!(self.error(), ApiError::Api { code: c, .. } if c == code)
    }
}

fn map_reqwest(e: &reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        ApiError::Transport(msg)
    }
}

fn lookup(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// WeChat Pay API v3 client. Cheap to clone (shares the connection pool).
#[derive(Clone, Debug)]
pub struct WechatPayClient {
    config: ClientConfig,
    base: String,
    http: reqwest::Client,
}

impl WechatPayClient {
    /// Creates a client.
    ///
    /// # Errors
    /// [`ApiError::InvalidRequest`] for an empty id, a base URL that is not absolute http(s)
    /// without path, query or fragment, a zero timeout, or if the HTTP client cannot be built.
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let invalid = |m: String| ApiError::InvalidRequest(InvalidRequest(m));
        for (name, value) in [
            ("mch_id", &config.mch_id),
            ("app_id", &config.app_id),
            ("merchant_serial_no", &config.merchant_serial_no),
        ] {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(format!("{name} must be non-empty printable ASCII")));
            }
        }
        let url = url::Url::parse(&config.base_url).map_err(|e| invalid(format!("base_url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(invalid("base_url must be http(s)://host[:port] without path".into()));
        }
        if config.timeout.is_zero() {
            return Err(invalid("timeout is zero".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("http client: {e}")))?;
        let base = config.base_url.trim_end_matches('/').to_owned();
        Ok(WechatPayClient { config, base, http })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Signs and sends one call; verifies the answer's signature.
    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ApiError> {
        let body_bytes = body.clone().unwrap_or_default();
        let auth = authorization(
            &self.config.mch_id,
            &self.config.merchant_serial_no,
            &self.config.merchant_private_key,
            method.as_str(),
            path_and_query,
            &body_bytes,
            Utc::now().timestamp(),
            &new_nonce(),
        )?;
        let mut request = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(header::SERIAL, self.config.wechatpay_public_key.id());
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| map_reqwest(&e.without_url()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| map_reqwest(&e.without_url()))?.to_vec();
        let signature = SignatureHeaders::from_lookup(lookup(&headers));
        let signature = match signature {
            Ok(s) => s,
            Err(reason) if (200..300).contains(&status) => {
                return Err(ApiError::Unverified { status, reason });
            }
            Err(_) => {
                return Err(match serde_json::from_slice::<ErrorBody>(&body) {
                    Ok(e) => ApiError::Api { status, code: e.code, message: e.message, signed: false },
                    Err(_) => ApiError::HttpStatus { status },
                });
            }
        };
        verify_signed(&signature, &body, &self.config.wechatpay_public_key, Utc::now().timestamp())
            .map_err(|reason| ApiError::Unverified { status, reason })?;
        Ok(Answer { status, body })
    }

    fn json_body<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(value).map_err(|e| ApiError::InvalidRequest(InvalidRequest(e.to_string())))
    }

    /// `POST /v3/pay/transactions/native`: returns the `code_url` to show as a QR code.
    /// Repeating the call with the same order is safe (WeChat answers the same `code_url`).
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn native_create(&self, order: &NativeOrder) -> Result<NativeCreated, ApiError> {
        let body = Self::json_body(&order.to_body(&self.config.app_id, &self.config.mch_id)?)?;
        let answer = self.call(reqwest::Method::POST, "/v3/pay/transactions/native", Some(body)).await?;
        if answer.status != 200 {
            return Err(answer.error());
        }
        answer.json()
    }

    /// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=...`.
    ///
    /// # Errors
    /// [`ApiError`]; a signed `ORDER_NOT_EXIST` is [`QueryOutcome::NotFound`].
    pub async fn query_by_out_trade_no(&self, out_trade_no: &str) -> Result<QueryOutcome, ApiError> {
        check_out_trade_no(out_trade_no)?;
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}", self.config.mch_id);
        let answer = self.call(reqwest::Method::GET, &path, None).await?;
        match answer.status {
            200 => {
                let t: Transaction = answer.json()?;
                if t.out_trade_no != out_trade_no || t.mchid != self.config.mch_id {
                    return Err(ApiError::Malformed("answer is about another order or merchant".into()));
                }
                Ok(QueryOutcome::Found(t))
            }
            404 if answer.is_error_code("ORDER_NOT_EXIST") => Ok(QueryOutcome::NotFound),
            _ => Err(answer.error()),
        }
    }

    /// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` (answers 204).
    ///
    /// # Errors
    /// [`ApiError`] (e.g. `ORDER_CLOSED` as [`ApiError::Api`]).
    pub async fn close(&self, out_trade_no: &str) -> Result<(), ApiError> {
        check_out_trade_no(out_trade_no)?;
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        let body = Self::json_body(&CloseBody { mchid: self.config.mch_id.clone() })?;
        let answer = self.call(reqwest::Method::POST, &path, Some(body)).await?;
        if answer.status == 204 || answer.status == 200 { Ok(()) } else { Err(answer.error()) }
    }

    /// `POST /v3/refund/domestic/refunds`. The answer is normally `PROCESSING`; the outcome
    /// comes from [`WechatPayClient::query_refund`] or the refund notification. Retrying with
    /// the same `out_refund_no` is idempotent.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn refund(&self, request: &RefundRequest) -> Result<Refund, ApiError> {
        let body = Self::json_body(&request.to_body()?)?;
        let answer = self.call(reqwest::Method::POST, "/v3/refund/domestic/refunds", Some(body)).await?;
        if answer.status != 200 {
            return Err(answer.error());
        }
        answer.json()
    }

    /// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
    ///
    /// # Errors
    /// [`ApiError`]; a signed `RESOURCE_NOT_EXISTS` is [`RefundQueryOutcome::NotFound`].
    pub async fn query_refund(&self, out_refund_no: &str) -> Result<RefundQueryOutcome, ApiError> {
        check_out_refund_no(out_refund_no)?;
        let path = format!("/v3/refund/domestic/refunds/{out_refund_no}");
        let answer = self.call(reqwest::Method::GET, &path, None).await?;
        match answer.status {
            200 => Ok(RefundQueryOutcome::Found(answer.json()?)),
            404 if answer.is_error_code("RESOURCE_NOT_EXISTS") => Ok(RefundQueryOutcome::NotFound),
            _ => Err(answer.error()),
        }
    }

    /// `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL`: where the trade bill of `day`
    /// (Beijing time) is, and its SHA1.
    ///
    /// # Errors
    /// [`ApiError`] (e.g. `NO_STATEMENT_EXIST` while the bill is not ready).
    pub async fn trade_bill(&self, day: chrono::NaiveDate) -> Result<TradeBillAnswer, ApiError> {
        let answer = self.call(reqwest::Method::GET, &tradebill_path(day), None).await?;
        if answer.status != 200 {
            return Err(answer.error());
        }
        answer.json()
    }

    /// Downloads the bill `answer` announces with a signed `GET` of its URL (WeChat Pay does
    /// not sign this answer: the SHA1 `hash_value` is checked instead), streaming it into a
    /// temporary file, and verifies it whole ([`TradeBillFile`]).
    ///
    /// # Errors
    /// [`BillError`]: the download failed, the hash differs, or the file is not a bill; a bill
    /// that is refused is refused before any of its rows is used.
    pub async fn download_trade_bill(&self, answer: &TradeBillAnswer) -> Result<TradeBillFile, BillError> {
        let url = url::Url::parse(&answer.download_url)
            .map_err(|e| BillError::Api(ApiError::Malformed(format!("download_url: {e}"))))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BillError::Api(ApiError::Malformed("download_url is not http(s)".into())));
        }
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let auth = authorization(
            &self.config.mch_id,
            &self.config.merchant_serial_no,
            &self.config.merchant_private_key,
            "GET",
            &path_and_query,
            b"",
            Utc::now().timestamp(),
            &new_nonce(),
        )
        .map_err(ApiError::from)?;
        let mut response = self
            .http
            .get(url)
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(header::SERIAL, self.config.wechatpay_public_key.id())
            .send()
            .await
            .map_err(|e| BillError::Api(map_reqwest(&e.without_url())))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(BillError::Api(ApiError::HttpStatus { status }));
        }
        let mut check = HashCheck::new(answer)?;
        let mut file = TradeBillFile::temporary()?;
        while let Some(chunk) =
            response.chunk().await.map_err(|e| BillError::Api(map_reqwest(&e.without_url())))?
        {
            check.update(&chunk);
            file.append(&chunk)?;
        }
        check.finish()?;
        file.verified()
    }
}

/// A trade bill on disk, verified whole: a first pass reads every row (format, summary; the
/// SHA1 of a downloaded bill is checked while it downloads) and keeps nothing but the count,
/// so whatever its size it is accepted or refused before any row is used; then
/// [`TradeBillFile::read`] reads the same bytes again, row by row, as often as asked. A
/// downloaded bill is a temporary file, removed when this is dropped.
#[derive(Debug)]
pub struct TradeBillFile {
    file: std::fs::File,
    /// A temporary file's path (removed on drop); `None` for a file of the caller's.
    temporary: Option<std::path::PathBuf>,
    rows: u64,
}

impl TradeBillFile {
    /// A bill downloaded before (e.g. from the merchant platform), verified whole; without the
    /// announced `hash_value` there is no SHA1 to check.
    ///
    /// # Errors
    /// [`BillError::Io`] when it cannot be opened; otherwise as [`read_trade_bill`].
    pub fn open(path: &std::path::Path) -> Result<Self, BillError> {
        let file =
            std::fs::File::open(path).map_err(|e| BillError::Io(format!("{}: {e}", path.display())))?;
        TradeBillFile { file, temporary: None, rows: 0 }.verified()
    }

    fn temporary() -> Result<Self, BillError> {
        let path = std::env::temp_dir().join(format!(
            "shop-wechatpay-bill-{}-{}.csv",
            std::process::id(),
            new_nonce()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| BillError::Io(format!("{}: {e}", path.display())))?;
        Ok(TradeBillFile { file, temporary: Some(path), rows: 0 })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), BillError> {
        use std::io::Write;
        self.file.write_all(bytes).map_err(|e| BillError::Io(e.to_string()))
    }

    /// The first pass: every row read, none kept.
    fn verified(mut self) -> Result<Self, BillError> {
        self.rows = self.read(|_| {})?;
        Ok(self)
    }

    /// The rows of the bill, as the verifying pass counted them.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Reads the bill from its start and hands every row to `on_line`, in order (blocking file
    /// I/O). Returns the number of rows.
    ///
    /// # Errors
    /// As [`read_trade_bill`] (after the verifying pass, only an I/O error can occur).
    pub fn read(&self, on_line: impl FnMut(BillLine)) -> Result<u64, BillError> {
        use std::io::Seek;
        let mut file = &self.file;
        file.rewind().map_err(|e| BillError::Io(e.to_string()))?;
        read_trade_bill(std::io::BufReader::new(file), on_line)
    }
}

impl Drop for TradeBillFile {
    fn drop(&mut self) {
        if let Some(path) = &self.temporary {
            let _ = std::fs::remove_file(path);
        }
    }
}
