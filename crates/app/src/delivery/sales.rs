//! Sales reports for the seller (`course-shop sales` and `GET admin/sales/`): units and
//! revenue per course and per day, orders created against orders paid (conversion), refunds.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use shop_db::entities::{order, order_detail};
use shop_domain::Money;
use shop_domain::order::OrderStatus;

use crate::context::AppContext;
use crate::error::{AppError, AppResult};

/// Sales of one course.
#[derive(Debug, Clone, Default)]
pub struct CourseSales {
    /// Course id.
    pub course_id: i64,
    /// Course name.
    pub name: String,
    /// Units sold (paid orders, refunded ones included).
    pub units: u64,
    /// Revenue of those units.
    pub revenue: Money,
}

/// One day (Beijing time).
#[derive(Debug, Clone, Default)]
pub struct DaySales {
    /// The day.
    pub day: Option<NaiveDate>,
    /// Orders created that day.
    pub created: u64,
    /// Of those, orders that were paid.
    pub paid: u64,
    /// Their revenue.
    pub revenue: Money,
    /// Refunded on orders created that day.
    pub refunded: Money,
}

/// The report.
#[derive(Debug, Clone, Default)]
pub struct SalesReport {
    /// Orders created since (None: all time).
    pub since: Option<DateTime<Utc>>,
    /// Per course, best sellers first.
    pub courses: Vec<CourseSales>,
    /// Per day, oldest first.
    pub days: Vec<DaySales>,
    /// Orders created.
    pub created: u64,
    /// Orders paid.
    pub paid: u64,
    /// Gross revenue.
    pub revenue: Money,
    /// Refunded.
    pub refunded: Money,
}

impl SalesReport {
    /// Paid orders per created order, as a percentage.
    pub fn conversion_percent(&self) -> f64 {
        if self.created == 0 { 0.0 } else { self.paid as f64 * 100.0 / self.created as f64 }
    }

    /// Revenue minus refunds.
    pub fn net(&self) -> Money {
        Money::from_fen(self.revenue.fen() - self.refunded.fen()).unwrap_or(Money::ZERO)
    }
}

/// Which orders a report covers, by the time they were created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportPeriod {
    /// Every order.
    All,
    /// Orders created today (UTC).
    Today,
    /// Orders created in the last 7 days.
    Week,
    /// Orders created since the start of this day (UTC).
    Since(NaiveDate),
}

impl ReportPeriod {
    /// Reads a request's `period` (`today`, `week` or `all`; default `all`) and `since`
    /// (`YYYY-MM-DD`, UTC), which overrides `period` when not empty.
    ///
    /// # Errors
    /// `Validation` of `since` or `period`.
    pub fn parse(period: Option<&str>, since: Option<&str>) -> AppResult<Self> {
        if let Some(day) = since.filter(|s| !s.is_empty()) {
            return NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map(ReportPeriod::Since)
                .map_err(|_| AppError::invalid("since", format!("{day:?} is not YYYY-MM-DD")));
        }
        match period.unwrap_or("all") {
            "all" | "" => Ok(ReportPeriod::All),
            "today" => Ok(ReportPeriod::Today),
            "week" => Ok(ReportPeriod::Week),
            other => Err(AppError::invalid("period", format!("{other:?} is not today, week or all"))),
        }
    }

    /// The first instant the report covers at `now` (`None`: all time).
    pub fn start(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            ReportPeriod::All => None,
            ReportPeriod::Today => Some(now.date_naive().and_time(NaiveTime::MIN).and_utc()),
            ReportPeriod::Week => Some(now - Duration::days(7)),
            ReportPeriod::Since(day) => Some(day.and_time(NaiveTime::MIN).and_utc()),
        }
    }
}

fn add(a: Money, fen: i64) -> Money {
    Money::from_fen(a.fen().saturating_add(fen)).unwrap_or(a)
}

/// Builds the report over orders created since `since`.
///
/// # Errors
/// Database errors.
pub async fn sales_report(ctx: &AppContext, since: Option<DateTime<Utc>>) -> AppResult<SalesReport> {
    let mut q = order::Entity::find();
    if let Some(at) = since {
        q = q.filter(order::Column::CreatedTime.gte(at));
    }
    let orders = q.all(&ctx.db).await?;
    let paid_ids: Vec<i64> = orders
        .iter()
        .filter(|o| OrderStatus::from_code(o.order_status).is_some_and(OrderStatus::money_received))
        .map(|o| o.id)
        .collect();
    let lines = if paid_ids.is_empty() {
        Vec::new()
    } else {
        order_detail::Entity::find()
            .filter(order_detail::Column::OrderId.is_in(paid_ids))
            .all(&ctx.db)
            .await?
    };
    let mut report = SalesReport { since, ..Default::default() };
    let mut days: BTreeMap<NaiveDate, DaySales> = BTreeMap::new();
    for o in &orders {
        let day = shop_domain::time::beijing_day(o.created_time);
        let entry = days.entry(day).or_insert_with(|| DaySales { day: Some(day), ..Default::default() });
        entry.created += 1;
        report.created += 1;
        if OrderStatus::from_code(o.order_status).is_some_and(OrderStatus::money_received) {
            entry.paid += 1;
            entry.revenue = add(entry.revenue, o.total_amount_fen);
            report.paid += 1;
            report.revenue = add(report.revenue, o.total_amount_fen);
        }
        entry.refunded = add(entry.refunded, o.refunded_fen);
        report.refunded = add(report.refunded, o.refunded_fen);
    }
    let snapshot = ctx.catalog.snapshot();
    let mut per_course: BTreeMap<i64, CourseSales> = BTreeMap::new();
    for l in lines {
        let entry = per_course.entry(l.course_id).or_insert_with(|| CourseSales {
            course_id: l.course_id,
            name: snapshot.course(l.course_id).map(|c| c.name.clone()).unwrap_or_default(),
            ..Default::default()
        });
        entry.units += 1;
        entry.revenue = add(entry.revenue, l.real_price_fen);
    }
    report.courses = per_course.into_values().collect();
    report.courses.sort_by(|a, b| {
        b.revenue.cmp(&a.revenue).then(b.units.cmp(&a.units)).then(a.course_id.cmp(&b.course_id))
    });
    report.days = days.into_values().collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn a_period_starts_where_the_report_says() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 20, 5, 0).single().expect("time");
        let start = |period, since| ReportPeriod::parse(period, since).expect("valid").start(now);
        assert_eq!(start(None, None), None);
        assert_eq!(start(Some("all"), Some("")), None);
        assert_eq!(start(Some("today"), None), Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).single());
        assert_eq!(start(Some("week"), None), Utc.with_ymd_and_hms(2026, 11, 14, 20, 5, 0).single());
        assert_eq!(
            start(Some("week"), Some("2026-11-01")),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single(),
            "since overrides period"
        );
    }

    #[test]
    fn a_bad_period_names_its_field() {
        let err = ReportPeriod::parse(Some("year"), None).expect_err("invalid");
        assert!(matches!(err, AppError::Validation { field: "period", .. }), "{err:?}");
        assert_eq!(err.to_string(), r#"period: "year" is not today, week or all"#);
        let err = ReportPeriod::parse(None, Some("yesterday")).expect_err("invalid");
        assert_eq!(err.to_string(), r#"since: "yesterday" is not YYYY-MM-DD"#);
    }
}
