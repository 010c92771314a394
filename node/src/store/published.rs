//! What readers look up in a snapshot on every request: the suites published in the
//! log and the rounds named for each. Found once when the snapshot is read, on a report
//! thread, instead of by a scan of every record per request (the scan was a tenth of
//! the API's CPU under load).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use interlab_protocol::{Body, Digest, Opened, PublicKey};

/// A suite published in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedSuite {
    /// Suite id.
    pub id: Digest,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The suites of a snapshot and the rounds its records name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Published suites, in log order.
    pub suites: Vec<PublishedSuite>,
    /// Per suite id (published or not), the rounds that the owner opened or that a
    /// result was filed for.
    pub rounds: BTreeMap<Digest, BTreeSet<u32>>,
}

impl Published {
    /// Indexes `records` (in log order); `owner` is the scheme owner, whose records
    /// alone open rounds.
    pub fn of(records: &[Arc<Opened>], owner: Option<PublicKey>) -> Published {
        let mut out = Published::default();
        for o in records {
            match &o.record.body {
                Body::SuitePublished {
                    suite,
                    name,
                    version,
                    ..
                } => out.suites.push(PublishedSuite {
                    id: *suite,
                    name: name.clone(),
                    version: version.clone(),
                }),
                Body::RunResult(r) => {
                    out.rounds.entry(r.suite).or_default().insert(r.round);
                }
                Body::RoundOpened { suite, round, .. } if Some(o.record.author) == owner => {
                    out.rounds.entry(*suite).or_default().insert(*round);
                }
                _ => {}
            }
        }
        out
    }

    /// The latest published suite.
    pub fn latest(&self) -> Option<&PublishedSuite> {
        self.suites.last()
    }

    /// Whether the owner opened `round` of `suite` or a result was filed for it.
    pub fn knows_round(&self, suite: &Digest, round: u32) -> bool {
        self.rounds.get(suite).is_some_and(|r| r.contains(&round))
    }

    /// The rounds named for `suite`, ascending.
    pub fn rounds_of(&self, suite: &Digest) -> Vec<u32> {
        self.rounds
            .get(suite)
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use interlab_protocol::{
        Body, Digest,
        testkit::{TestScheme, sample_run_result},
    };

    use super::Published;

    #[test]
    fn only_the_owner_opens_a_round_and_any_filed_result_names_one() {
        let mut s = TestScheme::new("published", 1, 3);
        let suite = Digest::of("interlab test suite", b"published");
        let opened = |round| Body::RoundOpened {
            suite,
            round,
            deadline_ms: None,
        };
        let envelopes = [
            s.owner.next(opened(2)),
            s.labs[0].next(opened(3)),
            s.labs[0].next(Body::RunResult(sample_run_result(suite, 4, 0.5))),
        ];
        let records: Vec<_> = envelopes
            .into_iter()
            .map(|e| Arc::new(e.open().unwrap()))
            .collect();
        let p = Published::of(&records, Some(s.owner.public()));
        assert!(p.knows_round(&suite, 2), "opened by the owner");
        assert!(!p.knows_round(&suite, 3), "a lab cannot open a round");
        assert!(p.knows_round(&suite, 4), "a result was filed for it");
        assert_eq!(p.rounds_of(&suite), vec![2, 4]);
        assert!(p.latest().is_none(), "no suite was published");
        assert!(!p.knows_round(&Digest::of("interlab test suite", b"other"), 2));
    }
}
