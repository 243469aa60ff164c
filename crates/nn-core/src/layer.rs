//! [`LayerKind`]: the closed set of layers a [`crate::Network`] holds, and the dispatch over them.

use ndarray::{ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMutD, NdFloat};
use rand::Rng;

use crate::activation::{ActivationLayer, PRelu};
use crate::affine::Linear;
use crate::batch_norm::BatchNorm;
use crate::dropout::{Dropout, Flatten};
use crate::error::Result;
use crate::maxout::Maxout;
use crate::param::ParamKind;

/// Whether a forward pass trains (batch statistics, dropout masks, caches kept) or evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Training: BatchNorm uses and records batch statistics, Dropout drops; backward may follow.
    Train,
    /// Evaluation: BatchNorm uses running statistics, Dropout is the identity.
    Eval,
}

/// One layer of a [`crate::Network`] (a closed enum: no trait objects).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LayerKind<F: NdFloat> {
    /// Affine layer.
    Linear(Linear<F>),
    /// Element-wise activation.
    Activation(ActivationLayer),
    /// Parametric ReLU.
    PRelu(PRelu<F>),
    /// Maxout.
    Maxout(Maxout<F>),
    /// Batch normalisation.
    BatchNorm(BatchNorm<F>),
    /// Inverted dropout.
    Dropout(Dropout<F>),
    /// Flatten marker.
    Flatten(Flatten),
}

impl<F: NdFloat> LayerKind<F> {
    /// The local names and kinds of this layer's tensors, in visiting order.
    pub fn tensor_names(&self) -> Vec<(&'static str, ParamKind)> {
        use ParamKind::*;
        match self {
            LayerKind::Linear(_) | LayerKind::Maxout(_) => {
                vec![("weight", Weight), ("bias", Unregularised)]
            }
            LayerKind::PRelu(_) => vec![("alpha", Unregularised)],
            LayerKind::BatchNorm(bn) => {
                let mut v = Vec::new();
                if bn.gamma.is_some() {
                    v.push(("gamma", Unregularised));
                    v.push(("beta", Unregularised));
                }
                if bn.running_mean.is_some() {
                    v.push(("running_mean", Buffer));
                    v.push(("running_var", Buffer));
                }
                v
            }
            LayerKind::Activation(_) | LayerKind::Dropout(_) | LayerKind::Flatten(_) => vec![],
        }
    }

    /// Visits every tensor (value, and gradient for trainable ones) in [`LayerKind::tensor_names`] order.
    pub(crate) fn for_each_tensor<'s>(
        &'s self,
        f: &mut dyn FnMut(ArrayViewD<'s, F>, Option<ArrayViewD<'s, F>>),
    ) {
        match self {
            LayerKind::Linear(l) => {
                f(
                    l.weight.value.view().into_dyn(),
                    Some(l.weight.grad.view().into_dyn()),
                );
                f(
                    l.bias.value.view().into_dyn(),
                    Some(l.bias.grad.view().into_dyn()),
                );
            }
            LayerKind::Maxout(l) => {
                f(
                    l.weight.value.view().into_dyn(),
                    Some(l.weight.grad.view().into_dyn()),
                );
                f(
                    l.bias.value.view().into_dyn(),
                    Some(l.bias.grad.view().into_dyn()),
                );
            }
            LayerKind::PRelu(l) => {
                f(
                    l.alpha.value.view().into_dyn(),
                    Some(l.alpha.grad.view().into_dyn()),
                );
            }
            LayerKind::BatchNorm(bn) => {
                for p in [&bn.gamma, &bn.beta].into_iter().flatten() {
                    f(p.value.view().into_dyn(), Some(p.grad.view().into_dyn()));
                }
                for b in [&bn.running_mean, &bn.running_var].into_iter().flatten() {
                    f(b.view().into_dyn(), None);
                }
            }
            LayerKind::Activation(_) | LayerKind::Dropout(_) | LayerKind::Flatten(_) => {}
        }
    }

    /// Mutable version of [`LayerKind::for_each_tensor`].
    pub(crate) fn for_each_tensor_mut<'s>(
        &'s mut self,
        f: &mut dyn FnMut(ArrayViewMutD<'s, F>, Option<ArrayViewMutD<'s, F>>),
    ) {
        match self {
            LayerKind::Linear(l) => {
                f(
                    l.weight.value.view_mut().into_dyn(),
                    Some(l.weight.grad.view_mut().into_dyn()),
                );
                f(
                    l.bias.value.view_mut().into_dyn(),
                    Some(l.bias.grad.view_mut().into_dyn()),
                );
            }
            LayerKind::Maxout(l) => {
                f(
                    l.weight.value.view_mut().into_dyn(),
                    Some(l.weight.grad.view_mut().into_dyn()),
                );
                f(
                    l.bias.value.view_mut().into_dyn(),
                    Some(l.bias.grad.view_mut().into_dyn()),
                );
            }
            LayerKind::PRelu(l) => {
                f(
                    l.alpha.value.view_mut().into_dyn(),
                    Some(l.alpha.grad.view_mut().into_dyn()),
                );
            }
            LayerKind::BatchNorm(bn) => {
                for p in [&mut bn.gamma, &mut bn.beta].into_iter().flatten() {
                    f(
                        p.value.view_mut().into_dyn(),
                        Some(p.grad.view_mut().into_dyn()),
                    );
                }
                for b in [&mut bn.running_mean, &mut bn.running_var]
                    .into_iter()
                    .flatten()
                {
                    f(b.view_mut().into_dyn(), None);
                }
            }
            LayerKind::Activation(_) | LayerKind::Dropout(_) | LayerKind::Flatten(_) => {}
        }
    }

    /// Whether backward can skip computing `dX` when nobody needs it (the first layer's).
    fn dx_optional(&self) -> bool {
        matches!(self, LayerKind::Linear(_) | LayerKind::Maxout(_))
    }

    /// Forward into `out` (`N × d_out`), keeping what backward needs in training mode.
    pub(crate) fn forward<R: Rng + ?Sized>(
        &mut self,
        x: ArrayView2<'_, F>,
        mut out: ArrayViewMut2<'_, F>,
        mode: Mode,
        rng: &mut R,
    ) -> Result<()> {
        match (self, mode) {
            (LayerKind::Maxout(l), Mode::Train) => l.forward_train(x, out),
            (LayerKind::BatchNorm(l), Mode::Train) => l.forward_train(x, out)?,
            (LayerKind::Dropout(l), Mode::Train) => l.forward_train(x, out, rng),
            (layer, _) => layer.predict_into(x, out.view_mut())?,
        }
        Ok(())
    }

    /// Evaluation-mode forward into `out`; may allocate temporaries.
    pub(crate) fn predict_into(
        &self,
        x: ArrayView2<'_, F>,
        mut out: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        match self {
            LayerKind::Linear(l) => l.forward_into(x, out),
            LayerKind::Activation(l) => l.forward_into(x, out)?,
            LayerKind::PRelu(l) => l.forward_into(x, out),
            LayerKind::Maxout(l) => l.predict_into(x, out),
            LayerKind::BatchNorm(l) => l.predict_into(x, out)?,
            LayerKind::Dropout(_) | LayerKind::Flatten(_) => out.assign(&x),
        }
        Ok(())
    }

    /// Backward: accumulates parameter gradients and writes `dX` (if `dx` is given; layers
    /// without parameters always need it).
    pub(crate) fn backward<'a>(
        &mut self,
        x: ArrayView2<'a, F>,
        y: ArrayView2<'a, F>,
        dout: ArrayView2<'_, F>,
        dx: Option<ArrayViewMut2<'_, F>>,
    ) -> Result<()> {
        if let LayerKind::Linear(l) = self {
            l.backward_into(x, dout, dx);
            return Ok(());
        }
        if let LayerKind::Maxout(l) = self {
            return l.backward_into(x, dout, dx);
        }
        let Some(mut dx) = dx else {
            debug_assert!(!self.dx_optional());
            return Ok(());
        };
        match self {
            LayerKind::Activation(l) => l.backward_into(x, y, dout, dx)?,
            LayerKind::PRelu(l) => l.backward_into(x, dout, dx),
            LayerKind::BatchNorm(l) => l.backward_into(dout, dx)?,
            LayerKind::Dropout(l) => l.backward_into(dout, dx)?,
            LayerKind::Flatten(_) => dx.assign(&dout),
            LayerKind::Linear(_) | LayerKind::Maxout(_) => {}
        }
        Ok(())
    }

    /// Whether this layer needs `dX` computed even as the first layer (only for its own gradients).
    pub(crate) fn needs_dx_buffer(&self) -> bool {
        !self.dx_optional()
    }
}
