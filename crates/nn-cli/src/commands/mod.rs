//! One module per subcommand; [`dispatch`] runs the parsed one.

pub mod eval;
pub mod init_stats;
pub mod lr_find;
pub mod model;
pub mod predict;
pub mod sanity;
pub mod search;
pub mod train;

use crate::cli::Command;
use crate::error::Result;
use crate::Ui;

/// Runs a subcommand.
///
/// # Errors
/// Whatever the command returns.
pub fn dispatch(command: Command, threads: Option<usize>, ui: &Ui) -> Result<()> {
    match command {
        Command::Train(a) => train::run(&a, threads, ui),
        Command::Sanity(a) => sanity::run(&a, threads, ui),
        Command::LrFind(a) => lr_find::run(&a, threads, ui),
        Command::InitStats(a) => crate::with_threads(threads, || init_stats::run(&a, ui)),
        Command::Eval(a) => crate::with_threads(threads, || eval::run(&a, ui)),
        Command::Predict(a) => crate::with_threads(threads, || predict::run(&a, ui)),
        Command::Search(a) => search::run(&a, threads, ui),
        Command::Trial(a) => search::trial(&a, threads, ui),
    }
}
