//! Integration tests: the real server on a port, SQLite and Postgres, used the way the Luffy
//! Vue front end uses it. One test binary (zero2prod's layout).
mod fake_alipay;
mod helpers;
mod smtp_sink;

mod buyers;
mod catalog;
mod cli;
mod console;
mod console_catalog;
mod contract;
mod delivery;
mod errors;
mod faults;
mod guests;
mod hardening;
mod i18n;
mod limits;
mod logs;
mod money_once;
mod openapi;
mod pages;
mod payments;
mod statement;
mod stripe;
mod users;
mod wechatpay;
