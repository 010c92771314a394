//! One module per subcommand; each turns raw arguments into settings and calls a library.

pub(crate) mod api_args;
pub(crate) mod attack;
#[cfg(feature = "test-utils")]
pub(crate) mod bench;
#[cfg(feature = "test-utils")]
pub(crate) mod bench_api;
#[cfg(feature = "test-utils")]
pub(crate) mod bench_attack;
#[cfg(feature = "test-utils")]
pub(crate) mod bench_net;
#[cfg(feature = "test-utils")]
pub(crate) mod debug;
pub(crate) mod demo;
pub(crate) mod dispute;
pub(crate) mod export;
pub(crate) mod init;
pub(crate) mod lab;
pub(crate) mod lab_codes;
pub(crate) mod node;
pub(crate) mod query;
pub(crate) mod report;
pub(crate) mod round;
pub(crate) mod run;
pub(crate) mod scheme;
pub(crate) mod stats;
pub(crate) mod store;
pub(crate) mod submit;
pub(crate) mod suite;
pub(crate) mod suite_publish;
pub(crate) mod suite_seal;
pub(crate) mod verify;

/// The wire name of an enum value (`pass`, `correct`, `satisfactory` …), as its JSON shows
/// it: for people, instead of Rust's `Debug` spelling.
pub(crate) fn wire_name(v: &impl serde::Serialize) -> String {
    // A serialized enum value is a JSON string; the value is inspected only for that.
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use interlab_protocol::{Direction, Verdict};

    use super::wire_name;

    #[test]
    fn enums_print_by_their_wire_names_not_their_rust_names() {
        assert_eq!(wire_name(&Verdict::Pass), "pass");
        assert_eq!(wire_name(&Direction::AtLeast), "at_least");
        assert_eq!(
            wire_name(&interlab_protocol::Action::RerunRequired),
            "rerun-required"
        );
    }
}
