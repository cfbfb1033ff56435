//! Alipay page pay (`alipay.trade.page.pay`, RSA2) behind the [`Provider`] interface: the
//! signed page-pay URL, the form-encoded notify, `alipay.trade.query` / `close` / `refund`.
//! The protocol is `shop-alipay`'s; this module only translates.
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use shop_alipay::bill::{BillError, BillKind};
use shop_alipay::{
    AlipayClient, ClientConfig, CloseOutcome, GatewayError, PagePay, QueryOutcome, TradeBillFile,
    TradeStatus, VerifiedNotify, parse_urlencoded, verify_notify,
};
use shop_domain::order::PayType;

use super::keys::Keys;
use super::provider::{
    Headers, NewPayment, Notice, PayLinks, Provider, ProviderError, QueryAnswer, RefundAnswer, RefundCall,
    Rejected, Statement, StatementKind, StatementLine, TradeFacts, TradeRef, TradeState, VerifiedNotice,
    storable,
};
use super::simulator;
use crate::config::{AlipayMode, AlipaySettings};

/// Where the gateway is and where Alipay calls back; known once the server's public URL is.
pub struct Endpoints {
    /// The gateway client.
    pub client: AlipayClient,
    /// Where notifies go.
    pub notify_url: String,
    /// Where buyers return.
    pub return_url: String,
}

/// Alipay.
pub struct AlipayProvider {
    settings: AlipaySettings,
    keys: Keys,
    endpoints: ArcSwap<Endpoints>,
}

impl From<GatewayError> for ProviderError {
    fn from(e: GatewayError) -> Self {
        if e.is_retryable() {
            ProviderError::Retryable(e.to_string())
        } else {
            ProviderError::Permanent(e.to_string())
        }
    }
}

/// The shop's word for an Alipay `trade_status`.
fn state_of(status: &TradeStatus) -> TradeState {
    match status {
        s if s.is_paid() => TradeState::Paid,
        TradeStatus::TradeClosed => TradeState::Closed,
        _ => TradeState::Waiting,
    }
}

impl AlipayProvider {
    pub(super) fn new(settings: &AlipaySettings, keys: Keys, public_url: &str) -> anyhow::Result<Self> {
        let endpoints = ArcSwap::from_pointee(Self::endpoints(settings, &keys, public_url)?);
        Ok(AlipayProvider { settings: settings.clone(), keys, endpoints })
    }

    fn endpoints(a: &AlipaySettings, keys: &Keys, public_url: &str) -> anyhow::Result<Endpoints> {
        let gateway_url = match a.mode {
            AlipayMode::Simulator => format!("{public_url}{}", simulator::GATEWAY_PATH),
            AlipayMode::Gateway => a.gateway_url.clone(),
        };
        let client = AlipayClient::new(ClientConfig {
            app_id: a.app_id.clone(),
            gateway_url,
            app_private_key: keys.app_private_key.clone(),
            alipay_public_key: keys.alipay_public_key.clone(),
            timeout: Duration::from_secs(a.http_timeout_seconds.max(1)),
        })
        .map_err(|e| anyhow::anyhow!("alipay client: {e}"))?;
        let or_default = |configured: &str, path: &str| {
            if configured.is_empty() { format!("{public_url}{path}") } else { configured.to_owned() }
        };
        Ok(Endpoints {
            client,
            notify_url: or_default(&a.notify_url, "/api/v1/order/success/"),
            return_url: or_default(&a.return_url, "/pay/result/"),
        })
    }

    /// Re-targets the client and callback URLs once the server knows its public URL.
    pub(super) fn set_public_url(&self, public_url: &str) -> anyhow::Result<()> {
        self.endpoints.store(Arc::new(Self::endpoints(&self.settings, &self.keys, public_url)?));
        Ok(())
    }

    /// The current endpoints.
    pub fn endpoints_now(&self) -> Arc<Endpoints> {
        self.endpoints.load_full()
    }

    fn facts(notify: &VerifiedNotify) -> TradeFacts {
        TradeFacts {
            out_trade_no: notify.out_trade_no.clone(),
            state: state_of(&notify.trade_status),
            status_text: notify.trade_status.as_str().to_owned(),
            trade_no: notify.trade_no.clone(),
            total_amount_fen: notify.total_amount_fen,
            paid_at: notify.gmt_payment,
            refund_fee_fen: notify.refund_fee_fen,
        }
    }
}

#[async_trait::async_trait]
impl Provider for AlipayProvider {
    fn pay_type(&self) -> PayType {
        PayType::Alipay
    }

    fn name(&self) -> &'static str {
        "alipay"
    }

    /// The signed page-pay URL (no call to Alipay: the buyer's browser makes it).
    async fn create(&self, p: &NewPayment) -> Result<String, ProviderError> {
        let endpoints = self.endpoints_now();
        let page = PagePay::new(p.out_trade_no.clone(), p.total_fen, p.subject.clone())
            .time_expire(p.expires_at)
            .notify_url(endpoints.notify_url.clone())
            .return_url(endpoints.return_url.clone());
        endpoints
            .client
            .page_pay_url(&page, p.now)
            .map_err(|e| ProviderError::Permanent(format!("building the pay URL: {e}")))
    }

    fn links(&self, _out_trade_no: &str, stored: &str) -> PayLinks {
        PayLinks { pay_url: stored.to_owned(), code_url: None }
    }

    /// Checked in Alipay's order: the body parses as a form (decoded exactly once), the RSA2
    /// signature, our `app_id`, our `seller_id` when configured.
    fn verify_notification(&self, body: &[u8], _headers: &Headers) -> Result<VerifiedNotice, Rejected> {
        let params = parse_urlencoded(body).map_err(|e| Rejected::because(format!("malformed body: {e}")))?;
        let rejected = |reason: String| {
            let find = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| storable(v, 64));
            Rejected {
                reason,
                out_trade_no: find("out_trade_no"),
                notify_id: find("notify_id"),
                status_text: find("trade_status").map(|s| storable(&s, 32)),
                authentic: false,
            }
        };
        let notify = verify_notify(&params, &self.keys.alipay_public_key)
            .map_err(|e| rejected(format!("verification failed: {e}")))?;
        let cfg = &self.settings;
        if notify.app_id != cfg.app_id {
            return Err(rejected(format!("app_id {} is not ours", notify.app_id)));
        }
        if !cfg.seller_id.is_empty() && notify.seller_id.as_deref() != Some(cfg.seller_id.as_str()) {
            return Err(rejected(format!("seller_id {:?} is not ours", notify.seller_id)));
        }
        Ok(VerifiedNotice {
            notify_id: notify.notify_id.clone(),
            notice: Notice::Trade(Self::facts(&notify)),
        })
    }

    /// `alipay.trade.query`; `ACQ.TRADE_NOT_EXIST` is "not found" (never opened the cashier).
    async fn query(&self, trade: TradeRef<'_>) -> Result<QueryAnswer, ProviderError> {
        let out_trade_no = trade.out_trade_no;
        match self.endpoints_now().client.trade_query(out_trade_no).await? {
            QueryOutcome::Found(info) => Ok(QueryAnswer::Found(TradeFacts {
                out_trade_no: info.out_trade_no,
                state: state_of(&info.trade_status),
                status_text: info.trade_status.as_str().to_owned(),
                trade_no: info.trade_no,
                total_amount_fen: info.total_amount_fen,
                paid_at: info.send_pay_date,
                refund_fee_fen: None,
            })),
            QueryOutcome::NotExist => Ok(QueryAnswer::NotFound),
        }
    }

    async fn close(&self, trade: TradeRef<'_>) -> Result<(), ProviderError> {
        let out_trade_no = trade.out_trade_no;
        match self.endpoints_now().client.trade_close(out_trade_no).await? {
            CloseOutcome::Closed { .. } | CloseOutcome::NotExist => {}
            CloseOutcome::StatusError { sub_msg } => {
                // Paid (or closed) at Alipay meanwhile: a notify or reconciliation brings the
                // money in; closing has nothing more to do.
                tracing::warn!(order.out_trade_no = %out_trade_no, alipay.sub_msg = ?sub_msg, "close refused: trade is not waiting for payment");
            }
        }
        Ok(())
    }

    /// `alipay.trade.refund`, idempotent by `out_request_no`; its `refund_fee` is the trade's
    /// cumulative refunded amount.
    async fn refund(&self, call: &RefundCall<'_>) -> Result<RefundAnswer, ProviderError> {
        let outcome = self
            .endpoints_now()
            .client
            .trade_refund(call.out_trade_no, call.amount_fen, call.out_request_no, Some(call.reason))
            .await?;
        tracing::debug!(order.out_trade_no = %call.out_trade_no, refund.fund_change = outcome.fund_change, "alipay refund answered");
        Ok(RefundAnswer::Done { refunded_total_fen: Some(outcome.refund_fee_fen) })
    }

    /// `alipay.data.dataservice.bill.downloadurl.query` (`bill_type = trade`), then the zip at
    /// `bill_download_url`, its detail file read row by row.
    async fn statement(&self, day: chrono::NaiveDate) -> Result<Box<dyn Statement>, ProviderError> {
        let client = self.endpoints_now().client.clone();
        let url = client.bill_download_url(day).await?;
        let file = client.download_trade_bill(&url).await.map_err(refused)?;
        Ok(Box::new(AlipayStatement(file)))
    }

    fn statement_file(&self, path: &std::path::Path) -> Result<Box<dyn Statement>, ProviderError> {
        Ok(Box::new(AlipayStatement(TradeBillFile::open(path).map_err(refused)?)))
    }
}

fn refused(e: BillError) -> ProviderError {
    match e {
        BillError::Gateway(g) => ProviderError::from(g),
        other => ProviderError::Permanent(format!("refused: {other}")),
    }
}

/// A verified Alipay statement zip, read back as statement lines.
struct AlipayStatement(TradeBillFile);

impl Statement for AlipayStatement {
    fn lines(&self) -> u64 {
        let summary = self.0.summary();
        summary.trades + summary.refunds
    }

    fn read(&self, on_line: &mut dyn FnMut(StatementLine)) -> Result<(), ProviderError> {
        self.0
            .read(|l| {
                on_line(StatementLine {
                    kind: match l.kind {
                        BillKind::Trade => StatementKind::Payment,
                        BillKind::Refund => StatementKind::Refund,
                    },
                    out_trade_no: l.out_trade_no,
                    trade_no: l.trade_no,
                    amount_fen: l.amount_fen,
                    refund_no: l.refund_no,
                    at: l.finished_at,
                });
            })
            .map(|_| ())
            .map_err(refused)
    }
}
