//! Fixture paths and readers shared by the engine's integration tests.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;

use safetensors::SafeTensors;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn suite_dir() -> PathBuf {
    root().join("suites/digits-mlp")
}

pub fn manifest() -> PathBuf {
    suite_dir().join("suite.toml")
}

pub fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn f32s(bytes: &[u8], name: &str) -> Vec<f32> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    st.tensor(name)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn i64s(bytes: &[u8], name: &str) -> Vec<i64> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    st.tensor(name)
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// ART's outputs on the trained model.
pub fn art() -> Vec<u8> {
    read(root().join("tests/data/art_outputs_shared.safetensors"))
}

/// Copies the suite's files and its `items/` folder into a fresh temporary folder (for
/// tests that break it).
pub fn suite_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_files(&suite_dir(), dir.path());
    std::fs::create_dir(dir.path().join("items")).unwrap();
    copy_files(&suite_dir().join("items"), &dir.path().join("items"));
    dir
}

fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Writes a safetensors file from (name, dtype, shape, bytes).
pub fn write_safetensors(
    path: &std::path::Path,
    tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)],
) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.to_string(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}
