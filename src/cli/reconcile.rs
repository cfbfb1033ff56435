//! `course-shop reconcile`: against a provider's statement of a day (`--statement`), or by
//! asking the provider about the orders in doubt one by one.
use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime, Utc};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use shop_app::config::Settings;
use shop_app::payments::{self, Difference, StatementReport};
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
    let mut documents = Vec::new();
    let mut flagged = 0;
    let mut failure = None;
    for pay_type in providers {
        match payments::reconcile_statement(&ctx, pay_type, day).await {
            Ok(report) => {
                flagged += report.flagged.len();
                if args.json {
                    documents.push(document(&report));
                } else {
                    print_table(&report);
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
    if args.json {
        let out = match (args.provider, documents.pop()) {
            // One provider asked for: its document (none when its statement failed).
            (Some(_), Some(doc)) => Some(doc),
            (Some(_), None) => None,
            (None, last) => {
                documents.extend(last);
                Some(Value::Array(documents))
            }
        };
        if let Some(out) = out {
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
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

/// The JSON document of one provider's run.
fn document(r: &StatementReport) -> Value {
    json!({
        "date": r.date.format("%Y-%m-%d").to_string(),
        "provider": r.provider,
        "lines": r.lines,
        "matched": r.matched,
        "applied": r.applied.iter().map(entry).collect::<Vec<_>>(),
        "flagged": r.flagged.iter().map(entry).collect::<Vec<_>>(),
    })
}

fn print_table(r: &StatementReport) {
    println!("{} statement of {}", r.provider, r.date.format("%Y-%m-%d"));
    let rows = r.applied.iter().map(|d| ("applied", d)).chain(r.flagged.iter().map(|d| ("flagged", d)));
    let mut any = false;
    for (outcome, d) in rows {
        if !any {
            println!(
                "{:<8} {:<15} {:<34} {:<30} {:>12}  note",
                "outcome", "kind", "out_trade_no", "trade_no", "amount"
            );
            any = true;
        }
        println!(
            "{outcome:<8} {:<15} {:<34} {:<30} {:>12}  {}",
            d.kind,
            d.out_trade_no,
            d.trade_no,
            d.amount.to_string(),
            d.note
        );
    }
    if !any {
        println!("no differences");
    }
    println!(
        "{} line(s): {} matched, {} applied, {} flagged; money in {} yuan, out {} yuan",
        r.lines,
        r.matched,
        r.applied.len(),
        r.flagged.len(),
        r.money_in,
        r.money_out
    );
}
