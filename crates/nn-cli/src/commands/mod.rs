//! One module per subcommand; [`dispatch`] runs the parsed one.

pub mod eval;
pub mod init_stats;
pub mod model;
pub mod predict;

use crate::cli::Command;
use crate::error::{CliError, Result};
use crate::Ui;

/// Runs a subcommand.
///
/// # Errors
/// Whatever the command returns.
pub fn dispatch(command: Command, threads: Option<usize>, ui: &Ui) -> Result<()> {
    let _ = threads;
    match command {
        Command::InitStats(a) => init_stats::run(&a, ui),
        Command::Eval(a) => eval::run(&a, ui),
        Command::Predict(a) => predict::run(&a, ui),
        _ => Err(CliError::Library("this command is not built yet".into())),
    }
}
