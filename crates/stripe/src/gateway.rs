//! Stripe's side of webhooks (cargo feature `gateway`), for the development simulator and the
//! fake: builds event payloads and signs them with the endpoint secret.

use serde::Serialize;

use crate::webhook::{WebhookSecret, compute_v1};

/// Signs webhook events as Stripe does.
#[derive(Clone, Debug)]
pub struct StripeGateway {
    secret: WebhookSecret,
}

impl StripeGateway {
    /// Stripe's side for one webhook endpoint.
    #[must_use]
    pub fn new(secret: WebhookSecret) -> Self {
        StripeGateway { secret }
    }

    /// The endpoint secret.
    #[must_use]
    pub fn secret(&self) -> &WebhookSecret {
        &self.secret
    }

    /// The `Stripe-Signature` header for `payload` at `timestamp`: `t=<timestamp>,v1=<hex>`.
    #[must_use]
    pub fn sign(&self, payload: &[u8], timestamp: i64) -> String {
        format!("t={timestamp},v1={}", compute_v1(&self.secret, timestamp, payload))
    }

    /// An event payload (`object: event`) around `object`.
    ///
    /// # Errors
    /// [`serde_json::Error`] if `object` cannot be serialised.
    pub fn event_payload<T: Serialize>(
        &self,
        id: &str,
        event_type: &str,
        created: i64,
        object: &T,
    ) -> Result<String, serde_json::Error> {
        Ok(serde_json::json!({
            "id": id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": created,
            "data": { "object": serde_json::to_value(object)? },
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
        })
        .to_string())
    }

    /// A signed event: `(payload, Stripe-Signature header)`, signed at `now`.
    ///
    /// # Errors
    /// [`serde_json::Error`].
    pub fn event<T: Serialize>(
        &self,
        id: &str,
        event_type: &str,
        object: &T,
        now: i64,
    ) -> Result<(String, String), serde_json::Error> {
        let payload = self.event_payload(id, event_type, now, object)?;
        let header = self.sign(payload.as_bytes(), now);
        Ok((payload, header))
    }
}
