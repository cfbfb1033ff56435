//! The HTTP client for gateway API calls: `alipay.trade.query`, `alipay.trade.close`,
//! `alipay.trade.refund` and the statement download ([`TradeBillFile`]). The only module of
//! this crate that does I/O (reqwest, rustls, the statement's file).
//!
//! Each call is signed (protocol §3) and POSTed to the configured gateway URL like the official
//! Java SDK does: the public parameters (including `sign`) in the query string and
//! `biz_content` form-encoded in the body (`application/x-www-form-urlencoded;charset=utf-8`).
//! The whole exchange is bounded by the configured timeout. The body is read as UTF-8 text and
//! handed to [`crate::response`], which verifies the signature over the raw
//! `<method>_response` text before anything is parsed.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::amount::{MAX_TRADE_FEN, format_yuan};
use crate::bill::{
    BILL_METHOD, BillError, BillLine, BillSummary, bill_date, parse_download_url_response,
    read_trade_bill_zip,
};
use crate::form::encode_pairs;
use crate::keys::{AlipayPublicKey, AppPrivateKey};
use crate::pagepay::{PagePay, PagePayError};
use crate::request::signed_params;
use crate::response::{
    CloseOutcome, GatewayError, QueryOutcome, RefundOutcome, parse_close_response, parse_query_response,
    parse_refund_response,
};

/// Production gateway.
pub const PRODUCTION_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
/// Current sandbox gateway.
pub const SANDBOX_GATEWAY: &str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";

/// Configuration of an [`AlipayClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// The app id (`app_id`).
    pub app_id: String,
    /// The gateway URL, e.g. [`PRODUCTION_GATEWAY`], [`SANDBOX_GATEWAY`] or
    /// `http://127.0.0.1:PORT/gateway.do` for a fake gateway.
    pub gateway_url: String,
    /// The app private key (signs requests).
    pub app_private_key: AppPrivateKey,
    /// Alipay's public key (verifies responses).
    pub alipay_public_key: AlipayPublicKey,
    /// Upper bound for one whole HTTP exchange (connect, send, receive).
    pub timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("app_id", &self.app_id)
            .field("gateway_url", &self.gateway_url)
            .field("app_private_key", &self.app_private_key)
            .field("alipay_public_key", &self.alipay_public_key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Client for Alipay gateway calls. Cheap to clone (shares the connection pool).
#[derive(Clone, Debug)]
pub struct AlipayClient {
    config: ClientConfig,
    http: reqwest::Client,
}

#[derive(Serialize)]
struct TradeRef<'a> {
    out_trade_no: &'a str,
}

#[derive(Serialize)]
struct BillBiz<'a> {
    bill_type: &'a str,
    bill_date: String,
}

#[derive(Serialize)]
struct RefundBiz<'a> {
    out_trade_no: &'a str,
    refund_amount: String,
    out_request_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_reason: Option<&'a str>,
}

fn map_reqwest(e: &reqwest::Error) -> GatewayError {
    if e.is_timeout() {
        GatewayError::Timeout
    } else {
        // Without the URL: it carries the signed query string, which is noise in logs.
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        GatewayError::Transport(msg)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, GatewayError> {
    serde_json::to_string(value).map_err(|e| GatewayError::InvalidRequest(e.to_string()))
}

fn check_out_no(name: &str, value: &str) -> Result<(), GatewayError> {
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(GatewayError::InvalidRequest(format!(
            "{name} must be 1 to 64 printable ASCII characters"
        )));
    }
    Ok(())
}

impl AlipayClient {
    /// Creates a client.
    ///
    /// # Errors
    /// [`GatewayError::InvalidRequest`] for an empty `app_id`, a gateway URL that is not an
    /// absolute http(s) URL, a zero timeout, or if the HTTP client cannot be built.
    pub fn new(config: ClientConfig) -> Result<Self, GatewayError> {
        if config.app_id.trim().is_empty() {
            return Err(GatewayError::InvalidRequest("app_id is empty".into()));
        }
        let url = url::Url::parse(&config.gateway_url)
            .map_err(|e| GatewayError::InvalidRequest(format!("gateway_url: {e}")))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(GatewayError::InvalidRequest("gateway_url must be http or https".into()));
        }
        if config.timeout.is_zero() {
            return Err(GatewayError::InvalidRequest("timeout is zero".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("shop-alipay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::InvalidRequest(format!("http client: {e}")))?;
        Ok(AlipayClient { config, http })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The signed page-pay URL for `request` (see [`PagePay::build_url`]), with the configured
    /// gateway, app id and key. `now` is the request timestamp.
    ///
    /// # Errors
    /// [`PagePayError`].
    pub fn page_pay_url(&self, request: &PagePay, now: DateTime<Utc>) -> Result<String, PagePayError> {
        request.build_url(&self.config.gateway_url, &self.config.app_id, &self.config.app_private_key, now)
    }

    /// Signs and POSTs one call; returns the response body text.
    async fn call(&self, method: &str, biz_content: String) -> Result<String, GatewayError> {
        let params = signed_params(
            &self.config.app_id,
            method,
            &biz_content,
            &[],
            &self.config.app_private_key,
            Utc::now(),
        )?;
        let (body_params, query_params): (Vec<_>, Vec<_>) =
            params.into_iter().partition(|(k, _)| k == "biz_content");
        let sep = if self.config.gateway_url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}{}", self.config.gateway_url, encode_pairs(&query_params));
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded;charset=utf-8")
            .body(encode_pairs(&body_params))
            .send()
            .await
            .map_err(|e| map_reqwest(&e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GatewayError::HttpStatus { status: status.as_u16() });
        }
        let bytes = response.bytes().await.map_err(|e| map_reqwest(&e.without_url()))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| GatewayError::MalformedResponse("body is not UTF-8".into()))
    }

    /// `alipay.trade.query` by `out_trade_no`.
    ///
    /// # Errors
    /// A [`GatewayError`]; `ACQ.TRADE_NOT_EXIST` is not an error but
    /// [`QueryOutcome::NotExist`].
    pub async fn trade_query(&self, out_trade_no: &str) -> Result<QueryOutcome, GatewayError> {
        check_out_no("out_trade_no", out_trade_no)?;
        let biz = to_json(&TradeRef { out_trade_no })?;
        let body = self.call("alipay.trade.query", biz).await?;
        parse_query_response(&body, out_trade_no, &self.config.alipay_public_key)
    }

    /// `alipay.trade.close` by `out_trade_no`.
    ///
    /// # Errors
    /// A [`GatewayError`]; `ACQ.TRADE_NOT_EXIST` and `ACQ.TRADE_STATUS_ERROR` are outcomes, not
    /// errors.
    pub async fn trade_close(&self, out_trade_no: &str) -> Result<CloseOutcome, GatewayError> {
        check_out_no("out_trade_no", out_trade_no)?;
        let biz = to_json(&TradeRef { out_trade_no })?;
        let body = self.call("alipay.trade.close", biz).await?;
        parse_close_response(&body, &self.config.alipay_public_key)
    }

    /// `alipay.trade.refund` of `refund_amount_fen` fen. `out_request_no` is the idempotency
    /// key: after a timeout or a retryable error, retry with the same value.
    ///
    /// # Errors
    /// A [`GatewayError`].
    pub async fn trade_refund(
        &self,
        out_trade_no: &str,
        refund_amount_fen: i64,
        out_request_no: &str,
        reason: Option<&str>,
    ) -> Result<RefundOutcome, GatewayError> {
        check_out_no("out_trade_no", out_trade_no)?;
        check_out_no("out_request_no", out_request_no)?;
        if !(1..=MAX_TRADE_FEN).contains(&refund_amount_fen) {
            return Err(GatewayError::InvalidRequest(format!(
                "refund amount {refund_amount_fen} fen is out of range"
            )));
        }
        let biz = to_json(&RefundBiz {
            out_trade_no,
            refund_amount: format_yuan(refund_amount_fen),
            out_request_no,
            refund_reason: reason.filter(|r| !r.is_empty()),
        })?;
        let body = self.call("alipay.trade.refund", biz).await?;
        parse_refund_response(&body, &self.config.alipay_public_key)
    }

    /// `alipay.data.dataservice.bill.downloadurl.query` for the trade statement of `day`
    /// (Beijing time): the short-lived URL of the statement zip.
    ///
    /// # Errors
    /// A [`GatewayError`] (e.g. `isp.bill_not_exist` while the statement is not ready).
    pub async fn bill_download_url(&self, day: chrono::NaiveDate) -> Result<String, GatewayError> {
        let biz = to_json(&BillBiz { bill_type: "trade", bill_date: bill_date(day) })?;
        let body = self.call(BILL_METHOD, biz).await?;
        parse_download_url_response(&body, &self.config.alipay_public_key)
    }

    /// Downloads the statement zip at `url` into a temporary file (the body is streamed, never
    /// held whole in memory) and verifies it whole ([`TradeBillFile`]): a statement that is
    /// refused is refused before any of its rows is used.
    ///
    /// # Errors
    /// [`BillError`]: the download failed, or the file is not a statement (see [`crate::bill`]).
    pub async fn download_trade_bill(&self, url: &str) -> Result<TradeBillFile, BillError> {
        let mut response =
            self.http.get(url).send().await.map_err(|e| BillError::Gateway(map_reqwest(&e.without_url())))?;
        if !response.status().is_success() {
            return Err(BillError::Gateway(GatewayError::HttpStatus { status: response.status().as_u16() }));
        }
        let mut file = TradeBillFile::temporary()?;
        while let Some(chunk) =
            response.chunk().await.map_err(|e| BillError::Gateway(map_reqwest(&e.without_url())))?
        {
            file.append(&chunk)?;
        }
        file.verified()
    }
}

/// A trade statement zip on disk, verified whole: a first pass reads every row of its detail
/// file (zip integrity, encoding, format, end marker, totals) and keeps nothing but the
/// counts, so whatever its size it is accepted or refused before any row is used; then
/// [`TradeBillFile::read`] reads the same bytes again, row by row, as often as asked. A
/// downloaded file is a temporary file, removed when this is dropped.
#[derive(Debug)]
pub struct TradeBillFile {
    file: std::fs::File,
    /// A temporary file's path (removed on drop); `None` for a file of the caller's.
    temporary: Option<std::path::PathBuf>,
    summary: BillSummary,
}

impl TradeBillFile {
    /// A statement zip downloaded before (e.g. from the merchant console), verified whole.
    ///
    /// # Errors
    /// [`BillError::Download`] when it cannot be opened; otherwise as [`read_trade_bill_zip`].
    pub fn open(path: &std::path::Path) -> Result<Self, BillError> {
        let file =
            std::fs::File::open(path).map_err(|e| BillError::Download(format!("{}: {e}", path.display())))?;
        TradeBillFile { file, temporary: None, summary: BillSummary::default() }.verified()
    }

    fn temporary() -> Result<Self, BillError> {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let path = std::env::temp_dir().join(format!("shop-alipay-bill-{}-{nanos}.zip", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| BillError::Download(format!("{}: {e}", path.display())))?;
        Ok(TradeBillFile { file, temporary: Some(path), summary: BillSummary::default() })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), BillError> {
        use std::io::Write;
        self.file.write_all(bytes).map_err(|e| BillError::Download(e.to_string()))
    }

    /// The first pass: every row read, none kept.
    fn verified(mut self) -> Result<Self, BillError> {
        self.summary = self.read(|_| {})?;
        Ok(self)
    }

    /// The rows of the detail file, as the verifying pass counted them.
    #[must_use]
    pub fn summary(&self) -> BillSummary {
        self.summary
    }

    /// Reads the file from its start and hands every row of its detail file to `on_line`, in
    /// order (blocking file I/O and decompression).
    ///
    /// # Errors
    /// As [`read_trade_bill_zip`] (after the verifying pass, only an I/O error can occur).
    pub fn read(&self, on_line: impl FnMut(BillLine)) -> Result<BillSummary, BillError> {
        use std::io::Seek;
        let mut file = &self.file;
        file.rewind().map_err(|e| BillError::Download(e.to_string()))?;
        read_trade_bill_zip(std::io::BufReader::new(file), on_line)
    }
}

impl Drop for TradeBillFile {
    fn drop(&mut self) {
        if let Some(path) = &self.temporary {
            let _ = std::fs::remove_file(path);
        }
    }
}
