//! Delivery's jobs: what a paid order sets off (learner counts, private links, the purchase
//! email) and the update emails of campaigns.
use std::collections::{BTreeMap, HashMap};

use shop_db::entities::{download_link, order, order_detail, user};
use shop_db::{orders, outbox, users};
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
                orders_paid(ctx, &[(id, number)]).await.pop()
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

    /// The `order_paid` jobs of a batch run together (one transaction), then the emails of
    /// their orders from what that transaction read (see [`orders_paid`]); the batch's
    /// `order_email` jobs (an `order_paid` job whose email failed, or one of an earlier
    /// version) run together too (one read per table). Campaign emails go one by one.
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
        if !paid.is_empty() {
            let jobs: Vec<(i64, String)> = paid.iter().map(|(_, job)| job.clone()).collect();
            let results = orders_paid(ctx, &jobs).await;
            for ((i, _), outcome) in paid.iter().zip(results) {
                outcomes[*i] = Some(outcome);
            }
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
        BatchRun { outcomes: all }
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

/// Runs `order_paid` jobs `(job id, order number)` and then sends their orders' emails: an
/// outcome per job, in order.
///
/// Their database effects run together in one transaction ([`orders_paid_together`]), or,
/// when that fails, each alone, so that a job that fails does not hold back the others (nor
/// are those done twice: nothing of the failed transaction stays). A job whose order has an
/// email due is not completed there: in the same transaction its payload becomes the
/// `order_email` job of its order (`outbox::continue_as`), so one row per payment carries
/// both steps. After the commit the emails are rendered from what the transaction read and
/// sent; a job is completed when its email went out, and one whose email failed is retried
/// as that `order_email` job alone (the learners, links and grants are never done twice; an
/// email is never lost: a crash before the send leaves the job pending, and its lease runs
/// out).
async fn orders_paid(ctx: &AppContext, jobs: &[(i64, String)]) -> Vec<Result<(), Failure>> {
    let (mut outcomes, mails) = match orders_paid_together(ctx, jobs).await {
        Ok(done) => done,
        Err(Failure::Retry(msg) | Failure::Permanent(msg)) if jobs.len() > 1 => {
            tracing::warn!(jobs = jobs.len(), error = %msg, "order_paid jobs failed together: running them one by one");
            let mut outcomes = Vec::with_capacity(jobs.len());
            let mut mails = Mails::default();
            for job in jobs {
                match orders_paid_together(ctx, std::slice::from_ref(job)).await {
                    Ok((mut outcome, due)) => {
                        outcomes.push(outcome.pop().unwrap_or(Ok(())));
                        mails.extend(due);
                    }
                    Err(e) => outcomes.push(Err(e)),
                }
            }
            (outcomes, mails)
        }
        Err(e) => return vec![Err(e)],
    };
    if mails.jobs.is_empty() {
        return outcomes;
    }
    let delivery = ctx.delivery();
    let sent =
        match super::email::Confirmations::of(&delivery, mails.orders, mails.users, mails.lines, mails.links)
            .await
        {
            Ok(all) => super::email::send_confirmations(&delivery, &all, &mails.jobs).await,
            Err(Failure::Retry(msg) | Failure::Permanent(msg)) => {
                mails.jobs.iter().map(|_| Err(Failure::Retry(msg.clone()))).collect()
            }
        };
    for ((job_id, _), outcome) in mails.jobs.iter().zip(sent) {
        if let Some(i) = jobs.iter().position(|(id, _)| id == job_id) {
            outcomes[i] = outcome;
        }
    }
    outcomes
}

/// The emails due after a commit of [`orders_paid_together`]: the jobs `(job id, order id)`
/// and what their confirmations need, as the transaction read or wrote it.
#[derive(Default)]
struct Mails {
    jobs: Vec<(i64, i64)>,
    orders: HashMap<i64, order::Model>,
    users: HashMap<i64, user::Model>,
    lines: HashMap<i64, Vec<order_detail::Model>>,
    links: HashMap<i64, Vec<download_link::Model>>,
}

impl Mails {
    fn extend(&mut self, other: Mails) {
        self.jobs.extend(other.jobs);
        self.orders.extend(other.orders);
        self.users.extend(other.users);
        self.lines.extend(other.lines);
        self.links.extend(other.links);
    }
}

/// For each paid order: counts its learners and issues the buyer's private links, unless the
/// order was refunded meanwhile; completes the jobs whose order has no email due and turns
/// the others into their order's `order_email` job (returned, to send after the commit); in
/// one transaction and with one statement per table (links: one per material). A job whose
/// order does not exist fails for good.
async fn orders_paid_together(
    ctx: &AppContext,
    jobs: &[(i64, String)],
) -> Result<(Vec<Result<(), Failure>>, Mails), Failure> {
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
    // display figures: add_students notes the courses in the append-only learner_changes,
    // which the catalogs read at each refresh; bumping the revision per payment would make
    // every payment wait for the one revision row.
    let mut orders_of_course: BTreeMap<i64, i32> = BTreeMap::new();
    for line in lines.values().flatten() {
        *orders_of_course.entry(line.course_id).or_default() += 1;
    }
    orders::add_students(&txn, &orders_of_course.into_iter().collect::<Vec<_>>()).await?;
    let still_paid: Vec<&order::Model> =
        found.iter().filter(|o| o.order_status == OrderStatus::Paid).collect();
    let mut courses: Vec<i64> =
        still_paid.iter().flat_map(|o| lines.get(&o.id).into_iter().flatten()).map(|l| l.course_id).collect();
    courses.sort_unstable();
    courses.dedup();
    let names = shop_db::delivery::material_names_of(&txn, &courses).await?;
    let per_link = ctx.settings.delivery.downloads_per_link;
    let mut links = HashMap::new();
    for order in &still_paid {
        let of_order = lines.get(&order.id).map_or(&[][..], Vec::as_slice);
        let issued = super::links::issue_links_named(
            &txn,
            order,
            of_order,
            &names,
            super::links::PURCHASE,
            None,
            per_link,
        )
        .await?;
        links.insert(order.id, issued);
    }
    let mut buyers: Vec<i64> = still_paid.iter().map(|o| o.user_id).collect();
    buyers.sort_unstable();
    buyers.dedup();
    let buyers: HashMap<i64, user::Model> =
        users::by_ids(&txn, &buyers).await?.into_iter().map(|u| (u.id, u)).collect();
    let job_of = |no: &str| jobs.iter().find(|(_, n)| n == no).map(|(id, _)| *id);
    let mut mails = Mails::default();
    let mut next = Vec::new();
    for order in &still_paid {
        let Some(job_id) = job_of(&order.out_trade_no) else { continue };
        let Some(buyer) = buyers.get(&order.user_id) else { continue };
        if !super::email::has_address(buyer, order) {
            continue;
        }
        next.push((job_id, Job::OrderEmail { order_id: order.id }.to_row()?.payload));
        mails.jobs.push((job_id, order.id));
        mails.orders.insert(order.id, (*order).clone());
        mails.users.insert(buyer.id, buyer.clone());
        mails.lines.insert(order.id, lines.get(&order.id).cloned().unwrap_or_default());
        mails.links.insert(order.id, links.remove(&order.id).unwrap_or_default());
    }
    outbox::continue_as(&txn, &next).await?;
    let exists = |no: &str| found.iter().any(|o| o.out_trade_no == no);
    let done: Vec<i64> = jobs
        .iter()
        .filter(|(id, no)| exists(no.as_str()) && !mails.jobs.iter().any(|(job, _)| job == id))
        .map(|(id, _)| *id)
        .collect();
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
    Ok((outcomes, mails))
}
