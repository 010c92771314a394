//! The Interlab node.
