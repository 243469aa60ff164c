//! Orthogonal initialisation (Saxe et al. 2014) through a QR decomposition.

use crate::sample::{fill, lit, Elementwise};
use nalgebra::DMatrix;
use ndarray::NdFloat;
use rand::Rng;

/// A row-major `rows × cols` matrix with orthonormal columns (if `rows >= cols`) or orthonormal
/// rows (otherwise), times `gain`.
///
/// ```text
/// A ~ N(0, 1) of shape (max, min);  A = QR;  Q ← Q · diag(sign(diag R));  W = gain · Q (or Qᵀ)
/// ```
/// The sign correction makes `Q` uniformly (Haar) distributed, as in PyTorch's `orthogonal_`.
/// The QR runs in `f64` through nalgebra's Householder QR, `O(rows · cols · min(rows, cols))`.
pub(crate) fn orthogonal<F: NdFloat, R: Rng + ?Sized>(
    rows: usize,
    cols: usize,
    gain: f64,
    rng: &mut R,
) -> Vec<F> {
    let (tall, short) = (rows.max(cols), rows.min(cols));
    let seed = rng.next_u64();
    let mut a = vec![0.0f64; tall * short];
    fill(
        &mut a,
        Elementwise::Normal {
            mean: 0.0,
            std: 1.0,
        },
        seed,
    );
    let qr = DMatrix::from_row_slice(tall, short, &a).qr();
    let (q, r) = (qr.q(), qr.r());
    let mut out = vec![F::zero(); rows * cols];
    for j in 0..short {
        let scale = if r[(j, j)] < 0.0 { -gain } else { gain };
        for i in 0..tall {
            let v = lit(scale * q[(i, j)]);
            if rows >= cols {
                out[i * cols + j] = v;
            } else {
                out[j * cols + i] = v;
            }
        }
    }
    out
}
