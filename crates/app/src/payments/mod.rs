//! Alipay page payment: orders, the notify, status polling with active queries, expiry,
//! refunds, reconciliation, the outbox worker, and the development cashier simulator.
//!
//! Money rules (`security-and-ecosystem.md` A2, A3): an order changes state only on a
//! verified notify or a verified `trade.query` answer; every change is one conditional
//! UPDATE inside one transaction with its side effects (outbox rows); a paid order never
//! goes back; money that arrives for a cancelled order is refunded (or granted by policy),
//! never dropped.
mod apply;
mod expiry;
mod keys;
mod notify;
mod ordering;
pub mod outbox;
mod poll;
mod refunds;
pub mod simulator;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use shop_alipay::{AlipayClient, AlipayPublicKey, ClientConfig};

pub use expiry::{ExpiryOutcome, expire_due_orders};
pub use notify::{NotifyReply, handle_notify};
pub use ordering::{OrderLine, OrderView, Purchase, PurchaseOutcome, create_order, order_detail, orders_of};
pub use poll::{PaymentState, payment_status};
pub use refunds::{
    ReconcileRow, RefundProgress, RefundRequested, carry_out_refund, reconcile, request_refund,
};

use crate::config::{AlipayMode, Settings};

/// Where the gateway is and where Alipay calls back; known once the server's public URL is.
pub struct Endpoints {
    /// The gateway client.
    pub client: AlipayClient,
    /// Where notifies go.
    pub notify_url: String,
    /// Where buyers return.
    pub return_url: String,
}

/// The payment side of the shop.
pub struct Payments {
    keys: keys::Keys,
    endpoints: ArcSwap<Endpoints>,
    /// The cashier simulator, in simulator mode.
    pub simulator: Option<Arc<simulator::Simulator>>,
    /// Recent status answers (see [`payment_status`]).
    pub status_cache: poll::StatusCache,
}

impl Payments {
    /// Loads the keys (generating simulator keys when needed) and prepares the client for
    /// the public URL `public_url`.
    ///
    /// # Errors
    /// A message naming the malformed or missing key.
    pub fn new(settings: &Settings, public_url: &str) -> anyhow::Result<Self> {
        let keys = keys::Keys::load(&settings.alipay)?;
        let simulator =
            keys.simulator.clone().filter(|_| settings.alipay.mode == AlipayMode::Simulator).map(|alipay| {
                Arc::new(simulator::Simulator::new(
                    alipay,
                    keys.app_public_key.clone(),
                    settings.alipay.app_id.clone(),
                    settings.alipay.seller_id.clone(),
                ))
            });
        let endpoints = ArcSwap::from_pointee(Self::endpoints(settings, &keys, public_url)?);
        Ok(Payments { keys, endpoints, simulator, status_cache: poll::StatusCache::default() })
    }

    fn endpoints(settings: &Settings, keys: &keys::Keys, public_url: &str) -> anyhow::Result<Endpoints> {
        let a = &settings.alipay;
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
    ///
    /// # Errors
    /// As [`Payments::new`].
    pub fn set_public_url(&self, settings: &Settings, public_url: &str) -> anyhow::Result<()> {
        self.endpoints.store(Arc::new(Self::endpoints(settings, &self.keys, public_url)?));
        Ok(())
    }

    /// The current endpoints.
    pub fn endpoints_now(&self) -> Arc<Endpoints> {
        self.endpoints.load_full()
    }

    /// Alipay's public key (verifies notifies).
    pub fn alipay_public_key(&self) -> &AlipayPublicKey {
        &self.keys.alipay_public_key
    }
}
