//! Test-time augmentation for image batches: horizontal flips and small shifts with zero fill.
//!
//! Each function maps an `N × D` batch (one flattened image of shape `C × H × W` per row, in the layout
//! the [`ImageShape`] says) to a new batch of the same shape; averaging a model's predictions over the
//! augmented batches (see [`crate::eval::ensemble_mean`]) is the caller's step.

use crate::error::{invalid, Result, TrainError};
use ndarray::{Array2, ArrayView2, Axis, NdFloat, Zip};
use nn_preprocess::ImageShape;
use serde::{Deserialize, Serialize};

/// One test-time transformation of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Augmentation {
    /// The image unchanged.
    Identity,
    /// Mirror left–right.
    HorizontalFlip,
    /// Move the content `dy` rows down and `dx` columns right (negative: up / left), filling with 0.
    Shift {
        /// Rows down (negative: up).
        dy: isize,
        /// Columns right (negative: left).
        dx: isize,
    },
}

fn check_batch<F>(op: &'static str, batch: &ArrayView2<'_, F>, shape: &ImageShape) -> Result<()> {
    if batch.ncols() != shape.len() {
        return Err(TrainError::ShapeMismatch {
            op,
            expected: vec![batch.nrows(), shape.len()],
            got: batch.shape().to_vec(),
        });
    }
    Ok(())
}

/// Builds the output row by row: `out[i, index(c, h, w)] = src(c, h, w)` where `src` maps to a source
/// pixel `(h', w')` or `None` (zero fill).
fn remap<F: NdFloat>(
    batch: ArrayView2<'_, F>,
    shape: &ImageShape,
    src: impl Fn(usize, usize) -> Option<(usize, usize)> + Sync,
) -> Array2<F> {
    // The gather table is computed once for all rows: for each output feature, its source feature.
    let mut table = vec![None; shape.len()];
    for c in 0..shape.channels {
        for h in 0..shape.height {
            for w in 0..shape.width {
                table[shape.index(c, h, w)] = src(h, w).map(|(sh, sw)| shape.index(c, sh, sw));
            }
        }
    }
    let mut out = Array2::zeros(batch.raw_dim());
    Zip::from(out.axis_iter_mut(Axis(0)))
        .and(batch.axis_iter(Axis(0)))
        .for_each(|mut o, x| {
            for (dst, s) in o.iter_mut().zip(&table) {
                if let Some(j) = s {
                    *dst = x[*j];
                }
            }
        });
    out
}

/// Mirrors every image of the batch left to right.
///
/// ```text
/// out[c, h, w] = x[c, h, W − 1 − w]
/// ```
///
/// # Shapes
/// `batch`: `N × D` with `D = C·H·W` → `N × D`.
///
/// # Errors
/// [`TrainError::ShapeMismatch`] when `D ≠ shape.len()`.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{ImageShape, Layout};
/// let shape = ImageShape::new(1, 2, 3, Layout::Nchw)?;
/// let x = array![[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]; // rows [1 2 3] and [4 5 6]
/// let y = nn_train::eval::horizontal_flip(x.view(), &shape)?;
/// assert_eq!(y, array![[3.0, 2.0, 1.0, 6.0, 5.0, 4.0]]);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn horizontal_flip<F: NdFloat>(
    batch: ArrayView2<'_, F>,
    shape: &ImageShape,
) -> Result<Array2<F>> {
    check_batch("horizontal_flip", &batch, shape)?;
    let w_max = shape.width - 1;
    Ok(remap(batch, shape, |h, w| Some((h, w_max - w))))
}

/// Shifts every image of the batch `dy` rows down and `dx` columns right, filling the uncovered border
/// with zeros.
///
/// ```text
/// out[c, h, w] = x[c, h − dy, w − dx]   if that pixel exists, else 0
/// ```
///
/// # Shapes
/// `batch`: `N × D` with `D = C·H·W` → `N × D`.
///
/// # Errors
/// [`TrainError::ShapeMismatch`] when `D ≠ shape.len()`; [`TrainError::InvalidHyperparameter`] when
/// `|dy| ≥ H` or `|dx| ≥ W` (the image would be all zeros).
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{ImageShape, Layout};
/// let shape = ImageShape::new(1, 2, 3, Layout::Nchw)?;
/// let x = array![[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]];
/// let y = nn_train::eval::shift(x.view(), &shape, 0, 1)?; // one column to the right
/// assert_eq!(y, array![[0.0, 1.0, 2.0, 0.0, 4.0, 5.0]]);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn shift<F: NdFloat>(
    batch: ArrayView2<'_, F>,
    shape: &ImageShape,
    dy: isize,
    dx: isize,
) -> Result<Array2<F>> {
    check_batch("shift", &batch, shape)?;
    if dy.unsigned_abs() >= shape.height {
        return Err(invalid(
            "dy",
            dy,
            "a shift must be smaller than the image height",
        ));
    }
    if dx.unsigned_abs() >= shape.width {
        return Err(invalid(
            "dx",
            dx,
            "a shift must be smaller than the image width",
        ));
    }
    let (height, width) = (shape.height as isize, shape.width as isize);
    Ok(remap(batch, shape, |h, w| {
        let (sh, sw) = (h as isize - dy, w as isize - dx);
        ((0..height).contains(&sh) && (0..width).contains(&sw))
            .then_some((sh as usize, sw as usize))
    }))
}

/// Applies one [`Augmentation`] to the batch.
///
/// # Errors
/// As [`horizontal_flip`] and [`shift`].
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{ImageShape, Layout};
/// use nn_train::eval::{augment, Augmentation};
/// let shape = ImageShape::new(1, 1, 2, Layout::Nchw)?;
/// let x = array![[1.0, 2.0]];
/// assert_eq!(augment(x.view(), &shape, Augmentation::HorizontalFlip)?, array![[2.0, 1.0]]);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn augment<F: NdFloat>(
    batch: ArrayView2<'_, F>,
    shape: &ImageShape,
    augmentation: Augmentation,
) -> Result<Array2<F>> {
    match augmentation {
        Augmentation::Identity => {
            check_batch("augment", &batch, shape)?;
            Ok(batch.to_owned())
        }
        Augmentation::HorizontalFlip => horizontal_flip(batch, shape),
        Augmentation::Shift { dy, dx } => shift(batch, shape, dy, dx),
    }
}

/// The usual test-time set: the identity, a horizontal flip (if `flip`), and shifts of `1..=max_shift`
/// pixels up, down, left and right.
///
/// # Example
/// ```
/// use nn_train::eval::{standard_augmentations, Augmentation};
/// let set = standard_augmentations(true, 2);
/// assert_eq!(set.len(), 2 + 4 * 2);
/// assert_eq!(set[0], Augmentation::Identity);
/// ```
pub fn standard_augmentations(flip: bool, max_shift: usize) -> Vec<Augmentation> {
    let mut set = vec![Augmentation::Identity];
    if flip {
        set.push(Augmentation::HorizontalFlip);
    }
    for s in 1..=max_shift as isize {
        for (dy, dx) in [(-s, 0), (s, 0), (0, -s), (0, s)] {
            set.push(Augmentation::Shift { dy, dx });
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};
    use nn_preprocess::Layout;

    #[test]
    fn nchw_and_nhwc_agree_and_flip_is_an_involution() {
        // Two channels of 2×3: channel 0 = 1..6, channel 1 = 11..16, in both layouts.
        let nchw = ImageShape::new(2, 2, 3, Layout::Nchw).unwrap();
        let nhwc = nchw.with_layout(Layout::Nhwc);
        let mut a = Array2::<f64>::zeros((1, 12));
        let mut b = Array2::<f64>::zeros((1, 12));
        for c in 0..2 {
            for h in 0..2 {
                for w in 0..3 {
                    let v = (10 * c + 3 * h + w + 1) as f64;
                    a[[0, nchw.index(c, h, w)]] = v;
                    b[[0, nhwc.index(c, h, w)]] = v;
                }
            }
        }
        let fa = horizontal_flip(a.view(), &nchw).unwrap();
        let fb = horizontal_flip(b.view(), &nhwc).unwrap();
        assert_eq!(
            fa.row(0).to_vec(),
            vec![3., 2., 1., 6., 5., 4., 13., 12., 11., 16., 15., 14.]
        );
        for c in 0..2 {
            for h in 0..2 {
                for w in 0..3 {
                    assert_eq!(fa[[0, nchw.index(c, h, w)]], fb[[0, nhwc.index(c, h, w)]]);
                }
            }
        }
        assert_eq!(horizontal_flip(fa.view(), &nchw).unwrap(), a);
        // Shift up by one row: row 0 takes row 1, row 1 is zero.
        let up = shift(a.view(), &nchw, -1, 0).unwrap();
        assert_eq!(
            up.row(0).to_vec(),
            vec![4., 5., 6., 0., 0., 0., 14., 15., 16., 0., 0., 0.]
        );
        let left = shift(b.view(), &nhwc, 0, -2).unwrap();
        assert_eq!(left[[0, nhwc.index(1, 1, 0)]], 16.0);
        assert_eq!(left[[0, nhwc.index(1, 1, 1)]], 0.0);
    }

    #[test]
    fn bad_shapes_and_shifts_are_errors() {
        let s = ImageShape::new(1, 3, 3, Layout::Nchw).unwrap();
        let x = array![[1.0f32; 8]];
        assert!(matches!(
            horizontal_flip(x.view(), &s),
            Err(TrainError::ShapeMismatch { .. })
        ));
        let x = array![[1.0f32; 9]];
        assert!(matches!(
            shift(x.view(), &s, 3, 0),
            Err(TrainError::InvalidHyperparameter { .. })
        ));
        assert!(shift(x.view(), &s, -2, 2).is_ok());
    }
}
