//! The Interlab node.

pub mod net;
