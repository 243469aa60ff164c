//! Maxout over `k` pieces (Goodfellow et al. 2013): `y = max_j z_j`, with the winner remembered
//! for the backward pass.

use crate::activation::same_shape;
use crate::error::{ActivationError, Result};
use ndarray::{Array, ArrayView, Dimension, NdFloat, Zip};

/// Maxout over a fixed number `k` of pre-activations `z_0 … z_{k-1}` of equal shape.
///
/// ```text
/// y = max_j z_j          dz_j = dout where piece j won, 0 elsewhere
/// ```
/// Ties go to the lowest index (so exactly one piece receives the gradient); a NaN piece wins
/// over every number, so NaN in gives NaN out.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_activations::Maxout;
/// let maxout = Maxout::new(2)?;
/// let z0 = array![1.0_f64, -2.0, 3.0];
/// let z1 = array![0.0, 0.0, 4.0];
/// let (y, cache) = maxout.forward(&[z0.view(), z1.view()])?;
/// assert_eq!(y, array![1.0, 0.0, 4.0]);
/// assert_eq!(cache.winners(), array![0, 1, 1].view());
/// let dz = maxout.backward(array![10.0, 20.0, 30.0].view(), &cache)?;
/// assert_eq!(dz[0], array![10.0, 0.0, 0.0]);
/// assert_eq!(dz[1], array![0.0, 20.0, 30.0]);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Maxout {
    pieces: usize,
}

/// What [`Maxout::backward`] needs: the index of the winning piece at every position.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxoutCache<D: Dimension> {
    winners: Array<u32, D>,
}

impl<D: Dimension> MaxoutCache<D> {
    /// The index of the winning piece at every position, shaped like the output.
    pub fn winners(&self) -> ArrayView<'_, u32, D> {
        self.winners.view()
    }
}

impl Maxout {
    /// Maxout over `pieces` pre-activations.
    ///
    /// # Errors
    /// [`ActivationError::InvalidParameter`] unless `1 ≤ pieces ≤ u32::MAX`.
    pub fn new(pieces: usize) -> Result<Self> {
        if pieces == 0 || u32::try_from(pieces).is_err() {
            return Err(ActivationError::InvalidParameter {
                name: "pieces",
                value: pieces as f64,
                reason: "must be between 1 and u32::MAX",
            });
        }
        Ok(Maxout { pieces })
    }

    /// The number of pieces `k`.
    pub fn pieces(&self) -> usize {
        self.pieces
    }

    /// `y = max_j z_j` and the winners.
    ///
    /// # Shapes
    /// `k` views of one shape (e.g. `(N, H)`); `y` has that shape.
    ///
    /// # Errors
    /// [`ActivationError::InvalidParameter`] if `z.len() != k`, and
    /// [`ActivationError::ShapeMismatch`] if the pieces differ in shape.
    pub fn forward<F: NdFloat, D: Dimension>(
        &self,
        z: &[ArrayView<'_, F, D>],
    ) -> Result<(Array<F, D>, MaxoutCache<D>)> {
        let Some(first) = z.first().filter(|_| z.len() == self.pieces) else {
            return Err(ActivationError::InvalidParameter {
                name: "number of pieces given",
                value: z.len() as f64,
                reason: "must equal Maxout::pieces",
            });
        };
        let mut y = first.to_owned();
        let mut winners = Array::zeros(first.raw_dim());
        for (j, piece) in z.iter().enumerate().skip(1) {
            same_shape("Maxout::forward", first.shape(), piece.shape())?;
            let j = j as u32;
            Zip::from(&mut y)
                .and(&mut winners)
                .and(piece)
                .for_each(|y, w, &v| {
                    if v > *y || (v.is_nan() && !y.is_nan()) {
                        *y = v;
                        *w = j;
                    }
                });
        }
        Ok((y, MaxoutCache { winners }))
    }

    /// Routes `dout` to the winning piece: `k` arrays shaped like `dout`.
    ///
    /// # Errors
    /// [`ActivationError::ShapeMismatch`] if `dout` and the cache differ in shape.
    pub fn backward<F: NdFloat, D: Dimension>(
        &self,
        dout: ArrayView<'_, F, D>,
        cache: &MaxoutCache<D>,
    ) -> Result<Vec<Array<F, D>>> {
        same_shape("Maxout::backward", cache.winners.shape(), dout.shape())?;
        Ok((0..self.pieces as u32)
            .map(|j| {
                Zip::from(&dout)
                    .and(&cache.winners)
                    .map_collect(|&g, &w| if w == j { g } else { F::zero() })
            })
            .collect())
    }
}
