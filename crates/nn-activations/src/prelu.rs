//! PReLU: Leaky ReLU whose negative slope `α` is learned, one shared `α` or one per channel
//! (He et al. 2015, "Delving Deep into Rectifiers").

use crate::activation::same_shape;
use crate::error::{ActivationError, Result};
use ndarray::{
    Array, Array1, ArrayView, ArrayView1, ArrayViewMut1, Axis, Dimension, NdFloat, Slice, Zip,
};

/// A parametric ReLU with a learned slope `α`: shared by every unit, or one per channel.
///
/// ```text
/// y = x            for x > 0          dy/dx = 1   (x > 0),  α   (x ≤ 0, the left sub-gradient at 0)
/// y = α_c · x      for x ≤ 0          dy/dα_c = Σ_{positions in channel c with x ≤ 0} dout · x
/// ```
/// The channel axis is axis 1 (PyTorch's convention for `(N, C)` and `(N, C, H, W)`), or axis 0
/// for a 1-D input.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_activations::PRelu;
/// let prelu = PRelu::per_channel(array![0.1_f64, 0.5])?;
/// let x = array![[-2.0, -2.0], [3.0, -1.0]];
/// let y = prelu.forward(x.view())?;
/// assert_eq!(y, array![[-0.2, -1.0], [3.0, -0.5]]);
/// let grads = prelu.backward(ndarray::Array2::ones((2, 2)).view(), x.view())?;
/// assert_eq!(grads.dalpha, array![-2.0, -3.0]);
/// assert_eq!(grads.dx, array![[0.1, 0.5], [1.0, 0.5]]);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PRelu<F> {
    alpha: Array1<F>,
    shared: bool,
}

/// The gradients of a PReLU backward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct PReluGrads<F, D: Dimension> {
    /// Gradient with respect to the input, shaped like it.
    pub dx: Array<F, D>,
    /// Gradient with respect to `α`: length 1 (shared) or `C` (per channel).
    pub dalpha: Array1<F>,
}

impl<F: NdFloat> PRelu<F> {
    /// One slope shared by every unit (PyTorch's `nn.PReLU()` starts at 0.25).
    ///
    /// # Errors
    /// [`ActivationError::InvalidParameter`] if `alpha` is not finite.
    pub fn shared(alpha: F) -> Result<Self> {
        let p = PRelu {
            alpha: Array1::from_elem(1, alpha),
            shared: true,
        };
        p.validate()?;
        Ok(p)
    }

    /// One slope per channel (`C = alpha.len()`).
    ///
    /// # Errors
    /// [`ActivationError::EmptyInput`] if `alpha` is empty and
    /// [`ActivationError::InvalidParameter`] if any slope is not finite.
    pub fn per_channel(alpha: Array1<F>) -> Result<Self> {
        if alpha.is_empty() {
            return Err(ActivationError::EmptyInput {
                op: "PRelu::per_channel",
            });
        }
        let p = PRelu {
            alpha,
            shared: false,
        };
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<()> {
        match self.alpha.iter().find(|a| !a.is_finite()) {
            Some(a) => Err(ActivationError::InvalidParameter {
                name: "alpha",
                value: a.to_f64().unwrap_or(f64::NAN),
                reason: "must be finite",
            }),
            None => Ok(()),
        }
    }

    /// The slopes: length 1 when shared, `C` per channel.
    pub fn alpha(&self) -> ArrayView1<'_, F> {
        self.alpha.view()
    }

    /// The slopes, for an optimizer step.
    pub fn alpha_mut(&mut self) -> ArrayViewMut1<'_, F> {
        self.alpha.view_mut()
    }

    /// Whether one slope is shared by all units.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The channel axis of `shape`, after checking it has `C` channels.
    fn channel_axis(&self, op: &'static str, shape: &[usize]) -> Result<Option<Axis>> {
        if self.shared {
            return Ok(None);
        }
        let axis = if shape.len() >= 2 { 1 } else { 0 };
        let got = shape.get(axis).copied();
        if got != Some(self.alpha.len()) {
            return Err(ActivationError::ShapeMismatch {
                op,
                expected: vec![self.alpha.len()],
                got: got.into_iter().collect(),
            });
        }
        Ok(Some(Axis(axis)))
    }

    /// `y = x > 0 ? x : α·x`.
    ///
    /// # Shapes
    /// Any shape; per channel, `x.shape()[1]` (or `[0]` for 1-D) must be `C`.
    ///
    /// # Errors
    /// [`ActivationError::ShapeMismatch`] if the channel count differs from `C`.
    pub fn forward<D: Dimension>(&self, x: ArrayView<'_, F, D>) -> Result<Array<F, D>> {
        let axis = self.channel_axis("PRelu::forward", x.shape())?;
        let mut y = x.to_owned();
        let f = |a: F| move |v: &mut F| *v = if *v > F::zero() { *v } else { a * *v };
        match axis {
            None => y.map_inplace(f(self.alpha[0])),
            Some(ax) => {
                for (c, &a) in self.alpha.iter().enumerate() {
                    y.slice_axis_mut(ax, Slice::from(c..=c)).map_inplace(f(a));
                }
            }
        }
        Ok(y)
    }

    /// The gradients with respect to the input and to `α`, from the forward input `x`.
    ///
    /// The `α` sums run serially in a fixed order, so they are reproducible bit for bit.
    ///
    /// # Errors
    /// [`ActivationError::ShapeMismatch`] if `dout` and `x` differ or the channel count is not `C`.
    pub fn backward<D: Dimension>(
        &self,
        dout: ArrayView<'_, F, D>,
        x: ArrayView<'_, F, D>,
    ) -> Result<PReluGrads<F, D>> {
        same_shape("PRelu::backward", x.shape(), dout.shape())?;
        let axis = self.channel_axis("PRelu::backward", x.shape())?;
        let mut dx = Array::zeros(x.raw_dim());
        let mut dalpha = Array1::zeros(self.alpha.len());
        let run = |dx: ndarray::ArrayViewMut<'_, F, _>,
                   d: ArrayView<'_, F, _>,
                   xv: ArrayView<'_, F, _>,
                   a: F| {
            let mut sum = F::zero();
            Zip::from(dx).and(d).and(xv).for_each(|o, &g, &v| {
                if v > F::zero() {
                    *o = g;
                } else {
                    *o = g * a;
                    sum += g * v;
                }
            });
            sum
        };
        match axis {
            None => dalpha[0] = run(dx.view_mut(), dout.view(), x.view(), self.alpha[0]),
            Some(ax) => {
                for (c, &a) in self.alpha.iter().enumerate() {
                    let part = Slice::from(c..=c);
                    dalpha[c] = run(
                        dx.slice_axis_mut(ax, part),
                        dout.slice_axis(ax, part),
                        x.slice_axis(ax, part),
                        a,
                    );
                }
            }
        }
        Ok(PReluGrads { dx, dalpha })
    }
}
