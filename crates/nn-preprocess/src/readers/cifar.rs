//! CIFAR-10 binary batches: records of 1 label byte and 3072 pixel bytes (R plane, G plane, B plane, each 32×32
//! row-major), 10 000 records per official batch file.

use super::{find_file, open_maybe_gzip, pixels_to_f32, read_all};
use crate::dataset::Dataset;
use crate::error::{malformed, FormatError, PreprocessError, Result};
use crate::shape::{ImageShape, Layout};
use ndarray::Array2;
use std::io::Read;
use std::path::Path;

/// Bytes per CIFAR-10 image (3 channels × 32 × 32).
pub const CIFAR10_IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes per CIFAR-10 record (label + image).
pub const CIFAR10_RECORD_BYTES: usize = 1 + CIFAR10_IMAGE_BYTES;
/// The CIFAR-10 class names, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The CIFAR-10 image shape as stored: 3 × 32 × 32, channel-major (NCHW).
pub fn cifar10_shape() -> ImageShape {
    ImageShape {
        channels: 3,
        height: 32,
        width: 32,
        layout: Layout::Nchw,
    }
}

/// Decoded CIFAR-10 records: `labels[i]` and `pixels[i·3072 .. (i+1)·3072]` (NCHW, `u8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarRecords {
    /// One label per record, each `< 10`.
    pub labels: Vec<u8>,
    /// `3072` pixels per record, channel-major.
    pub pixels: Vec<u8>,
}

/// Reads one CIFAR-10 binary batch from `reader`; `name` is used in errors.
///
/// # Errors
/// [`PreprocessError::Malformed`] for an empty input, a length that is not a whole number of 3073-byte records
/// (truncated), or a label `≥ 10`; [`PreprocessError::Io`] for read errors.
///
/// # Example
/// ```
/// use nn_preprocess::readers::cifar::read_cifar10_batch;
/// let mut bytes = vec![3u8];            // label "cat"
/// bytes.extend(vec![255u8; 3072]);      // a white image
/// let rec = read_cifar10_batch(bytes.as_slice(), "mem")?;
/// assert_eq!(rec.labels, vec![3]);
/// assert_eq!(rec.pixels.len(), 3072);
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
pub fn read_cifar10_batch<R: Read>(mut reader: R, name: &str) -> Result<CifarRecords> {
    let bytes = read_all(&mut reader, name)?;
    let n = bytes.len() / CIFAR10_RECORD_BYTES;
    if bytes.is_empty() || bytes.len() % CIFAR10_RECORD_BYTES != 0 {
        return Err(malformed(
            name,
            FormatError::Truncated {
                expected_bytes: ((n + 1) * CIFAR10_RECORD_BYTES) as u64,
                got_bytes: bytes.len() as u64,
            },
        ));
    }
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * CIFAR10_IMAGE_BYTES);
    for (index, rec) in bytes.chunks_exact(CIFAR10_RECORD_BYTES).enumerate() {
        let label = rec[0];
        if usize::from(label) >= CIFAR10_CLASSES.len() {
            return Err(malformed(
                name,
                FormatError::LabelOutOfRange {
                    index,
                    label,
                    classes: CIFAR10_CLASSES.len(),
                },
            ));
        }
        labels.push(label);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(CifarRecords { labels, pixels })
}

/// Concatenated records as a [`Dataset`]: `N × 3072` f32 in `[0, 1]`, NCHW 3×32×32, CIFAR-10 class names.
///
/// # Errors
/// [`PreprocessError::EmptyInput`] for no records.
pub fn cifar10_dataset(records: &CifarRecords) -> Result<Dataset> {
    let n = records.labels.len();
    let x = Array2::from_shape_vec((n, CIFAR10_IMAGE_BYTES), pixels_to_f32(&records.pixels))
        .map_err(|_| PreprocessError::InvalidDataset {
            reason: format!("{} pixels for {n} CIFAR-10 records", records.pixels.len()),
        })?;
    Dataset::new(
        x,
        records.labels.clone(),
        CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        Some(cifar10_shape()),
    )
}

/// Reads a CIFAR-10 batch file (raw or gzip).
///
/// # Errors
/// As [`read_cifar10_batch`], naming `path`.
pub fn read_cifar10_file(path: &Path) -> Result<CifarRecords> {
    read_cifar10_batch(open_maybe_gzip(path)?, &path.display().to_string())
}

/// Loads a CIFAR-10 binary directory (or its `cifar-10-batches-bin/` subfolder): `(train, test)` from
/// `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`.
///
/// # Errors
/// [`PreprocessError::MissingFile`] if a file is absent, [`PreprocessError::Malformed`] naming the bad file.
pub fn load_cifar10_dir(dir: &Path) -> Result<(Dataset, Dataset)> {
    let sub = dir.join("cifar-10-batches-bin");
    let dir = if sub.is_dir() { sub } else { dir.to_path_buf() };
    let mut train = CifarRecords {
        labels: Vec::new(),
        pixels: Vec::new(),
    };
    for i in 1..=5 {
        let path = find_file(&dir, &[format!("data_batch_{i}.bin")])?;
        let rec = read_cifar10_file(&path)?;
        train.labels.extend(rec.labels);
        train.pixels.extend(rec.pixels);
    }
    let test = read_cifar10_file(&find_file(&dir, &["test_batch.bin".to_string()])?)?;
    Ok((cifar10_dataset(&train)?, cifar10_dataset(&test)?))
}
