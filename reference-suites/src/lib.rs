//! Interlab reference suites and the engine that runs them.
