//! Checkout with only an email (issue 9): the hosted buy page of a course (`/buy/<id>`) and
//! the private purchase page of an order (`/p/<token>`, HTML for browsers, JSON for
//! `Accept: application/json`).
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::error::retry_if_connection_lost;
use shop_app::i18n::{Lang, msg};
use shop_app::payments::{self, Purchase};
use shop_domain::order::{OrderStatus, Subject};

use super::pages::status_words;
use crate::dto::PurchasePageDto;
use crate::error::{ApiError, ErrorBody, Verbatim};
use crate::extract::{ClientAddr, Language};
use crate::html::{self, BuyHtml, PurchaseHtml};
use crate::state::State;

/// The cookie that lets the payment result page send the browser of a buy-page checkout on
/// to its purchase page (the order number alone, known to the provider, does not).
pub const PURCHASE_COOKIE: &str = "cs_purchase";

fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// A purchase's private page: the order's status, its courses and (once paid) its download
/// links with the downloads left; no login, the link is the key. HTML, or JSON with
/// `Accept: application/json`. An unpaid order's page refreshes itself.
#[utoipa::path(
    get,
    path = "/p/{token}",
    tag = "delivery",
    params(("token" = String, Path, description = "The purchase page's secret (`purchase_url` of the order)")),
    responses(
        (status = 200, description = "The purchase (JSON with `Accept: application/json`, else an HTML page)", body = PurchasePageDto),
        (status = 404, description = "Unknown purchase page", body = ErrorBody)
    )
)]
pub async fn purchase_page(
    state: web::Data<State>,
    Language(lang): Language,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let delivery = state.ctx.delivery();
    let page = retry_if_connection_lost(|| shop_app::delivery::purchase_page(&delivery, &token)).await?;
    if wants_json(&req) {
        return Ok(HttpResponse::Ok().json(PurchasePageDto::from(page)));
    }
    let (_, text) = status_words(page.status);
    html::page(&PurchaseHtml {
        lang,
        courses: page.courses.iter().map(|(_, name)| name.clone()).collect(),
        status_text: text.get(lang),
        paid: page.status == OrderStatus::Paid,
        waiting: page.status == OrderStatus::Unpaid || page.links_pending,
        p: &page,
    })
}

/// The buy page's `?ref=`.
#[derive(Debug, Deserialize)]
pub struct BuyQuery {
    /// The funnel's `ref`.
    #[serde(rename = "ref")]
    pub ref_tag: Option<String>,
}

/// The buy page's form.
#[derive(Debug, Deserialize)]
pub struct BuyForm {
    /// Where the purchase goes.
    pub email: String,
    /// The button pressed.
    pub pay_type: String,
    /// The form's idempotency key.
    pub key: String,
    /// The funnel's `ref`.
    #[serde(rename = "ref")]
    pub ref_tag: Option<String>,
}

struct Refused {
    status: actix_web::http::StatusCode,
    text: String,
}

fn render_buy(
    state: &State,
    lang: Lang,
    course_id: i64,
    email: &str,
    ref_tag: Option<&str>,
    refused: Option<Refused>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.ctx.catalog().snapshot();
    let course = snapshot.course(course_id).ok_or(shop_app::AppError::NotFound("course"))?;
    let buttons = payments::enabled_pay_types(state.ctx.as_ref())
        .into_iter()
        .map(|t| (t.code(), msg::pay_with(t.code()).get(lang).to_owned()))
        .collect();
    let key = shop_app::guests::new_form_key();
    let status = refused.as_ref().map(|r| r.status);
    let mut res = html::page(&BuyHtml {
        lang,
        course_id,
        course_name: &course.name,
        summary: msg::buy_summary(course.period, course.sections).get(lang).to_owned(),
        price: course.price.to_string(),
        buttons,
        email,
        key: &key,
        ref_tag: ref_tag.filter(|r| shop_app::funnel::parse_ref(r).is_ok()),
        error: refused.map(|r| r.text),
    })?;
    if let Some(status) = status {
        *res.status_mut() = status;
        // The page is the answer (not an envelope to make of the error status).
        res.extensions_mut().insert(Verbatim);
    }
    Ok(res)
}

/// `GET /buy/<course_id>`: the hosted buy page (no front end needed). Counts a view of the
/// course in the checkout funnel, like the course's detail (`?ref=` included).
pub async fn buy_page(
    state: web::Data<State>,
    Language(lang): Language,
    client: ClientAddr,
    req: HttpRequest,
    id: web::Path<i64>,
    query: web::Query<BuyQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let res = render_buy(&state, lang, id, "", query.ref_tag.as_deref(), None)?;
    super::course::count_view(&state, id, &client, &req);
    Ok(res)
}

/// `POST /buy/<course_id>`: makes the guest order of the form (see `POST order/pay/`
/// without a token) and sends the browser to the cashier; a refused attempt shows the page
/// again with the reason (and the status of the error).
pub async fn buy(
    state: web::Data<State>,
    Language(lang): Language,
    client: ClientAddr,
    id: web::Path<i64>,
    form: web::Form<BuyForm>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let form = form.into_inner();
    let course =
        state.ctx.catalog().snapshot().course(id).cloned().ok_or(shop_app::AppError::NotFound("course"))?;
    let subject: String = course.name.chars().take(Subject::MAX_CHARS).collect();
    let ref_tag = form.ref_tag.as_deref().filter(|r| !r.is_empty());
    let attempt = async {
        let pay_type =
            form.pay_type.parse::<i64>().map_err(|_| ApiError::field("pay_type", msg::PAY_TYPE))?;
        let ref_tag = ref_tag.map(shop_app::funnel::parse_ref).transpose()?;
        let purchase = Purchase {
            course_ids: vec![id],
            total: course.price,
            subject,
            pay_type,
            idempotency_key: Some(form.key.clone()),
        };
        let outcome = retry_if_connection_lost(|| {
            payments::create_guest_order(state.ctx.as_ref(), &client.0, form.email.trim(), purchase.clone())
        })
        .await?;
        if let Some(r) = ref_tag {
            shop_app::funnel::attach_ref(&state.ctx, &outcome.out_trade_no, &r).await?;
        }
        Ok::<_, ApiError>(outcome)
    };
    match attempt.await {
        Ok(outcome) => {
            let mut res = HttpResponse::SeeOther();
            res.insert_header((header::LOCATION, outcome.pay_url));
            // The open order an earlier page made for this address and course comes without
            // its purchase page (see `payments::create_guest_order`): no cookie then.
            if let Some(token) = outcome.purchase_token {
                let secure = state.ctx.public_url().starts_with("https://");
                res.cookie(
                    Cookie::build(PURCHASE_COOKIE, token)
                        .path("/pay/result/")
                        .http_only(true)
                        .secure(secure)
                        .same_site(SameSite::Lax)
                        .max_age(actix_web::cookie::time::Duration::days(1))
                        .finish(),
                );
            }
            Ok(res.finish())
        }
        Err(err) if err.status().is_client_error() => {
            let text = err.body(lang).msg;
            let refused = Refused { status: err.status(), text };
            render_buy(&state, lang, id, form.email.trim(), ref_tag, Some(refused))
        }
        Err(err) => Err(err),
    }
}
