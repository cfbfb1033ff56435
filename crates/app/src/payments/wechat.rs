//! WeChat Pay API v3, Native payment (a QR code on the PC web page), behind the [`Provider`]
//! interface: the Native order made when our order is, the signed and encrypted notification,
//! the order query, close and refund. The protocol is `shop-wechatpay`'s; this module only
//! translates, and checks what the protocol leaves to the merchant (our `mchid` and `appid`).
//!
//! With `wechatpay.mode = "simulator"` (development and tests) WeChat Pay's merchant API is
//! played in memory ([`WechatSimulator`], served by the HTTP layer at `/v3/...` on this server,
//! so the production client talks to it over HTTP); its keys are generated once and kept in
//! `alipay.simulator_key_dir`.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use chrono::Utc;
use rand::Rng as _;
use secrecy::ExposeSecret;
use shop_domain::order::PayType;
use shop_wechatpay::bill::BillKind;
use shop_wechatpay::gateway::WechatPayGateway;
use shop_wechatpay::model::parse_time;
use shop_wechatpay::simulator::{SignedAnswer, WechatPaySimulator};
use shop_wechatpay::{
    ApiError, ApiV3Key, ClientConfig, MerchantPrivateKey, NativeOrder, NotifyEvent, QueryOutcome,
    RefundRequest, RefundStatus, SignatureHeaders, TradeBillFile, Transaction, WechatPayClient,
    WechatPayPublicKey, verify_notification,
};

use super::keys::{kept_text, text_or_file};
use super::provider::{
    Headers, NewPayment, Notice, PayLinks, Provider, ProviderError, QueryAnswer, RefundAnswer, RefundCall,
    RefundFacts, Rejected, Statement, StatementKind, StatementLine, TradeFacts, TradeRef, TradeState,
    VerifiedNotice, storable,
};
use crate::config::{AlipayMode, Settings, WechatPaySettings};
use crate::error::{AppError, AppResult};
use crate::i18n::msg;

/// Where the notifications are posted (no login).
pub const NOTIFY_PATH: &str = "/api/v1/order/wechat/notify/";
/// Our cashier page showing the QR code (`?out_trade_no=`).
pub const CASHIER_PATH: &str = "/pay/wechat/";
/// The id of the simulator's WeChat Pay public key.
const SIMULATOR_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0000SIMULATOR0000000001";
/// The simulator's merchant certificate serial.
const SIMULATOR_SERIAL_NO: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

impl From<ApiError> for ProviderError {
    fn from(e: ApiError) -> Self {
        if e.is_retryable() {
            ProviderError::Retryable(e.to_string())
        } else {
            ProviderError::Permanent(e.to_string())
        }
    }
}

/// The keys of one merchant, and in simulator mode WeChat Pay's side.
struct Keys {
    merchant: MerchantPrivateKey,
    public: WechatPayPublicKey,
    api_v3: ApiV3Key,
    serial_no: String,
    simulator: Option<WechatPayGateway>,
}

fn api_v3_key(text: &str) -> anyhow::Result<ApiV3Key> {
    ApiV3Key::parse(text).map_err(|e| anyhow::anyhow!("wechatpay.api_v3_key: {e}"))
}

impl Keys {
    fn load(w: &WechatPaySettings, key_dir: &std::path::Path) -> anyhow::Result<Self> {
        let merchant_text = text_or_file(
            w.merchant_private_key.expose_secret(),
            &w.merchant_private_key_file,
            "wechatpay.merchant_private_key",
        )?;
        let merchant = |text: &str| {
            MerchantPrivateKey::parse(text)
                .map_err(|e| anyhow::anyhow!("wechatpay.merchant_private_key: {e}"))
        };
        match w.mode {
            AlipayMode::Gateway => {
                let merchant =
                    merchant(&merchant_text.context(
                        "wechatpay.merchant_private_key (or merchant_private_key_file) is not set",
                    )?)?;
                let public_text = text_or_file(
                    &w.platform_public_key,
                    &w.platform_public_key_file,
                    "wechatpay.platform_public_key",
                )?
                .context("wechatpay.platform_public_key (or platform_public_key_file) is not set")?;
                let public = WechatPayPublicKey::parse(&w.platform_public_key_id, &public_text)
                    .map_err(|e| anyhow::anyhow!("wechatpay.platform_public_key: {e}"))?;
                let api_v3 = api_v3_key(w.api_v3_key.expose_secret())?;
                if w.merchant_serial_no.is_empty() {
                    anyhow::bail!("wechatpay.merchant_serial_no is not set");
                }
                Ok(Keys {
                    merchant,
                    public,
                    api_v3,
                    serial_no: w.merchant_serial_no.clone(),
                    simulator: None,
                })
            }
            AlipayMode::Simulator => {
                let generated = || {
                    let key = MerchantPrivateKey::generate().context("generating a simulator key")?;
                    Ok(key.to_pkcs8_pem().context("encoding a simulator key")?.expose_secret().to_owned())
                };
                let merchant = match merchant_text {
                    Some(text) => merchant(&text)?,
                    None => merchant(&kept_text(key_dir, "wechatpay_merchant_private_key.pem", generated)?)?,
                };
                let wechat = MerchantPrivateKey::parse(&kept_text(
                    key_dir,
                    "simulator_wechatpay_private_key.pem",
                    generated,
                )?)
                .context("simulator key")?;
                let api_v3 = if w.api_v3_key.expose_secret().is_empty() {
                    api_v3_key(&kept_text(key_dir, "wechatpay_api_v3_key.txt", || {
                        let mut rng = rand::thread_rng();
                        Ok((0..32)
                            .map(|_| char::from(rng.sample(rand::distributions::Alphanumeric)))
                            .collect())
                    })?)?
                } else {
                    api_v3_key(w.api_v3_key.expose_secret())?
                };
                let id = if w.platform_public_key_id.is_empty() {
                    SIMULATOR_PUBLIC_KEY_ID
                } else {
                    &w.platform_public_key_id
                };
                let serial_no = if w.merchant_serial_no.is_empty() {
                    SIMULATOR_SERIAL_NO.to_owned()
                } else {
                    w.merchant_serial_no.clone()
                };
                let gateway = WechatPayGateway::new(
                    wechat,
                    id,
                    api_v3.clone(),
                    &w.mch_id,
                    &serial_no,
                    merchant.public_key().context("simulator key")?,
                )
                .context("the WeChat Pay simulator")?;
                Ok(Keys {
                    merchant,
                    public: gateway.public_key().clone(),
                    api_v3,
                    serial_no,
                    simulator: Some(gateway),
                })
            }
        }
    }
}

/// The client and the URLs, known once the server's public URL is.
struct Endpoints {
    client: WechatPayClient,
    notify_url: String,
    cashier_url: String,
}

/// WeChat Pay Native.
pub struct WechatPayProvider {
    settings: WechatPaySettings,
    timeout: Duration,
    keys: Keys,
    endpoints: ArcSwap<Endpoints>,
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn state_of(state: &shop_wechatpay::TradeState) -> TradeState {
    use shop_wechatpay::TradeState as W;
    match state {
        s if s.money_received() => TradeState::Paid,
        W::Closed | W::Revoked => TradeState::Closed,
        _ => TradeState::Waiting,
    }
}

impl WechatPayProvider {
    /// WeChat Pay of `settings`, or `None` when it is not enabled; with the simulator's side
    /// in simulator mode.
    ///
    /// # Errors
    /// A message naming the malformed or missing key.
    pub(super) fn new(
        settings: &Settings,
        public_url: &str,
    ) -> anyhow::Result<Option<(Self, Option<Arc<WechatSimulator>>)>> {
        let w = &settings.wechatpay;
        if !w.enabled() {
            return Ok(None);
        }
        let mut keys = Keys::load(w, &settings.alipay.simulator_key_dir)?;
        let simulator = keys.simulator.take().map(|gateway| {
            Arc::new(WechatSimulator {
                sim: WechatPaySimulator::new(gateway, &w.app_id),
                http: reqwest::Client::new(),
            })
        });
        let timeout = Duration::from_secs(settings.alipay.http_timeout_seconds.max(1));
        let endpoints = ArcSwap::from_pointee(Self::endpoints(w, &keys, timeout, public_url)?);
        Ok(Some((WechatPayProvider { settings: w.clone(), timeout, keys, endpoints }, simulator)))
    }

    fn endpoints(
        w: &WechatPaySettings,
        keys: &Keys,
        timeout: Duration,
        public_url: &str,
    ) -> anyhow::Result<Endpoints> {
        let base_url = match w.mode {
            // The simulator answers at /v3/... on this server.
            AlipayMode::Simulator => public_url.to_owned(),
            AlipayMode::Gateway => w.gateway_url.clone(),
        };
        let client = WechatPayClient::new(ClientConfig {
            mch_id: w.mch_id.clone(),
            app_id: w.app_id.clone(),
            merchant_serial_no: keys.serial_no.clone(),
            merchant_private_key: keys.merchant.clone(),
            wechatpay_public_key: keys.public.clone(),
            base_url,
            timeout,
        })
        .map_err(|e| anyhow::anyhow!("wechatpay client: {e}"))?;
        let notify_url =
            if w.notify_url.is_empty() { format!("{public_url}{NOTIFY_PATH}") } else { w.notify_url.clone() };
        Ok(Endpoints { client, notify_url, cashier_url: format!("{public_url}{CASHIER_PATH}") })
    }

    /// Re-targets the client and URLs once the server knows its public URL.
    pub(super) fn set_public_url(&self, public_url: &str) -> anyhow::Result<()> {
        let endpoints = Self::endpoints(&self.settings, &self.keys, self.timeout, public_url)?;
        self.endpoints.store(Arc::new(endpoints));
        Ok(())
    }

    /// Where WeChat Pay posts notifications.
    pub fn notify_url(&self) -> String {
        self.endpoints.load().notify_url.clone()
    }

    fn facts(tx: &Transaction) -> Result<TradeFacts, String> {
        let total = tx.total_fen().ok_or("the transaction has no amount.total")?;
        Ok(TradeFacts {
            out_trade_no: tx.out_trade_no.clone(),
            state: state_of(&tx.trade_state),
            status_text: tx.trade_state.as_str().to_owned(),
            trade_no: tx.transaction_id.clone().unwrap_or_default(),
            total_amount_fen: total,
            paid_at: tx.success_time.as_deref().and_then(parse_time),
            refund_fee_fen: None,
        })
    }
}

#[async_trait::async_trait]
impl Provider for WechatPayProvider {
    fn pay_type(&self) -> PayType {
        PayType::WechatPay
    }

    fn name(&self) -> &'static str {
        "wechatpay"
    }

    /// `POST /v3/pay/transactions/native`: the `code_url` to show as a QR code.
    async fn create(&self, p: &NewPayment) -> Result<String, ProviderError> {
        let endpoints = self.endpoints.load_full();
        let order = NativeOrder {
            description: cut(&p.subject, shop_wechatpay::model::MAX_DESCRIPTION_BYTES).to_owned(),
            out_trade_no: p.out_trade_no.clone(),
            time_expire: p.expires_at,
            notify_url: endpoints.notify_url.clone(),
            total_fen: p.total_fen,
            attach: None,
        };
        Ok(endpoints.client.native_create(&order).await?.code_url)
    }

    fn links(&self, out_trade_no: &str, stored: &str) -> PayLinks {
        let cashier = &self.endpoints.load().cashier_url;
        PayLinks {
            pay_url: format!("{cashier}?out_trade_no={out_trade_no}"),
            code_url: Some(stored.to_owned()),
        }
    }

    /// The five `Wechatpay-*` headers and the signature over the raw body (timestamp within
    /// 300 s, signature probes refused), the envelope, the decryption of the resource with the
    /// APIv3 key, then our `mchid` and (payments) `appid`.
    fn verify_notification(&self, body: &[u8], headers: &Headers) -> Result<VerifiedNotice, Rejected> {
        // For the audit log only (unverified, never acted on): the envelope's id.
        let envelope_id = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(|id| storable(id, 64)));
        let rejected =
            |reason: String| Rejected { reason, notify_id: envelope_id.clone(), ..Rejected::default() };
        let signature = SignatureHeaders::from_lookup(|name| headers.get(name).map(str::to_owned))
            .map_err(|e| rejected(format!("verification failed: {e}")))?;
        let verified = verify_notification(
            &signature,
            body,
            &self.keys.public,
            &self.keys.api_v3,
            Utc::now().timestamp(),
        )
        .map_err(|e| rejected(format!("verification failed: {e}")))?;
        let notify_id = verified.envelope.id.clone();
        let event = verified.envelope.event_type.clone();
        let with = |out_trade_no: &str, status: &str, reason: String| Rejected {
            reason,
            out_trade_no: Some(storable(out_trade_no, 64)),
            notify_id: Some(storable(&notify_id, 64)),
            status_text: Some(storable(status, 32)),
            authentic: true,
        };
        let notice = match verified.event {
            NotifyEvent::Transaction(tx) => {
                let status = tx.trade_state.as_str().to_owned();
                if tx.mchid != self.settings.mch_id {
                    return Err(with(&tx.out_trade_no, &status, format!("mchid {} is not ours", tx.mchid)));
                }
                if tx.appid != self.settings.app_id {
                    return Err(with(&tx.out_trade_no, &status, format!("appid {} is not ours", tx.appid)));
                }
                Notice::Trade(Self::facts(&tx).map_err(|why| with(&tx.out_trade_no, &status, why))?)
            }
            NotifyEvent::Refund(refund) => {
                let status = refund.refund_status.as_str().to_owned();
                if refund.mchid != self.settings.mch_id {
                    return Err(with(
                        &refund.out_trade_no,
                        &status,
                        format!("mchid {} is not ours", refund.mchid),
                    ));
                }
                Notice::Refund(RefundFacts {
                    out_trade_no: refund.out_trade_no.clone(),
                    out_request_no: refund.out_refund_no.clone(),
                    refund_fen: refund.amount.refund,
                    succeeded: refund.refund_status == RefundStatus::Success,
                    status_text: format!("REFUND.{status}"),
                })
            }
            NotifyEvent::Other => Notice::Ignored { event },
        };
        Ok(VerifiedNotice { notify_id, notice })
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`; a signed `ORDER_NOT_EXIST` is "not
    /// found". `trade_state: REFUND` counts as paid (the money was received).
    async fn query(&self, trade: TradeRef<'_>) -> Result<QueryAnswer, ProviderError> {
        let out_trade_no = trade.out_trade_no;
        match self.endpoints.load().client.query_by_out_trade_no(out_trade_no).await? {
            QueryOutcome::Found(tx) => {
                Ok(QueryAnswer::Found(Self::facts(&tx).map_err(ProviderError::Permanent)?))
            }
            QueryOutcome::NotFound => Ok(QueryAnswer::NotFound),
        }
    }

    /// Closing a paid, closed or unknown order is not an error (the query brings money in).
    async fn close(&self, trade: TradeRef<'_>) -> Result<(), ProviderError> {
        let out_trade_no = trade.out_trade_no;
        match self.endpoints.load().client.close(out_trade_no).await {
            Ok(()) => Ok(()),
            Err(ApiError::Api { code, signed: true, .. })
                if matches!(code.as_str(), "ORDERPAID" | "ORDER_CLOSED" | "ORDER_NOT_EXIST") =>
            {
                tracing::warn!(order.out_trade_no = %out_trade_no, wechatpay.code = %code, "close refused: the order is not waiting for payment");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v3/refund/domestic/refunds`, idempotent by `out_refund_no`: `PROCESSING` first,
    /// asked again with the same number, or settled by the `REFUND.SUCCESS` notification.
    async fn refund(&self, call: &RefundCall<'_>) -> Result<RefundAnswer, ProviderError> {
        let endpoints = self.endpoints.load_full();
        let reason: String = call.reason.chars().take(80).collect();
        let request = RefundRequest {
            out_trade_no: call.out_trade_no.to_owned(),
            out_refund_no: call.out_request_no.to_owned(),
            reason: Some(reason),
            notify_url: Some(endpoints.notify_url.clone()),
            refund_fen: call.amount_fen,
            total_fen: call.total_fen,
        };
        let refund = endpoints.client.refund(&request).await?;
        match refund.status {
            RefundStatus::Success => Ok(RefundAnswer::Done { refunded_total_fen: None }),
            RefundStatus::Processing => Ok(RefundAnswer::Processing),
            other => Err(ProviderError::Permanent(format!("refund {}: {other}", call.out_request_no))),
        }
    }

    /// `GET /v3/bill/tradebill` (type `ALL`), then the signed download of its `download_url`,
    /// checked against its SHA1 `hash_value`, read row by row.
    async fn statement(&self, day: chrono::NaiveDate) -> Result<Box<dyn Statement>, ProviderError> {
        let client = self.endpoints.load_full().client.clone();
        let answer = client.trade_bill(day).await?;
        let file = client.download_trade_bill(&answer).await.map_err(refused)?;
        Ok(Box::new(WechatPayStatement(file)))
    }

    fn statement_file(&self, path: &std::path::Path) -> Result<Box<dyn Statement>, ProviderError> {
        Ok(Box::new(WechatPayStatement(TradeBillFile::open(path).map_err(refused)?)))
    }
}

fn refused(e: shop_wechatpay::bill::BillError) -> ProviderError {
    match e {
        shop_wechatpay::bill::BillError::Api(api) => ProviderError::from(api),
        other => ProviderError::Permanent(format!("refused: {other}")),
    }
}

/// A verified WeChat Pay trade bill, read back as statement lines.
struct WechatPayStatement(TradeBillFile);

impl Statement for WechatPayStatement {
    fn lines(&self) -> u64 {
        self.0.rows()
    }

    fn read(&self, on_line: &mut dyn FnMut(StatementLine)) -> Result<(), ProviderError> {
        self.0
            .read(|l| {
                on_line(StatementLine {
                    kind: match l.kind {
                        BillKind::Payment => StatementKind::Payment,
                        BillKind::Refund => StatementKind::Refund,
                    },
                    out_trade_no: l.out_trade_no,
                    trade_no: l.transaction_id,
                    amount_fen: l.amount_fen,
                    refund_no: l.out_refund_no,
                    at: l.at,
                });
            })
            .map(|_| ())
            .map_err(refused)
    }
}

/// The failure answer WeChat Pay expects: `{"code":"FAIL","message":..}`.
pub fn failure_body(message: &str) -> String {
    shop_wechatpay::failure_body(message)
}

/// The development simulator of WeChat Pay: its merchant API in memory (served at `/v3/...`),
/// and the buyer who scans and pays.
pub struct WechatSimulator {
    sim: WechatPaySimulator,
    http: reqwest::Client,
}

impl WechatSimulator {
    /// Answers a merchant API call (what WeChat Pay answers, signed). A refund answers
    /// `PROCESSING`; a moment later WeChat Pay "finishes" it and sends the signed, encrypted
    /// `REFUND.SUCCESS` notification to `notify_url`, as the real one does.
    pub fn handle(
        self: &Arc<Self>,
        method: &str,
        path_and_query: &str,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        notify_url: String,
    ) -> SignedAnswer {
        let answer = self.sim.handle(method, path_and_query, header, body, Utc::now().timestamp());
        if method == "POST" && path_and_query == "/v3/refund/domestic/refunds" && answer.status == 200 {
            let refund_no = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("out_refund_no").and_then(|n| n.as_str()).map(str::to_owned));
            if let Some(no) = refund_no {
                let this = Arc::clone(self);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    match this.sim.complete_refund(&no, Utc::now().timestamp()) {
                        Ok((headers, body)) => {
                            if let Err(e) = this.send(&notify_url, &headers, body).await {
                                tracing::warn!(error = %e, "simulator: the refund notification was not delivered");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "simulator: refund not completed"),
                    }
                });
            }
        }
        answer
    }

    /// The buyer scans the QR code and pays: the order becomes paid at the simulator, which
    /// posts its signed, encrypted notification to `notify_url` over HTTP (through the shop's
    /// normal verification).
    ///
    /// # Errors
    /// `BadRequest` for an unknown order or one not waiting for payment; `Unavailable` when the
    /// shop does not answer 2xx.
    pub async fn pay(&self, out_trade_no: &str, notify_url: &str) -> AppResult<()> {
        let (headers, body) = self
            .sim
            .pay(out_trade_no, Utc::now().timestamp())
            .map_err(|e| AppError::BadRequest(msg::simulator_refused(e)))?;
        self.send(notify_url, &headers, body).await
    }

    async fn send(&self, notify_url: &str, headers: &SignatureHeaders, body: String) -> AppResult<()> {
        let mut request = self
            .http
            .post(notify_url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(15))
            .body(body);
        for (name, value) in headers.to_pairs() {
            request = request.header(name, value);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| AppError::Unavailable(format!("the notification could not be delivered: {e}")))?;
        if !answer.status().is_success() {
            return Err(AppError::Unavailable(format!(
                "the shop answered {} to the notification",
                answer.status().as_u16()
            )));
        }
        Ok(())
    }
}
