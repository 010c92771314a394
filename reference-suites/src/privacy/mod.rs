//! Privacy tests: membership inference (loss threshold and rule based) and model
//! inversion.

pub mod inversion;
pub mod mia;
