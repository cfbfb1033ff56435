//! sea-orm entities, one module per table. They mirror `migration/` and hold no behaviour.
pub mod banner;
pub mod catalog_revision;
pub mod chapter;
pub mod course;
pub mod course_category;
pub mod order;
pub mod order_detail;
pub mod outbox;
pub mod payment_notify;
pub mod refund;
pub mod section;
pub mod sms_code;
pub mod teacher;
pub mod user;
