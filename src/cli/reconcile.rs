//! `course-shop reconcile`: against a provider's statement of a day (`--statement`), or by
//! asking the provider about the orders in doubt one by one.
use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime, Utc};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use shop_app::AppContext;
use shop_app::config::Settings;
use shop_app::payments::{self, APPLIED, Difference, FLAGGED, StatementReport};
use shop_domain::order::PayType;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProviderArg {
    Alipay,
    Wechatpay,
}

#[derive(Debug, Args)]
pub struct Reconcile {
    /// Reconcile the provider's statement (对账单) of this day (YYYY-MM-DD, Beijing time;
    /// without a value: yesterday). Exits 1 when a difference is flagged.
    #[arg(long, num_args = 0..=1, default_missing_value = "yesterday", value_name = "YYYY-MM-DD")]
    statement: Option<String>,
    /// With --statement: only this provider (default: every configured one).
    #[arg(long, value_enum, requires = "statement")]
    provider: Option<ProviderArg>,
    /// With --statement: print the result as JSON (one document per provider; an array
    /// without --provider).
    #[arg(long, requires = "statement")]
    json: bool,
    /// With --statement and --provider: reconcile this statement file, downloaded before (the
    /// provider's format: Alipay's zip, WeChat Pay's trade bill CSV), instead of downloading
    /// the day's statement.
    #[arg(long, requires = "statement", requires = "provider", value_name = "PATH")]
    file: Option<std::path::PathBuf>,
    /// Without --statement: only orders created since this date (YYYY-MM-DD, UTC); default:
    /// 30 days ago.
    #[arg(long, conflicts_with = "statement")]
    since: Option<String>,
}

pub async fn run(args: Reconcile, settings: Settings) -> anyhow::Result<()> {
    if let Some(day) = &args.statement {
        return statement(&args, day, settings).await;
    }
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

async fn statement(args: &Reconcile, day: &str, settings: Settings) -> anyhow::Result<()> {
    let day = if day == "yesterday" {
        payments::yesterday_in_beijing(Utc::now())
    } else {
        NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .with_context(|| format!("--statement {day:?} (use YYYY-MM-DD)"))?
    };
    let ctx = super::operator_context(settings).await?;
    let providers = match args.provider {
        Some(ProviderArg::Alipay) => vec![PayType::Alipay],
        Some(ProviderArg::Wechatpay) => vec![PayType::WechatPay],
        None => payments::statement_providers(&ctx),
    };
    let mut flagged = 0;
    let mut failure = None;
    // The JSON is written as the runs finish, their differences read back page by page from
    // the stored run: nothing of a statement is held whole in memory.
    let array = args.json && args.provider.is_none();
    let mut first = true;
    if array {
        print!("[");
    }
    for pay_type in providers {
        let reconciled = match &args.file {
            Some(path) => payments::reconcile_statement_file(&ctx, pay_type, day, path).await,
            None => payments::reconcile_statement(&ctx, pay_type, day).await,
        };
        match reconciled {
            Ok(report) => {
                flagged += report.flagged;
                if args.json {
                    if array && !std::mem::take(&mut first) {
                        print!(",");
                    }
                    print_document(&ctx, &report).await?;
                } else {
                    print_table(&ctx, &report).await?;
                }
            }
            Err(e) => {
                // The other providers are still reconciled; the command fails at the end.
                if !args.json {
                    eprintln!("course-shop: {e}");
                }
                failure = Some(anyhow::Error::new(e));
            }
        }
    }
    if array {
        println!("]");
    }
    if let Some(e) = failure {
        return Err(e.context("a statement could not be reconciled"));
    }
    if flagged > 0 {
        anyhow::bail!("{flagged} difference(s) flagged");
    }
    Ok(())
}

fn entry(d: &Difference) -> Value {
    json!({
        "kind": d.kind,
        "trade_no": d.trade_no,
        "out_trade_no": d.out_trade_no,
        "amount": d.amount.to_string(),
        "note": d.note,
    })
}

/// Prints the JSON document of one provider's run: `{"date", "provider", "lines", "matched",
/// "applied": [...], "flagged": [...]}`, its lists streamed from the stored run.
async fn print_document(ctx: &AppContext, r: &StatementReport) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    write!(
        out,
        "{{\"date\": {}, \"provider\": {}, \"lines\": {}, \"matched\": {}",
        Value::from(r.date.format("%Y-%m-%d").to_string()),
        Value::from(r.provider.as_str()),
        r.lines,
        r.matched
    )?;
    for outcome in [APPLIED, FLAGGED] {
        write!(out, ",\n \"{outcome}\": [")?;
        let mut n = 0u64;
        let mut failed = None;
        payments::run_differences(ctx, r.run_id, outcome, |d| {
            let sep = if n == 0 { "\n  " } else { ",\n  " };
            n += 1;
            if let Err(e) = write!(out, "{sep}{}", entry(&d)) {
                failed.get_or_insert(e);
            }
        })
        .await?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        write!(out, "]")?;
    }
    writeln!(out, "}}")?;
    out.flush()?;
    Ok(())
}

async fn print_table(ctx: &AppContext, r: &StatementReport) -> anyhow::Result<()> {
    println!("{} statement of {}", r.provider, r.date.format("%Y-%m-%d"));
    if r.applied + r.flagged == 0 {
        println!("no differences");
    } else {
        println!(
            "{:<8} {:<15} {:<34} {:<30} {:>12}  note",
            "outcome", "kind", "out_trade_no", "trade_no", "amount"
        );
        for outcome in [APPLIED, FLAGGED] {
            payments::run_differences(ctx, r.run_id, outcome, |d| {
                println!(
                    "{outcome:<8} {:<15} {:<34} {:<30} {:>12}  {}",
                    d.kind,
                    d.out_trade_no,
                    d.trade_no,
                    d.amount.to_string(),
                    d.note
                );
            })
            .await?;
        }
    }
    println!(
        "{} line(s): {} matched, {} applied, {} flagged; money in {} yuan, out {} yuan",
        r.lines, r.matched, r.applied, r.flagged, r.money_in, r.money_out
    );
    Ok(())
}
