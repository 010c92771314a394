//! The Interlab node: durable evidence store, node configuration and key files (and,
//! later, the network and the HTTP API). The `interlab` binary is thin glue over this
//! library.
//!
//! - [`store`]: the `redb` evidence store — records, indexes, fork proofs, quarantine,
//!   artefacts — with the same acceptance rules as the protocol's `MemoryLog`.
//! - [`config`]: a node directory's layout and its TOML configuration.
//! - [`keyfile`]: the lab's secret key and API token files (mode 0600, never overwritten).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use interlab_node::config::Config;
//!
//! let config = Config::default().with_name("lab-a").build()?;
//! assert_eq!(config.listen(), "/ip4/127.0.0.1/tcp/0");
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod client;
pub mod config;
pub mod demo;
pub mod keyfile;
pub mod net;
pub mod ops;
pub mod publisher;
pub mod report;
pub mod report_text;
pub mod runtime;
pub mod store;
