//! An in-memory WeChat Pay (cargo feature `gateway`): the merchant API as WeChat Pay answers
//! it — Native create, order query, close, refund, refund query — with orders and refunds kept
//! in memory, every request's `Authorization` verified and every answer signed. The development
//! simulator of `shop-app` serves it over HTTP (so the production client talks to it) and
//! plays the buyer with [`WechatPaySimulator::pay`]; the test fake (feature `fake`) wraps the
//! same type in an HTTP server with fault injection.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::bill::{BillKind, BillLine, TradeBillAnswer, sha1_hex, write_trade_bill};
use crate::gateway::WechatPayGateway;
use crate::model::{
    CloseBody, ErrorBody, NativeCreateBody, Payer, Refund, RefundAmount, RefundBody, RefundNotice,
    RefundStatus, TradeState, Transaction, TransactionAmount, check_out_refund_no, check_out_trade_no,
    format_time,
};
use crate::sign::{SignError, new_nonce};
use crate::verify::{SignatureHeaders, header};

/// The simulator could not play a part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulatorError {
    /// Signing.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// No such order or refund, or not in a state that allows it.
    #[error("{0}")]
    State(String),
}

/// A signed answer: status, the five `Wechatpay-*` headers (none if signing failed) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAnswer {
    /// HTTP status.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<(&'static str, String)>,
    /// Body (empty for 204).
    pub body: Vec<u8>,
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
struct SimRefund {
    request: RefundBody,
    refund: Refund,
}

#[derive(Debug, Default)]
struct State {
    orders: HashMap<String, Order>,
    refunds: HashMap<String, SimRefund>,
    serial: u64,
}

/// An answer before signing: status and body.
pub type Answer = (u16, Vec<u8>);

fn json<T: Serialize>(status: u16, value: &T) -> Answer {
    (status, serde_json::to_vec(value).unwrap_or_default())
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    json(status, &ErrorBody { code: code.into(), message: message.into() })
}

/// WeChat Pay's merchant API, in memory.
pub struct WechatPaySimulator {
    gateway: WechatPayGateway,
    app_id: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for WechatPaySimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPaySimulator").field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

impl WechatPaySimulator {
    /// WeChat Pay for the merchant of `gateway` and the app `app_id`.
    #[must_use]
    pub fn new(gateway: WechatPayGateway, app_id: &str) -> Self {
        WechatPaySimulator { gateway, app_id: app_id.to_owned(), state: Mutex::new(State::default()) }
    }

    /// WeChat Pay's side (keys, signing).
    #[must_use]
    pub fn gateway(&self) -> &WechatPayGateway {
        &self.gateway
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking thread must not hide the state from the others.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Answers one merchant API call and signs the answer (what WeChat Pay sends back).
    pub fn handle<F>(
        &self,
        method: &str,
        path_and_query: &str,
        header: F,
        body: &[u8],
        now: i64,
    ) -> SignedAnswer
    where
        F: Fn(&str) -> Option<String>,
    {
        let (status, body) = self.answer(method, path_and_query, header, body, now);
        let headers = self.gateway.sign(&body, now).map(|h| h.to_pairs()).unwrap_or_default();
        SignedAnswer { status, headers, body }
    }

    /// Answers one merchant API call, unsigned (see [`WechatPaySimulator::handle`]): verifies
    /// `Authorization`, `Accept`, `User-Agent` and `Wechatpay-Serial`, then plays Native create,
    /// order query, close, refund and refund query. `header` looks a request header up by name
    /// (case-insensitively); `now` is the current Unix time.
    pub fn answer<F>(&self, method: &str, path_and_query: &str, header: F, body: &[u8], now: i64) -> Answer
    where
        F: Fn(&str) -> Option<String>,
    {
        let auth = header("Authorization");
        if let Err(e) = self.gateway.verify_request(method, path_and_query, auth.as_deref(), body, now) {
            return error(401, "SIGN_ERROR", &format!("签名错误: {e}"));
        }
        if header("Accept").as_deref() != Some("application/json")
            || header("User-Agent").is_none_or(|u| u.is_empty())
        {
            return error(
                400,
                "INVALID_REQUEST",
                "HTTP 请求不符合微信支付 APIv3 接口规则 (Accept, User-Agent)",
            );
        }
        if header(header::SERIAL).as_deref() != Some(self.gateway.public_key().id()) {
            return error(400, "INVALID_REQUEST", "Wechatpay-Serial 不是有效的微信支付公钥ID");
        }
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mch_id = self.gateway.mch_id();
        match (method, segments.as_slice()) {
            ("POST", ["v3", "pay", "transactions", "native"]) => self.create(body),
            ("GET", ["v3", "pay", "transactions", "out-trade-no", no]) => {
                if query != format!("mchid={mch_id}") {
                    return error(400, "PARAM_ERROR", "mchid 参数错误");
                }
                match self.state().orders.get(*no) {
                    Some(order) => json(200, &order.transaction()),
                    None => error(404, "ORDER_NOT_EXIST", "订单不存在"),
                }
            }
            ("POST", ["v3", "pay", "transactions", "out-trade-no", no, "close"]) => self.close(no, body),
            ("POST", ["v3", "refund", "domestic", "refunds"]) => self.refund(body, now),
            ("GET", ["v3", "refund", "domestic", "refunds", no]) => match self.state().refunds.get(*no) {
                Some(r) => json(200, &r.refund),
                None => error(404, "RESOURCE_NOT_EXISTS", "退款单不存在"),
            },
            ("GET", ["v3", "bill", "tradebill"]) => {
                let Some(day) = bill_day(query) else {
                    return error(400, "PARAM_ERROR", "bill_date 或 bill_type 参数错误");
                };
                let host = header("Host").unwrap_or_else(|| "127.0.0.1".into());
                let text = self.trade_bill(day);
                json(
                    200,
                    &TradeBillAnswer {
                        hash_type: "SHA1".into(),
                        hash_value: sha1_hex(text.as_bytes()),
                        download_url: format!(
                            "http://{host}/v3/billdownload/file?token={}",
                            day.format("%Y%m%d")
                        ),
                    },
                )
            }
            ("GET", ["v3", "billdownload", "file"]) => {
                match query
                    .strip_prefix("token=")
                    .and_then(|t| chrono::NaiveDate::parse_from_str(t, "%Y%m%d").ok())
                {
                    Some(day) => (200, self.trade_bill(day).into_bytes()),
                    None => error(400, "PARAM_ERROR", "token 无效"),
                }
            }
            _ => error(404, "NOT_FOUND", "no such API"),
        }
    }

    fn create(&self, body: &[u8]) -> Answer {
        let Ok(order) = serde_json::from_slice::<NativeCreateBody>(body) else {
            return error(400, "PARAM_ERROR", "请求体不是有效的 JSON");
        };
        if order.mchid != self.gateway.mch_id() {
            return error(400, "MCH_NOT_EXISTS", "商户号不存在");
        }
        if order.appid != self.app_id {
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
            Ok(b) if b.mchid == self.gateway.mch_id() => {}
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
        state.refunds.insert(request.out_refund_no.clone(), SimRefund { request, refund });
        answer
    }

    /// The trade bill of `day` (Beijing time), built from the orders paid and the refunds
    /// completed that day, in time order.
    #[must_use]
    pub fn trade_bill(&self, day: chrono::NaiveDate) -> String {
        let on_day = |t: &Option<String>| {
            t.as_deref()
                .and_then(crate::model::parse_time)
                .filter(|t| t.with_timezone(&crate::model::beijing()).date_naive() == day)
        };
        let mut lines = Vec::new();
        let state = self.state();
        for order in state.orders.values() {
            if let (true, Some(at)) = (order.state.money_received(), on_day(&order.success_time)) {
                lines.push(BillLine {
                    kind: BillKind::Payment,
                    transaction_id: order.transaction_id.clone().unwrap_or_default(),
                    out_trade_no: order.body.out_trade_no.clone(),
                    amount_fen: order.body.amount.total,
                    out_refund_no: None,
                    at: Some(at),
                    description: order.body.description.clone(),
                });
            }
        }
        for r in state.refunds.values() {
            if let (RefundStatus::Success, Some(at)) = (&r.refund.status, on_day(&r.refund.success_time)) {
                lines.push(BillLine {
                    kind: BillKind::Refund,
                    transaction_id: r.refund.transaction_id.clone().unwrap_or_default(),
                    out_trade_no: r.refund.out_trade_no.clone(),
                    amount_fen: r.refund.amount.refund,
                    out_refund_no: Some(r.refund.out_refund_no.clone()),
                    at: Some(at),
                    description: state
                        .orders
                        .get(&r.refund.out_trade_no)
                        .map(|o| o.body.description.clone())
                        .unwrap_or_default(),
                });
            }
        }
        drop(state);
        lines.sort_by(|a, b| (a.at, &a.out_trade_no).cmp(&(b.at, &b.out_trade_no)));
        write_trade_bill(&self.app_id, self.gateway.mch_id(), &lines)
    }

    /// A payment of `total_fen` for `out_trade_no` made at WeChat Pay at `now`, whatever the
    /// shop knows of it (a trade of another system, or booked with another amount): for tests
    /// and demonstrations of reconciliation. Returns the transaction id.
    pub fn plant_payment(&self, out_trade_no: &str, total_fen: i64, description: &str, now: i64) -> String {
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let mut state = self.state();
        state.serial += 1;
        let transaction_id = format!("42000000{}{:010}", at.format("%Y%m%d"), state.serial);
        let mch_id = self.gateway.mch_id().to_owned();
        let app_id = self.app_id.clone();
        let order = state.orders.entry(out_trade_no.to_owned()).or_insert_with(|| Order {
            body: NativeCreateBody {
                appid: app_id,
                mchid: mch_id,
                description: description.to_owned(),
                out_trade_no: out_trade_no.to_owned(),
                time_expire: format_time(at),
                attach: None,
                notify_url: "https://example.invalid/notify".into(),
                amount: crate::model::OrderAmount { total: total_fen, currency: "CNY".into() },
            },
            code_url: String::new(),
            state: TradeState::NotPay,
            transaction_id: None,
            success_time: None,
            refunded_fen: 0,
        });
        order.body.amount.total = total_fen;
        order.state = TradeState::Success;
        order.success_time = Some(format_time(at));
        order.transaction_id.get_or_insert(transaction_id).clone()
    }

    /// A refund of `amount_fen` made in the merchant console (not through the API): it
    /// succeeds at once and shows in the day's bill. Returns its refund number.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown or unpaid order, or more than is left.
    pub fn console_refund(
        &self,
        out_trade_no: &str,
        amount_fen: i64,
        now: i64,
    ) -> Result<String, SimulatorError> {
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let mut state = self.state();
        state.serial += 1;
        let serial = state.serial;
        let order = state
            .orders
            .get_mut(out_trade_no)
            .filter(|o| o.state.money_received())
            .ok_or_else(|| SimulatorError::State(format!("no paid order {out_trade_no}")))?;
        if amount_fen < 1 || order.refunded_fen + amount_fen > order.body.amount.total {
            return Err(SimulatorError::State(format!("cannot refund {amount_fen} fen of {out_trade_no}")));
        }
        order.refunded_fen += amount_fen;
        order.state = TradeState::Refund;
        let total = order.body.amount.total;
        let out_refund_no = format!("MP{}{serial:08}", at.format("%Y%m%d"));
        let refund = Refund {
            refund_id: format!("50300000{}{serial:010}", at.format("%Y%m%d")),
            out_refund_no: out_refund_no.clone(),
            transaction_id: order.transaction_id.clone(),
            out_trade_no: out_trade_no.to_owned(),
            channel: Some("ORIGINAL".into()),
            user_received_account: Some("支付用户零钱".into()),
            success_time: Some(format_time(at)),
            create_time: Some(format_time(at)),
            status: RefundStatus::Success,
            amount: RefundAmount {
                total,
                refund: amount_fen,
                payer_total: Some(total),
                payer_refund: Some(amount_fen),
                currency: Some("CNY".into()),
            },
        };
        let request = RefundBody {
            out_trade_no: out_trade_no.to_owned(),
            out_refund_no: out_refund_no.clone(),
            reason: None,
            notify_url: None,
            amount: crate::model::RefundRequestAmount { refund: amount_fen, total, currency: "CNY".into() },
        };
        state.refunds.insert(out_refund_no.clone(), SimRefund { request, refund });
        Ok(out_refund_no)
    }

    /// The order as the query would answer it.
    #[must_use]
    pub fn order(&self, out_trade_no: &str) -> Option<Transaction> {
        self.state().orders.get(out_trade_no).map(Order::transaction)
    }

    /// The buyer scans and pays: the order becomes `SUCCESS`; returns the signed, encrypted
    /// `TRANSACTION.SUCCESS` notification `(headers, body)` WeChat would send.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown order or one that is not `NOTPAY`.
    pub fn pay(&self, out_trade_no: &str, now: i64) -> Result<(SignatureHeaders, String), SimulatorError> {
        let now = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let transaction = {
            let mut state = self.state();
            state.serial += 1;
            let serial = state.serial;
            let order = state
                .orders
                .get_mut(out_trade_no)
                .ok_or_else(|| SimulatorError::State(format!("no order {out_trade_no}")))?;
            if order.state != TradeState::NotPay {
                return Err(SimulatorError::State(format!("order {out_trade_no} is {}", order.state)));
            }
            order.state = TradeState::Success;
            order.transaction_id = Some(format!("42000000{}{serial:010}", now.format("%Y%m%d")));
            order.success_time = Some(format_time(now));
            order.transaction()
        };
        Ok(self.gateway.payment_notification(&transaction, now.timestamp())?)
    }

    /// WeChat finishes a refund: it becomes `SUCCESS`; returns the signed `REFUND.SUCCESS`
    /// notification `(headers, body)`.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown refund.
    pub fn complete_refund(
        &self,
        out_refund_no: &str,
        now: i64,
    ) -> Result<(SignatureHeaders, String), SimulatorError> {
        let now = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let notice = {
            let mut state = self.state();
            let r = state
                .refunds
                .get_mut(out_refund_no)
                .ok_or_else(|| SimulatorError::State(format!("no refund {out_refund_no}")))?;
            r.refund.status = RefundStatus::Success;
            r.refund.success_time = Some(format_time(now));
            RefundNotice {
                mchid: self.gateway.mch_id().to_owned(),
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
        Ok(self.gateway.refund_notification(&notice, now.timestamp())?)
    }
}

/// The day of a `bill_date=…&bill_type=ALL` query (other bill types are not played).
fn bill_day(query: &str) -> Option<chrono::NaiveDate> {
    let mut day = None;
    let mut all = false;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("bill_date", d)) => day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
            Some(("bill_type", t)) => all = t == "ALL",
            _ => return None,
        }
    }
    day.filter(|_| all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ApiV3Key, MerchantPrivateKey};
    use crate::sign::authorization;
    use crate::verify::verify_signed;

    #[test]
    fn handle_answers_signed_and_pay_changes_the_query() {
        let merchant = MerchantPrivateKey::generate().expect("key");
        let gateway = WechatPayGateway::new(
            MerchantPrivateKey::generate().expect("key"),
            "PUB_KEY_ID_01",
            ApiV3Key::parse("0123456789abcdef0123456789abcdef").expect("v3"),
            "1900000109",
            "SERIAL",
            merchant.public_key().expect("public"),
        )
        .expect("gateway");
        let sim = WechatPaySimulator::new(gateway, "wx1");
        let now = 1_800_000_000;
        let call = |method: &str, path: &str, body: &[u8]| {
            let auth =
                authorization("1900000109", "SERIAL", &merchant, method, path, body, now, "N").expect("sign");
            let lookup = |name: &str| match name {
                "Authorization" => Some(auth.clone()),
                "Accept" => Some("application/json".to_owned()),
                "User-Agent" => Some("test".to_owned()),
                "Wechatpay-Serial" => Some("PUB_KEY_ID_01".to_owned()),
                _ => None,
            };
            let answer = sim.handle(method, path, lookup, body, now);
            let headers = SignatureHeaders::from_lookup(|name| {
                answer.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
            })
            .expect("signed");
            verify_signed(&headers, &answer.body, sim.gateway().public_key(), now).expect("verifies");
            answer
        };
        let create = br#"{"appid":"wx1","mchid":"1900000109","description":"d","out_trade_no":"CS000001","time_expire":"2026-11-26T13:01:10+08:00","notify_url":"https://x.example/n","amount":{"total":5,"currency":"CNY"}}"#;
        let a = call("POST", "/v3/pay/transactions/native", create);
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let query = "/v3/pay/transactions/out-trade-no/CS000001?mchid=1900000109";
        assert!(String::from_utf8_lossy(&call("GET", query, b"").body).contains("\"NOTPAY\""));
        sim.pay("CS000001", now).expect("pay");
        assert!(String::from_utf8_lossy(&call("GET", query, b"").body).contains("\"SUCCESS\""));
        assert_eq!(
            call("GET", "/v3/pay/transactions/out-trade-no/CS000002?mchid=1900000109", b"").status,
            404
        );
        // A request signed by someone else is refused.
        let answer = sim.handle("GET", query, |_| None, b"", now);
        assert_eq!(answer.status, 401);
    }
}
