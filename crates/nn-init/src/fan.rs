//! Fan computation: how many inputs and outputs each weight connects.

use crate::error::{InitError, Result};
use serde::{Deserialize, Serialize};

/// The two fans of a weight tensor.
///
/// ```text
/// dense   (D, H)           = (fan_in, fan_out)          used as X·W with X of shape (N, D)
/// conv    (F, C, HH, WW)   fan_in  = C · HH · WW        (in channels × receptive field)
///                          fan_out = F · HH · WW        (out channels × receptive field)
/// ```
///
/// The dense layout is this workspace's `(D, H)`, so the **first** axis is `fan_in`. The
/// convolution layout is CS231n's (and PyTorch's) `(out, in, kh, kw)`, so there the **second**
/// axis is the input channels and the first the output channels. Higher-rank shapes
/// `(out, in, k1, k2, …)` multiply every trailing axis into the receptive field.
///
/// # Example
/// ```
/// use nn_init::Fans;
/// assert_eq!(Fans::from_shape(&[784, 100])?, Fans { fan_in: 784, fan_out: 100 });
/// // 16 filters of 3 × 5 × 5.
/// assert_eq!(Fans::from_shape(&[16, 3, 5, 5])?, Fans { fan_in: 75, fan_out: 400 });
/// # Ok::<(), nn_init::InitError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fans {
    /// Inputs feeding each output unit.
    pub fan_in: usize,
    /// Outputs each input unit feeds.
    pub fan_out: usize,
}

impl Fans {
    /// The fans of a dense `(fan_in, fan_out)` = `(D, H)` weight matrix.
    ///
    /// # Errors
    /// [`InitError::ZeroFan`] if either fan is zero.
    pub fn dense(fan_in: usize, fan_out: usize) -> Result<Fans> {
        if fan_in == 0 || fan_out == 0 {
            return Err(InitError::ZeroFan { fan_in, fan_out });
        }
        Ok(Fans { fan_in, fan_out })
    }

    /// The fans of a dense `(D, H)` shape or a convolution `(out, in, kh, kw, …)` shape; see
    /// [`Fans`] for which axis is which.
    ///
    /// # Errors
    /// [`InitError::InvalidShape`] for a shape with fewer than two axes or whose element count
    /// overflows `usize`; [`InitError::ZeroFan`] if any axis is zero.
    pub fn from_shape(shape: &[usize]) -> Result<Fans> {
        let invalid = |reason| InitError::InvalidShape {
            shape: shape.to_vec(),
            reason,
        };
        match *shape {
            [] => Err(invalid("the shape is empty")),
            [_] => Err(invalid(
                "a weight needs at least two axes: (fan_in, fan_out) or (out, in, kh, kw)",
            )),
            [fan_in, fan_out] => Fans::dense(fan_in, fan_out),
            [out, inp, ref kernel @ ..] => {
                shape
                    .iter()
                    .try_fold(1usize, |acc, &n| acc.checked_mul(n))
                    .ok_or_else(|| invalid("the element count overflows usize"))?;
                let field: usize = kernel.iter().product();
                Fans::dense(inp * field, out * field)
            }
        }
    }

    /// The fan selected by `mode`.
    pub fn get(&self, mode: FanMode) -> usize {
        match mode {
            FanMode::FanIn => self.fan_in,
            FanMode::FanOut => self.fan_out,
        }
    }
}

/// Which fan a variance-scaling initialiser divides by.
///
/// `FanIn` keeps the forward activations' variance steady; `FanOut` keeps the backward
/// gradients' variance steady (He et al. 2015, section 2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// Divide by `fan_in` (the default, and the notes' choice).
    #[default]
    FanIn,
    /// Divide by `fan_out`.
    FanOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(shape: &[usize], expected: Result<(usize, usize)>) {
        let got = Fans::from_shape(shape).map(|f| (f.fan_in, f.fan_out));
        assert_eq!(got, expected, "shape {shape:?}");
    }

    #[test]
    fn fans_of_dense_and_conv_shapes() {
        // Dense: (D, H) as given.
        check(&[500, 100], Ok((500, 100)));
        // Conv (F, C, HH, WW) = (64, 3, 3, 3): in = 3·9 = 27, out = 64·9 = 576 (PyTorch's values).
        check(&[64, 3, 3, 3], Ok((27, 576)));
        // 1-D convolution (out, in, k).
        check(&[8, 4, 5], Ok((20, 40)));
        check(
            &[0, 4],
            Err(InitError::ZeroFan {
                fan_in: 0,
                fan_out: 4,
            }),
        );
        check(
            &[4, 3, 0, 3],
            Err(InitError::ZeroFan {
                fan_in: 0,
                fan_out: 0,
            }),
        );
        assert!(matches!(
            Fans::from_shape(&[]),
            Err(InitError::InvalidShape { .. })
        ));
        assert!(matches!(
            Fans::from_shape(&[7]),
            Err(InitError::InvalidShape { .. })
        ));
        assert!(matches!(
            Fans::from_shape(&[usize::MAX, 2, 2, 2]),
            Err(InitError::InvalidShape { .. })
        ));
    }
}
