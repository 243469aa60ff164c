//! Named parameters and buffers: [`Param`], [`ParamKind`] and the views handed to visitors.

use ndarray::{Array, ArrayViewD, ArrayViewMutD, Dimension, NdFloat};

/// What a named tensor is, so optimisers, regularisers and checkpoints treat it correctly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A trainable weight subject to L2 regularisation (`Linear` and `Maxout` weights only).
    Weight,
    /// A trainable parameter that is not regularised: biases, BatchNorm's γ and β, PReLU's slope.
    Unregularised,
    /// Not trainable, but part of the model's state: BatchNorm's running mean and variance.
    Buffer,
}

impl ParamKind {
    /// Whether an optimiser should update it (`Weight` and `Unregularised`).
    pub fn is_trainable(self) -> bool {
        !matches!(self, ParamKind::Buffer)
    }

    /// Whether L2 regularisation applies to it (only `Weight`).
    pub fn is_regularised(self) -> bool {
        matches!(self, ParamKind::Weight)
    }
}

/// A trainable tensor and its gradient, of the same shape.
///
/// `backward` accumulates into `grad` (`grad += ∂L/∂value`); [`crate::Network::zero_grad`] clears it.
#[derive(Clone, Debug, PartialEq)]
pub struct Param<F, D: Dimension> {
    /// The parameter's value.
    pub value: Array<F, D>,
    /// The accumulated gradient `∂L/∂value`.
    pub grad: Array<F, D>,
}

impl<F: NdFloat, D: Dimension> Param<F, D> {
    /// A parameter with this value and a zero gradient.
    pub fn new(value: Array<F, D>) -> Self {
        let grad = Array::zeros(value.raw_dim());
        Param { value, grad }
    }
}

/// A trainable parameter handed to [`crate::Network::visit_params_mut`].
#[derive(Debug)]
pub struct ParamMut<'a, F> {
    /// Its name, e.g. `layers.0.weight`.
    pub name: &'a str,
    /// Whether it is regularised.
    pub kind: ParamKind,
    /// The value, to update.
    pub value: ArrayViewMutD<'a, F>,
    /// The gradient accumulated by `backward`.
    pub grad: ArrayViewMutD<'a, F>,
}

/// A named tensor (parameter or buffer) handed to [`crate::Network::visit_tensors`].
#[derive(Debug)]
pub struct TensorRef<'a, F> {
    /// Its name, e.g. `layers.1.running_mean`.
    pub name: &'a str,
    /// What it is.
    pub kind: ParamKind,
    /// Its value.
    pub value: ArrayViewD<'a, F>,
    /// Its gradient (`None` for buffers).
    pub grad: Option<ArrayViewD<'a, F>>,
}
