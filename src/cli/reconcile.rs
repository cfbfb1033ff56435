//! `course-shop reconcile`: ask Alipay about the orders in doubt.
use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime, Utc};
use clap::Args;
use shop_app::config::Settings;
use shop_app::payments;

#[derive(Debug, Args)]
pub struct Reconcile {
    /// Only orders created since this date (YYYY-MM-DD, UTC); default: 30 days ago.
    #[arg(long)]
    since: Option<String>,
}

pub async fn run(args: Reconcile, settings: Settings) -> anyhow::Result<()> {
    let since = match args.since {
        Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .with_context(|| format!("--since {d:?} (use YYYY-MM-DD)"))?
            .and_time(NaiveTime::MIN)
            .and_utc(),
        None => Utc::now() - chrono::Duration::days(30),
    };
    let ctx = super::operator_context(settings).await?;
    let rows = payments::reconcile(&ctx, since).await?;
    println!("{:<44} {:<18} {:<18} note", "out_trade_no", "before", "after");
    let mut changed = 0;
    for r in &rows {
        changed += usize::from(r.before != r.after);
        println!("{:<44} {:<18} {:<18} {}", r.out_trade_no, r.before.label(), r.after.label(), r.note);
    }
    println!("{} order(s) examined, {changed} changed", rows.len());
    Ok(())
}
