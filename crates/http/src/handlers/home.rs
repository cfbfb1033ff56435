//! `home/`: the banner carousel.
use crate::extract::Language;
use actix_web::{HttpResponse, web};
use shop_app::i18n::msg;

use crate::dto::{BannerDto, BannerList};
use crate::error::{ErrorBody, codes};
use crate::state::State;

/// Banners of the home page, by display priority, at most `api.banner_count`.
#[utoipa::path(
    get,
    path = "/api/v1/home/banner/",
    tag = "home",
    responses((status = 200, description = "The banners", body = BannerList), (status = 405, body = ErrorBody))
)]
pub async fn banner(state: web::Data<State>, lang: Language) -> HttpResponse {
    let snapshot = state.ctx.catalog().snapshot();
    let result = snapshot
        .banners(state.ctx.settings().api.banner_count)
        .iter()
        .map(|b| BannerDto::from_view(b, &state.links))
        .collect();
    HttpResponse::Ok().json(BannerList { code: codes::OK, msg: msg::OK.get(lang.0).into(), result })
}
