//! Thin handlers: extract, call one use case, map to the wire form.
pub mod admin;
pub mod admin_campaigns;
pub mod admin_catalog;
pub mod admin_orders;
pub mod console;
pub mod course;
pub mod delivery;
pub mod guest;
pub mod health;
pub mod home;
pub mod order;
pub mod pages;
pub mod stripe;
pub mod user;
pub mod wechat;
