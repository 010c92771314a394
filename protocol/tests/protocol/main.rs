//! Wire-format, chain and evidence tests of the protocol crate.

mod chains;
mod hostile;
mod merkle;
mod mutation;
mod vectors;
