//! The `nn` command-line tool of the `nn-*` workspace: the whole CS231n workflow on real data.
//!
//! The binary (`src/main.rs`) only calls [`main_with_args`]. The commands live in [`commands`]:
//! `train`, `sanity`, `lr-find`, `init-stats`, `search` / `trial`, `eval` and `predict`. This is the
//! top of the layer order and the only crate that prints or draws. Plots are plain SVG written by
//! [`svg`] (no font or system library), run directories by [`report`].
//!
//! ```
//! let config = nn_cli::config::RunConfig::default();
//! config.validate()?;
//! assert_eq!(config.model.hidden, vec![512, 256]);
//! # Ok::<(), nn_cli::CliError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
mod error;
pub mod report;
pub mod svg;

pub use error::{io, CliError, Result, EXIT_INTERRUPTED, EXIT_RUNTIME, EXIT_USAGE};

use clap::Parser;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static CTRLC: std::sync::Once = std::sync::Once::new();

/// Installs the Ctrl-C handler (once per process): the first Ctrl-C asks the running command to
/// stop after the current step and save; a second one exits at once with code 130.
pub fn install_ctrlc() {
    CTRLC.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(EXIT_INTERRUPTED);
            }
            eprintln!("\ninterrupt: finishing the current step and saving the last completed epoch (Ctrl-C again to quit at once)");
        });
    });
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Runs `f` in a rayon pool of `threads` threads (all cores when `None`).
///
/// # Errors
/// [`CliError::Usage`] for 0 threads; whatever `f` returns.
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    if threads == Some(0) {
        return Err(CliError::usage(
            "--threads must be at least 1",
            "leave it out to use all cores",
        ));
    }
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let pool = builder
        .build()
        .map_err(|e| CliError::Library(format!("cannot start the thread pool: {e}")))?;
    pool.install(f)
}

/// How much to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// Progress bars, per-epoch lines, tables.
    Human,
    /// Only the final result.
    Quiet,
    /// One JSON object per line on stdout.
    Json,
}

/// The printer every command uses.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// The mode.
    pub mode: OutputMode,
}

impl Ui {
    /// Prints a line in human mode.
    pub fn info(&self, text: &str) {
        if self.mode == OutputMode::Human {
            println!("{text}");
        }
    }

    /// Prints a warning to stderr unless in JSON mode (JSON carries it instead).
    pub fn warn(&self, text: &str) {
        if self.mode != OutputMode::Json {
            eprintln!("warning: {text}");
        }
    }

    /// Prints one JSON object in JSON mode.
    pub fn json(&self, value: &serde_json::Value) {
        if self.mode == OutputMode::Json {
            println!("{value}");
        }
    }

    /// Whether only final results are printed.
    pub fn is_quiet(&self) -> bool {
        self.mode == OutputMode::Quiet
    }

    /// Whether progress bars should be drawn.
    pub fn progress(&self) -> bool {
        self.mode == OutputMode::Human
    }
}

/// Parses `args` (the first is the program name), runs the command and returns the exit code;
/// errors are printed as `error: …` plus a `hint: …` line.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            e.exit_code()
        }
    }
}

/// Runs a parsed command line inside a thread pool of `--threads` threads.
///
/// # Errors
/// Whatever the command returns.
pub fn run(cli: cli::Cli) -> Result<()> {
    let mode = if cli.json {
        OutputMode::Json
    } else if cli.quiet {
        OutputMode::Quiet
    } else {
        OutputMode::Human
    };
    let ui = Ui { mode };
    commands::dispatch(cli.command, cli.threads, &ui)
}
