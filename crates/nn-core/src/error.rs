//! The crate's error type, [`CoreError`].

use std::fmt;

/// Everything that can go wrong in `nn-core` because of user input.
#[derive(Debug)]
#[non_exhaustive]
pub enum CoreError {
    /// An array does not have the shape an operation needs.
    ShapeMismatch {
        /// The operation that noticed it (e.g. `"Linear::forward"`).
        op: &'static str,
        /// The shape the operation expected.
        expected: Vec<usize>,
        /// The shape it got.
        got: Vec<usize>,
    },
    /// A hyperparameter or specification field is out of range.
    InvalidHyperparameter {
        /// The field's name (e.g. `"dropout.p"`).
        name: &'static str,
        /// The offending value, printed.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// An input that must not be empty was empty (e.g. a batch of zero rows).
    EmptyInput {
        /// The operation that noticed it.
        op: &'static str,
    },
    /// A class label is not below the number of classes `C`.
    LabelOutOfRange {
        /// Index of the sample in the batch.
        index: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// `backward` was called without a matching training-mode `forward` before it.
    BackwardBeforeForward,
    /// A saved model does not match its own specification, or the file is not a valid model.
    ModelMismatch {
        /// The tensor concerned (e.g. `"layers.0.weight"`), or `"__metadata__"`.
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A loaded tensor holds a NaN or an infinity.
    NonFiniteValue {
        /// The tensor (e.g. `"layers.0.weight"`).
        tensor: String,
        /// Row-major index of the first non-finite value in it.
        index: usize,
        /// That value.
        value: f64,
    },
    /// The file could not be parsed as safetensors.
    Format(String),
    /// Reading or writing a file failed.
    Io(std::io::Error),
    /// A network specification could not be serialised or parsed as JSON.
    Json(serde_json::Error),
    /// An activation reported an error.
    Activation(nn_activations::ActivationError),
    /// A weight initialiser reported an error.
    Init(nn_init::InitError),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::ShapeMismatch { op, expected, got } => {
                write!(
                    f,
                    "{op}: shape mismatch, expected {expected:?}, got {got:?}"
                )
            }
            CoreError::InvalidHyperparameter {
                name,
                value,
                reason,
            } => {
                write!(f, "invalid hyperparameter {name} = {value}: {reason}")
            }
            CoreError::EmptyInput { op } => write!(f, "{op}: empty input"),
            CoreError::LabelOutOfRange {
                index,
                label,
                classes,
            } => {
                write!(
                    f,
                    "label {label} of sample {index} is not below the number of classes {classes}"
                )
            }
            CoreError::BackwardBeforeForward => {
                write!(
                    f,
                    "backward called without a training-mode forward of the same batch before it"
                )
            }
            CoreError::ModelMismatch { tensor, reason } => {
                write!(
                    f,
                    "saved model does not match its specification at {tensor}: {reason}"
                )
            }
            CoreError::NonFiniteValue {
                tensor,
                index,
                value,
            } => {
                write!(
                    f,
                    "{tensor}[{index}] = {value}: saved weights must be finite (was the model saved after training diverged?)"
                )
            }
            CoreError::Format(msg) => write!(f, "not a valid safetensors model file: {msg}"),
            CoreError::Io(e) => write!(f, "i/o error: {e}"),
            CoreError::Json(e) => write!(f, "specification json error: {e}"),
            CoreError::Activation(e) => write!(f, "activation error: {e}"),
            CoreError::Init(e) => write!(f, "initialisation error: {e}"),
        }
    }
}

impl std::error::Error for CoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreError::Io(e) => Some(e),
            CoreError::Json(e) => Some(e),
            CoreError::Activation(e) => Some(e),
            CoreError::Init(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for CoreError {
    fn from(e: std::io::Error) -> Self {
        CoreError::Io(e)
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        CoreError::Json(e)
    }
}

impl From<nn_activations::ActivationError> for CoreError {
    fn from(e: nn_activations::ActivationError) -> Self {
        CoreError::Activation(e)
    }
}

impl From<nn_init::InitError> for CoreError {
    fn from(e: nn_init::InitError) -> Self {
        CoreError::Init(e)
    }
}

impl From<safetensors::SafeTensorError> for CoreError {
    fn from(e: safetensors::SafeTensorError) -> Self {
        CoreError::Format(e.to_string())
    }
}

/// `Result` with [`CoreError`].
pub type Result<T> = std::result::Result<T, CoreError>;

/// Checks that `got` equals `expected`, naming the operation otherwise.
pub(crate) fn check_shape(op: &'static str, expected: &[usize], got: &[usize]) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(CoreError::ShapeMismatch {
            op,
            expected: expected.to_vec(),
            got: got.to_vec(),
        })
    }
}
