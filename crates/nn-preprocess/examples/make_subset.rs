//! Builds `data/mnist-small/` from the official MNIST files: the first 10 000 training and the first 2 000 test
//! images with their labels, in the official IDX gzip format and file names.
//!
//! Usage: `cargo run --release -p nn-preprocess --example make_subset -- SRC_DIR OUT_DIR [N_TRAIN N_TEST]`
//! (for this repository: `../shared/data/mnist data/mnist-small`). The gzip headers carry the official file name
//! and mtime 0, so the output is reproducible for a given flate2 version; the decompressed bytes always are.

use flate2::{Compression, GzBuilder};
use nn_preprocess::readers::idx::{
    read_idx_images_file, read_idx_labels_file, write_idx_images, write_idx_labels, IdxImages,
};
use nn_preprocess::write_atomic;
use std::io::Write;
use std::path::{Path, PathBuf};

fn gzip(name: &str, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = GzBuilder::new()
        .filename(name)
        .mtime(0)
        .write(Vec::new(), Compression::new(6));
    e.write_all(raw)?;
    e.finish()
}

fn subset(src: &Path, out: &Path, stem: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let images = read_idx_images_file(&src.join(format!("{stem}-images-idx3-ubyte.gz")))?;
    let labels = read_idx_labels_file(&src.join(format!("{stem}-labels-idx1-ubyte.gz")))?;
    if n > images.count || labels.len() != images.count {
        return Err(format!("{stem}: asked for {n} of {} images", images.count).into());
    }
    let d = images.rows * images.cols;
    let small = IdxImages {
        count: n,
        pixels: images.pixels[..n * d].to_vec(),
        ..images
    };
    let mut raw = Vec::new();
    write_idx_images(&mut raw, &small)?;
    let name = format!("{stem}-images-idx3-ubyte");
    write_atomic(&out.join(format!("{name}.gz")), &gzip(&name, &raw)?)?;
    let mut raw = Vec::new();
    write_idx_labels(&mut raw, &labels[..n])?;
    let name = format!("{stem}-labels-idx1-ubyte");
    write_atomic(&out.join(format!("{name}.gz")), &gzip(&name, &raw)?)?;
    let mut counts = [0usize; 10];
    for &l in &labels[..n] {
        counts[usize::from(l.min(9))] += 1;
    }
    println!("{stem}: first {n} images, class counts {counts:?}");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 && args.len() != 4 {
        return Err("usage: make_subset SRC_DIR OUT_DIR [N_TRAIN N_TEST]".into());
    }
    let (src, out) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let (n_train, n_test) = if args.len() == 4 {
        (args[2].parse()?, args[3].parse()?)
    } else {
        (10_000, 2_000)
    };
    std::fs::create_dir_all(&out)?;
    subset(&src, &out, "train", n_train)?;
    subset(&src, &out, "t10k", n_test)?;
    Ok(())
}
