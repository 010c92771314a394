//! One module per subcommand; each turns raw arguments into settings and calls a library.

pub(crate) mod api_args;
pub(crate) mod attack;
pub(crate) mod bench;
pub(crate) mod bench_net;
pub(crate) mod debug;
pub(crate) mod demo;
pub(crate) mod dispute;
pub(crate) mod export;
pub(crate) mod init;
pub(crate) mod lab;
pub(crate) mod node;
pub(crate) mod query;
pub(crate) mod round;
pub(crate) mod run;
pub(crate) mod scheme;
pub(crate) mod stats;
pub(crate) mod store;
pub(crate) mod suite;
pub(crate) mod suite_publish;
pub(crate) mod verify;
