//! `nn eval`: accuracy, per-class metrics and the confusion matrix of saved models on a split,
//! optionally as an ensemble and with test-time augmentation.

use super::model::{self, Loaded};
use crate::cli::{EvalArgs, Split};
use crate::config::DataFormat;
use crate::data;
use crate::error::{CliError, Result};
use crate::Ui;
use ndarray::{Array2, ArrayView2};
use nn_preprocess::{Dataset, ImageShape};
use nn_train::eval::{augment, ensemble_mean, standard_augmentations, ConfusionMatrix};

/// Probabilities of one model, averaged over the test-time augmentations when `tta` is set.
fn model_probs(
    m: &Loaded,
    x: ArrayView2<'_, f32>,
    shape: Option<ImageShape>,
    tta: bool,
    flip: bool,
) -> Result<Array2<f32>> {
    if !tta {
        return m.probabilities(x);
    }
    let shape = shape.ok_or_else(|| {
        CliError::usage(
            "--tta needs image data",
            "drop --tta for data without an image shape",
        )
    })?;
    let mut all = Vec::new();
    for a in standard_augmentations(flip, 1) {
        let xa = augment(x, &shape, a)?;
        all.push(m.probabilities(xa.view())?);
    }
    let views: Vec<_> = all.iter().map(|a| a.view()).collect();
    Ok(ensemble_mean(&views)?)
}

/// Loads the split a command names.
///
/// # Errors
/// [`CliError::Data`].
pub fn load_split(
    m: &Loaded,
    data_dir: Option<&std::path::Path>,
    format: Option<DataFormat>,
    split: Split,
    limit: Option<usize>,
) -> Result<(Dataset, DataFormat)> {
    let mut cfg = m.data_config();
    if let Some(d) = data_dir {
        cfg.path = Some(d.to_path_buf());
        cfg.format = DataFormat::Auto;
    }
    if let Some(f) = format {
        cfg.format = f;
    }
    let (train, test, fmt) = data::load_raw(&data::data_dir(&cfg), cfg.format)?;
    let mut d = match split {
        Split::Train => train,
        Split::Test => test,
    };
    if let Some(n) = limit.filter(|&n| n > 0) {
        d = d.head(n)?;
    }
    Ok((d, fmt))
}

/// Runs `nn eval`.
///
/// # Errors
/// Bad models, data or flags.
pub fn run(args: &EvalArgs, ui: &Ui) -> Result<()> {
    let first = model::load(&args.model)?;
    let (data, fmt) = load_split(
        &first,
        args.data.as_deref(),
        args.format,
        args.split,
        args.limit,
    )?;
    // Mirrored digits are other digits: flips only for natural images.
    let flip = fmt == DataFormat::Cifar10;
    let mut models = vec![first];
    for p in &args.ensemble {
        models.push(model::load(p)?);
    }
    let mut probs = Vec::new();
    for m in &models {
        probs.push(model_probs(
            m,
            data.features(),
            data.image_shape(),
            args.tta,
            flip,
        )?);
    }
    let views: Vec<_> = probs.iter().map(|a| a.view()).collect();
    let mean = ensemble_mean(&views)?;
    let labels: Vec<usize> = data.labels().iter().map(|&l| usize::from(l)).collect();
    let cm = ConfusionMatrix::from_scores(mean.view(), &labels)?;
    let report = cm.report();
    let singles: Vec<f64> = probs
        .iter()
        .map(|p| ConfusionMatrix::from_scores(p.view(), &labels).map(|c| c.accuracy()))
        .collect::<std::result::Result<_, _>>()?;
    let split = match args.split {
        Split::Train => "train",
        Split::Test => "test",
    };
    ui.json(&serde_json::json!({
        "command": "eval", "split": split, "examples": data.len(), "models": models.iter().map(|m| &m.path).collect::<Vec<_>>(),
        "tta": args.tta, "accuracy": report.accuracy, "model_accuracies": singles,
        "report": report, "confusion": cm,
    }));
    if ui.is_quiet() {
        println!("{:.4}", report.accuracy);
    }
    ui.info(&format!(
        "{} on {} {split} examples{}{}",
        models
            .iter()
            .map(|m| m.path.display().to_string())
            .collect::<Vec<_>>()
            .join(" + "),
        data.len(),
        if models.len() > 1 {
            format!(" (ensemble of {})", models.len())
        } else {
            String::new()
        },
        if args.tta {
            " with test-time augmentation"
        } else {
            ""
        },
    ));
    if models.len() > 1 {
        for (m, a) in models.iter().zip(&singles) {
            ui.info(&format!("  {:<40} accuracy {:.4}", m.path.display(), a));
        }
    }
    ui.info(&format!("accuracy {:.4}\n", report.accuracy));
    let names = data.class_names();
    ui.info("per class (precision, recall, F1, support):");
    let mut table = String::new();
    for (c, m) in report.classes.iter().enumerate() {
        table.push_str(&format!(
            "{:>3} {:<12} {:>9.4} {:>9.4} {:>9.4} {:>7}\n",
            c,
            names.get(c).map(String::as_str).unwrap_or(""),
            m.precision,
            m.recall,
            m.f1,
            m.support
        ));
    }
    table.push_str(&format!(
        "    {:<12} {:>9.4} {:>9.4} {:>9.4} {:>7}",
        "macro", report.macro_precision, report.macro_recall, report.macro_f1, report.total
    ));
    ui.info(&table);
    ui.info(&format!(
        "\nconfusion matrix (rows: true class, columns: predicted):\n{cm}"
    ));
    Ok(())
}
