//! MNIST and Fashion-MNIST IDX files (big-endian headers, `u8` payload), raw or gzip-compressed.
//!
//! Images: magic `0x00000803`, count `N`, rows, cols, then `N·rows·cols` pixels, row-major, image after image.
//! Labels: magic `0x00000801`, count `N`, then `N` labels.

use super::{find_file, open_maybe_gzip, pixels_to_f32, read_payload};
use crate::dataset::Dataset;
use crate::error::{malformed, FormatError, PreprocessError, Result};
use crate::shape::{ImageShape, Layout};
use ndarray::Array2;
use std::io::{Read, Write};
use std::path::Path;

/// Magic number of an IDX file of `u8` images (3 dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` labels (1 dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The MNIST class names (the digits).
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
/// The Fashion-MNIST class names (Xiao, Rasul and Vollgraf, 2017).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Decoded IDX images: `count` greyscale images of `rows × cols` `u8` pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images `N`.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `N·rows·cols` pixels, row-major, image after image.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// The images as an `N × (rows·cols)` f32 array scaled to `[0, 1]` (`p / 255`).
    ///
    /// # Errors
    /// [`PreprocessError::InvalidDataset`] if `pixels` does not hold `count·rows·cols` values (possible only for a
    /// value built by hand; the reader never returns one).
    pub fn to_f32(&self) -> Result<Array2<f32>> {
        let bad = || PreprocessError::InvalidDataset {
            reason: format!(
                "{} pixels for {} images of {}x{}",
                self.pixels.len(),
                self.count,
                self.rows,
                self.cols
            ),
        };
        let width = self.rows.checked_mul(self.cols).ok_or_else(bad)?;
        if self.count.checked_mul(width) != Some(self.pixels.len()) {
            return Err(bad());
        }
        Array2::from_shape_vec((self.count, width), pixels_to_f32(&self.pixels)).map_err(|_| bad())
    }

    /// The shape of one image (1 channel; NCHW and NHWC coincide for one channel, NCHW is stated).
    ///
    /// # Errors
    /// [`PreprocessError::InvalidHyperparameter`] for zero rows or columns.
    pub fn image_shape(&self) -> Result<ImageShape> {
        ImageShape::new(1, self.rows, self.cols, Layout::Nchw)
    }
}

/// Reads the magic number (checking it first, so a wrong file type is named as such) and the `K - 1` sizes.
fn read_header<R: Read, const K: usize>(r: &mut R, magic: u32, name: &str) -> Result<[u32; K]> {
    let be = |c: &[u8]| u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    let head = read_prefix(r, 4, 0, 4 * K, name)?;
    check_magic(name, magic, be(&head))?;
    let rest = read_prefix(r, 4 * (K - 1), 4, 4 * K, name)?;
    let mut out = [magic; K];
    for (o, c) in out.iter_mut().skip(1).zip(rest.chunks_exact(4)) {
        *o = be(c);
    }
    Ok(out)
}

/// Reads exactly `n` bytes or reports truncation.
/// `offset` is where these bytes start and `header_len` the full header size, both reported in the error.
fn read_prefix<R: Read>(
    r: &mut R,
    n: usize,
    offset: usize,
    header_len: usize,
    name: &str,
) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    match r.by_ref().take(n as u64).read_to_end(&mut buf) {
        Err(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => {
            Err(PreprocessError::Io {
                path: name.into(),
                source,
            })
        }
        _ if buf.len() < n => Err(malformed(
            name,
            FormatError::Truncated {
                expected_bytes: header_len as u64,
                got_bytes: (offset + buf.len()) as u64,
            },
        )),
        _ => Ok(buf),
    }
}

fn check_magic(name: &str, expected: u32, got: u32) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(malformed(name, FormatError::BadMagic { expected, got }))
    }
}

/// Reads an IDX image file from `reader`; `name` is used in errors.
///
/// # Errors
/// [`PreprocessError::Malformed`] for a bad magic number, zero count or size, sizes whose product
/// overflows, truncated or trailing data; [`PreprocessError::Io`] for read errors.
/// Memory grows with the bytes that really arrive, never with the count the header claims.
///
/// # Example
/// ```
/// use nn_preprocess::readers::idx::{read_idx_images, write_idx_images, IdxImages};
/// let imgs = IdxImages { count: 2, rows: 1, cols: 2, pixels: vec![0, 255, 51, 0] };
/// let mut bytes = Vec::new();
/// write_idx_images(&mut bytes, &imgs)?;
/// let back = read_idx_images(bytes.as_slice(), "mem")?;
/// assert_eq!(back, imgs);
/// assert_eq!(back.to_f32()?[[1, 0]], 0.2);
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
pub fn read_idx_images<R: Read>(mut reader: R, name: &str) -> Result<IdxImages> {
    let [_, n, rows, cols] = read_header::<R, 4>(&mut reader, IDX_IMAGES_MAGIC, name)?;
    if n == 0 || rows == 0 || cols == 0 {
        return Err(malformed(
            name,
            FormatError::BadHeader {
                reason: format!(
                    "{n} images of {rows}x{cols} pixels: every dimension must be positive"
                ),
            },
        ));
    }
    // Three u32 sizes can multiply to 2^96: checked, so a wrapped product never passes for a real one.
    let Some(len) = u64::from(n)
        .checked_mul(u64::from(rows))
        .and_then(|v| v.checked_mul(u64::from(cols)))
        .filter(|&v| usize::try_from(v).is_ok())
    else {
        return Err(malformed(
            name,
            FormatError::BadHeader {
                reason: format!("{n} images of {rows}x{cols} pixels do not fit in memory"),
            },
        ));
    };
    let pixels = read_payload(&mut reader, 16, len, name)?;
    Ok(IdxImages {
        count: n as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels,
    })
}

/// Reads an IDX label file from `reader`; `name` is used in errors. Label ranges are checked by [`idx_dataset`].
///
/// # Errors
/// [`PreprocessError::Malformed`] for a bad magic number, zero count, truncated or trailing data.
pub fn read_idx_labels<R: Read>(mut reader: R, name: &str) -> Result<Vec<u8>> {
    let [_, n] = read_header::<R, 2>(&mut reader, IDX_LABELS_MAGIC, name)?;
    if n == 0 {
        return Err(malformed(
            name,
            FormatError::BadHeader {
                reason: "the file holds no labels".into(),
            },
        ));
    }
    read_payload(&mut reader, 8, u64::from(n), name)
}

/// Writes `images` as a raw IDX image file.
///
/// # Errors
/// [`PreprocessError::InvalidDataset`] if the sizes do not fit the pixels or `u32`; [`PreprocessError::Io`].
pub fn write_idx_images<W: Write>(mut w: W, images: &IdxImages) -> Result<()> {
    let fits = |v: usize| u32::try_from(v).ok();
    let (Some(n), Some(r), Some(c)) = (fits(images.count), fits(images.rows), fits(images.cols))
    else {
        return Err(PreprocessError::InvalidDataset {
            reason: "IDX sizes must fit in u32".into(),
        });
    };
    let expected = images
        .count
        .checked_mul(images.rows)
        .and_then(|v| v.checked_mul(images.cols));
    if expected != Some(images.pixels.len()) {
        return Err(PreprocessError::InvalidDataset {
            reason: format!(
                "{} pixels for {} images of {}x{}",
                images.pixels.len(),
                images.count,
                images.rows,
                images.cols
            ),
        });
    }
    let io = |source| PreprocessError::Io {
        path: "<IDX writer>".into(),
        source,
    };
    for v in [IDX_IMAGES_MAGIC, n, r, c] {
        w.write_all(&v.to_be_bytes()).map_err(io)?;
    }
    w.write_all(&images.pixels).map_err(io)
}

/// Writes `labels` as a raw IDX label file.
///
/// # Errors
/// [`PreprocessError::InvalidDataset`] if there are more than `u32::MAX` labels; [`PreprocessError::Io`].
pub fn write_idx_labels<W: Write>(mut w: W, labels: &[u8]) -> Result<()> {
    let n = u32::try_from(labels.len()).map_err(|_| PreprocessError::InvalidDataset {
        reason: "IDX sizes must fit in u32".into(),
    })?;
    let io = |source| PreprocessError::Io {
        path: "<IDX writer>".into(),
        source,
    };
    w.write_all(&IDX_LABELS_MAGIC.to_be_bytes()).map_err(io)?;
    w.write_all(&n.to_be_bytes()).map_err(io)?;
    w.write_all(labels).map_err(io)
}

/// Reads an IDX image file (raw or gzip).
///
/// # Errors
/// As [`read_idx_images`], naming `path`.
pub fn read_idx_images_file(path: &Path) -> Result<IdxImages> {
    read_idx_images(open_maybe_gzip(path)?, &path.display().to_string())
}

/// Reads an IDX label file (raw or gzip).
///
/// # Errors
/// As [`read_idx_labels`], naming `path`.
pub fn read_idx_labels_file(path: &Path) -> Result<Vec<u8>> {
    read_idx_labels(open_maybe_gzip(path)?, &path.display().to_string())
}

/// Pairs images with labels into a [`Dataset`] (features `N × rows·cols` in `[0, 1]`, 1-channel NCHW shape).
///
/// # Errors
/// [`PreprocessError::Malformed`] naming `labels_name` for a count mismatch or a label `≥ class_names.len()`.
pub fn idx_dataset(
    images: &IdxImages,
    labels: Vec<u8>,
    class_names: &[&str],
    labels_name: &str,
) -> Result<Dataset> {
    if labels.len() != images.count {
        return Err(malformed(
            labels_name,
            FormatError::CountMismatch {
                images: images.count,
                labels: labels.len(),
            },
        ));
    }
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= class_names.len())
    {
        return Err(malformed(
            labels_name,
            FormatError::LabelOutOfRange {
                index,
                label,
                classes: class_names.len(),
            },
        ));
    }
    Dataset::new(
        images.to_f32()?,
        labels,
        class_names.iter().map(|s| s.to_string()).collect(),
        Some(images.image_shape()?),
    )
}

/// Which IDX data set a directory holds (this sets the class names; the files cannot tell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxSet {
    /// MNIST handwritten digits.
    Mnist,
    /// Fashion-MNIST clothing images.
    FashionMnist,
}

impl IdxSet {
    /// The 10 class names.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            IdxSet::Mnist => &MNIST_CLASSES,
            IdxSet::FashionMnist => &FASHION_MNIST_CLASSES,
        }
    }
}

/// File names tried for one official IDX file (`.gz` first, then raw, then the `name.idx3-ubyte` spelling).
fn candidates(stem: &str, kind: &str) -> Vec<String> {
    let official = format!("{stem}-{kind}");
    let dotted = format!("{stem}.{kind}");
    vec![
        format!("{official}.gz"),
        official,
        format!("{dotted}.gz"),
        dotted,
    ]
}

/// Loads one split (`train` or `t10k`) of an IDX directory.
///
/// # Errors
/// [`PreprocessError::MissingFile`] and every error of the readers and [`idx_dataset`].
pub fn load_idx_split(dir: &Path, stem: &str, set: IdxSet) -> Result<Dataset> {
    let img_path = find_file(dir, &candidates(&format!("{stem}-images"), "idx3-ubyte"))?;
    let lbl_path = find_file(dir, &candidates(&format!("{stem}-labels"), "idx1-ubyte"))?;
    let images = read_idx_images_file(&img_path)?;
    let labels = read_idx_labels_file(&lbl_path)?;
    idx_dataset(
        &images,
        labels,
        set.class_names(),
        &lbl_path.display().to_string(),
    )
}

/// Loads an MNIST-style directory: `(train, test)` from `train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]` and `t10k-labels-idx1-ubyte[.gz]`.
///
/// # Errors
/// [`PreprocessError::MissingFile`] if a file is absent, [`PreprocessError::Malformed`] naming the bad file.
pub fn load_idx_dir(dir: &Path, set: IdxSet) -> Result<(Dataset, Dataset)> {
    Ok((
        load_idx_split(dir, "train", set)?,
        load_idx_split(dir, "t10k", set)?,
    ))
}
