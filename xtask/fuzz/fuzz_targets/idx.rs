//! IDX images and labels, raw or gzip (detected by the magic bytes `1f 8b`, as the file readers do).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_preprocess::readers::idx::{idx_dataset, read_idx_images, read_idx_labels, MNIST_CLASSES};
use std::io::Read;

fn reader(data: &[u8]) -> Box<dyn Read + '_> {
    if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(data))
    } else {
        Box::new(data)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = read_idx_images(reader(data), "fuzz") {
        assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.cols
        );
        let labels = vec![1u8; images.count];
        let _ = idx_dataset(&images, labels, &MNIST_CLASSES, "fuzz");
    }
    if let Ok(labels) = read_idx_labels(reader(data), "fuzz") {
        assert!(!labels.is_empty());
    }
});
