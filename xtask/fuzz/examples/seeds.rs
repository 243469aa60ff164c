//! Writes the seed corpora of every target into `corpus/<target>/` (small valid inputs, built by
//! the library's own writers): `cargo run --example seeds` from `xtask/fuzz`, or `cargo xtask fuzz`.

use std::path::Path;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(name), bytes)
}

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let (images, labels) = (nn_fuzz::idx_images(), nn_fuzz::idx_labels());
    write(&dir, "idx", "seed-images", &images)?;
    write(&dir, "idx", "seed-labels", &labels)?;
    write(&dir, "idx", "seed-images-gz", &nn_fuzz::gzip(&images))?;
    write(&dir, "idx", "seed-labels-gz", &nn_fuzz::gzip(&labels))?;
    let cifar = nn_fuzz::cifar_batch();
    write(&dir, "cifar", "seed-one-record", &cifar)?;
    write(&dir, "cifar", "seed-one-record-gz", &nn_fuzz::gzip(&cifar))?;
    write(
        &dir,
        "safetensors",
        "seed-f32",
        &nn_fuzz::small_network_f32(),
    )?;
    write(
        &dir,
        "safetensors",
        "seed-f64",
        &nn_fuzz::small_network_f64(),
    )?;
    let tmp = std::env::temp_dir().join(format!("nn-fuzz-seeds-{}", std::process::id()));
    let ck = nn_fuzz::write_checkpoint(&tmp);
    let state = std::fs::read(nn_train::checkpoint::state_path(&ck))?;
    write(&dir, "checkpoint_state", "seed-state", &state)?;
    std::fs::remove_dir_all(&tmp)?;
    write(
        &dir,
        "config",
        "seed-run-config",
        nn_fuzz::run_config_toml().as_bytes(),
    )?;
    write(
        &dir,
        "config",
        "seed-train-config",
        nn_fuzz::train_config_json().as_bytes(),
    )?;
    eprintln!("seeds written to {}", dir.display());
    Ok(())
}
