//! Replays the checked-in fuzz corpus and every crash reproducer (`fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/`) through the fuzz targets' checks, so that a plain
//! `cargo test` catches a regression without libFuzzer or nightly. The ignored
//! `write_seeds` test regenerates the seed inputs (see `docs/fuzzing.md`).

use std::{
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
};

use interlab_tests::fuzz;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Files (not dotfiles) directly under `dir`, sorted; none if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("read corpus directory").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let corpus = inputs(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "no corpus for fuzz target {target}");
    let regressions = inputs(&fuzz_dir().join("regressions").join(target));
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("read corpus file");
        if panic::catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "fuzz target {target}: {} of {} inputs fail: {failed:#?}",
        failed.len(),
        corpus.len() + regressions.len()
    );
}

#[test]
fn envelope_corpus() {
    replay("envelope", fuzz::envelope);
}

#[test]
fn sync_codec_corpus() {
    replay("sync_codec", fuzz::sync_codec);
}

#[test]
fn manifest_corpus() {
    replay("manifest", fuzz::manifest);
}

#[test]
fn onnx_model_corpus() {
    replay("onnx_model", interlab_tests::fuzz_model::onnx_model);
}

/// Every seed passes its own target's checks (so a seed is never a false crash).
#[test]
fn seeds_pass_their_checks() {
    for (target, name, bytes) in fuzz::seeds() {
        let Some((_, check)) = fuzz::TARGETS.iter().find(|(t, _)| *t == target) else {
            panic!("seed {name} for unknown target {target}");
        };
        check(&bytes);
    }
}

/// Writes the seed inputs into `fuzz/corpus/<target>/seed-*`. Run by hand:
/// `cargo test -p interlab-tests --test tests fuzz_corpus::write_seeds -- --ignored`.
#[test]
#[ignore = "writes seed files into fuzz/corpus/; run by hand"]
fn write_seeds() {
    for (target, name, bytes) in fuzz::seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("create corpus directory");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}
