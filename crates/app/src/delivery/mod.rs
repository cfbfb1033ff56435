//! Delivering what was bought: course access for the course's `period`, short-lived signed
//! media URLs, private per-purchase download links with a download limit, the confirmation
//! email, update campaigns to every buyer, and sales reports.
use sea_orm::DatabaseConnection;

use crate::catalog::Catalog;
use crate::config::Settings;
use crate::mail::Mailer;
use crate::storage::Storage;

mod access;
mod campaign;
pub(crate) mod email;
mod jobs;
mod links;
mod media;
mod sales;

pub use access::{MyCourse, my_courses, owned_course_ids};
pub(crate) use access::{grant_order, settle_refund};
pub use campaign::{CampaignReport, CampaignRequest, notify_buyers};
pub use jobs::DeliveryJobs;
pub use links::{Download, DownloadRefusal, LinkView, link_url, my_links, take_download};
pub use media::{MediaTarget, PlayUrl, Uploaded, play_url, put as put_media};
pub use sales::{CourseSales, DaySales, ReportPeriod, SalesReport, sales_report};

/// What delivery's use cases may use (see `AppContext::delivery`).
pub struct Delivery<'a> {
    /// The pool.
    pub db: &'a DatabaseConnection,
    /// The settings (`delivery`, `email`, `storage`).
    pub settings: &'a Settings,
    /// The in-memory catalog (course names).
    pub catalog: &'a Catalog,
    /// Private media.
    pub storage: &'a Storage,
    /// Outgoing email.
    pub mailer: &'a dyn Mailer,
    /// The absolute base URL of links.
    pub public_url: std::sync::Arc<String>,
}
