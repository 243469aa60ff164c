//! Prints the size, class counts and pixel mean / standard deviation (over all pixels, on `[0, 1]`) of an
//! MNIST-style IDX directory, for the train and test splits.
//!
//! Usage: `cargo run --release -p nn-preprocess --example dataset_stats -- DATA_DIR [mnist|fashion]`
//! (the set defaults to `fashion` when the directory name contains "fashion", else `mnist`).
//! Published values: MNIST train mean 0.1307, std 0.3081.

use nn_preprocess::readers::idx::{load_idx_dir, IdxSet};
use nn_preprocess::{Dataset, Moments, Scope};
use std::path::PathBuf;
use std::time::Instant;

fn stats(name: &str, d: &Dataset) -> Result<(), Box<dyn std::error::Error>> {
    let shape = d.image_shape().ok_or("the data set has no image shape")?;
    let mut m = Moments::new(Scope::PerChannel(shape));
    m.partial_fit(d.features())?;
    let mean = m.mean()?[0];
    let std = m.variance()?[0].sqrt();
    println!(
        "{name:5}  N = {:6}  D = {}  mean = {mean:.4}  std = {std:.4}  (mean {mean:.7}, std {std:.7})",
        d.len(),
        d.n_features()
    );
    println!("       class counts {:?}", d.class_counts());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: dataset_stats DATA_DIR [mnist|fashion]")?,
    );
    let set = match args.next().as_deref() {
        Some("mnist") => IdxSet::Mnist,
        Some("fashion") => IdxSet::FashionMnist,
        Some(other) => return Err(format!("unknown set {other:?} (mnist or fashion)").into()),
        None if dir.to_string_lossy().to_lowercase().contains("fashion") => IdxSet::FashionMnist,
        None => IdxSet::Mnist,
    };
    let t = Instant::now();
    let (train, test) = load_idx_dir(&dir, set)?;
    println!(
        "{} as {set:?}: loaded in {:.2} s",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    stats("train", &train)?;
    stats("test", &test)?;
    Ok(())
}
