//! The payment side's shared state, built once at start-up and held by `AppContext`: the
//! providers (their keys, clients and callback URLs), the development simulators, and the
//! cache of settled status answers. It imports no use case, so the context can hold it without
//! an import circle.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use shop_domain::order::{OrderStatus, PayType};

use super::alipay::AlipayProvider;
pub use super::alipay::Endpoints;
use super::notify_log::NotifyLog;
use super::provider::Provider;
use super::stripe::{StripeProvider, StripeSim};
use super::wechat::{WechatPayProvider, WechatSimulator};
use super::{keys, simulator};
use crate::config::{AlipayMode, Settings};

/// The payment side of the shop.
pub struct Payments {
    alipay: AlipayProvider,
    wechat: Option<WechatPayProvider>,
    /// The cashier simulator, in simulator mode.
    pub simulator: Option<Arc<simulator::Simulator>>,
    /// WeChat Pay's simulator, with `wechatpay.mode = "simulator"`.
    pub wechat_simulator: Option<Arc<WechatSimulator>>,
    stripe: Option<StripeProvider>,
    /// Stripe's simulator, with `stripe.mode = "simulator"`.
    pub stripe_simulator: Option<Arc<StripeSim>>,
    /// Recent status answers (see [`payment_status`]).
    pub status_cache: StatusCache,
    /// Orders whose money this process saw recorded (see [`MoneyRecorded`]).
    pub(crate) money_recorded: MoneyRecorded,
    /// The audit rows of notifications that change nothing, committed together.
    pub(crate) notify_log: NotifyLog,
}

impl Payments {
    /// Loads the keys (generating simulator keys when needed) and prepares the providers for
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
        if let Some(sim) = &simulator {
            sim.set_bill_url(format!("{public_url}{}", simulator::BILL_PATH));
        }
        let alipay = AlipayProvider::new(&settings.alipay, keys, public_url)?;
        let (wechat, wechat_simulator) = match WechatPayProvider::new(settings, public_url)? {
            Some((provider, simulator)) => (Some(provider), simulator),
            None => (None, None),
        };
        let (stripe, stripe_simulator) = match StripeProvider::new(settings, public_url)? {
            Some((provider, simulator)) => (Some(provider), simulator),
            None => (None, None),
        };
        Ok(Payments {
            alipay,
            wechat,
            simulator,
            wechat_simulator,
            stripe,
            stripe_simulator,
            status_cache: StatusCache::default(),
            money_recorded: MoneyRecorded::default(),
            notify_log: NotifyLog::default(),
        })
    }

    /// Re-targets the clients and callback URLs once the server knows its public URL.
    ///
    /// # Errors
    /// As [`Payments::new`].
    pub fn set_public_url(&self, _settings: &Settings, public_url: &str) -> anyhow::Result<()> {
        self.alipay.set_public_url(public_url)?;
        if let Some(sim) = &self.simulator {
            sim.set_bill_url(format!("{public_url}{}", simulator::BILL_PATH));
        }
        if let Some(wechat) = &self.wechat {
            wechat.set_public_url(public_url)?;
        }
        if let Some(stripe) = &self.stripe {
            stripe.set_public_url(public_url)?;
        }
        if let Some(sim) = &self.stripe_simulator {
            sim.set_public_url(public_url);
        }
        Ok(())
    }

    /// Where WeChat Pay posts notifications, when it is enabled.
    pub fn wechat_notify_url(&self) -> Option<String> {
        self.wechat.as_ref().map(WechatPayProvider::notify_url)
    }

    /// Where Stripe's webhook events go (this server's endpoint), when Stripe is enabled.
    pub fn stripe_webhook_url(&self) -> Option<String> {
        self.stripe.as_ref().map(StripeProvider::webhook_url)
    }

    /// Alipay's current endpoints.
    pub fn endpoints_now(&self) -> Arc<Endpoints> {
        self.alipay.endpoints_now()
    }

    /// The provider of `pay_type`, when it is enabled.
    pub fn provider(&self, pay_type: PayType) -> Option<&dyn Provider> {
        match pay_type {
            PayType::Alipay => Some(&self.alipay),
            PayType::WechatPay => self.wechat.as_ref().map(|w| w as &dyn Provider),
            PayType::Stripe => self.stripe.as_ref().map(|s| s as &dyn Provider),
        }
    }

    /// The provider of a stored order's `pay_type` code. An order of a provider that is no
    /// longer enabled is an error (it cannot be queried, closed or refunded here).
    pub(crate) fn provider_of(&self, code: i16) -> crate::AppResult<&dyn Provider> {
        PayType::from_code(i64::from(code)).and_then(|t| self.provider(t)).ok_or_else(|| {
            crate::AppError::Unavailable(format!("pay_type {code}: its payment provider is not enabled"))
        })
    }
}

/// A per-process map from order numbers to what this process learned of them. Bounded:
/// cleared when it holds [`CACHE_LIMIT`] orders (what is forgotten is read again).
struct ByOrder<V>(std::sync::Mutex<std::collections::HashMap<String, V>>);

impl<V> Default for ByOrder<V> {
    fn default() -> Self {
        ByOrder(std::sync::Mutex::default())
    }
}

impl<V: Copy> ByOrder<V> {
    fn get(&self, out_trade_no: &str) -> Option<V> {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.get(out_trade_no).copied()
    }

    fn put(&self, out_trade_no: &str, value: V) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= CACHE_LIMIT {
            known.clear();
        }
        known.insert(out_trade_no.to_owned(), value);
    }
}

const CACHE_LIMIT: usize = 100_000;

/// Per-process memory of recently answered settled statuses (short-lived). Bounded:
/// cleared when full.
#[derive(Default)]
pub struct StatusCache {
    settled: ByOrder<(OrderStatus, DateTime<Utc>)>,
}

impl StatusCache {
    pub(crate) fn get(&self, out_trade_no: &str, now: DateTime<Utc>) -> Option<OrderStatus> {
        self.settled.get(out_trade_no).filter(|(_, until)| *until > now).map(|(s, _)| s)
    }

    pub(crate) fn put(&self, out_trade_no: &str, status: OrderStatus, until: DateTime<Utc>) {
        self.settled.put(out_trade_no, (status, until));
    }
}

/// Orders whose money this process has seen recorded (paid, paid after cancel, refunded),
/// with the amount that matched. Money once recorded stays recorded (`OrderStatus::can_become`
/// never leaves [`OrderStatus::money_received`]) and an order's amount never changes, so a
/// later payment notification for one of these orders with that amount is a repeat, known
/// without reading the order: only its audit row is written. Bounded: cleared when full (a
/// forgotten order is decided by the database again).
#[derive(Default)]
pub struct MoneyRecorded(ByOrder<i64>);

impl MoneyRecorded {
    /// Whether the money of `out_trade_no` is known to be recorded with `amount_fen`.
    pub(crate) fn holds(&self, out_trade_no: &str, amount_fen: i64) -> bool {
        self.0.get(out_trade_no) == Some(amount_fen)
    }

    /// Remembers that the money of `out_trade_no` is recorded, its amount `amount_fen`.
    pub(crate) fn remember(&self, out_trade_no: &str, amount_fen: i64) {
        self.0.put(out_trade_no, amount_fen);
    }
}
