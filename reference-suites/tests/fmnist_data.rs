//! The fmnist-cnn suite's Fashion-MNIST subset is what the Debian package
//! `dataset-fashion-mnist` gives: rows 0…n−1 of its train and t10k IDX files, pixel / 255
//! in f32, NCHW. Skipped, with the reason printed, where the package is not installed
//! (`.ci/run` installs it).

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::*;

const DEBIAN: &str = "/usr/share/datasets/fashion-mnist";

/// Decompresses with the system's `gzip` (Debian essential) and parses an unsigned-byte
/// IDX file: magic 0 0 8 d, d big-endian u32 sizes, then the bytes.
fn idx(file: &str) -> (Vec<usize>, Vec<u8>) {
    let path = Path::new(DEBIAN).join(file);
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "gzip -dc {} failed", path.display());
    let raw = out.stdout;
    assert_eq!(
        raw[..3],
        [0, 0, 8],
        "{file} is not an unsigned-byte IDX file"
    );
    let d = usize::from(raw[3]);
    let dims: Vec<usize> = raw[4..4 + 4 * d]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()) as usize)
        .collect();
    let body = raw[4 + 4 * d..].to_vec();
    assert_eq!(body.len(), dims.iter().product::<usize>(), "{file} length");
    (dims, body)
}

#[test]
fn the_shipped_fashion_mnist_subset_equals_the_debian_packages_rows() {
    if !Path::new(DEBIAN).join("t10k-labels-idx1-ubyte.gz").exists() {
        eprintln!(
            "skipped: {DEBIAN} is missing (apt-get install -y dataset-fashion-mnist to run this check)"
        );
        return;
    }
    let data = read(root().join("suites/fmnist-cnn/data.safetensors"));
    for (split, kind) in [("train", "train"), ("test", "t10k")] {
        let x = f32s(&data, &format!("x_{split}"));
        let y = i64s(&data, &format!("y_{split}"));
        let n = y.len();
        assert_eq!(x.len(), n * 784, "x_{split} is [n, 1, 28, 28]");
        let (dims, px) = idx(&format!("{kind}-images-idx3-ubyte.gz"));
        assert_eq!(dims[1..], [28, 28]);
        let (_, labels) = idx(&format!("{kind}-labels-idx1-ubyte.gz"));
        let want_x: Vec<f32> = px[..n * 784]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect();
        let want_y: Vec<i64> = labels[..n].iter().map(|&v| i64::from(v)).collect();
        assert_eq!(y, want_y, "y_{split}");
        let diff = x
            .iter()
            .zip(&want_x)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(diff, None, "x_{split} differs at value {diff:?}");
    }
}
