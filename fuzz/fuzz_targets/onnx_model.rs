//! Fuzz target `onnx_model`: a thin wrapper, the checks live in
//! `interlab_tests::fuzz_model::onnx_model` so that `cargo test` replays the corpus
//! through them (see docs/fuzzing.md).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| interlab_tests::fuzz_model::onnx_model(data));
