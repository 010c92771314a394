//! One module per subcommand; each turns raw arguments into settings and calls a library.

pub(crate) mod attack;
pub(crate) mod bench;
pub(crate) mod debug;
pub(crate) mod init;
pub(crate) mod scheme;
pub(crate) mod stats;
pub(crate) mod suite;
pub(crate) mod verify;
pub(crate) mod bench_net;
