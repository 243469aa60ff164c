//! The crate's error type: every way user input can be wrong.

use std::fmt;

/// Everything that can go wrong in this crate.
///
/// Element-wise forward passes are total functions and never fail; passes that combine several
/// arrays check their shapes, and parameterised activations check their parameters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ActivationError {
    /// Two arrays that must have the same shape (or a parameter that must match a dimension)
    /// do not.
    ShapeMismatch {
        /// The operation that found the mismatch.
        op: &'static str,
        /// The shape it expected.
        expected: Vec<usize>,
        /// The shape it was given.
        got: Vec<usize>,
    },
    /// A backward pass was given the forward output, but this activation's derivative cannot be
    /// recovered from the output (GELU, SiLU, or a leaky slope / ELU alpha below zero).
    NeedsInput {
        /// The activation's name.
        activation: &'static str,
    },
    /// A parameter (slope, alpha, number of pieces) is out of its domain.
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value.
        value: f64,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// An axis index is not below the array's number of dimensions.
    InvalidAxis {
        /// The operation.
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The array's number of dimensions.
        ndim: usize,
    },
    /// The input has no elements where at least one is needed.
    EmptyInput {
        /// The operation.
        op: &'static str,
    },
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, ActivationError>;

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::ShapeMismatch { op, expected, got } => {
                write!(f, "{op}: expected shape {expected:?}, got {got:?}")
            }
            ActivationError::NeedsInput { activation } => write!(
                f,
                "{activation}: the derivative cannot be computed from the forward output; keep the input"
            ),
            ActivationError::InvalidParameter { name, value, reason } => {
                write!(f, "invalid parameter {name} = {value}: {reason}")
            }
            ActivationError::InvalidAxis { op, axis, ndim } => {
                write!(f, "{op}: axis {axis} is out of range for an array with {ndim} dimensions")
            }
            ActivationError::EmptyInput { op } => write!(f, "{op}: the input is empty"),
        }
    }
}

impl std::error::Error for ActivationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_operation_and_shapes() {
        let e = ActivationError::ShapeMismatch {
            op: "backward",
            expected: vec![2, 3],
            got: vec![3, 2],
        };
        assert_eq!(e.to_string(), "backward: expected shape [2, 3], got [3, 2]");
    }
}
