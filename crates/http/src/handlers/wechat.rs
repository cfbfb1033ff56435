//! WeChat Pay: its notification endpoint, our QR cashier page, and (development profile) the
//! simulator's merchant API and its "scan and pay" button.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::AppError;
use shop_app::error::retry_if_connection_lost;
use shop_app::i18n::msg;
use shop_app::payments::provider::Headers;
use shop_app::payments::wechat::NOTIFY_PATH;
use shop_app::payments::{self, NotifyReply};
use shop_domain::order::PayType;

use super::order::StatusQuery;
use crate::error::{ApiError, Verbatim};
use crate::extract::{ClientAddr, Language};
use crate::html::{self, WechatCashierPage};
use crate::schemas;
use crate::state::State;

/// The route of WeChat Pay's notifications in the `/api/v1/order` scope: the tail of the
/// `notify_url` we give WeChat Pay ([`NOTIFY_PATH`], also named by the NUL guard, which leaves
/// provider notifications to their own verification and answer format).
pub fn notify_route() -> &'static str {
    NOTIFY_PATH.strip_prefix("/api/v1/order").unwrap_or(NOTIFY_PATH)
}

/// A failure answer in WeChat Pay's format, `{"code":"FAIL","message":..}`, kept as it is.
fn failure(status: StatusCode, message: &str) -> HttpResponse {
    let mut res = HttpResponse::build(status)
        .content_type(ContentType::json())
        .body(payments::wechat::failure_body(message));
    res.extensions_mut().insert(Verbatim);
    res
}

fn headers_of(req: &HttpRequest) -> Headers {
    Headers(
        req.headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
    )
}

/// WeChat Pay's payment and refund notifications (signed with the WeChat Pay public key, the
/// resource encrypted with the APIv3 key; no login). Answers 204 once the change is durable
/// (also for every copy of a notification already applied); 400 `{"code":"FAIL",..}` when any
/// check fails (nothing changes, WeChat resends); 503 with the same body when the database is
/// unavailable.
#[utoipa::path(
    post,
    path = "/api/v1/order/wechat/notify/",
    tag = "order",
    params(
        ("Wechatpay-Serial" = String, Header, description = "The WeChat Pay public key id"),
        ("Wechatpay-Signature" = String, Header, description = "SHA256withRSA over `timestamp\\nnonce\\nbody\\n`, base64"),
        ("Wechatpay-Timestamp" = String, Header, description = "Unix seconds, within 300 s of now"),
        ("Wechatpay-Nonce" = String, Header, description = "The nonce of the signature"),
        ("Wechatpay-Signature-Type" = Option<String>, Header, description = "`WECHATPAY2-SHA256-RSA2048`")
    ),
    request_body(content = inline(schemas::WechatNotifyBody), content_type = "application/json", description = "WeChat Pay's notification envelope with its encrypted resource"),
    responses(
        (status = 204, description = "Handled (or handled before)"),
        (status = 400, description = "A check failed; nothing changed", body = inline(schemas::WechatFailure)),
        (status = 404, description = "WeChat Pay is not enabled", body = inline(schemas::WechatFailure)),
        (status = 503, description = "The database is unavailable; WeChat Pay will resend", body = inline(schemas::WechatFailure))
    )
)]
pub async fn notify(
    state: web::Data<State>,
    client: ClientAddr,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let headers = headers_of(&req);
    let handled = retry_if_connection_lost(|| {
        payments::handle_provider_notify(&state.ctx, PayType::WechatPay, &body, &headers, &client.0)
    })
    .await;
    match handled {
        Ok(NotifyReply::Success) => HttpResponse::NoContent().finish(),
        Ok(NotifyReply::Fail) => failure(StatusCode::BAD_REQUEST, "verification failed"),
        Err(AppError::NotFound(_)) => failure(StatusCode::NOT_FOUND, "WeChat Pay is not enabled"),
        Err(e) => {
            tracing::error!(error = ?e, "wechatpay notification could not be processed");
            failure(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable, please resend")
        }
    }
}

/// Our cashier for a WeChat Pay order: the QR code (made here, no CDN) and the status, polled.
pub async fn cashier(
    state: web::Data<State>,
    query: web::Query<StatusQuery>,
    lang: Language,
) -> Result<HttpResponse, ApiError> {
    let no = query
        .out_trade_no
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::field("out_trade_no", msg::REQUIRED))?;
    let c = retry_if_connection_lost(|| payments::wechat_cashier(&state.ctx, no)).await?;
    let qr_data_uri = html::qr_svg_data_uri(&c.code_url)?;
    html::page(&WechatCashierPage {
        lang: lang.0,
        c: &html::QrCashierView::from(&c),
        qr_data_uri: &qr_data_uri,
        simulator: state.ctx.payments().wechat_simulator.is_some(),
    })
}

/// The cashier's script (the pages' policy allows scripts of this origin only).
pub async fn cashier_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(include_str!("../../static/wechat_cashier.js"))
}

fn simulator_only() -> ApiError {
    AppError::NotFound("simulator (wechatpay.mode is not \"simulator\")").into()
}

/// The simulator's merchant API (`/v3/...`): verifies the request like WeChat Pay and answers
/// signed.
pub async fn simulator_api(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().wechat_simulator.as_ref().ok_or_else(simulator_only)?;
    let notify_url = state.ctx.payments().wechat_notify_url().unwrap_or_default();
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let headers = headers_of(&req);
    let answer = sim.handle(
        req.method().as_str(),
        path_and_query,
        |name| headers.get(name).map(str::to_owned),
        &body,
        notify_url,
    );
    let mut res = HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in answer.headers {
        res.insert_header((name, value));
    }
    let mut res = if answer.body.is_empty() {
        res.finish()
    } else {
        res.content_type(ContentType::json()).body(answer.body)
    };
    res.extensions_mut().insert(Verbatim);
    Ok(res)
}

/// The "scan and pay" button.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    out_trade_no: String,
}

/// Pays in the simulator: a signed, encrypted notification goes to the shop's notify
/// endpoint over HTTP, then the browser goes to the result page.
pub async fn simulator_pay(
    state: web::Data<State>,
    form: web::Form<PayForm>,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().wechat_simulator.as_ref().ok_or_else(simulator_only)?;
    let notify_url = state.ctx.payments().wechat_notify_url().unwrap_or_default();
    sim.pay(&form.out_trade_no, &notify_url).await?;
    let back = format!("/pay/result/?out_trade_no={}", form.out_trade_no);
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish())
}
