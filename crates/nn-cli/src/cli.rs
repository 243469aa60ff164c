//! The command line: every subcommand, flag and help text (clap derive).

use crate::config::{
    ActivationName, DataFormat, InitName, OptimizerName, PreprocessKind, RunConfig, ScheduleName,
};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const MAIN_EXAMPLES: &str = "\
Examples:
  nn train                                   # default MLP on the shipped MNIST subset, prints test accuracy
  nn train --data ~/data/fashion-mnist --hidden 512,256 --epochs 20 --out runs/fashion
  nn eval runs/run-001                       # accuracy, per-class metrics and confusion matrix
  nn predict runs/run-001 --index 0,1,2      # class and probabilities of test images 0, 1 and 2
  nn sanity                                  # the babysitting checklist
  nn lr-find                                 # learning-rate range test with a plot
  nn init-stats --init small,xavier,he --activation tanh,relu
  nn search --trials 8 --epochs 2            # random search, ranked table
  nn search --plan plan/ && ls plan/*.toml | xargs -P 4 -n 1 nn trial && nn search --collect plan/

Every command that trains writes a run directory (config.toml, metrics.csv, metrics.jsonl,
checkpoints, plots and report.html). Exit codes: 0 success, 1 runtime error (data, checkpoint, I/O),
2 usage or config error, 130 interrupted.";

/// The `nn` tool: train, check and evaluate small neural networks on the CPU.
#[derive(Parser, Debug)]
#[command(name = "nn", version, about, long_about = None, after_help = MAIN_EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Print only the final result (errors still go to stderr).
    #[arg(long, short, global = true, conflicts_with = "json")]
    pub quiet: bool,
    /// Print machine-readable JSON (one object per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Worker threads (default: all cores); results are deterministic for a seed and thread count.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model and write a run directory.
    #[command(after_help = "\
Examples:
  nn train                                   # default: 784-512-256-10 MLP with batch norm, Adam, 12 epochs on data/mnist-small
  nn train --print-config > my.toml          # the effective config; edit it, then:
  nn train --config my.toml --lr 3e-4        # flags override the file
  nn train --data ~/cifar-10-batches-bin --hidden 1024,512 --batch-norm --dropout 0.3 --epochs 30
  nn train --init-from other.safetensors     # warm start from saved weights
  nn train --resume runs/run-003             # continue an interrupted run

Ctrl-C stops after the current step and keeps the last completed epoch's checkpoint.")]
    Train(TrainArgs),
    /// Run the babysitting checklist: initial loss ≈ ln C, regularisation raises the loss,
    /// overfitting a tiny subset, gradient check.
    #[command(after_help = "\
Examples:
  nn sanity                                  # default model on the shipped data
  nn sanity --hidden 100 --activation tanh --l2 1e-3")]
    Sanity(SanityArgs),
    /// Learning-rate range test: train while raising the rate exponentially, plot the loss.
    #[command(
        name = "lr-find",
        after_help = "\
Examples:
  nn lr-find                                 # 1e-6 .. 1 in 100 steps, writes lr-find.svg
  nn lr-find --optimizer momentum --min-lr 1e-5 --max-lr 1 --steps 200"
    )]
    LrFind(LrFindArgs),
    /// The lecture's initialisation experiment: per-layer activation statistics and histograms.
    #[command(
        name = "init-stats",
        after_help = "\
Examples:
  nn init-stats                              # small, xavier, he × tanh, relu on a 10-layer 500-unit net
  nn init-stats --init xavier --activation tanh --layers 6 --width 256 --out init/"
    )]
    InitStats(InitStatsArgs),
    /// Hyperparameter search: random or grid, coarse to fine, trials in parallel.
    #[command(after_help = "\
Examples:
  nn search --trials 16 --epochs 2           # random lr × l2 search, ranked table, edge warnings
  nn search --grid 3 --space space.toml      # a 3-point-per-axis grid over the ranges in space.toml
  nn search --trials 16 --stages 2           # coarse, then fine around the best trials

Across machines (each trial is a standalone process; the directory must be shared):
  nn search --plan plan/ --trials 32         # writes plan/trial-000.toml …
  ls plan/trial-*.toml | xargs -P 4 -n 1 nn trial          # or: parallel nn trial ::: plan/trial-*.toml
  sbatch --array=0-31 --wrap 'nn trial plan/trial-$(printf %03d $SLURM_ARRAY_TASK_ID).toml'
  nn search --collect plan/                  # the ranked table of every finished trial

space.toml maps a config key to a range:
  \"train.lr\" = { log_uniform = { lo = 1e-4, hi = 1e-1 } }
  \"train.l2\" = { log_uniform = { lo = 1e-6, hi = 1e-2 } }
  \"model.dropout\" = { uniform = { lo = 0.0, hi = 0.5 } }")]
    Search(SearchArgs),
    /// Run one trial config written by `nn search --plan` and write its result next to it.
    #[command(after_help = "\
Examples:
  nn trial plan/trial-007.toml               # writes plan/trial-007/ and plan/trial-007.result.json")]
    Trial(TrialArgs),
    /// Evaluate saved models on a data split: accuracy, per-class metrics, confusion matrix.
    #[command(after_help = "\
Examples:
  nn eval runs/run-001                       # best checkpoint of a run on its test split
  nn eval runs/run-001/final.safetensors --split train
  nn eval runs/run-001 --ensemble runs/run-002 runs/run-003
  nn eval runs/run-001 --tta                 # average over flips and 1-pixel shifts")]
    Eval(EvalArgs),
    /// Print the predicted class and class probabilities of given images.
    #[command(after_help = "\
Examples:
  nn predict runs/run-001 --index 0,1,2      # test images 0..2 of the run's data set
  nn predict runs/run-001 --idx-file my-images-idx3-ubyte.gz")]
    Predict(PredictArgs),
}

/// Flags that describe a run; each overrides the same key of `--config`.
#[derive(Args, Debug, Default, Clone)]
pub struct ConfigArgs {
    /// TOML config file (see `nn train --print-config`); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory with MNIST / Fashion-MNIST IDX files or CIFAR-10 batches [default: shipped data/mnist-small].
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    pub data: Option<PathBuf>,
    /// Data format [default: auto, detected from the files].
    #[arg(long, value_enum, help_heading = "Data")]
    pub format: Option<DataFormat>,
    /// Use only the first N training examples (0: all).
    #[arg(long, value_name = "N", help_heading = "Data")]
    pub limit: Option<usize>,
    /// Use only the first N test examples (0: all).
    #[arg(long, value_name = "N", help_heading = "Data")]
    pub test_limit: Option<usize>,
    /// Fraction of training examples held out for validation, in [0, 1) [default: 0.1].
    #[arg(long, value_name = "F", help_heading = "Data")]
    pub val_fraction: Option<f64>,
    /// Preprocessing fitted on the training split [default: standardize].
    #[arg(long, value_enum, help_heading = "Data")]
    pub preprocess: Option<PreprocessKind>,
    /// Hidden layer widths, comma separated [default: 512,256].
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "H,..",
        help_heading = "Model"
    )]
    pub hidden: Option<Vec<usize>>,
    /// Hidden non-linearity [default: relu].
    #[arg(long, value_enum, help_heading = "Model")]
    pub activation: Option<ActivationName>,
    /// Weight initialiser [default: auto = the recommended one for the activation].
    #[arg(long, value_enum, help_heading = "Model")]
    pub init: Option<InitName>,
    /// Batch normalisation before every hidden activation [default: on].
    #[arg(long, help_heading = "Model", conflicts_with = "no_batch_norm")]
    pub batch_norm: bool,
    /// No batch normalisation.
    #[arg(long, help_heading = "Model")]
    pub no_batch_norm: bool,
    /// Dropout probability after every hidden activation, in [0, 1) [default: 0].
    #[arg(
        long,
        value_name = "P",
        help_heading = "Model",
        allow_negative_numbers = true
    )]
    pub dropout: Option<f64>,
    /// Update rule [default: adam].
    #[arg(long, value_enum, help_heading = "Optimisation")]
    pub optimizer: Option<OptimizerName>,
    /// Learning rate, > 0 [default: 1e-3].
    #[arg(
        long,
        value_name = "LR",
        help_heading = "Optimisation",
        allow_negative_numbers = true
    )]
    pub lr: Option<f64>,
    /// Momentum of `momentum` / `nesterov`, in [0, 1) [default: 0.9].
    #[arg(
        long,
        value_name = "M",
        help_heading = "Optimisation",
        allow_negative_numbers = true
    )]
    pub momentum: Option<f64>,
    /// Weight decay inside the optimiser (AdamW: decoupled) [default: 0].
    #[arg(
        long,
        value_name = "WD",
        help_heading = "Optimisation",
        allow_negative_numbers = true
    )]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule [default: cosine].
    #[arg(long, value_enum, help_heading = "Optimisation")]
    pub schedule: Option<ScheduleName>,
    /// Linear warm-up epochs before the schedule [default: 0].
    #[arg(long, value_name = "E", help_heading = "Optimisation")]
    pub warmup_epochs: Option<usize>,
    /// Gradient-norm clipping threshold [default: none].
    #[arg(
        long,
        value_name = "NORM",
        help_heading = "Optimisation",
        allow_negative_numbers = true
    )]
    pub clip_norm: Option<f64>,
    /// L2 regularisation strength λ, >= 0 [default: 1e-4].
    #[arg(
        long,
        value_name = "λ",
        help_heading = "Regularisation",
        allow_negative_numbers = true
    )]
    pub l2: Option<f64>,
    /// Label smoothing ε, in [0, 1) [default: 0].
    #[arg(
        long,
        value_name = "ε",
        help_heading = "Regularisation",
        allow_negative_numbers = true
    )]
    pub label_smoothing: Option<f64>,
    /// Early stopping: epochs without validation improvement [default: off].
    #[arg(long, value_name = "E", help_heading = "Regularisation")]
    pub patience: Option<usize>,
    /// Epochs, >= 1 [default: 12].
    #[arg(long, value_name = "E", help_heading = "Training loop")]
    pub epochs: Option<usize>,
    /// Mini-batch size, >= 1 [default: 128].
    #[arg(long, value_name = "B", help_heading = "Training loop")]
    pub batch_size: Option<usize>,
    /// Seed of every random choice [default: 231].
    #[arg(long, value_name = "S", help_heading = "Training loop")]
    pub seed: Option<u64>,
    /// Evaluate the test split after every epoch and stop once its accuracy reaches A, in (0, 1]
    /// (records the time to reach it in summary.json) [default: off].
    #[arg(
        long,
        value_name = "A",
        help_heading = "Training loop",
        allow_negative_numbers = true
    )]
    pub target_accuracy: Option<f64>,
    /// Do not reshuffle the training data each epoch (data order is part of the config).
    #[arg(long, help_heading = "Training loop")]
    pub no_shuffle: bool,
    /// Run directory [default: the next free runs/run-NNN].
    #[arg(long, value_name = "DIR", help_heading = "Training loop")]
    pub out: Option<PathBuf>,
}

impl ConfigArgs {
    /// Loads `--config` (or the defaults) and applies every flag given.
    ///
    /// # Errors
    /// [`crate::CliError::Config`] for a bad file or value.
    pub fn effective(&self, threads: Option<usize>) -> crate::Result<RunConfig> {
        let mut c = match &self.config {
            Some(p) => RunConfig::from_file(p)?,
            None => RunConfig::default(),
        };
        self.apply(&mut c);
        if threads.is_some() {
            c.threads = threads;
        }
        c.validate()?;
        Ok(c)
    }

    /// Applies the flags that were given to `c`.
    pub fn apply(&self, c: &mut RunConfig) {
        macro_rules! set {
            ($flag:ident => $($dst:tt)+) => {
                if let Some(v) = self.$flag.clone() {
                    $($dst)+ = v;
                }
            };
        }
        if let Some(d) = &self.data {
            c.data.path = Some(d.clone());
        }
        set!(format => c.data.format);
        set!(limit => c.data.limit);
        set!(test_limit => c.data.test_limit);
        set!(val_fraction => c.data.val_fraction);
        set!(preprocess => c.data.preprocess);
        set!(hidden => c.model.hidden);
        set!(activation => c.model.activation);
        set!(init => c.model.init);
        if self.batch_norm {
            c.model.batch_norm = true;
        }
        if self.no_batch_norm {
            c.model.batch_norm = false;
        }
        set!(dropout => c.model.dropout);
        set!(optimizer => c.train.optimizer);
        set!(lr => c.train.lr);
        set!(momentum => c.train.momentum);
        set!(weight_decay => c.train.weight_decay);
        set!(schedule => c.train.schedule);
        set!(warmup_epochs => c.train.warmup_epochs);
        if self.clip_norm.is_some() {
            c.train.clip_norm = self.clip_norm;
        }
        set!(l2 => c.train.l2);
        set!(label_smoothing => c.train.label_smoothing);
        if self.patience.is_some() {
            c.train.patience = self.patience;
        }
        set!(epochs => c.train.epochs);
        set!(batch_size => c.train.batch_size);
        set!(seed => c.train.seed);
        if self.target_accuracy.is_some() {
            c.train.target_accuracy = self.target_accuracy;
        }
        if self.no_shuffle {
            c.train.shuffle = false;
        }
        if self.out.is_some() {
            c.out = self.out.clone();
        }
    }
}

/// `nn train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The run's settings.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the effective config as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Start from the weights in this safetensors file (written by `nn train` or nn-core's `Network::save`).
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Continue an interrupted run from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Skip the babysitting checks (`nn sanity`) that run before training and go to sanity.json.
    #[arg(long)]
    pub no_sanity: bool,
}

/// `nn sanity`.
#[derive(Args, Debug)]
pub struct SanityArgs {
    /// The model and data to check.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `nn lr-find`.
#[derive(Args, Debug)]
pub struct LrFindArgs {
    /// The model and data.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Smallest learning rate tried.
    #[arg(
        long,
        default_value_t = 1e-6,
        value_name = "LR",
        allow_negative_numbers = true
    )]
    pub min_lr: f64,
    /// Largest learning rate tried.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "LR",
        allow_negative_numbers = true
    )]
    pub max_lr: f64,
    /// Steps of the test.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub steps: usize,
}

/// `nn init-stats`.
#[derive(Args, Debug)]
pub struct InitStatsArgs {
    /// Initialisers to compare, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "small,xavier,he"
    )]
    pub init: Vec<InitName>,
    /// Activations to compare, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "tanh,relu")]
    pub activation: Vec<ActivationName>,
    /// Hidden layers.
    #[arg(long, default_value_t = 10, value_name = "L")]
    pub layers: usize,
    /// Units per hidden layer (also the input width).
    #[arg(long, default_value_t = 500, value_name = "H")]
    pub width: usize,
    /// Batch size of the unit-Gaussian input.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch: usize,
    /// Histogram bins per layer.
    #[arg(long, default_value_t = 30)]
    pub bins: usize,
    /// Seed.
    #[arg(long, default_value_t = 231)]
    pub seed: u64,
    /// Directory for the histograms (SVG) and report.html [default: the next free runs/init-stats-NNN].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `nn search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// The base config every trial starts from.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Search ranges: a TOML file mapping config keys to ranges [default: train.lr and train.l2, log-uniform].
    #[arg(long, value_name = "FILE")]
    pub space: Option<PathBuf>,
    /// Random trials per stage.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub trials: usize,
    /// Grid search with this many points per axis instead of random sampling.
    #[arg(long, value_name = "POINTS")]
    pub grid: Option<usize>,
    /// Coarse-to-fine stages (each narrows the ranges around the best trials).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub stages: usize,
    /// Trials run at the same time [default: 1 per core].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Write one config per trial into DIR and exit (run them with `nn trial`).
    #[arg(long, value_name = "DIR", conflicts_with = "collect")]
    pub plan: Option<PathBuf>,
    /// Rank the finished trials in DIR (from `nn search --plan` + `nn trial`).
    #[arg(long, value_name = "DIR")]
    pub collect: Option<PathBuf>,
}

/// `nn trial`.
#[derive(Args, Debug)]
pub struct TrialArgs {
    /// A trial config written by `nn search --plan`.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// `nn eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory or a .safetensors checkpoint.
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// More models to average with MODEL (an ensemble of their probabilities).
    #[arg(long, value_name = "MODEL", num_args = 1..)]
    pub ensemble: Vec<PathBuf>,
    /// Test-time augmentation: average over horizontal flips (not for digits) and 1-pixel shifts.
    #[arg(long)]
    pub tta: bool,
    /// Which split.
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
    /// Data directory [default: the run's own data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Data format [default: the run's, or detected].
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Use only the first N examples of the split.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// A data split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// The training files (including the part a run held out for validation).
    Train,
    /// The test files.
    Test,
}

/// `nn predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A run directory or a .safetensors checkpoint.
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Indices of test images of the run's data set, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "I,..",
        conflicts_with = "idx_file"
    )]
    pub index: Vec<usize>,
    /// An IDX image file (raw or .gz) of images to classify.
    #[arg(long, value_name = "FILE")]
    pub idx_file: Option<PathBuf>,
    /// Data directory for --index [default: the run's own data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// How many top classes to print per image.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
}
