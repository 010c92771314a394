//! The lab's secret key and API token on disk.
//!
//! Both are created with `create_new` and mode 0600, so an existing key is never
//! overwritten (a lab that lost its key loses its identity; one that overwrote it would
//! sign a second chain) and nobody else on the machine can read them. Loading refuses
//! files that others can read, as ssh does.

use std::{
    fs::{File, OpenOptions},
    io::{ErrorKind, Read, Write},
    path::{Path, PathBuf},
};

use interlab_protocol::SecretKey;

/// Why a key or token file could not be created or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file exists already; it is never overwritten.
    #[error("{path} already exists; refusing to overwrite it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The content is not what this module writes.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Group or others may read the file.
    #[error("{path} has mode {mode:o}, readable by others; run `chmod 600 {path}`")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The OS random source failed.
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
}

/// Largest key or token file read (they are 65 bytes when written here).
const MAX_FILE: u64 = 1024;

/// Creates a new secret key from 32 OS-random bytes and writes it (hex) to `path`.
pub fn create_secret_key(path: &Path) -> Result<SecretKey, KeyFileError> {
    let bytes = random::<32>()?;
    write_new(path, &hex::encode(bytes))?;
    Ok(SecretKey::from_bytes(&bytes))
}

/// Reads the secret key at `path`.
pub fn load_secret_key(path: &Path) -> Result<SecretKey, KeyFileError> {
    let text = read_private(path)?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyFileError::Format {
        path: path.to_owned(),
        reason: format!(
            "expected 64 hex characters of an ed25519 secret key, found {} characters",
            text.trim().len()
        ),
    })?;
    Ok(SecretKey::from_bytes(&bytes))
}

/// Creates a new API token (32 OS-random bytes, hex) at `path` and returns it.
pub fn create_token(path: &Path) -> Result<String, KeyFileError> {
    let token = hex::encode(random::<32>()?);
    write_new(path, &token)?;
    Ok(token)
}

/// Reads the API token at `path`.
pub fn load_token(path: &Path) -> Result<String, KeyFileError> {
    let text = read_private(path)?;
    let token = text.trim();
    if token.len() < 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyFileError::Format {
            path: path.to_owned(),
            reason: "an API token is at least 32 hex characters".into(),
        });
    }
    Ok(token.to_owned())
}

fn random<const N: usize>() -> Result<[u8; N], KeyFileError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| KeyFileError::Random(e.to_string()))?;
    Ok(out)
}

fn write_new(path: &Path, text: &str) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == ErrorKind::AlreadyExists {
            KeyFileError::Exists {
                path: path.to_owned(),
            }
        } else {
            io(e)
        }
    })?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)
}

fn read_private(path: &Path) -> Result<String, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    if meta.len() > MAX_FILE {
        return Err(KeyFileError::Format {
            path: path.to_owned(),
            reason: format!("file is {} bytes, over the limit of {MAX_FILE}", meta.len()),
        });
    }
    let mut text = String::new();
    file.take(MAX_FILE).read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_loads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.key");
        let key = create_secret_key(&path).unwrap();
        assert_eq!(load_secret_key(&path).unwrap().public(), key.public());
        match create_secret_key(&path) {
            Err(KeyFileError::Exists { path: p }) => assert_eq!(p, path),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(load_secret_key(&path).unwrap().public(), key.public());
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_readable_ones_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.key");
        create_secret_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        match load_secret_key(&path) {
            Err(KeyFileError::Permissions { mode, .. }) => assert_eq!(mode, 0o644),
            other => panic!("expected Permissions, got {other:?}"),
        }
    }

    #[test]
    fn a_garbled_key_file_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.key");
        write_new(&path, "not hex").unwrap();
        match load_secret_key(&path) {
            Err(KeyFileError::Format { reason, .. }) => assert!(reason.contains("64 hex")),
            other => panic!("expected Format, got {other:?}"),
        }
    }

    #[test]
    fn tokens_are_random_hex() {
        let dir = tempfile::tempdir().unwrap();
        let a = create_token(&dir.path().join("a")).unwrap();
        let b = create_token(&dir.path().join("b")).unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(load_token(&dir.path().join("a")).unwrap(), a);
    }
}
