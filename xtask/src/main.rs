//! Project automation in the cargo-xtask style: `cargo xtask <task>`.
//!
//! Tasks:
//! - `ci`: formatting, clippy with warnings denied, the whole test suite and the layering check.
//! - `bench [FILTER] [--peers] [--save NAME | --against NAME]`: the criterion benches in release and one
//!   summary table; `--peers` adds NumPy and PyTorch doing the same work in the same run.
//! - `layers`: only the layering check.
//! - `fuzz <TARGET> [--seconds N]`: one cargo-fuzz target of `xtask/fuzz` (needs nightly + cargo-fuzz).

mod bench;
mod ci;
mod fuzz;
mod layers;
mod peers;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
usage: cargo xtask <task>

tasks:
  ci                         fmt --check, clippy -D warnings, test --workspace (doc tests included),
                             bench smoke run, layering check; stops at the first failure
  bench [FILTER] [--peers] [--save NAME | --against NAME]
                             run the criterion benches in release and print one summary table
                             (also written to target/bench-summary.md); --peers also times NumPy and
                             PyTorch (benches/peers/*.py) on the same work and threads, side by side
  layers                     check that workspace crates depend only downward
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("layers") => layers::run(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}{}", fuzz::HELP);
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{HELP}{}", fuzz::HELP)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A `cargo` command run from the workspace root, using the same cargo that runs the xtask.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

/// Runs `cmd`, naming `step` in the error when it fails.
fn run_step(step: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: == {step} ==");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}
