//! Preprocessing benches: streaming mean/variance over CIFAR-10-train-sized data (50 000 × 3072 f32) beside a plain
//! sum of the same data (the memory-bandwidth bound), and IDX decoding (raw and gzip) beside a memcpy.
#![allow(missing_docs)] // criterion_group! generates undocumented items.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use nn_benches::test_vector;
use nn_preprocess::readers::idx::{read_idx_images, write_idx_images, IdxImages};
use nn_preprocess::{ImageShape, Layout, Moments, Scope};
use rayon::prelude::*;
use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

const N: usize = 50_000;
const D: usize = 3072;

/// The bound: a parallel sum of every value (16 independent f32 lanes per chunk so it vectorises, f64 per chunk).
fn plain_sum(x: &[f32]) -> f64 {
    x.par_chunks(1 << 15)
        .map(|c| {
            let mut lanes = [0.0f32; 16];
            for v in c.chunks_exact(16) {
                for (l, &e) in lanes.iter_mut().zip(v) {
                    *l += e;
                }
            }
            let tail: f32 = c.chunks_exact(16).remainder().iter().sum();
            lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + f64::from(tail)
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}

fn moments(c: &mut Criterion) {
    let x = Array2::from_shape_vec((N, D), test_vector(N * D, 7)).expect("N·D values");
    let data = x.as_slice().expect("standard layout");
    let size = format!("{N}x{D}");
    let mut g = c.benchmark_group("preprocess/moments");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes((N * D * 4) as u64));
    g.bench_function(BenchmarkId::new("plain_sum", &size), |b| {
        b.iter(|| plain_sum(black_box(data)))
    });
    g.bench_function(BenchmarkId::new("per_feature", &size), |b| {
        b.iter(|| {
            let mut m = Moments::new(Scope::PerFeature);
            m.partial_fit(black_box(x.view())).expect("finite data");
            m
        })
    });
    let shape = ImageShape::new(3, 32, 32, Layout::Nchw).expect("valid shape");
    g.bench_function(BenchmarkId::new("per_channel_nchw", &size), |b| {
        b.iter(|| {
            let mut m = Moments::new(Scope::PerChannel(shape));
            m.partial_fit(black_box(x.view())).expect("finite data");
            m
        })
    });
    g.finish();
}

fn idx_decode(c: &mut Criterion) {
    let n = 10_000;
    let pixels = test_vector(n * 784, 3)
        .iter()
        .map(|&v| ((v + 4.0) * 31.0) as u8)
        .collect();
    let images = IdxImages {
        count: n,
        rows: 28,
        cols: 28,
        pixels,
    };
    let mut raw = Vec::new();
    write_idx_images(&mut raw, &images).expect("in-memory write");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(&raw).expect("in-memory gzip");
    let gz = enc.finish().expect("in-memory gzip");
    let size = format!("{n}x28x28");
    let mut g = c.benchmark_group("preprocess/idx_decode");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function(BenchmarkId::new("memcpy", &size), |b| {
        b.iter(|| black_box(&raw).to_vec())
    });
    g.bench_function(BenchmarkId::new("raw_to_f32", &size), |b| {
        b.iter(|| {
            read_idx_images(black_box(raw.as_slice()), "bench")
                .expect("valid")
                .to_f32()
                .expect("valid")
        })
    });
    g.bench_function(BenchmarkId::new("gzip_to_f32", &size), |b| {
        b.iter(|| {
            let r = flate2::read::GzDecoder::new(black_box(gz.as_slice()));
            read_idx_images(r, "bench")
                .expect("valid")
                .to_f32()
                .expect("valid")
        })
    });
    g.finish();
}

criterion_group!(benches, moments, idx_decode);
criterion_main!(benches);
