//! [`Dropout`] (inverted dropout) and [`Flatten`].

use ndarray::{Array2, ArrayView2, ArrayViewMut2, NdFloat, Zip};
use rand::Rng;

use crate::error::{check_shape, CoreError, Result};
use crate::lit;

/// Inverted dropout (Srivastava et al. 2014, CS231n's form): each unit is zeroed with probability `p`
/// in training and the survivors are scaled by `1/(1 − p)`, so evaluation is the identity.
///
/// ```text
/// training: mask[n, j] = 1/(1 − p) with probability 1 − p, else 0;   y = x ⊙ mask;   dx = dy ⊙ mask
/// eval:     y = x
/// ```
/// `p` is the **drop** probability, as in PyTorch's `nn.Dropout(p)` (CS231n's code uses the keep
/// probability instead). The mask is drawn from the `rng` given to the training forward, so the
/// same seed gives the same mask (which is how gradient checks fix it).
///
/// # Shapes
/// `X`, `Y` and the mask are `N × D`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dropout<F: NdFloat> {
    p: f64,
    mask: Array2<F>,
}

impl<F: NdFloat> Dropout<F> {
    /// Dropout with drop probability `p ∈ [0, 1)`.
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`] if `p` is outside `[0, 1)`.
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(CoreError::InvalidHyperparameter {
                name: "dropout.p",
                value: p.to_string(),
                reason: "the drop probability must be in [0, 1)",
            });
        }
        Ok(Dropout {
            p,
            mask: Array2::zeros((0, 0)),
        })
    }

    /// The drop probability `p`.
    pub fn p(&self) -> f64 {
        self.p
    }

    pub(crate) fn forward_train<R: Rng + ?Sized>(
        &mut self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, F>,
        rng: &mut R,
    ) {
        if self.mask.dim() != x.dim() {
            self.mask = Array2::zeros(x.dim());
        }
        let scale: F = lit(1.0 / (1.0 - self.p));
        let p = self.p;
        for m in self.mask.iter_mut() {
            *m = if rng.random::<f64>() >= p {
                scale
            } else {
                F::zero()
            };
        }
        Zip::from(out)
            .and(x)
            .and(&self.mask)
            .for_each(|o, &v, &m| *o = v * m);
    }

    pub(crate) fn backward_into(
        &self,
        dout: ArrayView2<'_, F>,
        dx: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        check_shape("Dropout::backward", self.mask.shape(), dout.shape())?;
        Zip::from(dx)
            .and(dout)
            .and(&self.mask)
            .for_each(|g, &d, &m| *g = d * m);
        Ok(())
    }
}

/// Marks where image rows (`C·H·W` or `H·W·C` values) become plain features.
///
/// Every activation in a [`crate::Network`] is already stored as an `N × D` row-major matrix
/// (a network's input of any shape `N × …` is flattened on entry), so this layer moves no data
/// except a copy: it exists so a [`crate::NetworkSpec`] can say where the image part ends.
///
/// # Shapes
/// `X` and `Y` are `N × D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;
