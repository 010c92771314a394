//! Prints the artefact digest (BLAKE3 in the `interlab 2026-11 artefact v1` domain) and
//! size of each file given, in the form a suite manifest's `[artefacts.*]` entry takes.
//!
//! ```sh
//! cargo run -p interlab-suites --example artefact_digest -- FILE...
//! ```

use std::process::ExitCode;

use interlab_protocol::{Digest, domain};

fn main() -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Ok(bytes) => println!(
                "{path}\nblake3 = \"{}\"\nsize = {}",
                Digest::of(domain::ARTEFACT, &bytes),
                bytes.len()
            ),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
