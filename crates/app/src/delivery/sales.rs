//! Sales reports for the seller (`course-shop sales` and `GET admin/sales/`): units and
//! revenue per course and per day, orders created against orders paid (conversion), refunds,
//! and the provider mix (orders and revenue per payment provider).
use crate::i18n::msg;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use shop_domain::Money;

use crate::context::Delivery;
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

/// Orders of one payment provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderSales {
    /// The stored `pay_type`.
    pub pay_type: i16,
    /// Orders created with this provider.
    pub created: u64,
    /// Of those, orders paid.
    pub paid: u64,
    /// Their revenue.
    pub revenue: Money,
    /// Refunded on them.
    pub refunded: Money,
}

impl ProviderSales {
    /// The provider's name for people (支付宝 / Alipay, 微信支付 / WeChat Pay, or the code).
    pub fn name(&self) -> crate::i18n::Text {
        msg::provider_name(self.pay_type)
    }
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
    /// Per payment provider (the provider mix), in `pay_type` order.
    pub providers: Vec<ProviderSales>,
    /// Orders created.
    pub created: u64,
    /// Orders paid.
    pub paid: u64,
    /// Gross revenue.
    pub revenue: Money,
    /// Refunded.
    pub refunded: Money,
    /// Revenue minus refunds, as [`sales_report`] computed it (refunds above revenue are a
    /// corrupt row: an error there, not a zero here).
    net: Money,
}

impl SalesReport {
    /// Paid orders per created order, as a percentage.
    pub fn conversion_percent(&self) -> f64 {
        if self.created == 0 { 0.0 } else { self.paid as f64 * 100.0 / self.created as f64 }
    }

    /// Revenue minus refunds.
    pub fn net(&self) -> Money {
        self.net
    }

    /// A provider's share of the revenue, as a percentage.
    pub fn revenue_share_percent(&self, p: &ProviderSales) -> f64 {
        if self.revenue.fen() == 0 { 0.0 } else { p.revenue.fen() as f64 * 100.0 / self.revenue.fen() as f64 }
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
                .map_err(|_| AppError::invalid("since", msg::bad_date(day)));
        }
        match period.unwrap_or("all") {
            "all" | "" => Ok(ReportPeriod::All),
            "today" => Ok(ReportPeriod::Today),
            "week" => Ok(ReportPeriod::Week),
            other => Err(AppError::invalid("period", msg::bad_period(other))),
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

/// A sum of amounts as money: a negative or impossibly large sum means a corrupt row.
fn money(fen: i64, what: &str) -> AppResult<Money> {
    Money::from_fen(fen)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("sales report: {what} of {fen} fen")))
}

/// Builds the report over orders created since `since`. The database sums per day (Beijing
/// time, [`shop_domain::time`]) and per course; the totals are the sums of the days.
///
/// # Errors
/// Database errors; a sum out of the range of [`Money`] (a corrupt amount).
pub async fn sales_report(ctx: &Delivery<'_>, since: Option<DateTime<Utc>>) -> AppResult<SalesReport> {
    let day_rows = shop_db::sales::days(ctx.db, since, shop_domain::time::BEIJING).await?;
    let course_rows = shop_db::sales::courses(ctx.db, since).await?;
    let provider_rows = shop_db::sales::providers(ctx.db, since).await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut report = SalesReport { since, ..Default::default() };
    let (mut revenue, mut refunded) = (0i64, 0i64);
    for d in day_rows {
        report.created += count(d.created);
        report.paid += count(d.paid);
        revenue = revenue.saturating_add(d.revenue_fen);
        refunded = refunded.saturating_add(d.refunded_fen);
        report.days.push(DaySales {
            day: Some(d.day),
            created: count(d.created),
            paid: count(d.paid),
            revenue: money(d.revenue_fen, "revenue of a day")?,
            refunded: money(d.refunded_fen, "refunds of a day")?,
        });
    }
    report.revenue = money(revenue, "revenue")?;
    report.refunded = money(refunded, "refunds")?;
    report.net = money(revenue.saturating_sub(refunded), "revenue net of refunds")?;
    report.providers = provider_rows
        .into_iter()
        .map(|p| {
            Ok(ProviderSales {
                pay_type: p.pay_type,
                created: count(p.created),
                paid: count(p.paid),
                revenue: money(p.revenue_fen, "revenue of a provider")?,
                refunded: money(p.refunded_fen, "refunds of a provider")?,
            })
        })
        .collect::<AppResult<_>>()?;
    let snapshot = ctx.catalog.snapshot();
    report.courses = course_rows
        .into_iter()
        .map(|c| {
            Ok(CourseSales {
                course_id: c.course_id,
                name: snapshot.course(c.course_id).map(|x| x.name.clone()).unwrap_or_default(),
                units: count(c.units),
                revenue: money(c.revenue_fen, "revenue of a course")?,
            })
        })
        .collect::<AppResult<_>>()?;
    report.courses.sort_by(|a, b| {
        b.revenue.cmp(&a.revenue).then(b.units.cmp(&a.units)).then(a.course_id.cmp(&b.course_id))
    });
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
