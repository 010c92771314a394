//! The scheme owner's code → name mapping of a coded scheme, kept in a local file that
//! never leaves the owner's machine (`lab-codes.json` in the owner's node directory).

use std::{collections::BTreeMap, path::Path};

use anyhow::Context;
use interlab_node::client::ApiClient;
use interlab_protocol::{Body, PublicKey};
use serde::{Deserialize, Serialize};

/// File name of the mapping in the owner's node directory.
pub(crate) const FILE: &str = "lab-codes.json";

/// One accredited lab of a coded scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    name: String,
    key: PublicKey,
}

/// Whether the scheme the node serves shows labs by code (its genesis says so).
pub(crate) fn scheme_is_coded(client: &ApiClient) -> anyhow::Result<bool> {
    let genesis = client.records("kind=scheme_genesis")?;
    Ok(genesis.iter().any(|o| {
        matches!(
            o.record.body,
            Body::SchemeGenesis {
                lab_codes: true,
                contact: None,
                ..
            }
        )
    }))
}

/// The code for `name` (`code` if given, else the next free `Lnn`), recorded in the
/// mapping file under `dir` before anything is published.
pub(crate) fn assign(
    dir: &Path,
    name: &str,
    key: PublicKey,
    code: Option<String>,
) -> anyhow::Result<String> {
    let path = dir.join(FILE);
    let mut map: BTreeMap<String, Entry> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a lab-code mapping", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if let Some(c) = &code {
        anyhow::ensure!(
            interlab_protocol::is_lab_code(c),
            "{c:?} is not a lab code: use one to three capital letters and two to four digits, like L07"
        );
    }
    if let Some((c, _)) = map.iter().find(|(_, e)| e.key == key) {
        anyhow::ensure!(
            code.as_deref().is_none_or(|given| given == c),
            "lab {key} already has code {c} in {}",
            path.display()
        );
        return Ok(c.clone());
    }
    let code = match code {
        Some(c) => c,
        None => (1..)
            .map(|n| format!("L{n:02}"))
            .find(|c| !map.contains_key(c))
            .context("no free lab code")?,
    };
    anyhow::ensure!(
        interlab_protocol::is_lab_code(&code),
        "{code:?} is not a lab code: use one to three capital letters and two to four digits, like L07"
    );
    anyhow::ensure!(!map.contains_key(&code), "lab code {code} is already taken");
    map.insert(
        code.clone(),
        Entry {
            name: name.to_owned(),
            key,
        },
    );
    std::fs::write(&path, serde_json::to_vec_pretty(&map)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(code)
}
