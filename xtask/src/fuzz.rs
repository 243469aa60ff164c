//! `cargo xtask fuzz <target> [--seconds N]`: one cargo-fuzz target of `xtask/fuzz/` for a fixed
//! time, with the memory limits that turn an allocation larger than the input justifies into a
//! finding. Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).

use std::process::Command;

use crate::{cargo, project_root, run_step};

/// The targets of `xtask/fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 5] = ["idx", "cifar", "safetensors", "checkpoint_state", "config"];

/// Whole-process memory limit (MiB): libFuzzer reports an out-of-memory finding above it.
const RSS_LIMIT_MB: u32 = 512;
/// Single-allocation limit (MiB). Inputs are at most a few KiB (libFuzzer's `-max_len` follows the
/// seeds), so no legitimate allocation comes near: the readers allocate at most about 4× the input
/// plus 64 KiB, the network loader the file's tensors plus 2^20 per-feature values (8 MiB in f64).
/// A header claiming 2^32 images that was believed before checking it against the input would
/// allocate gigabytes and be reported.
const MALLOC_LIMIT_MB: u32 = 64;
/// Seconds one input may take before libFuzzer reports it as a hang.
const TIMEOUT_SECONDS: u32 = 10;

pub const HELP: &str = "\
  fuzz <TARGET> [--seconds N]
                             run one cargo-fuzz target of xtask/fuzz for N seconds (default 180):
                             idx, cifar, safetensors, checkpoint_state or config; writes the seed
                             corpus first. Needs the nightly toolchain and cargo-fuzz
                             (`rustup toolchain install nightly`, `cargo install cargo-fuzz --locked`).
                             Findings are saved in xtask/fuzz/artifacts/<TARGET>/
";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut target = None;
    let mut seconds: u64 = 180;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a number")?;
                seconds = v
                    .parse()
                    .map_err(|_| format!("--seconds: `{v}` is not a whole number"))?;
            }
            t if TARGETS.contains(&t) && target.is_none() => target = Some(t),
            other => {
                return Err(format!(
                    "fuzz: unexpected argument `{other}` (targets: {})",
                    TARGETS.join(", ")
                ))
            }
        }
    }
    let target = target.ok_or_else(|| format!("fuzz: name a target: {}", TARGETS.join(", ")))?;
    let fuzz_dir = project_root().join("xtask").join("fuzz");
    run_step(
        "fuzz seeds",
        cargo()
            .args(["run", "--quiet", "--example", "seeds", "--manifest-path"])
            .arg(fuzz_dir.join("Cargo.toml")),
    )?;
    // `+nightly` is understood by rustup's `cargo` proxy, not by the toolchain's cargo binary.
    let mut cmd = Command::new("cargo");
    cmd.current_dir(project_root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["+nightly", "fuzz", "run", "--fuzz-dir"])
        .arg(&fuzz_dir)
        .args([target, "--"])
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"))
        .arg(format!("-timeout={TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1");
    run_step(&format!("fuzz {target} for {seconds} s"), &mut cmd)
}
