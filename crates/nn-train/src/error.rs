//! The error type of `nn-train`.

use std::fmt;

/// The error type of every fallible function in `nn-train`.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrainError {
    /// A hyperparameter (optimiser, schedule, search range, metric argument) is out of its valid range.
    InvalidHyperparameter {
        /// The hyperparameter's name, as in the config struct (for example `"beta1"`).
        name: &'static str,
        /// The value passed, as text.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An array has the wrong shape (parameter vs gradient, state vs parameter, scores vs labels).
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The expected shape.
        expected: Vec<usize>,
        /// The shape that was passed.
        got: Vec<usize>,
    },
    /// The input holds nothing to work on (no samples, no models, no parameters).
    EmptyInput {
        /// The operation that failed.
        op: &'static str,
    },
    /// The input holds a NaN or an infinity where a finite number is needed.
    NonFinite {
        /// The operation that failed.
        op: &'static str,
        /// The first offending value.
        value: f64,
    },
    /// A class label is not a valid class index.
    LabelOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// Index of the sample with the bad label.
        index: usize,
        /// The label found.
        label: usize,
        /// The number of classes `C` (valid labels are `0..C`).
        classes: usize,
    },
    /// Saved optimiser or averaging state does not belong to this optimiser or parameter.
    StateMismatch {
        /// The parameter's name.
        name: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A hyperparameter sample or trial refers to a parameter the search space does not have, or lacks one.
    UnknownParameter {
        /// The parameter's name.
        name: String,
    },
    /// An error from `nn-preprocess` (image shapes for test-time augmentation).
    Preprocess(nn_preprocess::PreprocessError),
    /// An error from `nn-core` (building, running, saving or loading a network).
    Core(nn_core::CoreError),
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint is malformed, incomplete or inconsistent.
    Checkpoint {
        /// The checkpoint's main file.
        path: std::path::PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHyperparameter {
                name,
                value,
                reason,
            } => write!(f, "invalid {name} = {value}: {reason}"),
            Self::ShapeMismatch { op, expected, got } => {
                write!(
                    f,
                    "{op}: shape mismatch, expected {expected:?}, got {got:?}"
                )
            }
            Self::EmptyInput { op } => write!(f, "{op}: the input is empty"),
            Self::NonFinite { op, value } => write!(f, "{op}: non-finite value {value}"),
            Self::LabelOutOfRange {
                op,
                index,
                label,
                classes,
            } => write!(
                f,
                "{op}: label {label} of sample {index} is not below the class count {classes}"
            ),
            Self::StateMismatch { name, reason } => {
                write!(f, "state of parameter {name:?} does not fit: {reason}")
            }
            Self::UnknownParameter { name } => {
                write!(
                    f,
                    "parameter {name:?} is not in the search space or the sample"
                )
            }
            Self::Preprocess(e) => write!(f, "preprocessing: {e}"),
            Self::Core(e) => write!(f, "network: {e}"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Checkpoint { path, reason } => {
                write!(f, "checkpoint {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Preprocess(e) => Some(e),
            Self::Core(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<nn_preprocess::PreprocessError> for TrainError {
    fn from(e: nn_preprocess::PreprocessError) -> Self {
        Self::Preprocess(e)
    }
}

impl From<nn_core::CoreError> for TrainError {
    fn from(e: nn_core::CoreError) -> Self {
        Self::Core(e)
    }
}

/// The result type of `nn-train`.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Builds an [`TrainError::InvalidHyperparameter`].
pub(crate) fn invalid(name: &'static str, value: impl fmt::Display, reason: &str) -> TrainError {
    TrainError::InvalidHyperparameter {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Checks `lo < x < hi` style constraints on a finite f64 hyperparameter.
pub(crate) fn check_finite(name: &'static str, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(invalid(name, x, "must be finite"))
    }
}

/// Checks `x > 0` (and finite).
pub(crate) fn check_positive(name: &'static str, x: f64) -> Result<f64> {
    check_finite(name, x)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(invalid(name, x, "must be positive"))
    }
}

/// Checks `x >= 0` (and finite).
pub(crate) fn check_non_negative(name: &'static str, x: f64) -> Result<f64> {
    check_finite(name, x)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(invalid(name, x, "must not be negative"))
    }
}

/// Checks `0 <= x < 1`.
pub(crate) fn check_unit_half_open(name: &'static str, x: f64) -> Result<f64> {
    check_finite(name, x)?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err(invalid(name, x, "must lie in [0, 1)"))
    }
}

/// Checks `0 < x < 1`.
pub(crate) fn check_unit_open(name: &'static str, x: f64) -> Result<f64> {
    check_finite(name, x)?;
    if x > 0.0 && x < 1.0 {
        Ok(x)
    } else {
        Err(invalid(name, x, "must lie in (0, 1)"))
    }
}

/// Checks that two lengths agree.
pub(crate) fn check_len(op: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(TrainError::ShapeMismatch {
            op,
            expected: vec![expected],
            got: vec![got],
        })
    }
}
