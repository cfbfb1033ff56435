//! Delivery's jobs: what a paid order sets off (learner counts, private links, the purchase
//! email) and the update emails of campaigns.
use std::collections::{BTreeMap, HashMap};

use shop_db::entities::{order, order_detail, outbox as row};
use shop_db::{orders, users};
use shop_domain::order::OrderStatus;

use crate::context::AppContext;
use crate::jobs::{self, BatchRun, Claimed, Failure, Job, JobHandler, OrderRef};

/// The handler of `order_paid`, `order_email` and `campaign_email`.
pub struct DeliveryJobs;

#[async_trait::async_trait]
impl JobHandler for DeliveryJobs {
    fn kinds(&self) -> &'static [&'static str] {
        &["order_paid", "order_email", "campaign_email"]
    }

    async fn run(&self, ctx: &AppContext, id: i64, job: Job) -> Result<(), Failure> {
        let outcome = match job {
            Job::OrderPaid { order } => {
                let number = order_number(ctx, order).await?;
                let (mut outcomes, _) = orders_paid(ctx, &[(id, number)], Emails::Enqueue).await;
                outcomes.pop()
            }
            Job::OrderEmail { order_id } => {
                super::email::send_order_emails(&ctx.delivery(), &[(id, order_id)]).await.pop()
            }
            Job::CampaignEmail { campaign_id, user_id } => {
                let ctx = &ctx.delivery();
                super::email::send_campaign_email(ctx, campaign_id, user_id).await?;
                return jobs::complete(ctx.db, id).await;
            }
            other => return Err(Failure::Permanent(format!("not a delivery job: {}", other.kind()))),
        };
        outcome.unwrap_or_else(|| Err(Failure::Retry("no outcome".into())))
    }

    /// The `order_paid` jobs of a batch run together (one transaction), and so do its
    /// `order_email` jobs (one read per table); the emails of the orders paid are enqueued
    /// claimed, so this pass sends them next. Campaign emails go one by one.
    async fn run_batch(&self, ctx: &AppContext, batch: Vec<Claimed>) -> BatchRun {
        let mut outcomes: Vec<Option<Result<(), Failure>>> = batch.iter().map(|_| None).collect();
        let mut paid = Vec::new();
        let mut emails = Vec::new();
        for (i, claimed) in batch.iter().enumerate() {
            match &claimed.job {
                Job::OrderPaid { order: OrderRef::Number { out_trade_no } } => {
                    paid.push((i, (claimed.id, out_trade_no.clone())));
                }
                Job::OrderEmail { order_id } => emails.push((i, (claimed.id, *order_id))),
                _ => {}
            }
        }
        let mut follow_ups = Vec::new();
        if !paid.is_empty() {
            let jobs: Vec<(i64, String)> = paid.iter().map(|(_, job)| job.clone()).collect();
            let (results, claimed) = orders_paid(ctx, &jobs, Emails::Claim).await;
            for ((i, _), outcome) in paid.iter().zip(results) {
                outcomes[*i] = Some(outcome);
            }
            follow_ups = claimed;
        }
        if !emails.is_empty() {
            let jobs: Vec<(i64, i64)> = emails.iter().map(|(_, job)| *job).collect();
            let results = super::email::send_order_emails(&ctx.delivery(), &jobs).await;
            for ((i, _), outcome) in emails.iter().zip(results) {
                outcomes[*i] = Some(outcome);
            }
        }
        let mut all = Vec::with_capacity(batch.len());
        for (claimed, outcome) in batch.into_iter().zip(outcomes) {
            all.push(match outcome {
                Some(outcome) => outcome,
                None => self.run(ctx, claimed.id, claimed.job).await,
            });
        }
        BatchRun { outcomes: all, follow_ups }
    }
}

/// The number of the order a job names (jobs of earlier versions name it by id).
async fn order_number(ctx: &AppContext, order: OrderRef) -> Result<String, Failure> {
    match order {
        OrderRef::Number { out_trade_no } => Ok(out_trade_no),
        OrderRef::Id { order_id } => match orders::by_id(&ctx.db, order_id).await? {
            Some(order) => Ok(order.out_trade_no),
            None => Err(Failure::Permanent("the paid order does not exist".into())),
        },
    }
}

/// How the `order_email` jobs of paid orders are enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emails {
    /// Claimed by the running pass, to run next (returned).
    Claim,
    /// Due, for any pass.
    Enqueue,
}

/// Runs `order_paid` jobs `(job id, order number)`: together in one transaction, or, when
/// that fails, each alone, so that a job that fails does not hold back the others (nor are
/// those done twice: nothing of the failed transaction stays). An outcome per job, in
/// order, and the email jobs enqueued claimed.
async fn orders_paid(
    ctx: &AppContext,
    jobs: &[(i64, String)],
    emails: Emails,
) -> (Vec<Result<(), Failure>>, Vec<row::Model>) {
    match orders_paid_together(ctx, jobs, emails).await {
        Ok(done) => done,
        Err(Failure::Retry(msg) | Failure::Permanent(msg)) if jobs.len() > 1 => {
            tracing::warn!(jobs = jobs.len(), error = %msg, "order_paid jobs failed together: running them one by one");
            let mut outcomes = Vec::with_capacity(jobs.len());
            let mut follow_ups = Vec::new();
            for job in jobs {
                match orders_paid_together(ctx, std::slice::from_ref(job), emails).await {
                    Ok((mut outcome, claimed)) => {
                        outcomes.push(outcome.pop().unwrap_or(Ok(())));
                        follow_ups.extend(claimed);
                    }
                    Err(e) => outcomes.push(Err(e)),
                }
            }
            (outcomes, follow_ups)
        }
        Err(e) => (vec![Err(e)], Vec::new()),
    }
}

/// For each paid order: counts its learners, issues the buyer's private links and enqueues
/// its email (when the buyer has an address), unless the order was refunded meanwhile; with
/// the jobs' completion, in one transaction and with one statement per table (links: one
/// per material). A job whose order does not exist fails for good.
async fn orders_paid_together(
    ctx: &AppContext,
    jobs: &[(i64, String)],
    emails: Emails,
) -> Result<(Vec<Result<(), Failure>>, Vec<row::Model>), Failure> {
    let txn = shop_db::begin_write(&ctx.db).await?;
    let numbers: Vec<String> = jobs.iter().map(|(_, no)| no.clone()).collect();
    let mut found = Vec::with_capacity(numbers.len());
    for order in orders::by_out_trade_nos(&txn, &numbers).await? {
        // A guest's purchase with an address an account has confirmed is that account's.
        found.push(crate::guests::attach_paid(&txn, order).await?);
    }
    let ids: Vec<i64> = found.iter().map(|o| o.id).collect();
    let mut lines: HashMap<i64, Vec<order_detail::Model>> = HashMap::new();
    for line in orders::details_of(&txn, &ids).await? {
        lines.entry(line.order_id).or_default().push(line);
    }
    // Learners: a course gains one per order of the batch that has it. Learner counts are
    // display figures: the catalog's periodic reload picks them up
    // (catalog.stats_refresh_seconds); bumping the revision per payment would reload the
    // whole catalog in every process under load.
    let mut orders_of_course: BTreeMap<i64, i32> = BTreeMap::new();
    for line in lines.values().flatten() {
        *orders_of_course.entry(line.course_id).or_default() += 1;
    }
    let mut courses_by_delta: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (course, delta) in &orders_of_course {
        courses_by_delta.entry(*delta).or_default().push(*course);
    }
    for (delta, courses) in &courses_by_delta {
        orders::add_students(&txn, courses, *delta).await?;
    }
    let still_paid: Vec<&order::Model> =
        found.iter().filter(|o| o.order_status == OrderStatus::Paid).collect();
    let mut courses: Vec<i64> =
        still_paid.iter().flat_map(|o| lines.get(&o.id).into_iter().flatten()).map(|l| l.course_id).collect();
    courses.sort_unstable();
    courses.dedup();
    let names = shop_db::delivery::material_names_of(&txn, &courses).await?;
    let per_link = ctx.settings.delivery.downloads_per_link;
    for order in &still_paid {
        let of_order = lines.get(&order.id).map_or(&[][..], Vec::as_slice);
        super::links::issue_links_named(
            &txn,
            order,
            of_order,
            &names,
            super::links::PURCHASE,
            None,
            per_link,
        )
        .await?;
    }
    let mut buyers: Vec<i64> = still_paid.iter().map(|o| o.user_id).collect();
    buyers.sort_unstable();
    buyers.dedup();
    let buyers: HashMap<i64, _> =
        users::by_ids(&txn, &buyers).await?.into_iter().map(|u| (u.id, u)).collect();
    let mails: Vec<Job> = still_paid
        .iter()
        .filter(|o| buyers.get(&o.user_id).is_some_and(|u| super::email::has_address(u, o)))
        .map(|o| Job::OrderEmail { order_id: o.id })
        .collect();
    let claimed = match emails {
        Emails::Claim => jobs::enqueue_claimed(ctx, &txn, &mails).await?,
        Emails::Enqueue => {
            for mail in &mails {
                jobs::enqueue(&txn, mail).await?;
            }
            Vec::new()
        }
    };
    let exists = |no: &str| found.iter().any(|o| o.out_trade_no == no);
    let done: Vec<i64> = jobs.iter().filter(|(_, no)| exists(no.as_str())).map(|(id, _)| *id).collect();
    jobs::complete_all(&txn, &done).await?;
    txn.commit().await?;
    let outcomes = jobs
        .iter()
        .map(|(_, no)| {
            if exists(no.as_str()) {
                Ok(())
            } else {
                Err(Failure::Permanent("the paid order does not exist".into()))
            }
        })
        .collect();
    Ok((outcomes, claimed))
}
