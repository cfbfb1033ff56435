//! `course-shop sales`: the sales report.
use chrono::Utc;
use clap::Args;
use shop_app::config::Settings;
use shop_app::delivery::{self, ReportPeriod, SalesReport};

#[derive(Debug, Args)]
pub struct Sales {
    /// Orders created today (UTC).
    #[arg(long, group = "period")]
    today: bool,
    /// Orders created in the last 7 days.
    #[arg(long, group = "period")]
    week: bool,
    /// Every order (the default).
    #[arg(long, group = "period")]
    all: bool,
    /// Orders created since this date (YYYY-MM-DD, UTC).
    #[arg(long, group = "period")]
    since: Option<String>,
}

pub async fn run(args: Sales, settings: Settings) -> anyhow::Result<()> {
    let period = match args {
        Sales { since: Some(day), .. } => ReportPeriod::parse(None, Some(&day))?,
        Sales { today: true, .. } => ReportPeriod::Today,
        Sales { week: true, .. } => ReportPeriod::Week,
        _ => ReportPeriod::All,
    };
    let ctx = super::operator_context(settings).await?;
    let report = delivery::sales_report(&ctx.delivery(), period.start(Utc::now())).await?;
    print(&report);
    Ok(())
}

fn print(r: &SalesReport) {
    match r.since {
        Some(at) => println!("Orders created since {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => println!("All orders"),
    }
    println!(
        "created {}  paid {}  conversion {:.1}%  revenue ¥{}  refunded ¥{}  net ¥{}",
        r.created,
        r.paid,
        r.conversion_percent(),
        r.revenue,
        r.refunded,
        r.net()
    );
    println!();
    println!("{:<6} {:<40} {:>6} {:>12}", "course", "name", "units", "revenue");
    for c in &r.courses {
        let name: String = c.name.chars().take(38).collect();
        println!("{:<6} {:<40} {:>6} {:>12}", c.course_id, name, c.units, c.revenue.to_string());
    }
    println!();
    println!(
        "{:<12} {:>8} {:>6} {:>11} {:>12} {:>10}",
        "day (UTC+8)", "created", "paid", "conversion", "revenue", "refunded"
    );
    for d in &r.days {
        let conv = if d.created == 0 { 0.0 } else { d.paid as f64 * 100.0 / d.created as f64 };
        println!(
            "{:<12} {:>8} {:>6} {:>10.1}% {:>12} {:>10}",
            d.day.map(|x| x.to_string()).unwrap_or_default(),
            d.created,
            d.paid,
            conv,
            d.revenue.to_string(),
            d.refunded.to_string()
        );
    }
}
