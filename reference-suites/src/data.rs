//! Labelled rows from safetensors: `x_*` f32 [n, features] in the valid range and `y_*`
//! i64 labels, checked on load (shape, dtype, NaN, range, label bounds) so that no test
//! ever runs on data it would misread.

use safetensors::{Dtype as StDtype, SafeTensors};

/// Largest data file the engine reads.
pub const MAX_DATA_BYTES: usize = 1 << 30;

/// Why data cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Over [`MAX_DATA_BYTES`].
    #[error("data is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not safetensors.
    #[error("data is not a valid safetensors file: {0}")]
    Safetensors(String),
    /// A named tensor is absent.
    #[error("data has no tensor {0:?}")]
    Missing(String),
    /// Wrong dtype.
    #[error("data tensor {name:?} has dtype {dtype}, expected {expected}")]
    Dtype {
        /// Tensor name.
        name: String,
        /// Its dtype.
        dtype: String,
        /// Expected dtype.
        expected: &'static str,
    },
    /// Wrong shape.
    #[error("data tensor {name:?} has shape {shape:?}, expected {expected}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// What was expected.
        expected: String,
    },
    /// NaN or infinity.
    #[error("data tensor {name:?} has a NaN or infinite value at row {row}")]
    NotFinite {
        /// Tensor name.
        name: String,
        /// Row index.
        row: usize,
    },
    /// A value outside the valid range.
    #[error("data tensor {name:?} row {row} holds {value}, outside the valid range [{lo}, {hi}]")]
    OutOfRange {
        /// Tensor name.
        name: String,
        /// Row index.
        row: usize,
        /// Value.
        value: f32,
        /// Lower bound.
        lo: f32,
        /// Upper bound.
        hi: f32,
    },
    /// A label outside [0, classes).
    #[error("data tensor {name:?} row {row} has label {label}, outside 0..{classes}")]
    Label {
        /// Tensor name.
        name: String,
        /// Row index.
        row: usize,
        /// Label.
        label: i64,
        /// Class count.
        classes: usize,
    },
    /// A row index outside 0..n or repeated.
    #[error("data tensor {name:?} entry {row} is row index {index}, outside 0..{n} or repeated")]
    Index {
        /// Tensor name.
        name: String,
        /// Entry.
        row: usize,
        /// The index.
        index: i64,
        /// Number of rows.
        n: usize,
    },
    /// A split with no rows.
    #[error("data tensor {0:?} has no rows")]
    Empty(String),
}

/// Rows and labels of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Features, row-major [n, features].
    pub x: Vec<f32>,
    /// Labels in 0..classes.
    pub y: Vec<u32>,
}

impl Split {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when the split has no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// An opened safetensors data file.
pub(crate) struct DataFile<'a> {
    st: SafeTensors<'a>,
}

impl<'a> DataFile<'a> {
    pub(crate) fn open(bytes: &'a [u8]) -> Result<Self, DataError> {
        if bytes.len() > MAX_DATA_BYTES {
            return Err(DataError::TooLarge {
                len: bytes.len(),
                max: MAX_DATA_BYTES,
            });
        }
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| DataError::Safetensors(e.to_string()))?;
        Ok(DataFile { st })
    }

    /// Reads `x_name` and `y_name` as a split with `features` columns in `[lo, hi]`.
    pub(crate) fn split(
        &self,
        x_name: &str,
        y_name: &str,
        classes: usize,
        range: (f32, f32),
    ) -> Result<Split, DataError> {
        let x = self.f32_matrix(x_name)?;
        let (n, d) = x.1;
        let y = self.labels(y_name, classes)?;
        if y.len() != n {
            return Err(DataError::Shape {
                name: y_name.into(),
                shape: vec![y.len()],
                expected: format!("[{n}] to match {x_name}"),
            });
        }
        let (lo, hi) = range;
        for (i, v) in x.0.iter().enumerate() {
            let row = i / d;
            if !v.is_finite() {
                return Err(DataError::NotFinite {
                    name: x_name.into(),
                    row,
                });
            }
            if *v < lo || *v > hi {
                return Err(DataError::OutOfRange {
                    name: x_name.into(),
                    row,
                    value: *v,
                    lo,
                    hi,
                });
            }
        }
        Ok(Split { x: x.0, y })
    }

    /// An f32 matrix [n, d] with n, d > 0.
    pub(crate) fn f32_matrix(&self, name: &str) -> Result<(Vec<f32>, (usize, usize)), DataError> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| DataError::Missing(name.into()))?;
        if t.dtype() != StDtype::F32 {
            return Err(DataError::Dtype {
                name: name.into(),
                dtype: format!("{:?}", t.dtype()),
                expected: "F32",
            });
        }
        // [n, features] or an image batch [n, C, H, W] (read as flat rows of C·H·W).
        let (n, d) = match t.shape() {
            [n, rest @ ..] if (1..=3).contains(&rest.len()) && !rest.contains(&0) => {
                (*n, rest.iter().product())
            }
            s => {
                return Err(DataError::Shape {
                    name: name.into(),
                    shape: s.to_vec(),
                    expected: "[rows, features] or [rows, C, H, W]".into(),
                });
            }
        };
        if n == 0 {
            return Err(DataError::Empty(name.into()));
        }
        let v = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((v, (n, d)))
    }

    /// Per-row shape of tensor `name` (its shape without the first axis).
    pub(crate) fn row_shape(&self, name: &str) -> Result<Vec<usize>, DataError> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| DataError::Missing(name.into()))?;
        Ok(t.shape().iter().skip(1).copied().collect())
    }

    /// An integer vector (i64 or i32) of indices or labels.
    pub(crate) fn ints(&self, name: &str) -> Result<Vec<i64>, DataError> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| DataError::Missing(name.into()))?;
        if t.shape().len() != 1 {
            return Err(DataError::Shape {
                name: name.into(),
                shape: t.shape().to_vec(),
                expected: "[rows]".into(),
            });
        }
        match t.dtype() {
            StDtype::I64 => Ok(t
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()),
            StDtype::I32 => Ok(t
                .data()
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()),
            other => Err(DataError::Dtype {
                name: name.into(),
                dtype: format!("{other:?}"),
                expected: "I64",
            }),
        }
    }

    /// Labels in 0..classes.
    pub(crate) fn labels(&self, name: &str, classes: usize) -> Result<Vec<u32>, DataError> {
        let raw = self.ints(name)?;
        raw.iter()
            .enumerate()
            .map(|(row, &l)| {
                u32::try_from(l)
                    .ok()
                    .filter(|&u| (u as usize) < classes)
                    .ok_or(DataError::Label {
                        name: name.into(),
                        row,
                        label: l,
                        classes,
                    })
            })
            .collect()
    }

    /// Row indices in 0..n, each at most once.
    pub(crate) fn indices(&self, name: &str, n: usize) -> Result<Vec<usize>, DataError> {
        let raw = self.ints(name)?;
        let mut seen = vec![false; n];
        raw.iter()
            .enumerate()
            .map(|(row, &i)| {
                let u = usize::try_from(i).ok().filter(|&u| u < n && !seen[u]);
                match u {
                    Some(u) => {
                        seen[u] = true;
                        Ok(u)
                    }
                    None => Err(DataError::Index {
                        name: name.into(),
                        row,
                        index: i,
                        n,
                    }),
                }
            })
            .collect()
    }
}

/// The suite's data: training rows (members) and test rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Training split.
    pub train: Split,
    /// Test split.
    pub test: Split,
    /// Feature count.
    pub features: usize,
    /// Class count.
    pub classes: usize,
    /// Valid input range.
    pub range: (f32, f32),
    /// Image layout of a row (`[h, w]` or `[c, h, w]`), when the suite gives one.
    pub input_shape: Option<Vec<usize>>,
}
