//! `course/`: categories, the course list, course detail, chapters and search.
use shop_app::i18n::msg;
use std::collections::HashSet;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::AppError;

use shop_app::catalog::{CourseView, Ordering, Page};
use shop_domain::Money;
use shop_domain::paging::PageRequest;
use shop_domain::search::SearchTerm;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::dto::{CategoryDto, CategoryList, ChapterDto, CourseDto, CoursePage};
use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::{ClientAddr, Language, MaybeUser};
use crate::schemas::{self, query};
use crate::state::State;

/// Query of the course list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `ordering`.
    pub ordering: Option<String>,
    /// `course_category`.
    pub course_category: Option<String>,
    /// `page`.
    pub page: Option<String>,
    /// `size`.
    pub size: Option<String>,
    /// `page_size`.
    pub page_size: Option<String>,
}

impl IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query(
                "ordering",
                false,
                "`orders` (default, also when empty), `students`, `-students`, `price` or `-price`.",
                schemas::ordering_query(),
            ),
            query("course_category", false, "Only courses of this category.", schemas::id_query()),
            query("page", false, PAGE, schemas::page_query()),
            query("size", false, SIZE, schemas::size_query()),
            query("page_size", false, "Same as `size`.", schemas::size_query()),
        ]
    }
}

const PAGE: &str = "Page number, from 1 (a page past the end is a 404).";
const SIZE: &str = "Page size (default `api.default_page_size`; above `api.max_page_size`, lowered to it).";

/// Query of course search.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// `search`.
    pub search: Option<String>,
    /// `wd`.
    pub wd: Option<String>,
    /// `min_price`.
    pub min_price: Option<String>,
    /// `max_price`.
    pub max_price: Option<String>,
    /// `page`.
    pub page: Option<String>,
    /// `page_size`.
    pub page_size: Option<String>,
    /// `size`.
    pub size: Option<String>,
}

impl IntoParams for SearchQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query(
                "search",
                false,
                "Words to find in course names and teacher names (case-insensitive), or a price (`99`, `99.9`, `99.00`, `¥99`, `99元`) that also finds the courses with that price. Empty or absent: every course.",
                schemas::search_query(),
            ),
            query("wd", false, "Same as `search` (the Luffy header's parameter).", schemas::search_query()),
            query(
                "min_price",
                false,
                "Lowest price in yuan, inclusive (`0`, `99.5`).",
                schemas::yuan_string(),
            ),
            query(
                "max_price",
                false,
                "Highest price in yuan, inclusive (not below `min_price`).",
                schemas::yuan_string(),
            ),
            query("page", false, PAGE, schemas::page_query()),
            query("page_size", false, SIZE, schemas::size_query()),
            query("size", false, "Same as `page_size`.", schemas::size_query()),
        ]
    }
}

/// Query of the chapter list.
#[derive(Debug, Deserialize)]
pub struct ChapterQuery {
    /// `course`.
    pub course: Option<String>,
}

impl IntoParams for ChapterQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![query("course", true, "Course id.", schemas::id_query())]
    }
}

/// The page asked for; `size` is the page size's spelling the endpoint documents first and
/// `alias` the other. Both are checked when both are given (a bad one is refused, not
/// ignored); the first spelling wins.
fn page_request(
    state: &State,
    page: Option<&str>,
    size: Option<&str>,
    alias: Option<&str>,
) -> Result<PageRequest, ApiError> {
    let api = &state.ctx.settings().api;
    let parse = |size: Option<&str>| {
        PageRequest::parse(page, size, api.default_page_size, api.max_page_size).map_err(|e| match e {
            shop_domain::paging::PageError::BadPage => ApiError::field("page", msg::page(&e)),
            shop_domain::paging::PageError::BadSize => ApiError::field("size", msg::page(&e)),
        })
    };
    if size.is_some() && alias.is_some() {
        parse(alias)?;
    }
    parse(size.or(alias))
}

fn parse_id(field: &str, text: &str) -> Result<i64, ApiError> {
    shop_domain::catalog::parse_id(text).ok_or_else(|| ApiError::field(field, msg::POSITIVE_INTEGER))
}

fn parse_price(field: &str, text: Option<&str>) -> Result<Option<Money>, ApiError> {
    text.map(|t| Money::parse_yuan(t).map_err(|e| ApiError::field(field, msg::yuan(e)))).transpose()
}

/// Which of `ids` the (possibly anonymous) user owns.
async fn owned_of(state: &State, user: MaybeUser, ids: &[i64]) -> Result<HashSet<i64>, ApiError> {
    match user.0 {
        Some(id) if !ids.is_empty() => {
            Ok(shop_app::delivery::owned_course_ids(state.ctx.db(), id, Some(ids)).await?)
        }
        _ => Ok(HashSet::new()),
    }
}

/// A page of courses as the wire shows it, with `owned` for the logged-in user.
async fn page_response(
    state: &State,
    req: &HttpRequest,
    user: MaybeUser,
    page: &Page<Arc<CourseView>>,
) -> Result<HttpResponse, ApiError> {
    let ids: Vec<i64> = page.items.iter().map(|c| c.id).collect();
    let owned = owned_of(state, user, &ids).await?;
    Ok(HttpResponse::Ok().json(CoursePage::from_page(
        page,
        &state.links,
        req.path(),
        req.query_string(),
        &owned,
    )))
}

/// Public course categories.
#[utoipa::path(get, path = "/api/v1/course/category/", tag = "course", responses((status = 200, body = CategoryList)))]
pub async fn categories(state: web::Data<State>, lang: Language) -> HttpResponse {
    let snapshot = state.ctx.catalog().snapshot();
    let result = snapshot.categories().iter().map(CategoryDto::from).collect();
    HttpResponse::Ok().json(CategoryList { code: codes::OK, msg: msg::OK.get(lang.0).into(), result })
}

/// A page of public courses.
#[utoipa::path(
    get,
    path = "/api/v1/course/list/",
    tag = "course",
    params(ListQuery),
    responses(
        (status = 200, body = CoursePage),
        (status = 400, description = "Bad ordering, category, page or size", body = ErrorBody),
        (status = 404, description = "Page past the end", body = ErrorBody)
    )
)]
pub async fn list(
    state: web::Data<State>,
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ordering = query.ordering.as_deref().unwrap_or("");
    let ordering = Ordering::parse(ordering).ok_or_else(|| ApiError::field("ordering", msg::BAD_ORDERING))?;
    let category = query.course_category.as_deref().map(|c| parse_id("course_category", c)).transpose()?;
    let request =
        page_request(&state, query.page.as_deref(), query.size.as_deref(), query.page_size.as_deref())?;
    let page = state.ctx.catalog().snapshot().list(category, ordering, request)?;
    page_response(&state, &req, user, &page).await
}

/// One public course.
#[utoipa::path(
    get,
    path = "/api/v1/course/list/{id}/",
    tag = "course",
    params(
        ("id" = i64, Path, description = "Course id"),
        ("ref" = Option<String>, Query, description = "A campaign or page variant (1 to 64 letters, digits, `-`, `_`, `.`): counted with the view in the checkout funnel; send it again with the order")
    ),
    responses(
        (status = 200, body = CourseDto),
        (status = 400, description = "A NUL character in the query string", body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn detail(
    state: web::Data<State>,
    user: MaybeUser,
    client: ClientAddr,
    req: HttpRequest,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.ctx.catalog().snapshot();
    let course = snapshot.course(id.into_inner()).ok_or(AppError::NotFound("course"))?;
    count_view(&state, course.id, &client, &req);
    let owned = owned_of(&state, user, &[course.id]).await?;
    Ok(HttpResponse::Ok().json(CourseDto::from_view(course, &state.links, owned.contains(&course.id))))
}

/// Counts a view of a course page for the checkout funnel (`shop_app::funnel`): claimed in the
/// request (so a visitor's first view is the one counted, with its `ref`), written off the
/// request's path (the answer does not wait for it, and a failure is only logged).
pub(crate) fn count_view(state: &web::Data<State>, course_id: i64, client: &ClientAddr, req: &HttpRequest) {
    let ua =
        req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ref_tag = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "ref")
        .map(|(_, v)| v.into_owned());
    // Claimed here, in the order the requests come (not for a bot); written off the request's
    // path.
    let Some(view) = shop_app::funnel::claim_view(&state.ctx, course_id, &client.0, ua, ref_tag.as_deref())
    else {
        return;
    };
    let ctx = Arc::clone(&state.ctx);
    tokio::spawn(async move {
        if let Err(e) = shop_app::funnel::record_view(&ctx, view).await {
            tracing::warn!(error = ?e, "counting a course view failed");
        }
    });
}

/// The chapters of a public course, each with its sections.
#[utoipa::path(
    get,
    path = "/api/v1/course/chapter/",
    tag = "course",
    params(ChapterQuery),
    responses(
        (status = 200, body = Vec<ChapterDto>),
        (status = 400, description = "Missing or malformed course id", body = ErrorBody),
        (status = 404, description = "No such public course", body = ErrorBody)
    )
)]
pub async fn chapters(
    state: web::Data<State>,
    query: web::Query<ChapterQuery>,
) -> Result<HttpResponse, ApiError> {
    let course = query.course.as_deref().ok_or_else(|| ApiError::field("course", msg::REQUIRED))?;
    let course = parse_id("course", course)?;
    let chapters = state.ctx.catalog().chapters(state.ctx.db(), course).await?;
    let body: Vec<ChapterDto> = chapters.iter().map(ChapterDto::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Searches course names and teacher names across every course type, and prices when the term
/// is one (`99`, `¥99`, `99元`). Ranked: exact match, then prefix, then substring (a
/// course-name match before a teacher-name match before a price match), then display
/// priority.
#[utoipa::path(
    get,
    path = "/api/v1/course/search/",
    tag = "course",
    params(SearchQuery),
    responses(
        (status = 200, body = CoursePage),
        (status = 400, description = "Term too long, bad price or page", body = ErrorBody),
        (status = 404, description = "Page past the end", body = ErrorBody)
    )
)]
pub async fn search(
    state: web::Data<State>,
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let raw = query.search.as_deref().or(query.wd.as_deref()).unwrap_or("");
    let term = SearchTerm::parse(raw, SearchTerm::MAX_CHARS)
        .map_err(|e| ApiError::field("search", msg::search_term(&e)))?;
    let min = parse_price("min_price", query.min_price.as_deref())?;
    let max = parse_price("max_price", query.max_price.as_deref())?;
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(ApiError::field("min_price", msg::MIN_ABOVE_MAX));
    }
    let request =
        page_request(&state, query.page.as_deref(), query.page_size.as_deref(), query.size.as_deref())?;
    let page = state.ctx.catalog().snapshot().search(term.as_ref(), min, max, request)?;
    page_response(&state, &req, user, &page).await
}
