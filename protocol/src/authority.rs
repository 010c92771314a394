//! Who may write what, derived from the owner's records alone.
//!
//! Only the scheme owner changes authority, and the owner's records arrive in chain
//! order, so every node that holds the same owner chain derives the same authority.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    digest::{RecordId, SchemeId},
    keys::PublicKey,
    record::{Body, Record},
    validate::Standing,
};

/// A lab as the owner's records describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lab {
    /// The lab's key.
    pub key: PublicKey,
    /// Its name at accreditation.
    pub name: String,
    /// Time of the (first) accreditation record.
    pub accredited_ms: u64,
    /// Suspension intervals `[from, until)`; `until` is `None` while suspended.
    pub suspensions: Vec<(u64, Option<u64>)>,
    /// Reasons given for suspensions, in order.
    pub suspension_reasons: Vec<String>,
    /// When revoked: the last seq that stays valid.
    pub revoked_after: Option<Option<u64>>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

impl Lab {
    /// Current status word: `accredited`, `suspended` or `revoked`.
    pub fn status(&self) -> &'static str {
        if self.revoked_after.is_some() {
            "revoked"
        } else if self
            .suspensions
            .last()
            .is_some_and(|(_, until)| until.is_none())
        {
            "suspended"
        } else {
            "accredited"
        }
    }
}

/// A revocation that the store must apply to already stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// The revoked lab.
    pub lab: PublicKey,
    /// Records with a larger seq (all, when `None`) leave the accepted set.
    pub last_seq: Option<u64>,
}

/// The authority state of a scheme.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authority {
    scheme: Option<(SchemeId, PublicKey)>,
    lab_codes: bool,
    labs: BTreeMap<PublicKey, Lab>,
}

impl Authority {
    /// The scheme id and owner, once the genesis has been applied.
    pub fn scheme(&self) -> Option<(SchemeId, PublicKey)> {
        self.scheme
    }

    /// Whether the scheme shows labs by code (chosen in its genesis).
    pub fn lab_codes(&self) -> bool {
        self.lab_codes
    }

    /// The owner's key.
    pub fn owner(&self) -> Option<PublicKey> {
        self.scheme.map(|(_, o)| o)
    }

    /// Every lab ever accredited.
    pub fn labs(&self) -> impl Iterator<Item = &Lab> {
        self.labs.values()
    }

    /// One lab.
    pub fn lab(&self, key: &PublicKey) -> Option<&Lab> {
        self.labs.get(key)
    }

    /// What validation needs to know of an author.
    pub fn standing(&self, author: &PublicKey) -> Standing {
        if self.owner() == Some(*author) {
            return Standing::Owner;
        }
        match self.labs.get(author) {
            Some(l) => Standing::Lab {
                revoked_after: l.revoked_after,
            },
            None => Standing::Unknown,
        }
    }

    /// Whether a lab's record made at `time_ms` counts in statistics: the lab was
    /// accredited by then, not suspended then, and not revoked.
    pub fn counts_at(&self, lab: &PublicKey, time_ms: u64) -> bool {
        let Some(l) = self.labs.get(lab) else {
            return false;
        };
        if l.revoked_after.is_some() || time_ms < l.accredited_ms {
            return false;
        }
        !l.suspensions
            .iter()
            .any(|(from, until)| time_ms >= *from && until.is_none_or(|u| time_ms < u))
    }

    /// Applies an accepted record. Returns a revocation the store must act on.
    pub fn apply(&mut self, id: RecordId, rec: &Record) -> Option<Revocation> {
        if let Body::SchemeGenesis { lab_codes, .. } = rec.body {
            if self.scheme.is_none() {
                self.scheme = Some((id, rec.author));
                self.lab_codes = lab_codes;
            }
            return None;
        }
        if self.owner() != Some(rec.author) {
            return None;
        }
        match &rec.body {
            Body::LabAccredited { lab, name } => {
                self.labs.entry(*lab).or_insert_with(|| Lab {
                    key: *lab,
                    name: name.clone(),
                    accredited_ms: rec.time_ms,
                    suspensions: Vec::new(),
                    suspension_reasons: Vec::new(),
                    revoked_after: None,
                    revoked_reason: None,
                });
                None
            }
            Body::LabSuspended {
                lab,
                reason,
                from_ms,
            } => {
                if let Some(l) = self.labs.get_mut(lab)
                    && l.suspensions.last().is_none_or(|(_, u)| u.is_some())
                {
                    l.suspensions.push((*from_ms, None));
                    l.suspension_reasons.push(reason.clone());
                }
                None
            }
            Body::LabReinstated { lab } => {
                if let Some(l) = self.labs.get_mut(lab)
                    && let Some((from, until @ None)) = l.suspensions.last_mut()
                {
                    *until = Some(rec.time_ms.max(*from));
                }
                None
            }
            Body::LabRevoked {
                lab,
                reason,
                last_seq,
            } => {
                let l = self.labs.get_mut(lab)?;
                if l.revoked_after.is_some() {
                    return None;
                }
                l.revoked_after = Some(*last_seq);
                l.revoked_reason = Some(reason.clone());
                Some(Revocation {
                    lab: *lab,
                    last_seq: *last_seq,
                })
            }
            _ => None,
        }
    }
}
