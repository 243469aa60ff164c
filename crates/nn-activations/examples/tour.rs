//! A tour of every activation family on real data: the scikit-learn digits (8×8 images) pushed
//! through random layers, with values at chosen points, gradient checks and the diagnostics the
//! CS231n notes care about.
//!
//! Run: `cargo run --release -p nn-activations --example tour [path/to/digits.csv.gz]`
//! (default: `data/sklearn-digits/digits.csv.gz`, shipped in the repository).

use flate2::read::GzDecoder;
use ndarray::{Array1, Array2, Axis};
use nn_activations::{
    diagnostics, log_softmax, log_softmax_backward, simd_level, Activation, Maxout, PRelu,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Read;

const N: usize = 256;
const H: usize = 100;
const STEP: f64 = 1e-5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/sklearn-digits/digits.csv.gz"
        )
        .into()
    });
    let (x, labels) = load_digits(&path, N)?;
    let d = x.ncols();
    let mut rng = ChaCha8Rng::seed_from_u64(231);
    println!(
        "nn-activations tour: {N} digits from {path}, D = {d}, H = {H}; f32 kernels use {:?}\n",
        simd_level()
    );

    // Pre-activations Z = X·W for He-scaled weights (std √(2/D)) and for weights ten times larger.
    let w = gaussian(&mut rng, (d, H), (2.0 / d as f64).sqrt());
    let z = x.dot(&w);
    let z_big = &z * 10.0;
    // A bias of -1 (a bad initialisation, or a large update) pushes whole units below 0.
    let z_shift = &z - 1.0;
    let upstream = gaussian(&mut rng, (N, H), 1.0);

    println!("| activation | f(-2) | f(0.5) | f(2) | grad check max rel err | mean y | std y | saturated | dead | saturated (W×10) | dead (bias −1) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for act in [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::leaky_relu(),
        Activation::elu(),
        Activation::Selu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Softplus,
    ] {
        let err = elementwise_grad_error(act, &z, &upstream)?;
        let s = diagnostics::stats(act, z.view())?;
        let sb = diagnostics::stats(act, z_big.view())?;
        let dead_shift = diagnostics::dead_fraction(act, z_shift.view())?;
        println!(
            "| {} | {:.5} | {:.5} | {:.5} | {:.1e} | {:+.3} | {:.3} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            act.name(),
            act.apply(-2.0),
            act.apply(0.5),
            act.apply(2.0),
            err,
            s.mean,
            s.std,
            100.0 * s.saturated,
            100.0 * s.dead,
            100.0 * sb.saturated,
            100.0 * dead_shift
        );
    }
    println!(
        "\n(grad check: CS231n relative error, max over all {} entries; it peaks where f' crosses 0, e.g. GELU near x = -0.75.\n saturated: |f'(z)| < {}; dead: units with f'(z) = 0 for all {N} samples.)",
        N * H,
        diagnostics::SATURATION_THRESHOLD
    );

    // PReLU with one learned slope per hidden unit.
    let alpha = Array1::from_shape_fn(H, |j| 0.05 + 0.2 * j as f64 / H as f64);
    let prelu = PRelu::per_channel(alpha.clone())?;
    let grads = prelu.backward(upstream.view(), z.view())?;
    let loss = |p: &PRelu<f64>| p.forward(z.view()).map(|y| (y * &upstream).sum());
    let mut worst: f64 = 0.0;
    for c in 0..H {
        let mut plus = alpha.clone();
        plus[c] += STEP;
        let mut minus = alpha.clone();
        minus[c] -= STEP;
        let num =
            (loss(&PRelu::per_channel(plus)?)? - loss(&PRelu::per_channel(minus)?)?) / (2.0 * STEP);
        worst = worst.max(rel_error(grads.dalpha[c], num));
    }
    println!(
        "\nPReLU (per channel, α from 0.05 to 0.25): dα max rel err {worst:.1e}, mean |dα| {:.3}",
        grads.dalpha.mapv(f64::abs).mean().unwrap_or(0.0)
    );

    // Maxout over two linear pieces.
    let w2 = gaussian(&mut rng, (d, H), (2.0 / d as f64).sqrt());
    let z2 = x.dot(&w2);
    let maxout = Maxout::new(2)?;
    let (y, cache) = maxout.forward(&[z.view(), z2.view()])?;
    let dz = maxout.backward(upstream.view(), &cache)?;
    let mut worst: f64 = 0.0;
    for ((i, j), &v) in z.indexed_iter().take(2000) {
        if (v - z2[[i, j]]).abs() < 1e-4 {
            continue;
        }
        let f = |t: f64| {
            let mut zz = z.clone();
            zz[[i, j]] = t;
            maxout
                .forward(&[zz.view(), z2.view()])
                .map(|(y, _)| (y * &upstream).sum())
        };
        let num = (f(v + STEP)? - f(v - STEP)?) / (2.0 * STEP);
        worst = worst.max(rel_error(dz[0][[i, j]], num));
    }
    let wins0 = cache.winners().iter().filter(|&&w| w == 0).count() as f64 / y.len() as f64;
    println!("Maxout (k = 2): piece 0 wins {:.1}%, mean y {:+.3}, dz max rel err {worst:.1e} (2000 entries)", 100.0 * wins0, y.mean().unwrap_or(0.0));

    // Softmax classifier scores with small weights: the initial loss should be about ln 10.
    let wc = gaussian(&mut rng, (d, 10), 1e-3);
    let scores = x.dot(&wc);
    let logp = log_softmax(scores.view(), Axis(1))?;
    let loss = -labels
        .iter()
        .enumerate()
        .map(|(i, &c)| logp[[i, c]])
        .sum::<f64>()
        / N as f64;
    let mut dlogp = Array2::zeros((N, 10));
    for (i, &c) in labels.iter().enumerate() {
        dlogp[[i, c]] = -1.0 / N as f64;
    }
    let dscores = log_softmax_backward(dlogp.view(), logp.view(), Axis(1))?;
    let probs = logp.mapv(f64::exp);
    let row_dev = probs
        .sum_axis(Axis(1))
        .mapv(|s| (s - 1.0).abs())
        .fold(0.0_f64, |m, &v| m.max(v));
    let mut onehot = Array2::zeros((N, 10));
    for (i, &c) in labels.iter().enumerate() {
        onehot[[i, c]] = 1.0;
    }
    let expected = (&probs - &onehot) / N as f64;
    let grad_err = dscores
        .iter()
        .zip(&expected)
        .map(|(&a, &b)| rel_error(a, b))
        .fold(0.0_f64, f64::max);
    println!(
        "Softmax over 10 classes: loss {loss:.4} (ln 10 = {:.4}), max |Σp - 1| {row_dev:.1e}, dscores vs (p - y)/N max rel err {grad_err:.1e}",
        10f64.ln()
    );
    Ok(())
}

/// Central-difference check of `backward` (reading the tensor each activation prefers) for the
/// loss `Σ upstream ⊙ f(z)`, skipping entries within 1e-4 of a kink.
fn elementwise_grad_error(
    act: Activation,
    z: &Array2<f64>,
    upstream: &Array2<f64>,
) -> Result<f64, nn_activations::ActivationError> {
    let kind = act.backward_needs();
    let saved = match kind {
        nn_activations::Saved::Input => z.clone(),
        nn_activations::Saved::Output => act.forward(z.view()),
    };
    let dz = act.backward(upstream.view(), saved.view(), kind)?;
    let mut worst: f64 = 0.0;
    for ((&v, &g), &u) in z.iter().zip(&dz).zip(upstream) {
        if v.abs() < 1e-4 {
            continue;
        }
        let num = u * (act.apply(v + STEP) - act.apply(v - STEP)) / (2.0 * STEP);
        worst = worst.max(rel_error(g, num));
    }
    Ok(worst)
}

fn rel_error(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / (a.abs() + b.abs()).max(1e-300)
    }
}

/// Gaussian entries by Box–Muller from a seeded generator.
fn gaussian(rng: &mut impl Rng, shape: (usize, usize), std: f64) -> Array2<f64> {
    Array2::from_shape_simple_fn(shape, || {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    })
}

/// The first `n` digits, pixels scaled to [0, 1] and centred per feature, and their labels.
fn load_digits(
    path: &str,
    n: usize,
) -> Result<(Array2<f64>, Vec<usize>), Box<dyn std::error::Error>> {
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    let mut x = Array2::zeros((n, 64));
    let mut labels = Vec::with_capacity(n);
    for (i, line) in text.lines().take(n).enumerate() {
        let values: Vec<f64> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
        if values.len() != 65 {
            return Err(format!(
                "{path}: line {} has {} fields, expected 65",
                i + 1,
                values.len()
            )
            .into());
        }
        for (j, &v) in values[..64].iter().enumerate() {
            x[[i, j]] = v / 16.0;
        }
        labels.push(values[64] as usize);
    }
    if labels.len() < n {
        return Err(format!("{path}: only {} rows, need {n}", labels.len()).into());
    }
    let mean = x.mean_axis(Axis(0)).ok_or("empty data")?;
    x -= &mean;
    Ok((x, labels))
}
