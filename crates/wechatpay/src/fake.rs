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

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use secrecy::SecretString;
use serde::Serialize;

use crate::client::ClientConfig;
use crate::gateway::WechatPayGateway;
use crate::keys::{ApiV3Key, KeyError, MerchantPrivateKey, WechatPayPublicKey};
use crate::model::{
    CloseBody, ErrorBody, NativeCreateBody, Payer, Refund, RefundAmount, RefundBody, RefundNotice,
    RefundStatus, TradeState, Transaction, TransactionAmount, check_out_refund_no, check_out_trade_no,
    format_time,
};
use crate::sign::{SignError, answer_message, new_nonce};
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

#[derive(Debug, Clone)]
struct Order {
    body: NativeCreateBody,
    code_url: String,
    state: TradeState,
    transaction_id: Option<String>,
    success_time: Option<String>,
    refunded_fen: i64,
}

impl Order {
    fn transaction(&self) -> Transaction {
        let paid = self.state.money_received();
        Transaction {
            appid: self.body.appid.clone(),
            mchid: self.body.mchid.clone(),
            out_trade_no: self.body.out_trade_no.clone(),
            transaction_id: self.transaction_id.clone(),
            trade_type: Some("NATIVE".into()),
            trade_state: self.state.clone(),
            trade_state_desc: Some(
                match self.state {
                    TradeState::Success => "支付成功",
                    TradeState::Refund => "转入退款",
                    TradeState::Closed => "订单已关闭",
                    _ => "订单未支付",
                }
                .into(),
            ),
            bank_type: paid.then(|| "OTHERS".into()),
            attach: self.body.attach.clone(),
            success_time: self.success_time.clone(),
            payer: paid.then(|| Payer { openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()) }),
            amount: Some(TransactionAmount {
                total: Some(self.body.amount.total),
                payer_total: paid.then_some(self.body.amount.total),
                currency: Some("CNY".into()),
                payer_currency: Some("CNY".into()),
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct FakeRefund {
    request: RefundBody,
    refund: Refund,
}

#[derive(Debug, Default)]
struct State {
    orders: HashMap<String, Order>,
    refunds: HashMap<String, FakeRefund>,
    fault: Option<Fault>,
    requests: Vec<SeenRequest>,
    serial: u64,
}

struct Inner {
    gateway: WechatPayGateway,
    other_key: MerchantPrivateKey,
    state: Mutex<State>,
}

type Answer = (u16, Vec<u8>);

fn json<T: Serialize>(status: u16, value: &T) -> Answer {
    (status, serde_json::to_vec(value).unwrap_or_default())
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    json(status, &ErrorBody { code: code.into(), message: message.into() })
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the fake's state from the others.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
            let mut state = self.state();
            state.requests.push(seen.clone());
            state.fault.clone()
        };
        if let Some(Fault::Delay(d)) = &fault {
            tokio::time::sleep(*d).await;
        }
        let (status, body) = match &fault {
            Some(Fault::Error(status, code, message)) => error(*status, code, message),
            _ => self.route(&seen),
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
        builder = builder.header(header::REQUEST_ID, format!("08F78BB5AF0610{:010}", self.state().serial));
        let signed = match fault {
            Some(Fault::Unsigned(s)) => {
                let mut r = Response::new(Full::new(Bytes::from_static(b"<html>502 Bad Gateway</html>")));
                *r.status_mut() = StatusCode::from_u16(*s).unwrap_or(StatusCode::BAD_GATEWAY);
                return r;
            }
            Some(Fault::BadSignature) => self.gateway.sign(&body, now).ok().and_then(|mut h| {
                let message = answer_message(&h.timestamp, &h.nonce, &body);
                h.signature = self.other_key.rsa().sign_base64(&message).ok()?;
                Some(h)
            }),
            Some(Fault::StaleTimestamp) => self.gateway.sign(&body, now - 600).ok(),
            _ => self.gateway.sign(&body, now).ok(),
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

    fn route(&self, req: &SeenRequest) -> Answer {
        let now = Utc::now().timestamp();
        if let Err(e) = self.gateway.verify_request(
            &req.method,
            &req.path_and_query,
            req.header("authorization"),
            &req.body,
            now,
        ) {
            return error(401, "SIGN_ERROR", &format!("签名错误: {e}"));
        }
        if req.header("accept") != Some("application/json")
            || req.header("user-agent").is_none_or(str::is_empty)
        {
            return error(
                400,
                "INVALID_REQUEST",
                "HTTP 请求不符合微信支付 APIv3 接口规则 (Accept, User-Agent)",
            );
        }
        if req.header(header::SERIAL) != Some(self.gateway.public_key().id()) {
            return error(400, "INVALID_REQUEST", "Wechatpay-Serial 不是有效的微信支付公钥ID");
        }
        let (path, query) = req.path_and_query.split_once('?').unwrap_or((&req.path_and_query, ""));
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["v3", "pay", "transactions", "native"]) => self.create(&req.body),
            ("GET", ["v3", "pay", "transactions", "out-trade-no", no]) => {
                if query != format!("mchid={MCH_ID}") {
                    return error(400, "PARAM_ERROR", "mchid 参数错误");
                }
                match self.state().orders.get(*no) {
                    Some(order) => json(200, &order.transaction()),
                    None => error(404, "ORDER_NOT_EXIST", "订单不存在"),
                }
            }
            ("POST", ["v3", "pay", "transactions", "out-trade-no", no, "close"]) => self.close(no, &req.body),
            ("POST", ["v3", "refund", "domestic", "refunds"]) => self.refund(&req.body, now),
            ("GET", ["v3", "refund", "domestic", "refunds", no]) => match self.state().refunds.get(*no) {
                Some(r) => json(200, &r.refund),
                None => error(404, "RESOURCE_NOT_EXISTS", "退款单不存在"),
            },
            _ => error(404, "NOT_FOUND", "no such API"),
        }
    }

    fn create(&self, body: &[u8]) -> Answer {
        let Ok(order) = serde_json::from_slice::<NativeCreateBody>(body) else {
            return error(400, "PARAM_ERROR", "请求体不是有效的 JSON");
        };
        if order.mchid != MCH_ID {
            return error(400, "MCH_NOT_EXISTS", "商户号不存在");
        }
        if order.appid != APP_ID {
            return error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
        }
        if check_out_trade_no(&order.out_trade_no).is_err()
            || order.amount.currency != "CNY"
            || order.amount.total < 1
            || chrono::DateTime::parse_from_rfc3339(&order.time_expire).is_err()
            || order.description.is_empty()
            || order.description.len() > 127
        {
            return error(400, "PARAM_ERROR", "参数错误");
        }
        let mut state = self.state();
        state.serial += 1;
        let code_url = format!("weixin://wxpay/bizpayurl?pr={}", &new_nonce()[..7]);
        match state.orders.get(&order.out_trade_no) {
            Some(existing) if existing.state == TradeState::Closed => {
                error(400, "ORDER_CLOSED", "订单已关闭")
            }
            Some(existing) if existing.state.money_received() => error(400, "ORDERPAID", "订单已支付"),
            Some(existing) if existing.body != order => error(403, "OUT_TRADE_NO_USED", "商户订单号重复"),
            Some(existing) => json(200, &serde_json::json!({ "code_url": existing.code_url })),
            None => {
                let answer = json(200, &serde_json::json!({ "code_url": code_url }));
                state.orders.insert(
                    order.out_trade_no.clone(),
                    Order {
                        body: order,
                        code_url,
                        state: TradeState::NotPay,
                        transaction_id: None,
                        success_time: None,
                        refunded_fen: 0,
                    },
                );
                answer
            }
        }
    }

    fn close(&self, no: &str, body: &[u8]) -> Answer {
        match serde_json::from_slice::<CloseBody>(body) {
            Ok(b) if b.mchid == MCH_ID => {}
            _ => return error(400, "PARAM_ERROR", "mchid 参数错误"),
        }
        let mut state = self.state();
        let Some(order) = state.orders.get_mut(no) else {
            return error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        if order.state.money_received() {
            return error(400, "ORDERPAID", "订单已支付");
        }
        order.state = TradeState::Closed;
        (204, Vec::new())
    }

    fn refund(&self, body: &[u8], now: i64) -> Answer {
        let Ok(request) = serde_json::from_slice::<RefundBody>(body) else {
            return error(400, "PARAM_ERROR", "请求体不是有效的 JSON");
        };
        if check_out_refund_no(&request.out_refund_no).is_err() || request.amount.refund < 1 {
            return error(400, "PARAM_ERROR", "参数错误");
        }
        let mut state = self.state();
        state.serial += 1;
        let serial = state.serial;
        if let Some(existing) = state.refunds.get(&request.out_refund_no) {
            return if existing.request == request {
                json(200, &existing.refund)
            } else {
                error(400, "INVALID_REQUEST", "同一退款单号的请求参数不一致")
            };
        }
        let Some(order) = state.orders.get_mut(&request.out_trade_no) else {
            return error(404, "RESOURCE_NOT_EXISTS", "订单不存在");
        };
        if !order.state.money_received() {
            return error(400, "INVALID_REQUEST", "订单未支付");
        }
        if request.amount.total != order.body.amount.total || request.amount.currency != "CNY" {
            return error(400, "PARAM_ERROR", "订单金额或币种不正确");
        }
        if order.refunded_fen + request.amount.refund > order.body.amount.total {
            return error(403, "NOT_ENOUGH", "可退金额不足");
        }
        order.refunded_fen += request.amount.refund;
        order.state = TradeState::Refund;
        let refund = Refund {
            refund_id: format!("50000000382019052709732678{serial:04}"),
            out_refund_no: request.out_refund_no.clone(),
            transaction_id: order.transaction_id.clone(),
            out_trade_no: request.out_trade_no.clone(),
            channel: Some("ORIGINAL".into()),
            user_received_account: Some("支付用户零钱".into()),
            success_time: None,
            create_time: chrono::DateTime::from_timestamp(now, 0).map(format_time),
            status: RefundStatus::Processing,
            amount: RefundAmount {
                total: request.amount.total,
                refund: request.amount.refund,
                payer_total: Some(request.amount.total),
                payer_refund: Some(request.amount.refund),
                currency: Some("CNY".into()),
            },
        };
        let answer = json(200, &refund);
        state.refunds.insert(request.out_refund_no.clone(), FakeRefund { request, refund });
        answer
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
        let inner = Arc::new(Inner { gateway, other_key, state: Mutex::new(State::default()) });
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
            wechatpay_public_key: self.inner.gateway.public_key().clone(),
            base_url: self.base_url.clone(),
            timeout,
        }
    }

    /// WeChat Pay's side (to sign notifications by hand).
    #[must_use]
    pub fn gateway(&self) -> &WechatPayGateway {
        &self.inner.gateway
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
        self.inner.gateway.public_key().rsa().to_spki_pem()
    }

    /// The WeChat Pay public key with its id.
    #[must_use]
    pub fn wechatpay_public_key(&self) -> &WechatPayPublicKey {
        self.inner.gateway.public_key()
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
        self.inner.gateway.api_v3_key()
    }

    /// Sets (or with `None` clears) a fault for every following answer.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner.state().fault = fault;
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.inner.state().requests.clone()
    }

    /// The order as the query would answer it.
    #[must_use]
    pub fn order(&self, out_trade_no: &str) -> Option<Transaction> {
        self.inner.state().orders.get(out_trade_no).map(Order::transaction)
    }

    /// The buyer scans and pays: the order becomes `SUCCESS`; returns the signed, encrypted
    /// `TRANSACTION.SUCCESS` notification `(headers, body)` WeChat would send.
    ///
    /// # Errors
    /// [`FakeError::State`] for an unknown order or one that is not `NOTPAY`.
    pub fn pay(&self, out_trade_no: &str) -> Result<(SignatureHeaders, String), FakeError> {
        let now = Utc::now();
        let transaction = {
            let mut state = self.inner.state();
            state.serial += 1;
            let serial = state.serial;
            let order = state
                .orders
                .get_mut(out_trade_no)
                .ok_or_else(|| FakeError::State(format!("no order {out_trade_no}")))?;
            if order.state != TradeState::NotPay {
                return Err(FakeError::State(format!("order {out_trade_no} is {}", order.state)));
            }
            order.state = TradeState::Success;
            order.transaction_id = Some(format!("42000000{}{serial:010}", now.format("%Y%m%d")));
            order.success_time = Some(format_time(now));
            order.transaction()
        };
        Ok(self.inner.gateway.payment_notification(&transaction, now.timestamp())?)
    }

    /// WeChat finishes a refund: it becomes `SUCCESS`; returns the signed `REFUND.SUCCESS`
    /// notification `(headers, body)`.
    ///
    /// # Errors
    /// [`FakeError::State`] for an unknown refund.
    pub fn complete_refund(&self, out_refund_no: &str) -> Result<(SignatureHeaders, String), FakeError> {
        let now = Utc::now();
        let notice = {
            let mut state = self.inner.state();
            let r = state
                .refunds
                .get_mut(out_refund_no)
                .ok_or_else(|| FakeError::State(format!("no refund {out_refund_no}")))?;
            r.refund.status = RefundStatus::Success;
            r.refund.success_time = Some(format_time(now));
            RefundNotice {
                mchid: MCH_ID.into(),
                out_trade_no: r.refund.out_trade_no.clone(),
                transaction_id: r.refund.transaction_id.clone(),
                out_refund_no: r.refund.out_refund_no.clone(),
                refund_id: r.refund.refund_id.clone(),
                refund_status: RefundStatus::Success,
                success_time: r.refund.success_time.clone(),
                user_received_account: r.refund.user_received_account.clone(),
                amount: r.refund.amount.clone(),
            }
        };
        Ok(self.inner.gateway.refund_notification(&notice, now.timestamp())?)
    }
}
