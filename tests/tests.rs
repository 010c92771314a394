//! Cross-crate integration tests: real `interlab` processes on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_contract;
mod dashboard;
mod demo;
mod durability;
mod export;
mod families;
mod faults;
mod fuzz_corpus;
mod governance;
mod lab_codes;
mod network;
mod recovery;
mod report;
mod submit;
