//! `interlab init` and `interlab scheme create` through the real binary.

use std::{path::Path, process::Command};

use interlab_node::{
    config::{Config, NodeDir},
    keyfile,
    store::Store,
};

fn interlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_interlab"))
        .args(args)
        .output()
        .expect("the interlab binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn init_creates_a_private_key_token_and_config_and_prints_the_public_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let (code, out, err) = interlab(&["init", "--dir", path(&dir), "--name", "Lab A"]);
    assert_eq!(code, 0, "{err}");
    let node = NodeDir::new(&dir);
    let key = keyfile::load_secret_key(&node.key()).unwrap();
    assert!(out.contains(&key.public().to_hex()), "{out}");
    #[cfg(unix)]
    {
        assert_eq!(mode(&node.key()), 0o600);
        assert_eq!(mode(&node.token()), 0o600);
    }
    let config = Config::load(&node.config()).unwrap();
    assert_eq!(config.name(), "Lab A");
    assert_eq!(config.listen(), "/ip4/127.0.0.1/tcp/0");
    assert_eq!(config.scheme(), None);
}

#[test]
fn init_prints_json_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let (code, out, err) = interlab(&["--json", "init", "--dir", path(&dir), "--name", "b"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let key = keyfile::load_secret_key(&NodeDir::new(&dir).key()).unwrap();
    assert_eq!(v["public_key"], key.public().to_hex());
    assert_eq!(v["name"], "b");
}

#[test]
fn a_second_init_refuses_to_overwrite_the_key_and_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    assert_eq!(interlab(&["init", "--dir", path(&dir), "--name", "a"]).0, 0);
    let key_file = NodeDir::new(&dir).key();
    let before = std::fs::read(&key_file).unwrap();
    let (code, _, err) = interlab(&["init", "--dir", path(&dir), "--name", "a"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(path(&key_file)) && err.contains("refusing to overwrite"),
        "{err}"
    );
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
}

#[test]
fn usage_errors_exit_with_code_two() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    assert_eq!(interlab(&["init", "--dir", path(&dir)]).0, 2);
    assert_eq!(interlab(&["init", "--name", "a"]).0, 2);
    assert_eq!(
        interlab(&["init", "--dir", path(&dir), "--name", "a", "--bogus"]).0,
        2
    );
    assert_eq!(interlab(&["scheme"]).0, 2);
    assert!(!dir.exists(), "a usage error touches nothing");
}

#[test]
fn a_bad_setting_is_refused_naming_the_field_and_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let (code, _, err) = interlab(&[
        "init",
        "--dir",
        path(&dir),
        "--name",
        "a",
        "--api",
        "nowhere",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("`api`") && err.contains("nowhere"), "{err}");
    assert!(!dir.exists(), "nothing is written for a bad setting");
}

#[test]
fn scheme_create_stores_the_genesis_and_records_the_scheme_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("owner");
    assert_eq!(
        interlab(&["init", "--dir", path(&dir), "--name", "owner"]).0,
        0
    );
    let (code, out, err) = interlab(&[
        "scheme",
        "create",
        "--dir",
        path(&dir),
        "--name",
        "AI-PT 2026",
    ]);
    assert_eq!(code, 0, "{err}");
    let node = NodeDir::new(&dir);
    let id = out.trim().parse().unwrap();
    assert_eq!(Config::load(&node.config()).unwrap().scheme(), Some(id));
    let key = keyfile::load_secret_key(&node.key()).unwrap();
    let store = Store::open(&node.store()).unwrap();
    assert_eq!(store.scheme(), Some((id, key.public())));
    assert!(store.get(&id).unwrap().is_some());
    drop(store);
    let (code, _, err) = interlab(&["scheme", "create", "--dir", path(&dir), "--name", "again"]);
    assert_eq!(code, 1);
    assert!(err.contains("already belongs to scheme"), "{err}");
}
