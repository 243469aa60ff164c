//! The error type of the `nn` tool: one message, one hint, one exit code.

use std::fmt;
use std::path::PathBuf;

/// Exit code for a usage or configuration error (bad flag, bad config key, invalid value).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for a failure while running (bad data file, mismatched checkpoint, I/O).
pub const EXIT_RUNTIME: i32 = 1;
/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Everything that can make a command fail. `main` prints `error: {self}` and, when there is one,
/// `hint: {hint}`, then exits with [`CliError::exit_code`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// A flag or value the user gave is wrong (exit code 2).
    Usage {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A config file cannot be read or holds an unknown key or a bad value (exit code 2).
    Config {
        /// The file, if the problem is in one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// A data set cannot be found or read (exit code 1).
    Data {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A saved model does not fit what was asked of it (exit code 1).
    Model {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed (exit code 1).
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The run directory cannot be written: found by the probe before training, or when a
    /// checkpoint save fails mid-run (exit code 1). Training stops; whatever checkpoint was saved
    /// before is intact and loadable.
    Save {
        /// The directory or file that could not be written.
        path: PathBuf,
        /// What was being written.
        what: String,
        /// The OS error.
        source: std::io::Error,
        /// What to do (mentions the intact checkpoint when there is one).
        hint: String,
    },
    /// An error from a library crate while running (exit code 1).
    Library(String),
    /// The user pressed Ctrl-C before anything could be saved (exit code 130).
    Interrupted,
}

/// `Result` with [`CliError`].
pub type Result<T> = std::result::Result<T, CliError>;

impl CliError {
    /// A usage error with a hint.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A config error not tied to a file.
    pub fn config(message: impl Into<String>) -> Self {
        CliError::Config {
            path: None,
            message: message.into(),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage { .. } | CliError::Config { .. } => EXIT_USAGE,
            CliError::Interrupted => EXIT_INTERRUPTED,
            _ => EXIT_RUNTIME,
        }
    }

    /// A one-line suggestion of how to fix the problem.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Usage { hint, .. } | CliError::Data { hint, .. } => hint.clone(),
            CliError::Config { .. } => {
                Some("run `nn train --print-config` to see every key with its current value".into())
            }
            CliError::Model { .. } => Some(
                "use a checkpoint written by `nn train` for the same model and data \
                 (`RUN_DIR/best.safetensors`)"
                    .into(),
            ),
            CliError::Io { .. } => {
                Some("check that the path exists and that you may read/write it".into())
            }
            CliError::Save { hint, .. } => Some(hint.clone()),
            CliError::Library(_) | CliError::Interrupted => None,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage { message, .. } => write!(f, "{message}"),
            CliError::Config {
                path: Some(p),
                message,
            } => write!(f, "config file {}: {message}", p.display()),
            CliError::Config {
                path: None,
                message,
            } => write!(f, "invalid config: {message}"),
            CliError::Data { path, message, .. } => {
                write!(f, "cannot load data from {}: {message}", path.display())
            }
            CliError::Model { path, message } => {
                write!(f, "checkpoint {} does not fit: {message}", path.display())
            }
            CliError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            CliError::Save {
                path, what, source, ..
            } => {
                write!(f, "cannot write {what} ({}): {source}", path.display())
            }
            CliError::Library(m) => write!(f, "{m}"),
            CliError::Interrupted => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Io { source, .. } | CliError::Save { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<nn_init::InitError> for CliError {
    fn from(e: nn_init::InitError) -> Self {
        CliError::config(e.to_string())
    }
}

impl From<nn_core::CoreError> for CliError {
    fn from(e: nn_core::CoreError) -> Self {
        match e {
            nn_core::CoreError::InvalidHyperparameter { .. } => CliError::config(e.to_string()),
            other => CliError::Library(other.to_string()),
        }
    }
}

impl From<nn_train::TrainError> for CliError {
    fn from(e: nn_train::TrainError) -> Self {
        match e {
            nn_train::TrainError::InvalidHyperparameter { .. } => CliError::config(e.to_string()),
            other => CliError::Library(other.to_string()),
        }
    }
}

impl From<nn_preprocess::PreprocessError> for CliError {
    fn from(e: nn_preprocess::PreprocessError) -> Self {
        CliError::Library(e.to_string())
    }
}

/// Builds an [`CliError::Io`] for `path`.
pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CliError {
    let path = path.into();
    move |source| CliError::Io { path, source }
}
