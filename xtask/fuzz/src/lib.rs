//! Shared helpers of the fuzz targets: small valid inputs (the seeds) and the fixed checkpoint
//! that the `checkpoint_state` target resumes from.

use std::io::Write;
use std::path::{Path, PathBuf};

use nn_core::{MlpOptions, Network, NetworkSpec};
use nn_preprocess::readers::idx::{write_idx_images, write_idx_labels, IdxImages};
use nn_train::{TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Gzip-compresses `bytes` (the readers detect gzip by its magic bytes).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// A valid IDX image file: 2 images of 3×4 pixels.
pub fn idx_images() -> Vec<u8> {
    let images = IdxImages {
        count: 2,
        rows: 3,
        cols: 4,
        pixels: (0..24u8).map(|p| p * 10).collect(),
    };
    let mut out = Vec::new();
    write_idx_images(&mut out, &images).expect("a consistent IdxImages writes");
    out
}

/// A valid IDX label file: 2 labels.
pub fn idx_labels() -> Vec<u8> {
    let mut out = Vec::new();
    write_idx_labels(&mut out, &[3, 7]).expect("two labels fit in u32");
    out
}

/// A valid CIFAR-10 batch of one record (label 3, a gradient image).
pub fn cifar_batch() -> Vec<u8> {
    let mut out = vec![3u8];
    out.extend((0..3072u32).map(|i| (i % 251) as u8));
    out
}

/// The small network of the safetensors seeds: 3 → 4 (BatchNorm, ReLU, dropout) → 2.
pub fn small_spec() -> NetworkSpec {
    let options = MlpOptions {
        batch_norm: true,
        dropout: 0.25,
        ..MlpOptions::default()
    };
    NetworkSpec::mlp(3, &[4], 2, &options).expect("positive widths")
}

/// [`small_spec`] with seeded weights, as safetensors bytes (f32).
pub fn small_network_f32() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net = Network::<f32>::from_spec(&small_spec(), &mut rng).expect("valid spec");
    net.to_safetensors().expect("serialises")
}

/// [`small_spec`] with seeded weights, as safetensors bytes (f64).
pub fn small_network_f64() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let net = Network::<f64>::from_spec(&small_spec(), &mut rng).expect("valid spec");
    net.to_safetensors().expect("serialises")
}

/// The training config of the fixed checkpoint: the small network, two epochs, seed 7.
pub fn small_train_config() -> TrainConfig {
    TrainConfig {
        model: small_spec(),
        epochs: 2,
        batch_size: 4,
        seed: 7,
        ema_decay: Some(0.9),
        clip_norm: Some(5.0),
        ..TrainConfig::default()
    }
}

/// Writes the fixed checkpoint (network file + state JSON) into `dir` and returns the network
/// file's path; the state file is `nn_train::checkpoint::state_path` of it.
pub fn write_checkpoint(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("temporary directory");
    let path = dir.join("ck.safetensors");
    let trainer = Trainer::new(small_train_config()).expect("valid config");
    trainer.save_checkpoint(&path).expect("checkpoint written");
    path
}

/// A small valid `nn` run config (TOML) that changes a few defaults.
pub fn run_config_toml() -> String {
    let mut c = nn_cli::config::RunConfig::default();
    c.model.hidden = vec![16];
    c.model.dropout = 0.1;
    c.train.clip_norm = Some(1.0);
    c.train.ema_decay = Some(0.99);
    c.train.patience = Some(2);
    c.to_toml()
}

/// [`small_train_config`] as JSON.
pub fn train_config_json() -> String {
    small_train_config().to_json().expect("finite values")
}
