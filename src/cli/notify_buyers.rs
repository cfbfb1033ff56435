//! `course-shop notify-buyers`: an update campaign to every owner of a course.
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use shop_app::config::Settings;
use shop_app::{AppContext, delivery};

use super::progress::{self, Counting};

#[derive(Debug, Args)]
pub struct NotifyBuyers {
    /// Course id.
    course: i64,
    /// Email subject.
    #[arg(long)]
    subject: String,
    /// A plain-text file with the message.
    #[arg(long)]
    message_file: PathBuf,
    /// The material version this update announces (fresh links are issued for it).
    #[arg(long)]
    new_version: Option<String>,
    /// Only show who would get it.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: NotifyBuyers, settings: Settings) -> anyhow::Result<()> {
    let NotifyBuyers { course, subject, message_file, new_version, dry_run } = args;
    let message = std::fs::read_to_string(&message_file)
        .with_context(|| format!("reading {}", message_file.display()))?;
    let ctx = super::operator_context(settings).await?;
    let bar = progress::bar("queueing", Counting::Items);
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let request = delivery::CampaignRequest { course_id: course, subject, message, new_version, dry_run };
    let report = delivery::notify_buyers(&ctx.delivery(), request, &progress).await?;
    bar.finish_and_clear();
    if !report.unreachable.is_empty() {
        let ids: Vec<String> = report.unreachable.iter().map(i64::to_string).collect();
        println!(
            "{} owner(s) cannot be reached by email (no confirmed email and none given with their order): user id(s) {}",
            report.unreachable.len(),
            ids.join(", ")
        );
    }
    if dry_run {
        println!(
            "dry run: {} current owner(s), {} with an email address; nothing sent",
            report.owners, report.with_email
        );
        return Ok(());
    }
    println!(
        "campaign {}{}: {} owner(s), {} with an email address, {} email(s) newly queued",
        report.campaign_id.unwrap_or_default(),
        if report.rerun { " (rerun: buyers who already got it are skipped)" } else { "" },
        report.owners,
        report.with_email,
        report.queued
    );
    send_queued(&ctx).await
}

/// Sends what the outbox holds now, with a progress bar, until nothing is due; what cannot
/// be sent yet (SMTP down) stays queued for the server's outbox worker.
async fn send_queued(ctx: &AppContext) -> anyhow::Result<()> {
    let bar = progress::bar("sending", Counting::Items);
    let mut sent = 0u64;
    for _ in 0..1000 {
        let pass = shop_app::worker::run_once(ctx).await?;
        sent += pass.done as u64;
        bar.set_length(sent + pass.retried as u64);
        bar.set_position(sent);
        if pass.done + pass.retried + pass.failed == 0 {
            break;
        }
        if pass.done == 0 && pass.retried > 0 {
            bar.finish_and_clear();
            println!(
                "{sent} sent; {} could not be sent now and stay queued: the server's outbox worker retries them",
                pass.retried
            );
            return Ok(());
        }
    }
    bar.finish_and_clear();
    println!("{sent} job(s) done");
    Ok(())
}
