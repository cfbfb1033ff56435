//! Delivery's jobs: what a paid order sets off (learner counts, private links, the purchase
//! email) and the update emails of campaigns.
use shop_db::orders;
use shop_domain::order::OrderStatus;

use crate::context::AppContext;
use crate::jobs::{self, Failure, Job, JobHandler, OrderRef};

/// The handler of `order_paid`, `order_email` and `campaign_email`.
pub struct DeliveryJobs;

#[async_trait::async_trait]
impl JobHandler for DeliveryJobs {
    fn kinds(&self) -> &'static [&'static str] {
        &["order_paid", "order_email", "campaign_email"]
    }

    async fn run(&self, ctx: &AppContext, id: i64, job: Job) -> Result<(), Failure> {
        let ctx = &ctx.delivery();
        match job {
            Job::OrderPaid { order } => order_paid(ctx, id, order).await,
            Job::OrderEmail { order_id } => {
                super::email::send_order_email(ctx, order_id).await?;
                jobs::complete(ctx.db, id).await
            }
            Job::CampaignEmail { campaign_id, user_id } => {
                super::email::send_campaign_email(ctx, campaign_id, user_id).await?;
                jobs::complete(ctx.db, id).await
            }
            other => Err(Failure::Permanent(format!("not a delivery job: {}", other.kind()))),
        }
    }
}

/// Counts the order's learners, issues the buyer's private links and queues the email,
/// unless the order was refunded meanwhile; in one transaction with the job's completion.
async fn order_paid(ctx: &super::Delivery<'_>, id: i64, order: OrderRef) -> Result<(), Failure> {
    let txn = shop_db::begin_write(ctx.db).await?;
    let order = match order {
        OrderRef::Number { out_trade_no } => orders::by_out_trade_no(&txn, &out_trade_no).await?,
        OrderRef::Id { order_id } => orders::by_id(&txn, order_id).await?,
    };
    let Some(order) = order else {
        return Err(Failure::Permanent("the paid order does not exist".into()));
    };
    // A guest's purchase with an address an account has confirmed is that account's.
    let order = crate::guests::attach_paid(&txn, order).await?;
    let lines = orders::details(&txn, order.id).await?;
    let courses: Vec<i64> = lines.iter().map(|d| d.course_id).collect();
    orders::add_students(&txn, &courses, 1).await?;
    // Learner counts are display figures: the catalog's periodic reload picks them up
    // (catalog.stats_refresh_seconds); bumping the revision per payment would reload the
    // whole catalog in every process under load.
    if order.order_status == OrderStatus::Paid {
        let per_link = ctx.settings.delivery.downloads_per_link;
        super::links::issue_links_of_lines(&txn, &order, &lines, super::links::PURCHASE, None, per_link)
            .await?;
        jobs::enqueue(&txn, &Job::OrderEmail { order_id: order.id }).await?;
    }
    jobs::complete(&txn, id).await?;
    txn.commit().await?;
    Ok(())
}
