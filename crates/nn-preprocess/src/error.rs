//! The error type of `nn-preprocess`.

use std::fmt;
use std::path::PathBuf;

/// What is wrong with a data file (the `kind` of [`PreprocessError::Malformed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The magic number at the start of an IDX file is not the expected one.
    BadMagic {
        /// The magic number this reader expects (2051 for images, 2049 for labels).
        expected: u32,
        /// The magic number found in the file.
        got: u32,
    },
    /// The file ends before the data its header (or record size) promises.
    Truncated {
        /// Bytes the header implies (header included).
        expected_bytes: u64,
        /// Bytes actually present.
        got_bytes: u64,
    },
    /// The file has bytes after the data its header describes.
    TrailingData {
        /// Bytes the header implies (header included).
        expected_bytes: u64,
    },
    /// A header field is impossible (zero-sized images, sizes that overflow, wrong image size).
    BadHeader {
        /// What is wrong, in words.
        reason: String,
    },
    /// An image file and its label file hold different numbers of records.
    CountMismatch {
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label is not a valid class index.
    LabelOutOfRange {
        /// Zero-based record index of the bad label.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes (valid labels are `0..classes`).
        classes: usize,
    },
    /// A line of a text file cannot be parsed.
    BadRecord {
        /// One-based line number.
        line: usize,
        /// What is wrong, in words.
        reason: String,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic { expected, got } => write!(
                f,
                "bad magic number {got:#010x} (expected {expected:#010x})"
            ),
            Self::Truncated {
                expected_bytes,
                got_bytes,
            } => write!(
                f,
                "truncated: header implies {expected_bytes} bytes, found only {got_bytes}"
            ),
            Self::TrailingData { expected_bytes } => write!(
                f,
                "unexpected data after the {expected_bytes} bytes the header describes"
            ),
            Self::BadHeader { reason } => write!(f, "bad header: {reason}"),
            Self::CountMismatch { images, labels } => {
                write!(f, "count mismatch: {images} images but {labels} labels")
            }
            Self::LabelOutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "label {label} of record {index} is out of range (there are {classes} classes)"
            ),
            Self::BadRecord { line, reason } => write!(f, "line {line}: {reason}"),
        }
    }
}

/// The error type of every fallible function in `nn-preprocess`.
#[derive(Debug)]
#[non_exhaustive]
pub enum PreprocessError {
    /// An array has the wrong shape (for example, a transform sees a different feature count than it was fitted on).
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The expected shape.
        expected: Vec<usize>,
        /// The shape that was passed.
        got: Vec<usize>,
    },
    /// The image layout differs from the one a transform was fitted on.
    LayoutMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The layout the transform was fitted on.
        expected: String,
        /// The layout that was passed.
        got: String,
    },
    /// The input holds no samples.
    EmptyInput {
        /// The operation that failed.
        op: &'static str,
    },
    /// The input holds a NaN or an infinity.
    NonFinite {
        /// The operation that failed.
        op: &'static str,
        /// Row (sample) index of the bad value within the array passed.
        sample: usize,
        /// Column (feature) index of the bad value.
        feature: usize,
        /// The value itself.
        value: f64,
    },
    /// A hyperparameter or argument is out of its valid range.
    InvalidHyperparameter {
        /// The parameter's name.
        name: &'static str,
        /// The value passed, as text.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A labelled data set is inconsistent (label count, label range, image shape).
    InvalidDataset {
        /// What is wrong, in words.
        reason: String,
    },
    /// A data file is malformed.
    Malformed {
        /// The file (or stream name) that is malformed.
        file: String,
        /// What is wrong with it.
        kind: FormatError,
    },
    /// A required file is missing from a data set directory.
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// The file names tried, in order.
        tried: Vec<String>,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A saved transform cannot be serialised or parsed.
    Serde {
        /// The file involved (empty for in-memory strings).
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The linear-algebra backend failed (for example, an eigendecomposition did not converge).
    LinearAlgebra {
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShapeMismatch { op, expected, got } => {
                write!(
                    f,
                    "{op}: shape mismatch, expected {expected:?}, got {got:?}"
                )
            }
            Self::LayoutMismatch { op, expected, got } => {
                write!(f, "{op}: layout mismatch, fitted on {expected}, got {got}")
            }
            Self::EmptyInput { op } => write!(f, "{op}: the input holds no samples"),
            Self::NonFinite {
                op,
                sample,
                feature,
                value,
            } => write!(
                f,
                "{op}: non-finite value {value} at sample {sample}, feature {feature}"
            ),
            Self::InvalidHyperparameter {
                name,
                value,
                reason,
            } => write!(f, "invalid {name} = {value}: {reason}"),
            Self::InvalidDataset { reason } => write!(f, "invalid data set: {reason}"),
            Self::Malformed { file, kind } => write!(f, "malformed file {file}: {kind}"),
            Self::MissingFile { dir, tried } => {
                write!(f, "no file named any of {tried:?} in {}", dir.display())
            }
            Self::Io { path, source } => write!(f, "I/O error on {}: {source}", path.display()),
            Self::Serde { path, source } => {
                write!(f, "cannot (de)serialise {}: {source}", path.display())
            }
            Self::LinearAlgebra { reason } => write!(f, "linear algebra failed: {reason}"),
        }
    }
}

impl std::error::Error for PreprocessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Serde { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The result type of `nn-preprocess`.
pub type Result<T> = std::result::Result<T, PreprocessError>;

/// Builds a [`PreprocessError::Malformed`] for `file`.
pub(crate) fn malformed(file: &str, kind: FormatError) -> PreprocessError {
    PreprocessError::Malformed {
        file: file.to_string(),
        kind,
    }
}
