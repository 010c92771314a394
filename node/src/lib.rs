//! The Interlab node as a library: durable evidence store, peer network, HTTP API with its
//! dashboard, and the typed client of that API. The `interlab` command (crate
//! `interlab-cli`) is glue over it; harnesses (the byzantine peer, the signed-log
//! generator) are behind the `test-utils` feature so that they never ship in a node.
//!
//! - [`store`]: the `redb` evidence store — records, indexes, fork proofs, quarantine,
//!   artefacts — with the same acceptance rules as the protocol's `MemoryLog`.
//! - [`net`]: gossip, catch-up and peer scoring over rust-libp2p.
//! - [`api`]: the HTTP API and the dashboard; [`client`]: its typed client.
//! - [`runtime`]: starts a whole node (store, network, API) from its directory.
//! - [`config`]: a node directory's layout and its TOML configuration.
//! - [`keyfile`]: the lab's secret key and API token files (mode 0600, never overwritten).
//! - [`publisher`]: signs and publishes the node's own records.
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
#[cfg(any(test, feature = "test-utils"))]
mod bench_stats;
pub mod client;
pub mod config;
pub mod keyfile;
pub mod net;
pub mod publisher;
pub mod report;
pub mod runtime;
pub mod store;
