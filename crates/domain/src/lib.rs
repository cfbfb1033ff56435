//! Pure domain types of course-shop.
//!
//! Everything here can only be built valid: money is an integer number of fen, parsed from
//! the yuan strings of the wire exactly (no floats); identifiers such as a mobile number or
//! a username are checked once at the edge and trusted afterwards. No I/O, no framework.
#![warn(missing_docs)]

pub mod catalog;
pub mod money;
pub mod order;
pub mod paging;
pub mod search;
pub mod time;
pub mod user;

pub use money::Money;
