//! Validation: a pure function from envelope bytes and a view of the log to a verdict.
//!
//! Every check whose outcome could differ between honest nodes only because of
//! arrival order (a gap, a not-yet-seen accreditation) is marked as
//! [`Disposition::Ignore`]: the record may become valid later, and the sender is not to
//! blame. Everything else is the sender's fault ([`Disposition::Reject`]).

use crate::{
    chain::ForkProof,
    digest::{Digest, RecordId, SchemeId, domain},
    envelope::{Envelope, EnvelopeError, Opened},
    keys::PublicKey,
    measurement::MeasurementError,
    record::{Body, MAX_TEXT, RECORD_VERSION, Record},
};

/// How far ahead of the validating node's clock a record's time may be.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// What the log knows of an author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The scheme owner.
    Owner,
    /// A lab that has been accredited (it may be suspended; that only affects counting).
    Lab {
        /// When revoked: the last seq that stays valid (`Some(None)`: none does).
        revoked_after: Option<Option<u64>>,
    },
    /// Never accredited in this scheme.
    Unknown,
}

/// The head of an author's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Last seq.
    pub seq: u64,
    /// Its record id.
    pub id: RecordId,
    /// Its claimed time.
    pub time_ms: u64,
}

/// The read-only view of the log that validation needs.
pub trait LogView {
    /// The scheme (genesis id and owner key), once the genesis is known.
    fn scheme(&self) -> Option<(SchemeId, PublicKey)>;
    /// The head of `author`'s chain.
    fn head(&self, author: &PublicKey) -> Option<Head>;
    /// The stored envelope at `(author, seq)`.
    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Option<Envelope>;
    /// Whether a record with this id is stored.
    fn contains(&self, id: &RecordId) -> bool;
    /// The author and seq of a stored record.
    fn locate(&self, id: &RecordId) -> Option<(PublicKey, u64)>;
    /// What the log knows of `author`.
    fn standing(&self, author: &PublicKey) -> Standing;
    /// Whether the scheme shows labs by code (its genesis says so).
    fn lab_codes(&self) -> bool;
}

/// Whether a rejection is the sender's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Invalid for everyone: drop it and penalise whoever sent it.
    Reject,
    /// Not acceptable now (duplicate, gap, unknown dependency): drop or hold, no blame.
    Ignore,
}

/// Why a record was not accepted. The message is meant for operators.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// An accreditation in a coded scheme carries something other than a lab code.
    #[error(
        "this scheme shows labs by code, but the accreditation names {name:?}: use a code \
         like L07 and keep the name off the network"
    )]
    NotALabCode {
        /// What the record carried.
        name: String,
    },
    /// Bad bytes or signature.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A format version this node does not know.
    #[error("unknown record version {found} (this node reads version {RECORD_VERSION})")]
    UnknownVersion {
        /// The version found.
        found: u32,
    },
    /// The record belongs to another scheme.
    #[error("record names scheme {found}, but this log is scheme {expected}")]
    WrongScheme {
        /// This log's scheme.
        expected: SchemeId,
        /// The scheme the record names (`null` when it names none; a second genesis: its id).
        found: String,
    },
    /// No genesis is known yet, so nothing else can be checked.
    #[error("no scheme genesis is known yet")]
    NoScheme,
    /// A malformed genesis.
    #[error("a scheme genesis must have seq 0, no prev and no scheme; {0}")]
    BadGenesis(&'static str),
    /// Already stored.
    #[error("record {0} is already stored")]
    Duplicate(RecordId),
    /// The predecessor is missing.
    #[error("gap: record has seq {found}, but {}", held_text(author, *have, *found))]
    Gap {
        /// The author.
        author: PublicKey,
        /// The stored head seq.
        have: Option<u64>,
        /// The record's seq.
        found: u64,
    },
    /// `prev` does not name the author's previous record.
    #[error("{}", wrong_prev_text(author, *seq, expected.as_ref(), found.as_ref()))]
    WrongPrev {
        /// The author.
        author: PublicKey,
        /// The record's seq.
        seq: u64,
        /// The stored previous id.
        expected: Option<RecordId>,
        /// The record's prev.
        found: Option<RecordId>,
    },
    /// Time went backwards along the chain.
    #[error("time {found_ms} ms is before the previous record's {prev_ms} ms")]
    TimeWentBack {
        /// Previous record's time.
        prev_ms: u64,
        /// This record's time.
        found_ms: u64,
    },
    /// Time too far in the future.
    #[error("time {found_ms} ms is more than {MAX_CLOCK_SKEW_MS} ms ahead of now ({now_ms} ms)")]
    FromTheFuture {
        /// This node's clock.
        now_ms: u64,
        /// The record's time.
        found_ms: u64,
    },
    /// Two records at one seq.
    #[error("equivocation: author {} signed two records at seq {}", .0.a.author, seq_of(.0))]
    Equivocation(Box<ForkProof>),
    /// Author never accredited.
    #[error("author {0} is not the scheme owner and has not been accredited")]
    UnknownAuthor(PublicKey),
    /// Kind reserved to the owner.
    #[error("only the scheme owner may write {kind} records; author {author} is not the owner")]
    Unauthorized {
        /// Record kind.
        kind: &'static str,
        /// The author.
        author: PublicKey,
    },
    /// The lab was revoked.
    #[error("{}", revoked_text(lab, *last_seq))]
    LabRevoked {
        /// The lab.
        lab: PublicKey,
        /// The last valid seq.
        last_seq: Option<u64>,
    },
    /// Too long a text field.
    #[error("text field `{field}` is {len} bytes, over the limit of {MAX_TEXT} bytes")]
    TextTooLong {
        /// The field's name.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// Bad numbers in a run result.
    #[error("run result: {0}")]
    Measurement(#[from] MeasurementError),
    /// Suite id does not match the manifest.
    #[error("suite id {declared} does not match the manifest's digest {computed}")]
    SuiteIdMismatch {
        /// Declared.
        declared: Digest,
        /// Computed.
        computed: Digest,
    },
    /// Retraction of a record that is not the author's own.
    #[error("a retraction may only target the author's own records; {0} is another author's")]
    RetractsOthers(RecordId),
    /// A known-answer reveal that does not match the suite's commitment.
    #[error("known-answer reveal refused: {0}")]
    Reveal(crate::RevealError),
    /// Retraction of a record that is not in the log.
    #[error(
        "retraction target {0} is not a stored record (a retraction may only target one of the author's earlier records)"
    )]
    UnknownTarget(RecordId),
}

fn held_text(author: &PublicKey, have: Option<u64>, found: u64) -> String {
    match have {
        Some(h) if found > h + 1 => format!(
            "author {author}'s chain is held only up to seq {h} (seq {} is missing)",
            h + 1
        ),
        Some(h) => format!("author {author}'s chain is held up to seq {h}"),
        None => format!("no record of author {author} is held (seq 0 is missing)"),
    }
}

fn wrong_prev_text(
    author: &PublicKey,
    seq: u64,
    expected: Option<&RecordId>,
    found: Option<&RecordId>,
) -> String {
    match (expected, found) {
        (None, Some(f)) => {
            format!("author {author} seq {seq}: prev must be null at seq 0, but is {f}")
        }
        (Some(e), Some(f)) => format!(
            "author {author} seq {seq}: prev is {f} but the author's record at seq {} is {e}",
            seq.saturating_sub(1)
        ),
        (Some(e), None) => format!(
            "author {author} seq {seq}: prev is null but the author's record at seq {} is {e}",
            seq.saturating_sub(1)
        ),
        (None, None) => format!("author {author} seq {seq}: prev is null"),
    }
}

fn revoked_text(lab: &PublicKey, last_seq: Option<u64>) -> String {
    match last_seq {
        Some(s) => format!("lab {lab} was revoked; its records after seq {s} are rejected"),
        None => format!("lab {lab} was revoked with no record kept; all its records are rejected"),
    }
}

fn seq_of(p: &ForkProof) -> String {
    Envelope::clone(&p.a)
        .open()
        .map(|o| o.record.seq.to_string())
        .unwrap_or_else(|_| "?".into())
}

impl Rejection {
    /// Whether this is the sender's fault.
    pub fn disposition(&self) -> Disposition {
        match self {
            Rejection::NoScheme
            | Rejection::Duplicate(_)
            | Rejection::Gap { .. }
            | Rejection::FromTheFuture { .. } => Disposition::Ignore,
            _ => Disposition::Reject,
        }
    }

    /// A short machine-readable code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Envelope(EnvelopeError::Signature(_)) => "bad_signature",
            Rejection::Envelope(EnvelopeError::Envelope(crate::CborError::NonCanonical))
            | Rejection::Envelope(EnvelopeError::Body(crate::CborError::NonCanonical)) => {
                "non_canonical"
            }
            Rejection::Envelope(EnvelopeError::Envelope(crate::CborError::TooLarge { .. })) => {
                "oversize"
            }
            Rejection::Envelope(EnvelopeError::UnknownVersion(_)) => "unknown_version",
            Rejection::Envelope(EnvelopeError::AuthorMismatch { .. }) => "author_mismatch",
            Rejection::Envelope(_) => "malformed",
            Rejection::UnknownVersion { .. } => "unknown_version",
            Rejection::WrongScheme { .. } => "wrong_scheme",
            Rejection::NoScheme => "no_scheme",
            Rejection::BadGenesis(_) => "bad_genesis",
            Rejection::NotALabCode { .. } => "not_a_lab_code",
            Rejection::Duplicate(_) => "duplicate",
            Rejection::Gap { .. } => "gap",
            Rejection::WrongPrev { .. } => "wrong_prev",
            Rejection::TimeWentBack { .. } => "time_went_back",
            Rejection::FromTheFuture { .. } => "from_the_future",
            Rejection::Equivocation(_) => "equivocation",
            Rejection::UnknownAuthor(_) => "unknown_author",
            Rejection::Unauthorized { .. } => "unauthorized",
            Rejection::LabRevoked { .. } => "lab_revoked",
            Rejection::TextTooLong { .. } => "text_too_long",
            Rejection::Measurement(_) => "bad_measurement",
            Rejection::SuiteIdMismatch { .. } => "suite_id_mismatch",
            Rejection::RetractsOthers(_) => "retracts_others",
            Rejection::Reveal(_) => "bad_reveal",
            Rejection::UnknownTarget(_) => "unknown_target",
        }
    }
}

/// A record that passed every check against the view.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted(pub Opened);

impl Accepted {
    /// The record id.
    pub fn id(&self) -> RecordId {
        self.0.id
    }
    /// The decoded record.
    pub fn record(&self) -> &Record {
        &self.0.record
    }
    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.0.envelope
    }
}

/// Validates envelope bytes against the log. `now_ms` is the validating node's clock.
pub fn validate(bytes: &[u8], log: &impl LogView, now_ms: u64) -> Result<Accepted, Rejection> {
    validate_opened(Envelope::open_bytes(bytes)?, log, now_ms)
}

/// Validates an already opened (signature-checked) envelope against the log.
pub fn validate_opened(
    opened: Opened,
    log: &impl LogView,
    now_ms: u64,
) -> Result<Accepted, Rejection> {
    let rec = &opened.record;
    if rec.v != RECORD_VERSION {
        return Err(Rejection::UnknownVersion { found: rec.v });
    }
    for (field, t) in rec.body.texts() {
        if t.len() > MAX_TEXT {
            return Err(Rejection::TextTooLong {
                field,
                len: t.len(),
            });
        }
    }
    if rec.time_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(Rejection::FromTheFuture {
            now_ms,
            found_ms: rec.time_ms,
        });
    }
    if log.contains(&opened.id) {
        return Err(Rejection::Duplicate(opened.id));
    }

    // Scheme membership.
    let scheme = log.scheme();
    if let Body::SchemeGenesis { .. } = rec.body {
        if rec.seq != 0 {
            return Err(Rejection::BadGenesis("seq is not 0"));
        }
        if rec.prev.is_some() {
            return Err(Rejection::BadGenesis("prev is set"));
        }
        if rec.scheme.is_some() {
            return Err(Rejection::BadGenesis("scheme is set"));
        }
        if let Some((expected, _)) = scheme {
            // A second genesis (or a foreign one) never belongs to this log.
            return Err(Rejection::WrongScheme {
                expected,
                found: format!("{} (it is a second genesis)", opened.id),
            });
        }
        return Ok(Accepted(opened));
    }
    let Some((scheme_id, owner)) = scheme else {
        return Err(Rejection::NoScheme);
    };
    if rec.scheme != Some(scheme_id) {
        return Err(Rejection::WrongScheme {
            expected: scheme_id,
            found: rec
                .scheme
                .map_or_else(|| "null".to_owned(), |s| s.to_string()),
        });
    }

    // Authority of the author.
    let standing = log.standing(&rec.author);
    match standing {
        // The owner's `run_result` is accepted: it is the round's reference run, which
        // sets reference values and never counts as a participant (governance).
        Standing::Owner => {}
        Standing::Unknown => return Err(Rejection::UnknownAuthor(rec.author)),
        Standing::Lab { revoked_after } => {
            if rec.body.owner_only() {
                return Err(Rejection::Unauthorized {
                    kind: rec.body.kind(),
                    author: rec.author,
                });
            }
            if let Some(last_seq) = revoked_after
                && last_seq.is_none_or(|last| rec.seq > last)
            {
                return Err(Rejection::LabRevoked {
                    lab: rec.author,
                    last_seq,
                });
            }
        }
    }
    debug_assert!(standing != Standing::Owner || rec.author == owner);

    // Chain position.
    check_chain(&opened, log)?;

    // Body-specific rules.
    match &rec.body {
        Body::SuitePublished {
            suite, manifest, ..
        } => {
            let computed = Digest::of(domain::SUITE, manifest);
            if computed != *suite {
                return Err(Rejection::SuiteIdMismatch {
                    declared: *suite,
                    computed,
                });
            }
        }
        Body::RunResult(r) => r.check()?,
        Body::LabAccredited { name, .. } if log.lab_codes() && !crate::is_lab_code(name) => {
            return Err(Rejection::NotALabCode { name: name.clone() });
        }
        Body::KnownAnswerReveal {
            suite,
            suite_record,
            sealed,
        } => check_reveal(log, suite, suite_record, sealed)?,
        Body::Retraction { target, .. } => match log.locate(target) {
            Some((author, _)) if author == rec.author => {}
            Some(_) => return Err(Rejection::RetractsOthers(*target)),
            None => return Err(Rejection::UnknownTarget(*target)),
        },
        _ => {}
    }
    Ok(Accepted(opened))
}

/// A reveal must match the commitment of its item in the suite it names.
fn check_reveal(
    log: &impl LogView,
    suite: &Digest,
    suite_record: &RecordId,
    sealed: &crate::SealedAnswers,
) -> Result<(), Rejection> {
    let not_the_suite = || {
        Rejection::Reveal(crate::RevealError::NotTheSuite {
            record: *suite_record,
            suite: *suite,
        })
    };
    let (author, seq) = log.locate(suite_record).ok_or_else(not_the_suite)?;
    let envelope = log.envelope_at(&author, seq).ok_or_else(not_the_suite)?;
    let opened = envelope.open().map_err(|_| not_the_suite())?;
    let Body::SuitePublished {
        suite: published,
        manifest,
        ..
    } = &opened.record.body
    else {
        return Err(not_the_suite());
    };
    if published != suite {
        return Err(not_the_suite());
    }
    let view =
        crate::governance::SuiteView::from_manifest(manifest).map_err(|_| not_the_suite())?;
    let committed = view
        .items
        .iter()
        .find(|i| i.id == sealed.item)
        .and_then(|i| i.known_answer)
        .ok_or_else(|| {
            Rejection::Reveal(crate::RevealError::NoSuchItem {
                suite: *suite,
                item: sealed.item.clone(),
            })
        })?;
    sealed.verify(&committed).map_err(Rejection::Reveal)
}

fn check_chain(opened: &Opened, log: &impl LogView) -> Result<(), Rejection> {
    let rec = &opened.record;
    let head = log.head(&rec.author);
    match head {
        Some(h) if rec.seq <= h.seq => {
            // Same position, different record (ids differ: duplicates were caught).
            let proof = log
                .envelope_at(&rec.author, rec.seq)
                .map(|other| ForkProof::new(other, opened.envelope.clone()));
            match proof {
                Some(p) => Err(Rejection::Equivocation(Box::new(p))),
                None => Err(Rejection::Gap {
                    author: rec.author,
                    have: Some(h.seq),
                    found: rec.seq,
                }),
            }
        }
        Some(h) if rec.seq > h.seq + 1 => Err(Rejection::Gap {
            author: rec.author,
            have: Some(h.seq),
            found: rec.seq,
        }),
        Some(h) => {
            if rec.prev != Some(h.id) {
                return Err(Rejection::WrongPrev {
                    author: rec.author,
                    seq: rec.seq,
                    expected: Some(h.id),
                    found: rec.prev,
                });
            }
            if rec.time_ms < h.time_ms {
                return Err(Rejection::TimeWentBack {
                    prev_ms: h.time_ms,
                    found_ms: rec.time_ms,
                });
            }
            Ok(())
        }
        None if rec.seq == 0 => {
            if rec.prev.is_some() {
                return Err(Rejection::WrongPrev {
                    author: rec.author,
                    seq: 0,
                    expected: None,
                    found: rec.prev,
                });
            }
            Ok(())
        }
        None => Err(Rejection::Gap {
            author: rec.author,
            have: None,
            found: rec.seq,
        }),
    }
}
