//! Delivering what was bought: course access for the course's `period`, short-lived signed
//! media URLs, private per-purchase download links with a download limit, the confirmation
//! email, update campaigns to every buyer, and sales reports.
pub use crate::context::Delivery;

mod access;
mod campaign;
pub(crate) mod email;
mod jobs;
mod links;
mod media;
mod purchase;
mod sales;

pub use access::{MyCourse, my_courses, owned_course_ids};
pub(crate) use access::{grant_order, settle_refund};
pub use campaign::{
    CampaignProgress, CampaignReport, CampaignRequest, Unreached, campaign_history, notify_buyers,
};
pub use jobs::DeliveryJobs;
pub use links::{Download, DownloadRefusal, LinkView, link_url, my_links, take_download};
pub use media::{MediaTarget, PlayUrl, Uploaded, play_url, put as put_media};
pub use purchase::{PurchaseLink, PurchasePage, purchase_page};
pub use sales::{CourseSales, DaySales, ProviderSales, ReportPeriod, SalesReport, sales_report};
