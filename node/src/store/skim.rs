//! Reads the few fields the open-time check needs from a record body's canonical CBOR
//! (author, seq, prev, time, kind, suite, round) without building the record.
//!
//! This is sound only behind the id check: a body whose BLAKE3 equals the stored id is
//! byte for byte the body that was validated when the record was accepted, so decoding
//! it again in full would learn nothing new. Building a run result costs about 30 small
//! allocations; skimming it costs none. Whatever this reader does not recognise (`None`)
//! falls back to the full decoder, so it can only be slower, never more lenient; a test
//! checks that both agree on every record kind.

use interlab_protocol::{Body, Digest, PublicKey, RecordId};

/// The fields of a record the open-time check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Skimmed {
    pub(crate) author: PublicKey,
    pub(crate) seq: u64,
    pub(crate) prev: Option<RecordId>,
    pub(crate) time_ms: u64,
    pub(crate) kind: u8,
    pub(crate) suite_round: Option<(Digest, Option<u32>)>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

const NULL: u8 = 0xf6;

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    /// A head: major type and argument (definite lengths only).
    fn head(&mut self) -> Option<(u8, u64)> {
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 0x1f);
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)),
            27 => u64::from_be_bytes(self.take(8)?.try_into().ok()?),
            _ => return None,
        };
        Some((major, arg))
    }

    fn uint(&mut self) -> Option<u64> {
        match self.head()? {
            (0, v) => Some(v),
            _ => None,
        }
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        match self.head()? {
            (3, n) => self.take(usize::try_from(n).ok()?),
            _ => None,
        }
    }

    fn bytes32(&mut self) -> Option<[u8; 32]> {
        match self.head()? {
            (2, 32) => self.take(32)?.try_into().ok(),
            _ => None,
        }
    }

    fn map(&mut self) -> Option<u64> {
        match self.head()? {
            (5, n) => Some(n),
            _ => None,
        }
    }

    fn key(&mut self, name: &str) -> Option<()> {
        (self.text()? == name.as_bytes()).then_some(())
    }

    fn optional32(&mut self) -> Option<Option<[u8; 32]>> {
        if self.bytes.get(self.at) == Some(&NULL) {
            self.at += 1;
            return Some(None);
        }
        self.bytes32().map(Some)
    }

    /// Skips one whole item.
    fn skip(&mut self) -> Option<()> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let (major, arg) = self.head()?;
            match major {
                0 | 1 | 7 => {}
                2 | 3 => {
                    self.take(usize::try_from(arg).ok()?)?;
                }
                4 => pending = pending.checked_add(arg)?,
                5 => pending = pending.checked_add(arg.checked_mul(2)?)?,
                6 => pending = pending.checked_add(1)?,
                _ => return None,
            }
        }
        Some(())
    }
}

/// The record fields of a canonical record body, or `None` when the bytes are not the
/// shape this reader knows (the caller then decodes in full).
pub(crate) fn record(body: &[u8]) -> Option<Skimmed> {
    let mut r = Reader { bytes: body, at: 0 };
    if r.map()? != 7 {
        return None;
    }
    r.key("v")?;
    r.uint()?;
    r.key("author")?;
    let author = PublicKey(r.bytes32()?);
    r.key("scheme")?;
    r.skip()?;
    r.key("seq")?;
    let seq = r.uint()?;
    r.key("prev")?;
    let prev = r.optional32()?.map(Digest);
    r.key("time_ms")?;
    let time_ms = r.uint()?;
    r.key("body")?;
    if r.map()? != 1 {
        return None;
    }
    let name = r.text()?;
    let kind = Body::KINDS.iter().position(|k| k.as_bytes() == name)?;
    let kind = u8::try_from(kind).ok()?;
    let suite_round = match Body::KINDS[usize::from(kind)] {
        "suite_published" | "known_answer_reveal" => {
            r.map()?;
            r.key("suite")?;
            Some((Digest(r.bytes32()?), None))
        }
        "round_opened" | "run_result" => {
            r.map()?;
            r.key("suite")?;
            let suite = Digest(r.bytes32()?);
            r.key("round")?;
            let round = u32::try_from(r.uint()?).ok()?;
            Some((suite, Some(round)))
        }
        _ => {
            r.skip()?;
            None
        }
    };
    if suite_round.is_some() {
        // The rest of the variant's map is not needed; its bytes are covered by the id.
        return Some(Skimmed {
            author,
            seq,
            prev,
            time_ms,
            kind,
            suite_round,
        });
    }
    (r.at == body.len()).then_some(Skimmed {
        author,
        seq,
        prev,
        time_ms,
        kind,
        suite_round,
    })
}

#[cfg(test)]
mod tests {
    use interlab_protocol::{Envelope, Record};

    use super::*;
    use crate::store::tests::rich_log;

    fn full(body: &[u8]) -> Skimmed {
        let r = Record::from_canonical(body).unwrap();
        Skimmed {
            author: r.author,
            seq: r.seq,
            prev: r.prev,
            time_ms: r.time_ms,
            kind: r.body.kind_index(),
            suite_round: r.body.suite_round(),
        }
    }

    #[test]
    fn skimming_gives_what_the_full_decoder_gives_for_every_record_kind() {
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..3 {
            let (log, _) = rich_log(seed);
            for b in &log {
                let env = Envelope::decode(b).unwrap();
                let want = full(&env.body);
                assert_eq!(record(&env.body), Some(want));
                kinds.insert(want.kind);
            }
        }
        assert!(kinds.len() >= 7, "only kinds {kinds:?} seen");
    }

    /// Kinds a random log does not produce: the skim must agree with the decoder on them
    /// too (a disagreement quarantines a sound record as damaged).
    #[test]
    fn skimming_a_known_answer_reveal_gives_its_suite() {
        use interlab_protocol::{Body, KnownAnswer, SealedAnswers, testkit::Author};
        let owner = Author::new(3);
        let suite = Digest::of(interlab_protocol::domain::SUITE, b"suite");
        let env = owner.sign(&owner.record(Body::KnownAnswerReveal {
            suite,
            suite_record: Digest::of(interlab_protocol::domain::RECORD_ID, b"published"),
            sealed: SealedAnswers {
                item: "sample-d".into(),
                salt: vec![1; 32],
                answers: vec![KnownAnswer {
                    test: "pgd".into(),
                    metric: "robust_accuracy".into(),
                    value: 0.25,
                    u: 0.0,
                }],
            },
        }));
        let want = full(&env.body);
        assert_eq!(want.suite_round, Some((suite, None)));
        assert_eq!(record(&env.body), Some(want));
    }

    #[test]
    fn skimming_damaged_or_truncated_bytes_never_panics() {
        let (log, _) = rich_log(4);
        for b in log.iter().take(40) {
            let body = Envelope::decode(b).unwrap().body;
            let want = full(&body);
            for i in 0..body.len() {
                for bit in [0x01u8, 0x10, 0x80] {
                    let mut bad = body.clone();
                    bad[i] ^= bit;
                    // The id check in front of the skim is what catches damage; the
                    // skim only has to stay in bounds.
                    let _ = record(&bad);
                }
                let _ = record(&body[..i]);
            }
            assert_eq!(record(&body), Some(want));
        }
    }
}
