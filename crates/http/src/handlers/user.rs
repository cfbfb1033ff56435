//! `user/user/`: password and SMS login, SMS codes, registration, the current user.
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shop_app::AppError;
use shop_app::accounts::{self, LoginOutcome};
use shop_app::buyers;
use shop_app::error::retry_if_connection_lost;
use shop_app::i18n::msg;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::dto::{
    EmailVerify, LoginResponse, MeResponse, Message, MobileRegister, PasswordLogin, ProfilePatch,
    ProfileResponse, SmsLogin, UserDto,
};
use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::{AuthUser, ClientAddr, Language};
use crate::schemas;
use crate::state::State;

/// `?mobile=`.
#[derive(Debug, Deserialize)]
pub struct MobileQuery {
    /// `mobile`.
    pub mobile: Option<String>,
}

impl IntoParams for MobileQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![schemas::query("mobile", true, "Mainland China mobile number.", schemas::mobile_query())]
    }
}

fn login_response(state: &State, lang: Language, outcome: LoginOutcome) -> HttpResponse {
    HttpResponse::Ok().json(LoginResponse {
        code: codes::OK,
        msg: msg::LOGGED_IN.get(lang.0).into(),
        token: outcome.token,
        username: outcome.username,
        icon: state.links.media(&outcome.icon),
    })
}

fn mobile_param(query: &MobileQuery) -> Result<&str, ApiError> {
    query.mobile.as_deref().ok_or_else(|| AppError::InvalidMobile.into())
}

/// Password login with a username, a mobile number or an email. Rate-limited per client
/// address.
#[utoipa::path(
    post,
    path = "/api/v1/user/user/mul_login/",
    tag = "user",
    request_body = PasswordLogin,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "Missing field or malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong username or password (code 1011)", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody)
    )
)]
pub async fn mul_login(
    state: web::Data<State>,
    client: ClientAddr,
    lang: Language,
    body: web::Json<PasswordLogin>,
) -> Result<HttpResponse, ApiError> {
    let accounts_view = state.ctx.accounts();
    let outcome = retry_if_connection_lost(|| {
        accounts::login(&accounts_view, &client.0, &body.username, &body.password)
    })
    .await?;
    Ok(login_response(&state, lang, outcome))
}

/// Whether a mobile number is registered: code 100 when it is, 101 when it is not.
#[utoipa::path(
    get,
    path = "/api/v1/user/user/mobile/",
    tag = "user",
    params(MobileQuery),
    responses(
        (status = 200, description = "100 registered, 101 not registered", body = Message),
        (status = 400, description = "Not a valid mobile number (code 102)", body = ErrorBody)
    )
)]
pub async fn mobile(
    state: web::Data<State>,
    lang: Language,
    query: web::Query<MobileQuery>,
) -> Result<HttpResponse, ApiError> {
    let mobile = mobile_param(&query)?;
    let accounts_view = state.ctx.accounts();
    let registered = retry_if_connection_lost(|| accounts::mobile_registered(&accounts_view, mobile)).await?;
    Ok(HttpResponse::Ok().json(if registered {
        Message::new(codes::OK, msg::MOBILE_REGISTERED.get(lang.0))
    } else {
        Message::new(codes::NOT_YET, msg::MOBILE_NOT_REGISTERED.get(lang.0))
    }))
}

/// Sends a six-digit code (valid 5 minutes, single use). At most one per minute and five per
/// hour per number. The development sender writes it to the server log.
#[utoipa::path(
    get,
    path = "/api/v1/user/user/send_sms/",
    tag = "user",
    params(MobileQuery),
    responses(
        (status = 200, description = "Sent (code 100)", body = Message),
        (status = 400, description = "Not a valid mobile number (code 102)", body = ErrorBody),
        (status = 429, description = "Too soon or too many for this number", body = ErrorBody),
        (status = 503, description = "Could not be sent (code 101)", body = ErrorBody)
    )
)]
pub async fn send_sms(
    state: web::Data<State>,
    client: ClientAddr,
    lang: Language,
    query: web::Query<MobileQuery>,
) -> Result<HttpResponse, ApiError> {
    accounts::send_sms_code(&state.ctx.accounts(), &client.0, mobile_param(&query)?).await?;
    Ok(HttpResponse::Ok().json(Message::new(codes::OK, msg::SMS_SENT.get(lang.0))))
}

/// Login with a mobile number and an SMS code.
#[utoipa::path(
    post,
    path = "/api/v1/user/user/mobile_login/",
    tag = "user",
    request_body = SmsLogin,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "Bad number (102) or wrong/expired code (1013)", body = ErrorBody),
        (status = 404, description = "No account has this number", body = ErrorBody),
        (status = 429, body = ErrorBody)
    )
)]
pub async fn mobile_login(
    state: web::Data<State>,
    client: ClientAddr,
    lang: Language,
    body: web::Json<SmsLogin>,
) -> Result<HttpResponse, ApiError> {
    let outcome = accounts::sms_login(&state.ctx.accounts(), &client.0, &body.mobile, &body.code).await?;
    Ok(login_response(&state, lang, outcome))
}

/// Registration with a mobile number, an SMS code and a password; the username is the
/// mobile number.
#[utoipa::path(
    post,
    path = "/api/v1/user/user/mobile_register/",
    tag = "user",
    request_body = MobileRegister,
    responses(
        (status = 200, description = "Registered (code 100)", body = Message),
        (status = 400, description = "Bad number, password or code", body = ErrorBody),
        (status = 409, description = "Number already registered", body = ErrorBody),
        (status = 429, body = ErrorBody)
    )
)]
pub async fn mobile_register(
    state: web::Data<State>,
    client: ClientAddr,
    lang: Language,
    body: web::Json<MobileRegister>,
) -> Result<HttpResponse, ApiError> {
    accounts::register_by_mobile(&state.ctx.accounts(), &client.0, &body.mobile, &body.code, &body.password)
        .await?;
    Ok(HttpResponse::Ok().json(Message::new(codes::OK, msg::REGISTERED.get(lang.0))))
}

/// The logged-in user.
#[utoipa::path(
    get,
    path = "/api/v1/user/user/me/",
    tag = "user",
    security(("jwt" = [])),
    responses((status = 200, body = MeResponse), (status = 401, description = "Missing, expired or invalid token", body = ErrorBody))
)]
pub async fn me(state: web::Data<State>, user: AuthUser, lang: Language) -> Result<HttpResponse, ApiError> {
    let accounts_view = state.ctx.accounts();
    let view = retry_if_connection_lost(|| accounts::me(&accounts_view, user.0)).await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        code: codes::OK,
        msg: msg::OK.get(lang.0).into(),
        result: UserDto::from_view(view, &state.links),
    }))
}

/// Changes the logged-in user's profile: `email` (confirmed with a code sent to it, see
/// `POST user/user/email/verify/`) and `username`. Any other field is refused (400, code
/// 1000, `errors` names it). Codes are limited like SMS codes (one a minute and five an hour
/// per account, five an hour per client address).
#[utoipa::path(
    patch,
    path = "/api/v1/user/user/me/",
    tag = "user",
    security(("jwt" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "Changed; `email_pending` names where a code was sent", body = ProfileResponse),
        (status = 400, description = "A refused field or an invalid value (code 1000)", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "The username or email belongs to another account", body = ErrorBody),
        (status = 429, description = "Codes asked too often; see Retry-After", body = ErrorBody),
        (status = 503, description = "The code email could not be sent", body = ErrorBody)
    )
)]
pub async fn update_me(
    state: web::Data<State>,
    user: AuthUser,
    client: ClientAddr,
    lang: Language,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let fields = body.as_object().ok_or_else(|| ApiError::field("body", msg::MUST_BE_OBJECT))?;
    let change = buyers::ProfileChange::from_json(fields)?;
    let outcome = buyers::update_profile(&state.ctx.accounts(), &client.0, user.0, change, lang.0).await?;
    let text = if outcome.email_pending.is_some() { msg::EMAIL_CODE_SENT } else { msg::PROFILE_UPDATED };
    Ok(HttpResponse::Ok().json(ProfileResponse {
        code: codes::OK,
        msg: text.get(lang.0).into(),
        result: UserDto::from_view(outcome.user, &state.links),
        email_pending: outcome.email_pending,
    }))
}

/// Confirms the new email address with the code sent to it (single use, valid 5 minutes, five
/// guesses); the address becomes the account's email, where purchase emails go.
#[utoipa::path(
    post,
    path = "/api/v1/user/user/email/verify/",
    tag = "user",
    security(("jwt" = [])),
    request_body = EmailVerify,
    responses(
        (status = 200, description = "Confirmed (code 100)", body = MeResponse),
        (status = 400, description = "Wrong, used or expired code (code 1014)", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "Another account confirmed this address meanwhile", body = ErrorBody)
    )
)]
pub async fn verify_email(
    state: web::Data<State>,
    user: AuthUser,
    lang: Language,
    body: web::Json<EmailVerify>,
) -> Result<HttpResponse, ApiError> {
    let view = buyers::confirm_email(&state.ctx.accounts(), user.0, &body.code).await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        code: codes::OK,
        msg: msg::EMAIL_CONFIRMED.get(lang.0).into(),
        result: UserDto::from_view(view, &state.links),
    }))
}
