//! Admin endpoints; every one checks the administrator role on the server.
use crate::extract::Language;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shop_app::accounts;
use shop_app::delivery::{self, ReportPeriod, SalesReport};
use shop_app::i18n::msg;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::AuthUser;
use crate::state::State;

/// Which orders the report covers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// `today`, `week` (7 days) or `all` (default `all`).
    pub period: Option<String>,
    /// Orders created since this date (`YYYY-MM-DD`, UTC); overrides `period`.
    pub since: Option<String>,
}

/// Sales of one course.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseSalesDto {
    /// Course id.
    pub course_id: i64,
    /// Course name.
    pub name: String,
    /// Units sold.
    pub units: u64,
    /// Revenue in yuan.
    pub revenue: String,
}

/// One day (Beijing time).
#[derive(Debug, Serialize, ToSchema)]
pub struct DaySalesDto {
    /// The day.
    pub day: Option<NaiveDate>,
    /// Orders created.
    pub created: u64,
    /// Of those, paid.
    pub paid: u64,
    /// Revenue in yuan.
    pub revenue: String,
    /// Refunded in yuan.
    pub refunded: String,
}

/// The sales report.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesDto {
    /// Orders created since (null: all time).
    pub since: Option<DateTime<Utc>>,
    /// Orders created.
    pub orders_created: u64,
    /// Orders paid.
    pub orders_paid: u64,
    /// Paid per created, in percent.
    pub conversion_percent: f64,
    /// Gross revenue in yuan.
    pub revenue: String,
    /// Refunded in yuan.
    pub refunded: String,
    /// Revenue minus refunds in yuan.
    pub net: String,
    /// Per course, best sellers first.
    pub courses: Vec<CourseSalesDto>,
    /// Per day.
    pub days: Vec<DaySalesDto>,
}

/// `{code, msg, result: Sales}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The report.
    pub result: SalesDto,
}

impl From<SalesReport> for SalesDto {
    fn from(r: SalesReport) -> Self {
        SalesDto {
            since: r.since,
            orders_created: r.created,
            orders_paid: r.paid,
            conversion_percent: (r.conversion_percent() * 10.0).round() / 10.0,
            revenue: r.revenue.to_string(),
            refunded: r.refunded.to_string(),
            net: r.net().to_string(),
            courses: r
                .courses
                .into_iter()
                .map(|c| CourseSalesDto {
                    course_id: c.course_id,
                    name: c.name,
                    units: c.units,
                    revenue: c.revenue.to_string(),
                })
                .collect(),
            days: r
                .days
                .into_iter()
                .map(|d| DaySalesDto {
                    day: d.day,
                    created: d.created,
                    paid: d.paid,
                    revenue: d.revenue.to_string(),
                    refunded: d.refunded.to_string(),
                })
                .collect(),
        }
    }
}

/// Units and revenue per course and per day, orders created against paid (conversion),
/// refunds. Administrators only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/sales/",
    tag = "admin",
    security(("jwt" = [])),
    params(SalesQuery),
    responses(
        (status = 200, body = SalesResponse),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)
    )
)]
pub async fn sales(
    state: web::Data<State>,
    user: AuthUser,
    lang: Language,
    query: web::Query<SalesQuery>,
) -> Result<HttpResponse, ApiError> {
    accounts::require_admin(&state.ctx.accounts(), user.0).await?;
    let since = ReportPeriod::parse(query.period.as_deref(), query.since.as_deref())?.start(Utc::now());
    let report = delivery::sales_report(&state.ctx.delivery(), since).await?;
    Ok(HttpResponse::Ok().json(SalesResponse {
        code: codes::OK,
        msg: msg::OK.get(lang.0).into(),
        result: report.into(),
    }))
}
