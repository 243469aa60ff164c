//! Parameter updates: SGD (plain, momentum, Nesterov), AdaGrad, RMSProp, Adam and AdamW, plus gradient
//! clipping by global norm.
//!
//! Every rule follows the formula that the PyTorch documentation gives for the optimiser of the same
//! name (`torch.optim.SGD`, `Adagrad`, `RMSprop`, `Adam`, `AdamW`), so hyperparameters carry over.
//! Hyperparameters live in a validated rule ([`Sgd`], [`Adagrad`], [`RmsProp`], [`Adam`]) built once from
//! its `XxxConfig`; what changes from step to step lives in a per-parameter `XxxState`, which is
//! serde-serialisable so it can go into a checkpoint.
//! The learning rate is an argument of every step, because a schedule owned by the training loop sets it.
//!
//! All rules are elementwise, so they act on flat views (`ArrayViewMut1`/`ArrayView1`) of any parameter
//! tensor.
//! Tensors with at least [`PARALLEL_MIN_LEN`] elements are updated in parallel chunks; because each
//! element's update reads only that element, the result is bit-identical to the serial one whatever
//! the thread count.
//!
//! [`Optimizer`] is the runtime front end: it holds one rule (chosen by [`OptimizerConfig`]) and the
//! states of all parameters keyed by name.

mod adagrad;
mod adam;
mod adam_f32;
mod clip;
mod optimizer;
mod rmsprop;
mod sgd;

pub use adagrad::{Adagrad, AdagradConfig, AdagradState};
pub use adam::{Adam, AdamConfig, AdamState, AdamWConfig, WeightDecay};
pub use clip::{clip_grad_norm, global_norm};
pub use optimizer::{Optimizer, OptimizerCheckpoint, OptimizerConfig, ParamState, Rule};
pub use rmsprop::{Centering, RmsProp, RmsPropConfig, RmsPropState};
pub use sgd::{Momentum, Sgd, SgdConfig, SgdState};

use crate::error::{check_len, invalid, Result};
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat};

/// Parameter tensors with at least this many elements are updated with rayon; smaller ones serially.
///
/// The split never changes the result: every update rule is elementwise.
pub const PARALLEL_MIN_LEN: usize = 1 << 15;

/// An update rule: validated hyperparameters that move one parameter tensor given its gradient and state.
///
/// Implemented by [`Sgd`], [`Adagrad`], [`RmsProp`] and [`Adam`] (which also does AdamW).
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{SgdConfig, UpdateRule};
/// let sgd = SgdConfig::default().build::<f64>()?;
/// let mut w = array![1.0, -2.0];
/// let mut state = sgd.init_state(2);
/// sgd.step(0.5, w.view_mut(), array![2.0, 2.0].view(), &mut state)?;
/// assert_eq!(w, array![0.0, -3.0]); // w − 0.5·g
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub trait UpdateRule<F: NdFloat>: Send + Sync {
    /// The per-parameter state (velocity; running averages; step count).
    type State;

    /// A fresh state for a parameter of `len` elements (the state before the first step).
    fn init_state(&self, len: usize) -> Self::State;

    /// Updates `param` in place from `grad` with learning rate `lr`, advancing `state`.
    ///
    /// # Shapes
    /// `param`, `grad` and the state's tensors all have the same length.
    ///
    /// # Errors
    /// [`TrainError::ShapeMismatch`](crate::TrainError::ShapeMismatch) when the lengths differ;
    /// [`TrainError::InvalidHyperparameter`](crate::TrainError::InvalidHyperparameter) for a negative or
    /// non-finite `lr`.
    /// Nothing is changed when an error is returned.
    fn step(
        &self,
        lr: F,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
        state: &mut Self::State,
    ) -> Result<()>;
}

/// Converts an `f64` literal or hyperparameter to `F` (exact for `f64`, rounded for `f32`).
pub(crate) fn lit<F: NdFloat>(x: f64) -> F {
    F::from(x).unwrap_or_else(F::nan)
}

/// Converts `F` to `f64` (always possible for `f32`/`f64`).
pub(crate) fn to_f64<F: NdFloat>(x: F) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// Checks the learning rate and that `param` and `grad` have the same length.
pub(crate) fn check_step<F: NdFloat>(
    op: &'static str,
    lr: F,
    param: &ArrayViewMut1<'_, F>,
    grad: &ArrayView1<'_, F>,
) -> Result<()> {
    if !(lr.is_finite() && lr >= F::zero()) {
        return Err(invalid(
            "lr",
            lr,
            "the learning rate must be finite and >= 0",
        ));
    }
    check_len(op, param.len(), grad.len())
}

/// Whether a tensor of `len` elements is updated in parallel.
pub(crate) fn parallel(len: usize) -> bool {
    len >= PARALLEL_MIN_LEN
}

/// Runs `$body` over a Zip either with `par_for_each` or `for_each`, depending on the length.
macro_rules! zip_apply {
    ($len:expr, $zip:expr, $f:expr) => {{
        let f = $f;
        if $crate::optim::parallel($len) {
            $zip.par_for_each(f)
        } else {
            $zip.for_each(f)
        }
    }};
}
pub(crate) use zip_apply;
