//! The payment side's shared state, built once at start-up and held by `AppContext`: the
//! Alipay keys, the gateway client and callback URLs, the development simulator, and the cache
//! of settled status answers. It imports no use case, so the context can hold it without an
//! import circle.
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use shop_alipay::{AlipayClient, AlipayPublicKey, ClientConfig};
use shop_domain::order::OrderStatus;

use super::{keys, simulator};
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
    pub status_cache: StatusCache,
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
        Ok(Payments { keys, endpoints, simulator, status_cache: StatusCache::default() })
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

/// Per-process memory of recently answered settled statuses (short-lived). Bounded:
/// cleared when full.
#[derive(Default)]
pub struct StatusCache {
    settled: std::sync::Mutex<std::collections::HashMap<String, (OrderStatus, DateTime<Utc>)>>,
}

const CACHE_LIMIT: usize = 100_000;

impl StatusCache {
    pub(crate) fn get(&self, out_trade_no: &str, now: DateTime<Utc>) -> Option<OrderStatus> {
        let settled = self.settled.lock().unwrap_or_else(|p| p.into_inner());
        settled.get(out_trade_no).filter(|(_, until)| *until > now).map(|(s, _)| *s)
    }

    pub(crate) fn put(&self, out_trade_no: &str, status: OrderStatus, until: DateTime<Utc>) {
        let mut settled = self.settled.lock().unwrap_or_else(|p| p.into_inner());
        if settled.len() >= CACHE_LIMIT {
            settled.clear();
        }
        settled.insert(out_trade_no.to_owned(), (status, until));
    }
}
