//! A loaded suite: the checked manifest plus every artefact, each verified against its
//! BLAKE3 digest and size before anything is parsed or run.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use interlab_protocol::{ArtefactRef, Criterion, Digest, domain};

use crate::{
    data::{DataError, DataFile, Dataset},
    manifest::{MAX_MANIFEST_BYTES, Manifest, ManifestError},
    model::{Model, ModelError},
};

/// Why a suite cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The manifest file cannot be read.
    #[error("cannot read manifest {path}: {error}")]
    Read {
        /// Path.
        path: PathBuf,
        /// Cause.
        error: std::io::Error,
    },
    /// The manifest is refused.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An artefact cannot be had.
    #[error("artefact {name:?} ({path}) is missing: {reason}")]
    MissingArtefact {
        /// Artefact name.
        name: String,
        /// Its path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Wrong bytes for an artefact.
    #[error("artefact {name:?} ({path}) has digest {found}, but the manifest says {expected}")]
    DigestMismatch {
        /// Artefact name.
        name: String,
        /// Path.
        path: String,
        /// Declared.
        expected: Digest,
        /// Computed.
        found: Digest,
    },
    /// Wrong size.
    #[error("artefact {name:?} ({path}) is {found} bytes, but the manifest says {expected}")]
    SizeMismatch {
        /// Artefact name.
        name: String,
        /// Path.
        path: String,
        /// Declared.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// The data artefact is refused.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model artefact is refused.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What the resolver is asked for.
#[derive(Debug, Clone, Copy)]
pub struct ArtefactRequest<'a> {
    /// Name in the manifest.
    pub name: &'a str,
    /// Path relative to the manifest.
    pub path: &'a str,
    /// Expected digest (domain::ARTEFACT).
    pub digest: &'a Digest,
    /// Expected size.
    pub size: u64,
}

/// A suite ready to run.
#[derive(Debug, Clone)]
pub struct Suite {
    manifest: Manifest,
    canonical: Vec<u8>,
    id: Digest,
    artefacts: BTreeMap<String, Vec<u8>>,
    model: Model,
    model_digest: Digest,
    items: Vec<(Model, Digest)>,
    data: Dataset,
}

impl Suite {
    /// Loads a manifest file and its artefacts from the manifest's folder.
    pub fn load(manifest_path: impl AsRef<Path>) -> Result<Self, SuiteError> {
        let path = manifest_path.as_ref();
        let text =
            read_bounded(path, MAX_MANIFEST_BYTES as u64).map_err(|error| SuiteError::Read {
                path: path.to_path_buf(),
                error,
            })?;
        let text = String::from_utf8(text)
            .map_err(|e| ManifestError::Malformed(format!("not UTF-8: {e}")))?;
        let manifest = Manifest::from_toml(&text)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_manifest(manifest, |req| {
            read_bounded(&dir.join(req.path), crate::data::MAX_DATA_BYTES as u64)
                .map_err(|e| e.to_string())
        })
    }

    /// Builds a suite from canonical manifest bytes (as published on the network) and a
    /// resolver that returns an artefact's bytes (e.g. from a content-addressed store).
    pub fn from_parts(
        canonical_manifest: &[u8],
        resolver: impl FnMut(ArtefactRequest<'_>) -> Result<Vec<u8>, String>,
    ) -> Result<Self, SuiteError> {
        Self::from_manifest(Manifest::from_canonical(canonical_manifest)?, resolver)
    }

    /// Builds a suite from a checked manifest and a resolver; verifies every artefact.
    pub fn from_manifest(
        manifest: Manifest,
        mut resolver: impl FnMut(ArtefactRequest<'_>) -> Result<Vec<u8>, String>,
    ) -> Result<Self, SuiteError> {
        manifest.check()?;
        let mut artefacts = BTreeMap::new();
        for (name, a) in &manifest.artefacts {
            let missing = |reason: String| SuiteError::MissingArtefact {
                name: name.clone(),
                path: a.path.clone(),
                reason,
            };
            let bytes = resolver(ArtefactRequest {
                name,
                path: &a.path,
                digest: &a.blake3,
                size: a.size,
            })
            .map_err(missing)?;
            if bytes.len() as u64 != a.size {
                return Err(SuiteError::SizeMismatch {
                    name: name.clone(),
                    path: a.path.clone(),
                    expected: a.size,
                    found: bytes.len() as u64,
                });
            }
            let found = Digest::of(domain::ARTEFACT, &bytes);
            if found != a.blake3 {
                return Err(SuiteError::DigestMismatch {
                    name: name.clone(),
                    path: a.path.clone(),
                    expected: a.blake3,
                    found,
                });
            }
            artefacts.insert(name.clone(), bytes);
        }
        let get = |n: &str| artefacts.get(n).map(Vec::as_slice).unwrap_or(&[]);
        let d = &manifest.data;
        let file = DataFile::open(get(&d.artefact))?;
        let range = (d.range[0] as f32, d.range[1] as f32);
        let classes = d.classes as usize;
        let train = file.split(&d.x_train, &d.y_train, classes, range)?;
        let test = file.split(&d.x_test, &d.y_test, classes, range)?;
        let features = train.x.len() / train.len();
        if test.x.len() / test.len() != features {
            return Err(DataError::Shape {
                name: d.x_test.clone(),
                shape: vec![test.len(), test.x.len() / test.len()],
                expected: format!("[_, {features}] like {}", d.x_train),
            }
            .into());
        }
        let data = Dataset {
            train,
            test,
            features,
            classes,
            range,
            input_shape: d
                .input_shape
                .as_ref()
                .map(|s| s.iter().map(|&v| v as usize).collect()),
        };
        let model_bytes = get(&manifest.model.artefact);
        let model = Model::from_bytes(model_bytes)?;
        model.check_fits(features, classes)?;
        let model_digest = manifest.artefacts[&manifest.model.artefact].blake3;
        let mut items = Vec::with_capacity(manifest.items.len());
        for item in &manifest.items {
            let m = match &item.architecture {
                Some(a) => Model::from_state_dict(
                    get(&item.model),
                    &crate::graph::spec::SequentialSpec::from_json(get(a))?,
                )?,
                None => Model::from_bytes(get(&item.model))?,
            };
            m.check_fits(features, classes)?;
            items.push((m, manifest.artefacts[&item.model].blake3));
        }
        let canonical = manifest.canonical_bytes();
        let id = Digest::of(domain::SUITE, &canonical);
        Ok(Suite {
            manifest,
            canonical,
            id,
            artefacts,
            model,
            model_digest,
            items,
            data,
        })
    }

    /// The suite id: BLAKE3 of the canonical manifest bytes in `domain::SUITE`.
    pub fn id(&self) -> Digest {
        self.id
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The canonical manifest bytes (what a `SuitePublished` record carries).
    pub fn canonical_bytes(&self) -> &[u8] {
        &self.canonical
    }

    /// Each test id with its acceptance criterion, in manifest order.
    pub fn criteria(&self) -> Vec<(String, Criterion)> {
        self.manifest
            .tests
            .iter()
            .map(|t| (t.id.clone(), t.criterion.clone()))
            .collect()
    }

    /// The artefacts as the protocol names them (path, digest, size).
    pub fn artefact_refs(&self) -> Vec<ArtefactRef> {
        self.manifest.artefact_refs()
    }

    /// An artefact's verified bytes.
    pub fn artefact(&self, name: &str) -> Option<&[u8]> {
        self.artefacts.get(name).map(Vec::as_slice)
    }

    /// The suite's reference model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Digest of the reference model's bytes.
    pub fn model_digest(&self) -> Digest {
        self.model_digest
    }

    /// The model of test item `index` (manifest order) and the digest of its bytes.
    pub fn item_model(&self, index: usize) -> Option<(&Model, Digest)> {
        self.items.get(index).map(|(m, d)| (m, *d))
    }

    /// The suite's data.
    pub fn data(&self) -> &Dataset {
        &self.data
    }
}

/// Reads a file of at most `max` bytes.
pub(crate) fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} bytes, over the limit of {max}", meta.len()),
        ));
    }
    std::fs::read(path)
}
