//! `course-shop sales`: the sales report.
use chrono::Utc;
use clap::Args;
use shop_app::config::Settings;
use shop_app::delivery::{self, ReportPeriod, SalesReport};
use shop_app::funnel::FunnelGrouping;

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
    /// Also the checkout funnel per course: views → orders created → paid → refunds.
    #[arg(long)]
    funnel: bool,
    /// The funnel per course and ref (a campaign or page variant); implies --funnel.
    #[arg(long)]
    by_ref: bool,
}

pub async fn run(args: Sales, settings: Settings) -> anyhow::Result<()> {
    let period = match &args {
        Sales { since: Some(day), .. } => ReportPeriod::parse(None, Some(day))?,
        Sales { today: true, .. } => ReportPeriod::Today,
        Sales { week: true, .. } => ReportPeriod::Week,
        _ => ReportPeriod::All,
    };
    let (funnel, by_ref) = (args.funnel || args.by_ref, args.by_ref);
    let ctx = super::operator_context(settings).await?;
    let since = period.start(Utc::now());
    let report = delivery::sales_report(&ctx.delivery(), since).await?;
    print(&report);
    if funnel {
        let rows =
            shop_app::funnel::funnel_report(&ctx, since, FunnelGrouping { by_day: false, by_ref }).await?;
        print_funnel(&rows);
    }
    Ok(())
}

fn print_funnel(rows: &[shop_app::funnel::FunnelRow]) {
    println!();
    println!("Checkout funnel (views: visitors once per course and day, bots left out)");
    println!(
        "{:<6} {:<30} {:<16} {:>7} {:>7} {:>6} {:>8} {:>10} {:>10}",
        "course", "name", "ref", "views", "orders", "paid", "refunds", "view→ord", "ord→paid"
    );
    for r in rows {
        let name: String = r.name.chars().take(28).collect();
        let tag = r.ref_tag.as_deref().map(|t| if t.is_empty() { "(none)" } else { t }).unwrap_or("");
        println!(
            "{:<6} {:<30} {:<16} {:>7} {:>7} {:>6} {:>8} {:>9.1}% {:>9.1}%",
            r.course_id,
            name,
            tag,
            r.views,
            r.created,
            r.paid,
            r.refunded,
            r.view_to_order(),
            r.order_to_paid()
        );
    }
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
        "{:<14} {:>8} {:>6} {:>12} {:>10} {:>7}",
        "provider", "created", "paid", "revenue", "refunded", "share"
    );
    for p in &r.providers {
        println!(
            "{:<14} {:>8} {:>6} {:>12} {:>10} {:>6.1}%",
            p.name().get(shop_app::i18n::Lang::En),
            p.created,
            p.paid,
            p.revenue.to_string(),
            p.refunded.to_string(),
            r.revenue_share_percent(p)
        );
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
