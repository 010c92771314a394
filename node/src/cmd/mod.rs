//! One module per subcommand; each turns raw arguments into settings and calls a library.

pub(crate) mod verify;
