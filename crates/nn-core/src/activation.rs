//! Activation layers: [`ActivationLayer`] for every [`nn_activations::Activation`], and [`PRelu`].

use ndarray::{Array1, ArrayView2, ArrayViewMut2, Axis, Ix1, NdFloat, Zip};
use nn_activations::{Activation, Saved};

use crate::error::{CoreError, Result};
use crate::param::Param;

/// An element-wise activation `Y = f(X)` as a layer (no parameters).
///
/// ```text
/// forward:  Y = f(X)         backward: dX = dY ⊙ f'(X)   (read from X or Y, as the activation needs)
/// ```
///
/// # Shapes
/// `X`, `Y`, `dY`, `dX` are all `N × D`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationLayer {
    /// The function applied.
    pub activation: Activation,
}

impl ActivationLayer {
    /// The layer applying `activation`.
    ///
    /// # Errors
    /// [`CoreError::Activation`] if the activation's parameters are invalid (e.g. a NaN slope).
    pub fn new(activation: Activation) -> Result<Self> {
        activation.validate()?;
        Ok(ActivationLayer { activation })
    }

    pub(crate) fn forward_into<F: NdFloat>(
        &self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        self.activation.forward_into(x, out)?;
        Ok(())
    }

    pub(crate) fn backward_into<'a, F: NdFloat>(
        &self,
        x: ArrayView2<'a, F>,
        y: ArrayView2<'a, F>,
        dout: ArrayView2<'_, F>,
        dx: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        let kind = self.activation.backward_needs();
        let saved = match kind {
            Saved::Input => x,
            Saved::Output => y,
        };
        self.activation.backward_into(dout, saved, kind, dx)?;
        Ok(())
    }
}

/// Parametric ReLU (He et al. 2015) with a learned slope `a`, shared or one per feature.
///
/// ```text
/// forward:  y = x            if x > 0,   a·x otherwise
/// backward: dx = dy          if x > 0,   a·dy otherwise
///           da += Σ dy·x     over the entries with x ≤ 0 (per feature, or over all)
/// ```
///
/// # Shapes
/// `X`, `Y` are `N × D`; `a` has length 1 (shared) or `D` (per feature).
#[derive(Clone, Debug, PartialEq)]
pub struct PRelu<F: NdFloat> {
    pub(crate) alpha: Param<F, Ix1>,
}

impl<F: NdFloat> PRelu<F> {
    /// A PReLU with these initial slopes (length 1 for a shared slope, `D` for one per feature).
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`] if `alpha` is empty or not finite.
    pub fn new(alpha: Array1<F>) -> Result<Self> {
        if alpha.is_empty() || alpha.iter().any(|a| !a.is_finite()) {
            return Err(CoreError::InvalidHyperparameter {
                name: "prelu.alpha",
                value: format!("{alpha}"),
                reason: "needs at least one finite slope",
            });
        }
        Ok(PRelu {
            alpha: Param::new(alpha),
        })
    }

    /// The slope(s) `a` and their gradient.
    pub fn alpha(&self) -> &Param<F, Ix1> {
        &self.alpha
    }

    fn slope(&self, j: usize) -> F {
        let a = &self.alpha.value;
        if a.len() == 1 {
            a[0]
        } else {
            a[j]
        }
    }

    pub(crate) fn forward_into(&self, x: ArrayView2<'_, F>, mut out: ArrayViewMut2<'_, F>) {
        for (j, (xc, oc)) in x
            .axis_iter(Axis(1))
            .zip(out.axis_iter_mut(Axis(1)))
            .enumerate()
        {
            let a = self.slope(j);
            Zip::from(oc)
                .and(xc)
                .for_each(|o, &v| *o = if v > F::zero() { v } else { a * v });
        }
    }

    pub(crate) fn backward_into(
        &mut self,
        x: ArrayView2<'_, F>,
        dout: ArrayView2<'_, F>,
        mut dx: ArrayViewMut2<'_, F>,
    ) {
        let shared = self.alpha.value.len() == 1;
        for (j, ((xc, dc), dxc)) in x
            .axis_iter(Axis(1))
            .zip(dout.axis_iter(Axis(1)))
            .zip(dx.axis_iter_mut(Axis(1)))
            .enumerate()
        {
            let a = self.slope(j);
            let mut da = F::zero();
            Zip::from(dxc).and(xc).and(dc).for_each(|g, &v, &d| {
                if v > F::zero() {
                    *g = d;
                } else {
                    *g = a * d;
                    da += d * v;
                }
            });
            let k = if shared { 0 } else { j };
            self.alpha.grad[k] += da;
        }
    }
}
