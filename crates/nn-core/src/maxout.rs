//! [`Maxout`]: `k` affine pieces and an element-wise max (Goodfellow et al. 2013).

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Ix1, Ix2, NdFloat};
use rand::Rng;

use crate::affine::accumulate_column_sums;
use crate::error::{check_shape, CoreError, Result};
use crate::matmul::gemm;
use crate::param::Param;

/// Maxout: `y = max_p (X·W_p + b_p)` over `k` pieces, so it has `k` times a [`crate::Linear`]'s parameters.
///
/// ```text
/// forward:  Z = X·W + b   (all k pieces in one GEMM)      Y[n, h] = max_p Z[n, p·H + h]
/// backward: dZ[n, p·H + h] = dY[n, h] if p is the arg-max (first one on ties), else 0
///           dW += Xᵀ·dZ    db += Σₙ dZ[n, :]    dX = dZ·Wᵀ
/// ```
///
/// # Shapes
/// `X` is `N × D`; `W` is `D × k·H` with piece `p` in columns `p·H .. (p+1)·H`; `b` has length `k·H`;
/// `Y` is `N × H`.
#[derive(Clone, Debug, PartialEq)]
pub struct Maxout<F: NdFloat> {
    pub(crate) weight: Param<F, Ix2>,
    pub(crate) bias: Param<F, Ix1>,
    pieces: usize,
    /// Pre-activations of the last training forward (`N × k·H`), reused between steps.
    z: Array2<F>,
    /// Winning piece per output of the last training forward (`N × H`).
    argmax: Array2<u32>,
}

impl<F: NdFloat> Maxout<F> {
    /// A maxout layer from `W` (`D × k·H`, piece-major columns) and `b` (length `k·H`).
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`] if `pieces` is 0 or does not divide `W`'s columns;
    /// [`CoreError::ShapeMismatch`] if `b.len() != W.ncols()`.
    pub fn new(weight: Array2<F>, bias: Array1<F>, pieces: usize) -> Result<Self> {
        if pieces == 0 || pieces > u32::MAX as usize || !weight.ncols().is_multiple_of(pieces) {
            return Err(CoreError::InvalidHyperparameter {
                name: "maxout.pieces",
                value: pieces.to_string(),
                reason: "must be positive and divide the weight's columns",
            });
        }
        check_shape("Maxout::new", &[weight.ncols()], bias.shape())?;
        Ok(Maxout {
            weight: Param::new(weight),
            bias: Param::new(bias),
            pieces,
            z: Array2::zeros((0, 0)),
            argmax: Array2::zeros((0, 0)),
        })
    }

    /// A maxout layer whose `k` pieces are drawn by `init` with fans (`D`, `H`) each.
    ///
    /// # Errors
    /// As [`Maxout::new`], plus whatever [`nn_init`] reports.
    pub fn init<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        pieces: usize,
        init: &nn_init::Init,
        bias: &nn_init::BiasInit,
        rng: &mut R,
    ) -> Result<Self> {
        let mut w = Array2::zeros((inputs, outputs * pieces));
        let mut b = Array1::zeros(outputs * pieces);
        for p in 0..pieces {
            let wp = init.weights::<F, R>(inputs, outputs, rng)?;
            w.slice_mut(s![.., p * outputs..(p + 1) * outputs])
                .assign(&wp);
            b.slice_mut(s![p * outputs..(p + 1) * outputs])
                .assign(&bias.bias::<F>(outputs)?);
        }
        Maxout::new(w, b, pieces)
    }

    /// The weight `W` (`D × k·H`) and its gradient.
    pub fn weight(&self) -> &Param<F, Ix2> {
        &self.weight
    }

    /// The bias `b` (length `k·H`) and its gradient.
    pub fn bias(&self) -> &Param<F, Ix1> {
        &self.bias
    }

    /// The number of pieces `k`.
    pub fn pieces(&self) -> usize {
        self.pieces
    }

    /// Output width `H`.
    pub fn outputs(&self) -> usize {
        self.weight.value.ncols() / self.pieces
    }

    fn affine_into(&self, x: ArrayView2<'_, F>, mut z: ArrayViewMut2<'_, F>) {
        for mut row in z.rows_mut() {
            row.assign(&self.bias.value);
        }
        gemm(F::one(), x, self.weight.value.view(), F::one(), z);
    }

    fn max_into(
        z: ArrayView2<'_, F>,
        pieces: usize,
        mut out: ArrayViewMut2<'_, F>,
        mut argmax: Option<ArrayViewMut2<'_, u32>>,
    ) {
        let h = out.ncols();
        for (n, (zr, mut orow)) in z.rows().into_iter().zip(out.rows_mut()).enumerate() {
            for j in 0..h {
                let mut best = zr[j];
                let mut arg = 0u32;
                for p in 1..pieces {
                    let v = zr[p * h + j];
                    if v > best {
                        best = v;
                        arg = p as u32;
                    }
                }
                orow[j] = best;
                if let Some(a) = argmax.as_mut() {
                    a[[n, j]] = arg;
                }
            }
        }
    }

    pub(crate) fn forward_train(&mut self, x: ArrayView2<'_, F>, out: ArrayViewMut2<'_, F>) {
        let (n, kh) = (x.nrows(), self.weight.value.ncols());
        if self.z.dim() != (n, kh) {
            self.z = Array2::zeros((n, kh));
            self.argmax = Array2::zeros((n, kh / self.pieces));
        }
        let mut z = crate::take(&mut self.z);
        self.affine_into(x, z.view_mut());
        Self::max_into(z.view(), self.pieces, out, Some(self.argmax.view_mut()));
        self.z = z;
    }

    pub(crate) fn predict_into(&self, x: ArrayView2<'_, F>, out: ArrayViewMut2<'_, F>) {
        let mut z = Array2::zeros((x.nrows(), self.weight.value.ncols()));
        self.affine_into(x, z.view_mut());
        Self::max_into(z.view(), self.pieces, out, None);
    }

    pub(crate) fn backward_into(
        &mut self,
        x: ArrayView2<'_, F>,
        dout: ArrayView2<'_, F>,
        dx: Option<ArrayViewMut2<'_, F>>,
    ) -> Result<()> {
        check_shape(
            "Maxout::backward",
            &[self.argmax.nrows(), self.argmax.ncols()],
            dout.shape(),
        )?;
        let h = dout.ncols();
        // Reuse the pre-activation buffer for dZ: Z is not needed any more.
        let mut dz = crate::take(&mut self.z);
        dz.fill(F::zero());
        for ((mut dzr, dr), ar) in dz
            .rows_mut()
            .into_iter()
            .zip(dout.rows())
            .zip(self.argmax.axis_iter(Axis(0)))
        {
            for j in 0..h {
                dzr[ar[j] as usize * h + j] = dr[j];
            }
        }
        gemm(
            F::one(),
            x.t(),
            dz.view(),
            F::one(),
            self.weight.grad.view_mut(),
        );
        accumulate_column_sums(dz.view(), self.bias.grad.view_mut());
        if let Some(dx) = dx {
            gemm(F::one(), dz.view(), self.weight.value.t(), F::zero(), dx);
        }
        self.z = dz;
        Ok(())
    }
}
