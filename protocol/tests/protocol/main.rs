//! Wire-format, chain and evidence tests of the protocol crate.

#![allow(clippy::unwrap_used)]

mod chains;
mod decoder;
mod hostile;
mod lab_codes;
mod merkle;
mod mutation;
mod reasons;
mod vectors;
