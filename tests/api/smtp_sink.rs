//! A small SMTP server for the tests (being written).
