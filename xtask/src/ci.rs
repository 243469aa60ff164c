//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use crate::{cargo, layers, run_step};

/// Runs formatting, clippy, the tests (doc tests included), a bench smoke run and the layer check.
pub fn run() -> Result<(), String> {
    layers::run()?;
    run_step(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    run_step(
        "cargo clippy (warnings denied)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run_step(
        "cargo test --workspace",
        cargo().args(["test", "--workspace", "--locked"]),
    )?;
    // Criterion runs each bench once, without measuring, when called through `cargo test`.
    run_step(
        "bench smoke run",
        cargo().args(["test", "--locked", "--package", "nn-benches", "--benches"]),
    )?;
    eprintln!("xtask: ci passed");
    Ok(())
}
