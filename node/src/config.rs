//! A node directory and its TOML configuration.
//!
//! The raw file is parsed into plain strings first and then turned into a [`Config`] by
//! [`Config::build`], whose errors name the field and the bad value, so that an operator
//! who mistyped an address learns which line to fix.

use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use interlab_protocol::{SchemeId, SecretKey};
use serde::{Deserialize, Serialize};

/// Where a node keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDir {
    root: PathBuf,
}

impl NodeDir {
    /// The node directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> NodeDir {
        NodeDir { root: root.into() }
    }
    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The TOML configuration.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The lab's ed25519 secret key (mode 0600).
    pub fn key(&self) -> PathBuf {
        self.root.join("lab.key")
    }
    /// The HTTP API bearer token (mode 0600).
    pub fn token(&self) -> PathBuf {
        self.root.join("api.token")
    }
    /// The evidence store.
    pub fn store(&self) -> PathBuf {
        self.root.join("store.redb")
    }

    /// Sets the directory up for a new lab: creates it, then a fresh secret key, an API
    /// token and `config`. Refuses before writing anything if any of the three exists,
    /// so that a second `init` leaves an initialised directory untouched. Returns the key
    /// and the token.
    pub fn init(&self, config: &Config) -> Result<(SecretKey, String), InitError> {
        std::fs::create_dir_all(self.root()).map_err(|source| InitError::Dir {
            path: self.root.clone(),
            source,
        })?;
        for path in [self.key(), self.token(), self.config()] {
            if path.exists() {
                return Err(InitError::Exists(path));
            }
        }
        let key = crate::keyfile::create_secret_key(&self.key())?;
        let token = crate::keyfile::create_token(&self.token())?;
        config.save(&self.config())?;
        Ok((key, token))
    }
}

/// Why a node directory could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file of an initialised directory is there already.
    #[error("{0} already exists; refusing to overwrite it (this directory is initialised)")]
    Exists(PathBuf),
    /// Writing the key or the token.
    #[error(transparent)]
    Key(#[from] crate::keyfile::KeyFileError),
    /// Writing the configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Why a configuration could not be read, written or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field has a value this node cannot use.
    #[error("config field `{field}` has bad value {value:?}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of a configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the line and key).
        message: String,
    },
}

/// Longest configuration file read.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// Most bootstrap addresses.
const MAX_BOOTSTRAP: usize = 256;
/// Longest lab name, in characters.
const MAX_NAME: usize = 64;

/// A node's configuration. Build one with the `with_*` setters and [`Config::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    name: String,
    listen: String,
    api: String,
    bootstrap: Vec<String>,
    scheme: Option<String>,
    sign_without_peers: bool,
    api_public: bool,
    net_realtime: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // No default name: `build()` insists on one (`interlab init --name` sets it).
            name: String::new(),
            // Loopback with an OS-chosen port: nothing is reachable from outside until the
            // operator decides so.
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            // The HTTP API on loopback, OS-chosen port, for the same reason.
            api: "127.0.0.1:0".into(),
            // No peers: a lone node until bootstrap addresses are added.
            bootstrap: Vec::new(),
            // In no scheme until `interlab scheme create` (or a join) writes one.
            scheme: None,
            // Never sign before some peer has answered since start (a node whose store
            // was lost could otherwise sign at a position of its chain it already used).
            sign_without_peers: false,
            // The API may listen only on loopback unless the operator says otherwise.
            api_public: false,
            // The network in the normal class: the real-time class needs a grant of the
            // operator's (and takes the cores first whenever gossip arrives).
            net_realtime: false,
        }
    }
}

/// The file's shape: strings only, converted and checked by [`Config::build`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_api")]
    api: String,
    #[serde(default)]
    bootstrap: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheme: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sign_without_peers: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    api_public: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    net_realtime: bool,
}

fn default_listen() -> String {
    Config::default().listen
}

fn default_api() -> String {
    Config::default().api
}

impl Config {
    /// Sets the lab's display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the libp2p listen multiaddr.
    pub fn with_listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }
    /// Sets the HTTP API socket address.
    pub fn with_api(mut self, addr: impl Into<String>) -> Self {
        self.api = addr.into();
        self
    }
    /// Sets the bootstrap peers' multiaddrs.
    pub fn with_bootstrap(mut self, addrs: Vec<String>) -> Self {
        self.bootstrap = addrs;
        self
    }
    /// Sets (or clears) the scheme id.
    pub fn with_scheme(mut self, scheme: Option<SchemeId>) -> Self {
        self.scheme = scheme.map(|s| s.to_hex());
        self
    }

    /// Lets the node sign although no peer has answered since it started: only for a lab
    /// that is truly alone (see the operator guide's recovery section).
    pub fn with_sign_without_peers(mut self, yes: bool) -> Self {
        self.sign_without_peers = yes;
        self
    }

    /// Runs the network's workers in the real-time class, if the kernel allows it: gossip
    /// through a node whose API is busy then waits for no scheduler tick (see the operator
    /// guide for the grant it needs).
    pub fn with_net_realtime(mut self, yes: bool) -> Self {
        self.net_realtime = yes;
        self
    }

    /// Checks every field; the error names the first bad one and its value.
    pub fn build(self) -> Result<Config, ConfigError> {
        let bad = |field, value: &str, reason| ConfigError::Invalid {
            field,
            value: value.to_owned(),
            reason,
        };
        let n = self.name.trim();
        if n.is_empty() {
            return Err(bad("name", &self.name, "a lab name is required"));
        }
        if n.chars().count() > MAX_NAME || n.len() != self.name.len() {
            return Err(bad(
                "name",
                &self.name,
                "at most 64 characters, without leading or trailing spaces",
            ));
        }
        if self.name.chars().any(char::is_control) {
            return Err(bad(
                "name",
                &self.name,
                "control characters are not allowed",
            ));
        }
        check_multiaddr(&self.listen).map_err(|r| bad("listen", &self.listen, r))?;
        self.api.parse::<SocketAddr>().map_err(|_| {
            bad(
                "api",
                &self.api,
                "expected an IP address and port, like 127.0.0.1:8080",
            )
        })?;
        if self.bootstrap.len() > MAX_BOOTSTRAP {
            return Err(bad(
                "bootstrap",
                &format!("{} addresses", self.bootstrap.len()),
                "at most 256 bootstrap addresses",
            ));
        }
        for b in &self.bootstrap {
            check_multiaddr(b).map_err(|r| bad("bootstrap", b, r))?;
        }
        if let Some(s) = &self.scheme {
            s.parse::<SchemeId>()
                .map_err(|_| bad("scheme", s, "expected 64 hex characters"))?;
        }
        Ok(self)
    }

    /// The lab's display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The libp2p listen multiaddr.
    pub fn listen(&self) -> &str {
        &self.listen
    }
    /// The HTTP API address (checked by `build`).
    pub fn api(&self) -> Result<SocketAddr, ConfigError> {
        self.api.parse().map_err(|_| ConfigError::Invalid {
            field: "api",
            value: self.api.clone(),
            reason: "expected an IP address and port, like 127.0.0.1:8080",
        })
    }
    /// Bootstrap peers' multiaddrs.
    pub fn bootstrap(&self) -> &[String] {
        &self.bootstrap
    }
    /// The scheme this node belongs to.
    pub fn scheme(&self) -> Option<SchemeId> {
        self.scheme.as_deref().and_then(|s| s.parse().ok())
    }
    /// Whether the node may sign although no peer has answered since it started.
    pub fn sign_without_peers(&self) -> bool {
        self.sign_without_peers
    }
    /// Whether the API may listen on an address other than loopback.
    pub fn api_public(&self) -> bool {
        self.api_public
    }
    /// Whether the network's workers should run in the real-time class.
    pub fn net_realtime(&self) -> bool {
        self.net_realtime
    }

    /// Reads and checks the configuration at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                message: format!("file is {len} bytes, over the limit of {MAX_CONFIG_BYTES}"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let file: File = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Config {
            name: file.name,
            listen: file.listen,
            api: file.api,
            bootstrap: file.bootstrap,
            scheme: file.scheme,
            sign_without_peers: file.sign_without_peers,
            api_public: file.api_public,
            net_realtime: file.net_realtime,
        }
        .build()
    }

    /// Writes the configuration to `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File {
            name: self.name.clone(),
            listen: self.listen.clone(),
            api: self.api.clone(),
            bootstrap: self.bootstrap.clone(),
            scheme: self.scheme.clone(),
            sign_without_peers: self.sign_without_peers,
            api_public: self.api_public,
            net_realtime: self.net_realtime,
        };
        let body = toml::to_string(&file).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let text = format!(
            "# Interlab node configuration (written by `interlab`; edit freely).\n\
             # name: lab display name; listen: libp2p multiaddr; api: HTTP API address;\n\
             # bootstrap: peers' multiaddrs; scheme: the scheme id this node belongs to;\n\
             # sign_without_peers = true: sign although no peer answered since start (only\n\
             # for a lab that is truly alone: see the operator guide); api_public = true:\n\
             # let the API listen on an address other than loopback; net_realtime = true:\n\
             # the network's workers in the real-time class, if the kernel allows it.\n{body}"
        );
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// A light syntactic check of a multiaddr (the network layer parses it fully).
fn check_multiaddr(s: &str) -> Result<(), &'static str> {
    if !s.starts_with('/') {
        return Err("a multiaddr starts with '/', like /ip4/127.0.0.1/tcp/0");
    }
    if s.len() > 1024 {
        return Err("a multiaddr is at most 1024 bytes");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a multiaddr has no spaces or control characters");
    }
    if s[1..].split('/').any(str::is_empty) {
        return Err("a multiaddr has no empty components");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_with_a_name_builds_and_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let scheme = interlab_protocol::Digest::of("x", b"y");
        let c = Config::default()
            .with_name("lab a")
            .with_bootstrap(vec!["/ip4/10.0.0.1/tcp/4001".into()])
            .with_scheme(Some(scheme))
            .build()
            .unwrap();
        c.save(&path).unwrap();
        let back = Config::load(&path).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.scheme(), Some(scheme));
        assert_eq!(back.api().unwrap().to_string(), "127.0.0.1:0");
    }

    #[test]
    fn validation_names_the_field_and_the_bad_value() {
        let cases = [
            (Config::default(), "name", ""),
            (
                Config::default().with_name("a").with_listen("ip4/1.2.3.4"),
                "listen",
                "ip4/1.2.3.4",
            ),
            (
                Config::default().with_name("a").with_api("localhost"),
                "api",
                "localhost",
            ),
            (
                Config::default()
                    .with_name("a")
                    .with_bootstrap(vec!["/ip4//tcp/1".into()]),
                "bootstrap",
                "/ip4//tcp/1",
            ),
        ];
        for (config, want_field, want_value) in cases {
            match config.build() {
                Err(ConfigError::Invalid { field, value, .. }) => {
                    assert_eq!((field, value.as_str()), (want_field, want_value));
                }
                other => panic!("expected Invalid {want_field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_file_with_an_unknown_field_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "name = \"a\"\nlisten_addr = \"/ip4/1.2.3.4/tcp/1\"\n",
        )
        .unwrap();
        match Config::load(&path) {
            Err(ConfigError::Parse { message, .. }) => {
                assert!(message.contains("listen_addr"), "{message}")
            }
            other => panic!("expected Parse, got {other:?}"),
        }
    }

    /// A boolean field of the file and its getter.
    type Switch = (&'static str, fn(&Config) -> bool);

    #[test]
    fn the_switches_are_off_by_default_and_read_from_the_file() {
        let switches: [Switch; 3] = [
            ("sign_without_peers", Config::sign_without_peers),
            ("api_public", Config::api_public),
            ("net_realtime", Config::net_realtime),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        for (key, get) in switches {
            std::fs::write(&path, "name = \"a\"\n").unwrap();
            assert!(!get(&Config::load(&path).unwrap()), "{key}");
            std::fs::write(&path, format!("name = \"a\"\n{key} = true\n")).unwrap();
            let c = Config::load(&path).unwrap();
            assert!(get(&c), "{key}");
            c.save(&path).unwrap();
            let saved = Config::load(&path).unwrap();
            assert!(get(&saved), "{key}");
            // Only that one switch is on.
            let on = switches.iter().filter(|(_, g)| g(&saved)).count();
            assert_eq!(on, 1, "{key}");
        }
    }

    #[test]
    fn a_bad_scheme_in_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "name = \"a\"\nscheme = \"xyz\"\n").unwrap();
        match Config::load(&path) {
            Err(ConfigError::Invalid { field, value, .. }) => {
                assert_eq!((field, value.as_str()), ("scheme", "xyz"));
            }
            other => panic!("expected Invalid scheme, got {other:?}"),
        }
    }
}
