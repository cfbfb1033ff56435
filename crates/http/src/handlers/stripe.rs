//! Stripe: its webhook endpoint, and (development profile) the simulator's API and its card
//! form with a "pay" button.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::AppError;
use shop_app::error::retry_if_connection_lost;
use shop_app::i18n::msg;
use shop_app::payments::provider::Headers;
use shop_app::payments::{self, NotifyReply};
use shop_domain::order::PayType;

use crate::error::{ApiError, Verbatim};
use crate::extract::{ClientAddr, Language};
use crate::html::{self, StripeCardPage};
use crate::schemas;
use crate::state::State;

/// The path of Stripe's webhook (set in the Stripe dashboard; also named by the NUL guard,
/// which leaves provider notifications to their own verification).
pub const WEBHOOK_PATH: &str = "/api/v1/order/stripe/webhook/";

fn headers_of(req: &HttpRequest) -> Headers {
    Headers(
        req.headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
    )
}

/// Stripe's webhook events (signed with the endpoint secret; no login). `Stripe-Signature` is
/// verified over the raw body before anything in it is read. A paid
/// `checkout.session.completed` or `checkout.session.async_payment_succeeded` pays the order
/// once, `checkout.session.expired` closes it, `charge.refunded` records the refunded total;
/// other events are acknowledged and ignored. 200 once the change is durable (also for a
/// repeat, and for a signed event that does not match its order: audited as rejected, nothing
/// applied); 400 when the signature is missing, wrong or out of tolerance (nothing changes);
/// 503 when the database is unavailable (Stripe resends).
#[utoipa::path(
    post,
    path = "/api/v1/order/stripe/webhook/",
    operation_id = "stripe_webhook",
    tag = "order",
    params(
        ("Stripe-Signature" = String, Header, description = "`t=<unix>,v1=<hex>[,v1=...]`: HMAC-SHA256 of `t.body` with the endpoint secret; `t` within 300 s of now")
    ),
    request_body(content = inline(schemas::StripeEvent), content_type = "application/json", description = "A Stripe event"),
    responses(
        (status = 200, description = "Handled, handled before, ignored, or refused for what it says (audited, nothing applied)", body = inline(schemas::StripeReceived)),
        (status = 400, description = "The signature did not verify; nothing changed", body = crate::error::ErrorBody),
        (status = 404, description = "Stripe is not enabled", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unavailable; Stripe will resend", body = crate::error::ErrorBody)
    )
)]
pub async fn webhook(
    state: web::Data<State>,
    client: ClientAddr,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let headers = headers_of(&req);
    let handled = retry_if_connection_lost(|| {
        payments::handle_provider_notify(&state.ctx, PayType::Stripe, &body, &headers, &client.0)
    })
    .await?;
    match handled {
        NotifyReply::Success | NotifyReply::Refused => {
            Ok(HttpResponse::Ok().json(serde_json::json!({ "received": true })))
        }
        NotifyReply::Fail => Err(AppError::BadRequest(msg::WEBHOOK_REFUSED).into()),
    }
}

fn simulator_only() -> ApiError {
    AppError::NotFound("simulator (stripe.mode is not \"simulator\")").into()
}

/// The simulator's API (`/v1/...`): checks the secret key and answers like Stripe.
pub async fn simulator_api(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().stripe_simulator.as_ref().ok_or_else(simulator_only)?;
    let webhook_url = state.ctx.payments().stripe_webhook_url().unwrap_or_default();
    let headers = headers_of(&req);
    let answer = sim.handle(
        req.method().as_str(),
        req.uri().path(),
        |name| headers.get(name).map(str::to_owned),
        &body,
        webhook_url,
    );
    let mut res = HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in answer.headers {
        res.insert_header((name, value));
    }
    let mut res = res.content_type(ContentType::json()).body(answer.body);
    res.extensions_mut().insert(Verbatim);
    Ok(res)
}

/// The session's page in the simulator: a card form (nothing typed is sent anywhere) with a
/// "pay" button.
pub async fn card_form(
    state: web::Data<State>,
    path: web::Path<String>,
    lang: Language,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().stripe_simulator.as_ref().ok_or_else(simulator_only)?;
    let form = sim.card_form(&path).ok_or(AppError::NotFound("checkout session"))?;
    html::page(&StripeCardPage { lang: lang.0, c: &html::StripeCardView::from(&form) })
}

/// The card form's button.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    session_id: String,
}

/// Pays in the simulator: the session completes, a signed `checkout.session.completed` goes
/// to the shop's webhook over HTTP, then the browser goes to the result page.
pub async fn simulator_pay(
    state: web::Data<State>,
    form: web::Form<PayForm>,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().stripe_simulator.as_ref().ok_or_else(simulator_only)?;
    let webhook_url = state.ctx.payments().stripe_webhook_url().unwrap_or_default();
    let no = sim.pay(&form.session_id, &webhook_url).await?;
    let back = format!("/pay/result/?out_trade_no={no}");
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish())
}
