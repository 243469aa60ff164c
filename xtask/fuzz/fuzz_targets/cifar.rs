//! CIFAR-10 binary batches, raw or gzip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_preprocess::readers::cifar::{cifar10_dataset, read_cifar10_batch, CIFAR10_IMAGE_BYTES};
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let reader: Box<dyn Read + '_> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(data))
    } else {
        Box::new(data)
    };
    if let Ok(records) = read_cifar10_batch(reader, "fuzz") {
        assert_eq!(
            records.pixels.len(),
            records.labels.len() * CIFAR10_IMAGE_BYTES
        );
        let _ = cifar10_dataset(&records);
    }
});
