//! Image shapes and memory layouts (NCHW or NHWC), always explicit, never guessed.

use crate::error::{PreprocessError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The order of the values of one image inside a feature row of length `D = C·H·W`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layout {
    /// Channel-major: all `H·W` values of channel 0, then channel 1, … (CIFAR-10's binary format, PyTorch).
    /// Feature index of `(c, h, w)` is `c·H·W + h·W + w`.
    Nchw,
    /// Channel-minor (interleaved): the `C` values of pixel 0, then pixel 1, … (TensorFlow, most image files).
    /// Feature index of `(c, h, w)` is `(h·W + w)·C + c`.
    Nhwc,
}

/// The shape of one image (`C` channels of `H × W`) and how it is laid out in a feature row.
///
/// # Example
/// ```
/// use nn_preprocess::{ImageShape, Layout};
/// let s = ImageShape::new(3, 32, 32, Layout::Nchw)?;
/// assert_eq!(s.len(), 3072);
/// assert_eq!(s.channel_of(1024), 1); // the second 32×32 plane is channel 1
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    /// Number of channels `C` (1 for grey, 3 for RGB).
    pub channels: usize,
    /// Height `H` in pixels.
    pub height: usize,
    /// Width `W` in pixels.
    pub width: usize,
    /// How the `C·H·W` values are ordered in a feature row.
    pub layout: Layout,
}

impl ImageShape {
    /// Creates a shape, checking that every dimension is positive and `C·H·W` does not overflow.
    ///
    /// # Errors
    /// [`PreprocessError::InvalidHyperparameter`] for a zero dimension or an overflowing size.
    pub fn new(channels: usize, height: usize, width: usize, layout: Layout) -> Result<Self> {
        let size = channels
            .checked_mul(height)
            .and_then(|v| v.checked_mul(width));
        match size {
            Some(s) if s > 0 => Ok(Self {
                channels,
                height,
                width,
                layout,
            }),
            _ => Err(PreprocessError::InvalidHyperparameter {
                name: "image shape",
                value: format!("{channels}x{height}x{width}"),
                reason: "every dimension must be positive and C·H·W must fit in usize".into(),
            }),
        }
    }

    /// The number of features `D = C·H·W` of one image.
    #[allow(clippy::len_without_is_empty)] // A valid shape is never empty.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The channel of feature index `j` (`j < D`).
    ///
    /// ```text
    /// NCHW: c = j / (H·W)        NHWC: c = j mod C
    /// ```
    pub fn channel_of(&self, j: usize) -> usize {
        match self.layout {
            Layout::Nchw => j / (self.height * self.width),
            Layout::Nhwc => j % self.channels,
        }
    }

    /// The feature index of channel `c`, row `h`, column `w`.
    pub fn index(&self, c: usize, h: usize, w: usize) -> usize {
        match self.layout {
            Layout::Nchw => (c * self.height + h) * self.width + w,
            Layout::Nhwc => (h * self.width + w) * self.channels + c,
        }
    }

    /// The same image with another layout.
    pub fn with_layout(self, layout: Layout) -> Self {
        Self { layout, ..self }
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} C={} H={} W={}",
            self.layout, self.channels, self.height, self.width
        )
    }
}
