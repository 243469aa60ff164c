//! The crate's error type, [`InitError`].

use nn_activations::ActivationError;
use std::fmt;

/// Everything that can go wrong when building weights or running the statistics experiment.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum InitError {
    /// A fan is zero, so the weight matrix would be empty and every variance formula divides by zero.
    ZeroFan {
        /// Number of inputs per output unit (`D` for a dense layer).
        fan_in: usize,
        /// Number of outputs per input unit (`H` for a dense layer).
        fan_out: usize,
    },
    /// A shape that no initialiser can fill (empty, one-dimensional, a zero axis, or too many elements).
    InvalidShape {
        /// The shape that was given.
        shape: Vec<usize>,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A hyperparameter that is negative, non-finite or otherwise out of range.
    InvalidParameter {
        /// The parameter's name, e.g. `"std"`.
        name: &'static str,
        /// The value that was given.
        value: f64,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The activation was rejected by nn-activations (e.g. a non-finite Leaky ReLU slope).
    Activation(ActivationError),
}

/// `Result` with [`InitError`].
pub type Result<T> = std::result::Result<T, InitError>;

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::ZeroFan { fan_in, fan_out } => write!(
                f,
                "weight shape has a zero fan (fan_in = {fan_in}, fan_out = {fan_out}); both must be positive"
            ),
            InitError::InvalidShape { shape, reason } => {
                write!(f, "invalid weight shape {shape:?}: {reason}")
            }
            InitError::InvalidParameter {
                name,
                value,
                reason,
            } => write!(f, "invalid parameter {name} = {value}: {reason}"),
            InitError::Activation(e) => write!(f, "activation: {e}"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Activation(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ActivationError> for InitError {
    fn from(e: ActivationError) -> Self {
        InitError::Activation(e)
    }
}
