//! gzip for large answers, compressed once and sent to the clients that accept it.
//!
//! A comparability answer lists every result of the round, so it is large (megabytes
//! for a busy round) and about eight times smaller compressed. It is compressed once
//! when it is computed, not per request (which is what a compression middleware would
//! do); the request's `Accept-Encoding` picks the copy. The negotiation is a few lines
//! of RFC 9110 §12.5.3, written here for that reason.

use std::io::Write;

use axum::http::{HeaderMap, header::ACCEPT_ENCODING};
use flate2::{Compression, write::GzEncoder};

/// `bytes`, gzip-compressed at the fast level (the answer is compressed once, but while
/// the node ingests it is computed for every new root).
pub(super) fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    enc.write_all(bytes)?;
    enc.finish()
}

/// Whether the request accepts a gzip-coded answer: `gzip` (or `x-gzip`) listed with a
/// quality above 0, or else `*` with a quality above 0. No header, or a quality that
/// does not parse, means no.
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
            let q = q.filter(|q| (0.0..=1.0).contains(q)).unwrap_or(0.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(q);
            } else if coding == "*" {
                any = Some(q);
            }
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::http::{HeaderMap, HeaderValue, header::ACCEPT_ENCODING};

    use super::{accepts_gzip, gzip};

    fn accepts(values: &[&str]) -> bool {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&h)
    }

    #[test]
    fn gzip_is_sent_only_to_a_client_that_gives_it_a_quality_above_zero() {
        assert!(!accepts(&[]), "no header: identity");
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["br, GZip;q=0.5"]));
        assert!(
            accepts(&["deflate", "x-gzip"]),
            "across several header lines"
        );
        assert!(accepts(&["*"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(
            !accepts(&["gzip;q=0.000, *"]),
            "gzip refused by name beats *"
        );
        assert!(accepts(&["br;q=0, *;q=0.1"]));
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["identity, deflate"]));
        assert!(!accepts(&["gzip;q=high"]), "a quality that does not parse");
        assert!(!accepts(&["gzip;q=2"]), "a quality outside [0, 1]");
        assert!(!accepts(&["gzip;q=NaN"]));
        assert!(
            !accepts(&["gzipped"]),
            "a coding that only starts like gzip"
        );
    }

    #[test]
    fn the_compressed_copy_decompresses_to_the_answer() {
        let answer: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        let packed = gzip(&answer).unwrap();
        assert!(packed.len() < answer.len() / 4);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, answer);
    }
}
