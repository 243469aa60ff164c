//! [`Linear`]: the affine layer `Y = X·W + b`.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Ix1, Ix2, NdFloat, Zip};
use rand::Rng;

use crate::error::{check_shape, Result};
use crate::matmul::gemm;
use crate::param::Param;

/// The affine (fully connected) layer `Y = X·W + b`.
///
/// ```text
/// forward:  Y = X·W + b
/// backward: dW += Xᵀ·dY     db += Σₙ dY[n, :]     dX = dY·Wᵀ
/// ```
///
/// # Shapes
/// `X` is `N × D`, `W` is `D × H` (CS231n's layout: the transpose of PyTorch's `nn.Linear.weight`),
/// `b` has length `H`, `Y` is `N × H`.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear<F: NdFloat> {
    pub(crate) weight: Param<F, Ix2>,
    pub(crate) bias: Param<F, Ix1>,
}

impl<F: NdFloat> Linear<F> {
    /// A layer from an already-built weight `W` (`D × H`) and bias `b` (length `H`).
    ///
    /// # Errors
    /// [`crate::CoreError::ShapeMismatch`] if `b.len() != W.ncols()`.
    pub fn new(weight: Array2<F>, bias: Array1<F>) -> Result<Self> {
        check_shape("Linear::new", &[weight.ncols()], bias.shape())?;
        Ok(Linear {
            weight: Param::new(weight),
            bias: Param::new(bias),
        })
    }

    /// A layer with `W` drawn by `init` (fans `D`, `H`) and `b` from `bias`.
    ///
    /// # Errors
    /// Whatever [`nn_init`] reports for these sizes, as [`crate::CoreError::Init`].
    pub fn init<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        init: &nn_init::Init,
        bias: &nn_init::BiasInit,
        rng: &mut R,
    ) -> Result<Self> {
        let w = init.weights::<F, R>(inputs, outputs, rng)?;
        let b = bias.bias::<F>(outputs)?;
        Linear::new(w, b)
    }

    /// The weight `W` (`D × H`) and its gradient.
    pub fn weight(&self) -> &Param<F, Ix2> {
        &self.weight
    }

    /// The bias `b` (length `H`) and its gradient.
    pub fn bias(&self) -> &Param<F, Ix1> {
        &self.bias
    }

    /// Input width `D`.
    pub fn inputs(&self) -> usize {
        self.weight.value.nrows()
    }

    /// Output width `H`.
    pub fn outputs(&self) -> usize {
        self.weight.value.ncols()
    }

    /// `out ← X·W + b`: the bias is written first and the GEMM adds onto it (`β = 1`).
    pub(crate) fn forward_into(&self, x: ArrayView2<'_, F>, mut out: ArrayViewMut2<'_, F>) {
        for mut row in out.rows_mut() {
            row.assign(&self.bias.value);
        }
        gemm(F::one(), x, self.weight.value.view(), F::one(), out);
    }

    /// Accumulates `dW`, `db` and, when asked, writes `dX`.
    pub(crate) fn backward_into(
        &mut self,
        x: ArrayView2<'_, F>,
        dout: ArrayView2<'_, F>,
        dx: Option<ArrayViewMut2<'_, F>>,
    ) {
        gemm(F::one(), x.t(), dout, F::one(), self.weight.grad.view_mut());
        accumulate_column_sums(dout, self.bias.grad.view_mut());
        if let Some(dx) = dx {
            gemm(F::one(), dout, self.weight.value.t(), F::zero(), dx);
        }
    }
}

/// `acc[j] += Σₙ m[n, j]`, summed in row order (deterministic, allocation-free).
pub(crate) fn accumulate_column_sums<F: NdFloat>(
    m: ArrayView2<'_, F>,
    mut acc: ndarray::ArrayViewMut1<'_, F>,
) {
    for row in m.rows() {
        Zip::from(&mut acc).and(&row).for_each(|a, &v| *a += v);
    }
}
