//! The development payment simulator (`alipay.mode = "simulator"`): the server plays
//! Alipay's part so the whole buy flow runs with no Alipay account. The page-pay URL points
//! at [`GATEWAY_PATH`] on this server, which verifies the signed request like the gateway
//! does and shows a cashier page; its Pay button makes the simulator send a notify signed
//! with its own "Alipay" key to `notify_url` over HTTP (through the shop's normal
//! verification) and then send the browser to `return_url` with signed return parameters.
//! `alipay.trade.query` / `close` / `refund` calls to the same path get signed answers from
//! the simulator's memory of the trades it saw (per process; development only).
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use shop_alipay::bill::{BILL_METHOD, BillKind, BillLine, trade_bill_zip};
use shop_alipay::gateway::{AlipayGateway, PaymentNotify, error_json, query_success_json};
use shop_alipay::time::{format_beijing, parse_beijing};
use shop_alipay::{AlipayPublicKey, TradeStatus, format_yuan, parse_yuan};

use crate::error::{AppError, AppResult};

/// Where the simulated gateway is served.
pub const GATEWAY_PATH: &str = "/dev/alipay/gateway.do";

/// Where the simulated gateway serves statements (the `bill_download_url`).
pub const BILL_PATH: &str = "/dev/alipay/bill.zip";

#[derive(Debug, Clone)]
struct Trade {
    trade_no: String,
    total_fen: i64,
    status: TradeStatus,
    refunded_fen: i64,
    refunds: Vec<SimRefund>,
    subject: String,
    paid_at: Option<DateTime<Utc>>,
}

/// A refund the simulator made: its request number, amount and time.
#[derive(Debug, Clone)]
struct SimRefund {
    request_no: String,
    fen: i64,
    at: DateTime<Utc>,
}

impl Trade {
    fn waiting(total_fen: i64) -> Self {
        Trade {
            trade_no: format!("{}22001{:012}", Utc::now().format("%Y%m%d"), rand::random::<u32>()),
            total_fen,
            status: TradeStatus::WaitBuyerPay,
            refunded_fen: 0,
            refunds: Vec::new(),
            subject: String::new(),
            paid_at: None,
        }
    }
}

/// What the cashier page shows.
#[derive(Debug, Clone)]
pub struct Cashier {
    /// Our order number.
    pub out_trade_no: String,
    /// Subject.
    pub subject: String,
    /// Amount in yuan (`"99.00"`).
    pub amount: String,
    /// The deadline, Beijing time, if any.
    pub time_expire: Option<String>,
    /// Whether the deadline passed.
    pub expired: bool,
    /// The signed request, posted back by the Pay button.
    pub signed_query: String,
}

/// The simulator.
pub struct Simulator {
    alipay: AlipayGateway,
    app_public_key: AlipayPublicKey,
    app_id: String,
    seller_id: String,
    trades: Mutex<HashMap<String, Trade>>,
    http: reqwest::Client,
    bill_url: Mutex<String>,
}

struct PagePayRequest {
    out_trade_no: String,
    subject: String,
    total_fen: i64,
    time_expire: Option<String>,
    expired: bool,
    notify_url: String,
    return_url: String,
}

fn bad(msg: impl Into<String>) -> AppError {
    AppError::BadRequest(crate::i18n::msg::simulator_refused(msg.into()))
}

impl Simulator {
    /// A simulator signing with `alipay` and checking requests with `app_public_key`.
    pub fn new(
        alipay: AlipayGateway,
        app_public_key: AlipayPublicKey,
        app_id: String,
        seller_id: String,
    ) -> Self {
        Simulator {
            alipay,
            app_public_key,
            app_id,
            seller_id,
            trades: Mutex::default(),
            http: reqwest::Client::new(),
            bill_url: Mutex::new(format!("http://127.0.0.1{BILL_PATH}")),
        }
    }

    /// Where statements are served (the `bill_download_url` without its query).
    pub fn set_bill_url(&self, url: String) {
        *self.bill_url.lock().unwrap_or_else(|p| p.into_inner()) = url;
    }

    fn trades(&self) -> std::sync::MutexGuard<'_, HashMap<String, Trade>> {
        self.trades.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn page_pay(&self, query: &str) -> AppResult<PagePayRequest> {
        let params = AlipayGateway::verify_request(query, b"", &self.app_public_key)
            .map_err(|e| bad(format!("the pay request does not verify: {e}")))?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        if get("method") != "alipay.trade.page.pay" {
            return Err(bad("not an alipay.trade.page.pay request"));
        }
        if get("app_id") != self.app_id {
            return Err(bad("the request is for another app_id"));
        }
        let biz: Value =
            serde_json::from_str(&get("biz_content")).map_err(|_| bad("biz_content is not JSON"))?;
        let text = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let total_fen = parse_yuan(&text("total_amount")).map_err(|e| bad(format!("total_amount: {e}")))?;
        let time_expire = biz.get("time_expire").and_then(Value::as_str).map(str::to_owned);
        let expired =
            time_expire.as_deref().and_then(|t| parse_beijing(t).ok()).is_some_and(|at| at <= Utc::now());
        Ok(PagePayRequest {
            out_trade_no: text("out_trade_no"),
            subject: text("subject"),
            total_fen,
            time_expire,
            expired,
            notify_url: get("notify_url"),
            return_url: get("return_url"),
        })
    }

    /// Opens the cashier for a signed page-pay request (the query string of the pay URL).
    ///
    /// # Errors
    /// `BadRequest` when the request does not verify.
    pub fn cashier(&self, query: &str) -> AppResult<Cashier> {
        let req = self.page_pay(query)?;
        self.trades().entry(req.out_trade_no.clone()).or_insert_with(|| Trade::waiting(req.total_fen));
        Ok(Cashier {
            out_trade_no: req.out_trade_no,
            subject: req.subject,
            amount: format_yuan(req.total_fen),
            time_expire: req.time_expire,
            expired: req.expired,
            signed_query: query.to_owned(),
        })
    }

    /// The buyer pressed Pay: notify the shop (signed, over HTTP) and return the URL the
    /// browser goes back to.
    ///
    /// # Errors
    /// `BadRequest` for an unverifiable or expired request or a trade already closed;
    /// `Unavailable` when the shop does not answer `success`.
    pub async fn pay(&self, query: &str) -> AppResult<String> {
        let req = self.page_pay(query)?;
        if req.expired {
            return Err(bad("this order's payment deadline has passed"));
        }
        let trade_no = {
            let mut trades = self.trades();
            let trade =
                trades.entry(req.out_trade_no.clone()).or_insert_with(|| Trade::waiting(req.total_fen));
            if trade.status == TradeStatus::TradeClosed {
                return Err(bad("this trade was closed"));
            }
            trade.status = TradeStatus::TradeSuccess;
            trade.subject.clone_from(&req.subject);
            trade.paid_at = Some(Utc::now());
            trade.trade_no.clone()
        };
        let now = Utc::now();
        let notify = PaymentNotify {
            app_id: self.app_id.clone(),
            seller_id: self.seller_id.clone(),
            out_trade_no: req.out_trade_no.clone(),
            trade_no: trade_no.clone(),
            notify_id: uuid::Uuid::new_v4().simple().to_string(),
            trade_status: TradeStatus::TradeSuccess,
            total_fen: req.total_fen,
            subject: req.subject.clone(),
            paid_at: now,
        };
        let body =
            self.alipay.notify_body(&notify.to_params()).map_err(|e| AppError::Unexpected(e.into()))?;
        let answer = self
            .http
            .post(&req.notify_url)
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(body)
            .timeout(std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| AppError::Unavailable(format!("the notify could not be delivered: {e}")))?
            .text()
            .await
            .map_err(|e| AppError::Unavailable(format!("the notify answer could not be read: {e}")))?;
        if answer != "success" {
            return Err(AppError::Unavailable(format!("the shop answered {answer:?} to the notify")));
        }
        let amount = format_yuan(req.total_fen);
        let timestamp = format_beijing(now);
        let ret: Vec<(String, String)> = [
            ("charset", "utf-8"),
            ("out_trade_no", req.out_trade_no.as_str()),
            ("method", "alipay.trade.page.pay.return"),
            ("total_amount", amount.as_str()),
            ("trade_no", trade_no.as_str()),
            ("auth_app_id", self.app_id.as_str()),
            ("version", "1.0"),
            ("app_id", self.app_id.as_str()),
            ("seller_id", self.seller_id.as_str()),
            ("timestamp", timestamp.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let query = self.alipay.notify_body(&ret).map_err(|e| AppError::Unexpected(e.into()))?;
        let sep = if req.return_url.contains('?') { '&' } else { '?' };
        Ok(format!("{}{sep}{query}", req.return_url))
    }

    /// Puts a trade in a given state, as if the buyer had acted at Alipay: lets a developer
    /// (or a test playing Alipay) exercise the query, expiry and refund paths.
    pub fn set_trade(&self, out_trade_no: &str, total_fen: i64, status: TradeStatus) {
        let mut trades = self.trades();
        let trade = trades.entry(out_trade_no.to_owned()).or_insert_with(|| Trade::waiting(total_fen));
        if status.is_paid() && trade.paid_at.is_none() {
            trade.paid_at = Some(Utc::now());
        }
        trade.status = status;
        trade.total_fen = total_fen;
    }

    /// A refund of `fen` made in Alipay's merchant console (not through the API): it shows in
    /// the day's statement with a batch number of Alipay's. Returns the number, or `None` when
    /// the trade is not paid or has not that much left.
    pub fn console_refund(&self, out_trade_no: &str, fen: i64) -> Option<String> {
        let mut trades = self.trades();
        let trade = trades.get_mut(out_trade_no).filter(|t| t.status.is_paid())?;
        if fen < 1 || trade.refunded_fen + fen > trade.total_fen {
            return None;
        }
        let now = Utc::now();
        let request_no =
            format!("{}21001004{:08}", now.format("%Y%m%d"), rand::random::<u32>() % 100_000_000);
        trade.refunded_fen += fen;
        trade.refunds.push(SimRefund { request_no: request_no.clone(), fen, at: now });
        if trade.refunded_fen == trade.total_fen {
            trade.status = TradeStatus::TradeClosed;
        }
        Some(request_no)
    }

    /// The trade statement zip of a day (the query string of `bill_download_url`,
    /// `day=yyyymmdd`): every payment and refund the simulator saw that day, Beijing time.
    pub fn statement_zip(&self, query: &str) -> Option<Vec<u8>> {
        let day = query.strip_prefix("day=").and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())?;
        let on_day = |at: DateTime<Utc>| at.with_timezone(&shop_alipay::time::beijing()).date_naive() == day;
        let mut lines = Vec::new();
        for (out_trade_no, t) in self.trades().iter() {
            if let Some(paid_at) = t.paid_at.filter(|at| on_day(*at)) {
                lines.push(BillLine {
                    kind: BillKind::Trade,
                    trade_no: t.trade_no.clone(),
                    out_trade_no: out_trade_no.clone(),
                    amount_fen: t.total_fen,
                    refund_no: None,
                    finished_at: Some(paid_at),
                    subject: t.subject.clone(),
                });
            }
            for r in t.refunds.iter().filter(|r| on_day(r.at)) {
                lines.push(BillLine {
                    kind: BillKind::Refund,
                    trade_no: t.trade_no.clone(),
                    out_trade_no: out_trade_no.clone(),
                    amount_fen: r.fen,
                    refund_no: Some(r.request_no.clone()),
                    finished_at: Some(r.at),
                    subject: t.subject.clone(),
                });
            }
        }
        lines.sort_by(|a, b| (a.finished_at, &a.out_trade_no).cmp(&(b.finished_at, &b.out_trade_no)));
        trade_bill_zip(&self.seller_id, day, &lines, Utc::now()).ok()
    }

    /// Alipay's trade number of a trade the simulator knows.
    pub fn trade_no(&self, out_trade_no: &str) -> Option<String> {
        self.trades().get(out_trade_no).map(|t| t.trade_no.clone())
    }

    /// Amount refunded on a trade, in fen.
    pub fn refunded_fen(&self, out_trade_no: &str) -> i64 {
        self.trades().get(out_trade_no).map_or(0, |t| t.refunded_fen)
    }

    /// Answers an API call (`alipay.trade.query`, `close`, `refund`) with a signed response.
    pub fn gateway(&self, query: &str, body: &[u8]) -> String {
        let params = match AlipayGateway::verify_request(query, body, &self.app_public_key) {
            Ok(p) => p,
            Err(e) => {
                return AlipayGateway::unsigned_response(
                    "error",
                    &error_json("40002", "Invalid Arguments", "isv.invalid-signature", &e.to_string()),
                );
            }
        };
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let method = get("method");
        let biz: Value = serde_json::from_str(&get("biz_content")).unwrap_or(Value::Null);
        if method == BILL_METHOD {
            let day = biz
                .get("bill_date")
                .and_then(Value::as_str)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .filter(|_| biz.get("bill_type").and_then(Value::as_str) == Some("trade"));
            let node = match day {
                Some(day) => {
                    let url = self.bill_url.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    json!({"code": "10000", "msg": "Success", "bill_download_url": format!("{url}?day={}", day.format("%Y%m%d"))}).to_string()
                }
                None => {
                    error_json("40004", "Business Failed", "isp.bill_type_not_exist", "账单类型或日期错误")
                }
            };
            return self.sign(&method, &node);
        }
        let out_trade_no = biz.get("out_trade_no").and_then(Value::as_str).unwrap_or_default().to_owned();
        let not_exist = error_json("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        let mut trades = self.trades();
        let node = match (method.as_str(), trades.get_mut(&out_trade_no)) {
            (_, None) => not_exist,
            ("alipay.trade.query", Some(t)) => {
                let paid_at = t.status.is_paid().then(Utc::now);
                query_success_json(&out_trade_no, &t.trade_no, &t.status, t.total_fen, paid_at)
            }
            ("alipay.trade.close", Some(t)) if t.status == TradeStatus::WaitBuyerPay => {
                t.status = TradeStatus::TradeClosed;
                json!({"code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_no": t.trade_no}).to_string()
            }
            ("alipay.trade.close", Some(_)) => {
                error_json("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            }
            ("alipay.trade.refund", Some(t)) if t.status.is_paid() => {
                let request_no =
                    biz.get("out_request_no").and_then(Value::as_str).unwrap_or_default().to_owned();
                let amount = biz
                    .get("refund_amount")
                    .and_then(Value::as_str)
                    .and_then(|a| parse_yuan(a).ok())
                    .unwrap_or(0);
                let repeated = t.refunds.iter().any(|r| r.request_no == request_no);
                if !repeated {
                    if t.refunded_fen + amount > t.total_fen {
                        return self.sign(
                            &method,
                            &error_json(
                                "40004",
                                "Business Failed",
                                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                                "退款金额超限",
                            ),
                        );
                    }
                    t.refunded_fen += amount;
                    t.refunds.push(SimRefund { request_no, fen: amount, at: Utc::now() });
                }
                json!({
                    "code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_no": t.trade_no,
                    "fund_change": if repeated { "N" } else { "Y" }, "refund_fee": format_yuan(t.refunded_fen),
                    "gmt_refund_pay": format_beijing(Utc::now()), "buyer_logon_id": "sim***@example.com"
                })
                .to_string()
            }
            ("alipay.trade.refund", Some(_)) => {
                error_json("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            }
            (_, Some(_)) => error_json("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "不支持的接口"),
        };
        drop(trades);
        self.sign(&method, &node)
    }

    fn sign(&self, method: &str, node: &str) -> String {
        self.alipay.signed_response(method, node).unwrap_or_else(|_| {
            AlipayGateway::unsigned_response(
                method,
                &error_json("20000", "Service Unavailable", "isp.unknown-error", ""),
            )
        })
    }
}
