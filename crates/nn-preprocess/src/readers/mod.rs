//! Readers for the standard image data sets: MNIST / Fashion-MNIST IDX files and CIFAR-10 binary batches.
//!
//! Every reader takes `impl Read` plus a name used in errors (so tests can feed bytes); the `*_file` and `load_*_dir`
//! functions open paths and detect gzip by its magic bytes `1f 8b`. Malformed input gives
//! [`crate::PreprocessError::Malformed`] naming the file and what is wrong; nothing is returned half-filled, and a
//! header claiming a huge count allocates only as much as the input really holds.

pub mod cifar;
pub mod idx;

use crate::error::{malformed, FormatError, PreprocessError, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Initial buffer cap (64 KiB): larger payloads grow as bytes actually arrive, so a header that
/// claims 2^32 images costs at most this much before the truncation is found.
const INITIAL_CAP: u64 = 1 << 16;

/// Reads exactly `len` payload bytes after a header of `header_len` bytes, then checks that nothing follows.
pub(crate) fn read_payload<R: Read>(
    r: &mut R,
    header_len: u64,
    len: u64,
    name: &str,
) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len.min(INITIAL_CAP) as usize);
    let truncated = |got: usize| {
        malformed(
            name,
            FormatError::Truncated {
                expected_bytes: header_len + len,
                got_bytes: header_len + got as u64,
            },
        )
    };
    match r.by_ref().take(len).read_to_end(&mut buf) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Err(truncated(buf.len())),
        Err(source) => {
            return Err(PreprocessError::Io {
                path: PathBuf::from(name),
                source,
            })
        }
    }
    if (buf.len() as u64) < len {
        return Err(truncated(buf.len()));
    }
    let mut one = [0u8; 1];
    loop {
        match r.read(&mut one) {
            Ok(0) => return Ok(buf),
            Ok(_) => {
                return Err(malformed(
                    name,
                    FormatError::TrailingData {
                        expected_bytes: header_len + len,
                    },
                ))
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(buf),
            Err(source) => {
                return Err(PreprocessError::Io {
                    path: PathBuf::from(name),
                    source,
                })
            }
        }
    }
}

/// Reads everything left in `r`.
pub(crate) fn read_all<R: Read>(r: &mut R, name: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    match r.read_to_end(&mut buf) {
        Ok(_) => Ok(buf),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(malformed(
            name,
            FormatError::Truncated {
                expected_bytes: buf.len() as u64 + 1,
                got_bytes: buf.len() as u64,
            },
        )),
        Err(source) => Err(PreprocessError::Io {
            path: PathBuf::from(name),
            source,
        }),
    }
}

/// Opens `path` for reading, transparently decompressing it if it starts with the gzip magic bytes `1f 8b`.
///
/// # Errors
/// [`PreprocessError::Io`] if the file cannot be opened.
pub fn open_maybe_gzip(path: &Path) -> Result<Box<dyn Read>> {
    let io = |source| PreprocessError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut r = BufReader::new(File::open(path).map_err(io)?);
    let head = r.fill_buf().map_err(io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(r)))
    } else {
        Ok(Box::new(r))
    }
}

/// The first of `names` that exists in `dir`.
pub(crate) fn find_file(dir: &Path, names: &[String]) -> Result<PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| PreprocessError::MissingFile {
            dir: dir.to_path_buf(),
            tried: names.to_vec(),
        })
}

/// Converts `u8` pixels to f32 in `[0, 1]` (`p / 255`), in parallel (elementwise, so deterministic).
pub fn pixels_to_f32(pixels: &[u8]) -> Vec<f32> {
    use rayon::prelude::*;
    pixels.par_iter().map(|&p| f32::from(p) / 255.0).collect()
}
