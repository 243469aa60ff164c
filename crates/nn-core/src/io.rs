//! Saving and loading a [`Network`]: its [`NetworkSpec`] plus every tensor, in one safetensors file.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use ndarray::NdFloat;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{CoreError, Result};
use crate::network::Network;
use crate::spec::{LayerSpec, NetworkSpec};

/// The only `__metadata__` key: its value is [`SavedHeader`] as JSON. (One key, because the
/// safetensors crate writes its `HashMap` in random order and saved files should be reproducible.)
const META_KEY: &str = "nn_core";
/// The format marker in [`SavedHeader`].
const FORMAT: &str = "nn-core/1";

/// What `__metadata__["nn_core"]` holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedHeader {
    format: String,
    spec: NetworkSpec,
}

fn dtype_of<F: NdFloat>() -> Result<Dtype> {
    match std::mem::size_of::<F>() {
        4 => Ok(Dtype::F32),
        8 => Ok(Dtype::F64),
        n => Err(CoreError::Format(format!(
            "unsupported element size {n} bytes"
        ))),
    }
}

/// Values a spec may allocate beyond what its file holds (per-feature buffers of layers that store
/// nothing, e.g. batch norm without affine parameters or running statistics): 2^20.
const ALLOC_SLACK: u128 = 1 << 20;

/// `(stored, allocated)`: a lower bound on the values a file of `spec` must hold (weights, biases,
/// slopes, batch-norm parameters and statistics) and an estimate of the values
/// [`Network::from_spec`] allocates for them and its per-feature buffers (both saturating, so a
/// spec claiming a huge network is measured without overflow or allocation).
fn spec_values(spec: &NetworkSpec, dims: &[usize]) -> (u128, u128) {
    let (mut stored, mut allocated) = (0u128, 0u128);
    for (layer, &d) in spec.layers.iter().zip(dims) {
        let wide = |v: usize| v as u128;
        let (s, a) = match layer {
            LayerSpec::Linear { outputs, .. } => {
                let s = wide(d)
                    .saturating_mul(wide(*outputs))
                    .saturating_add(wide(*outputs));
                (s, s)
            }
            LayerSpec::Maxout {
                outputs, pieces, ..
            } => {
                let s = wide(d)
                    .saturating_add(1)
                    .saturating_mul(wide(*outputs))
                    .saturating_mul(wide(*pieces));
                (s, s)
            }
            LayerSpec::PRelu { per_feature, .. } => {
                let s = if *per_feature { wide(d) } else { 1 };
                (s, s)
            }
            LayerSpec::BatchNorm { config } => {
                let c = wide(config.layout.channels(d));
                let tensors =
                    2 * u128::from(config.affine) + 2 * u128::from(config.track_running_stats);
                (c.saturating_mul(tensors), c.saturating_mul(4))
            }
            LayerSpec::Activation { .. } | LayerSpec::Dropout { .. } | LayerSpec::Flatten => (0, 0),
        };
        stored = stored.saturating_add(s);
        allocated = allocated.saturating_add(a);
    }
    (stored, allocated)
}

/// Rejects a spec whose network cannot fit in `file_len` bytes of `size`-byte values, before
/// anything is allocated for it: a header claiming a network of 2^40 weights must not make
/// the loader try to allocate them.
fn check_spec_fits(spec: &NetworkSpec, file_len: usize, size: usize) -> Result<()> {
    let dims = spec.dims()?;
    let (stored, allocated) = spec_values(spec, &dims);
    let available = (file_len / size) as u128;
    if stored > available {
        return Err(mismatch(
            "__metadata__",
            format!(
                "the spec needs at least {stored} values but the file holds at most {available}"
            ),
        ));
    }
    if allocated > available.saturating_mul(4).saturating_add(ALLOC_SLACK) {
        return Err(mismatch(
            "__metadata__",
            format!(
                "the spec's layers need {allocated} values of buffers, far more than a file of {available} values justifies"
            ),
        ));
    }
    Ok(())
}

fn mismatch(tensor: &str, reason: String) -> CoreError {
    CoreError::ModelMismatch {
        tensor: tensor.to_string(),
        reason,
    }
}

impl<F: NdFloat> Network<F> {
    /// The network as safetensors bytes: every parameter and buffer under its name
    /// (`layers.0.weight`, `layers.1.running_mean`, …; little-endian `F32` or `F64`), with the
    /// [`NetworkSpec`] as JSON in `__metadata__["nn_core"]` (`{"format": "nn-core/1", "spec": …}`). Linear weights are stored `D × H`
    /// (CS231n's layout; PyTorch's `nn.Linear.weight` is the transpose).
    ///
    /// # Errors
    /// [`CoreError::Json`] or [`CoreError::Format`] if serialisation fails.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let dtype = dtype_of::<F>()?;
        let mut entries: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        self.visit_tensors(|t| {
            let mut bytes = Vec::with_capacity(t.value.len() * std::mem::size_of::<F>());
            for &v in t.value.iter() {
                let v = v.to_f64().unwrap_or(f64::NAN);
                if dtype == Dtype::F32 {
                    bytes.extend_from_slice(&(v as f32).to_le_bytes());
                } else {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            entries.push((t.name.to_string(), t.value.shape().to_vec(), bytes));
        });
        let mut views = Vec::with_capacity(entries.len());
        for (name, shape, bytes) in &entries {
            views.push((name.clone(), TensorView::new(dtype, shape.clone(), bytes)?));
        }
        let header = SavedHeader {
            format: FORMAT.to_string(),
            spec: self.spec().clone(),
        };
        let meta = HashMap::from([(META_KEY.to_string(), serde_json::to_string(&header)?)]);
        Ok(safetensors::serialize(views, &Some(meta))?)
    }

    /// Rebuilds a network from [`Network::to_safetensors`] bytes, bit for bit.
    ///
    /// # Errors
    /// [`CoreError::Format`] if the bytes are not safetensors (e.g. truncated);
    /// [`CoreError::ModelMismatch`] naming the tensor if the metadata or spec is missing, a tensor
    /// is missing or extra, or its dtype or shape differs from what the spec builds
    /// (`__metadata__` if the spec describes a network far larger than the file, which is
    /// checked before anything is allocated for it); [`CoreError::NonFiniteValue`] naming the
    /// tensor and index of a NaN or infinite value; [`CoreError::Json`] if the spec does not parse;
    /// the spec's validation errors.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let dtype = dtype_of::<F>()?;
        let tensors = SafeTensors::deserialize(bytes)?;
        let (_, metadata) = SafeTensors::read_metadata(bytes)?;
        let meta = metadata
            .metadata()
            .as_ref()
            .ok_or_else(|| mismatch("__metadata__", "no metadata".into()))?;
        let header_json = meta
            .get(META_KEY)
            .ok_or_else(|| mismatch("__metadata__", format!("no {META_KEY} entry")))?;
        let header: SavedHeader = serde_json::from_str(header_json)?;
        if header.format != FORMAT {
            return Err(mismatch(
                "__metadata__",
                format!("format {}, expected {FORMAT}", header.format),
            ));
        }
        let spec = header.spec;
        check_spec_fits(&spec, bytes.len(), std::mem::size_of::<F>())?;
        // The values drawn here are all overwritten below.
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let mut net = Network::from_spec(&spec, &mut rng)?;
        let expected: Vec<&str> = net.tensor_names().map(|(n, _)| n).collect();
        for name in tensors.names() {
            if !expected.contains(&name.as_str()) {
                return Err(mismatch(
                    name,
                    "not a tensor of the specified network".into(),
                ));
            }
        }
        let size = std::mem::size_of::<F>();
        net.for_each_value_mut(|name, _, mut value| {
            let t = tensors
                .tensor(name)
                .map_err(|_| mismatch(name, "missing from the file".into()))?;
            if t.dtype() != dtype {
                return Err(mismatch(
                    name,
                    format!("dtype {:?}, expected {dtype:?}", t.dtype()),
                ));
            }
            if t.shape() != value.shape() {
                return Err(mismatch(
                    name,
                    format!("shape {:?}, expected {:?}", t.shape(), value.shape()),
                ));
            }
            for (index, (v, chunk)) in value
                .iter_mut()
                .zip(t.data().chunks_exact(size))
                .enumerate()
            {
                let x = if size == 4 {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(chunk);
                    f64::from(f32::from_le_bytes(b))
                } else {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(chunk);
                    f64::from_le_bytes(b)
                };
                if !x.is_finite() {
                    return Err(CoreError::NonFiniteValue {
                        tensor: name.to_string(),
                        index,
                        value: x,
                    });
                }
                *v = F::from(x).unwrap_or_else(F::nan);
            }
            Ok(())
        })?;
        Ok(net)
    }

    /// Writes [`Network::to_safetensors`] to `path` atomically: a temporary file in the same
    /// directory, fsync, then rename, so `path` is never half-written.
    ///
    /// # Errors
    /// [`CoreError::Io`] on any file-system failure (the temporary file is removed).
    ///
    /// # Example
    /// ```
    /// use nn_core::{Network, NetworkSpec};
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// let net = Network::<f32>::from_spec(&NetworkSpec::mlp(3, &[4], 2, &Default::default())?, &mut rng)?;
    /// let path = std::env::temp_dir().join(format!("nn-core-doc-{}.safetensors", std::process::id()));
    /// net.save(&path)?;
    /// let back = Network::<f32>::load(&path)?;
    /// assert_eq!(back.to_safetensors()?, net.to_safetensors()?);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), nn_core::CoreError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_safetensors()?;
        write_atomic(path.as_ref(), &bytes)
    }

    /// Reads a file written by [`Network::save`].
    ///
    /// # Errors
    /// [`CoreError::Io`] if it cannot be read; otherwise as [`Network::from_safetensors`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let bytes = std::fs::read(path)?;
        Self::from_safetensors(&bytes)
    }

    /// As [`Network::load`], and checks the file holds exactly the network `spec` describes.
    ///
    /// # Errors
    /// As [`Network::load`]; [`CoreError::ModelMismatch`] (tensor `__metadata__`) if the saved
    /// spec differs from `spec`.
    pub fn load_expecting(path: impl AsRef<Path>, spec: &NetworkSpec) -> Result<Self> {
        let net = Self::load(path)?;
        if net.spec() != spec {
            return Err(mismatch(
                "__metadata__",
                "the saved spec differs from the expected one".into(),
            ));
        }
        Ok(net)
    }
}

/// Writes `bytes` to a temporary sibling of `path`, fsyncs it, and renames it over `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable where the platform allows opening a directory.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}
