//! `nn predict`: class and probabilities of given images from a saved model.

use super::eval::load_split;
use super::model;
use crate::cli::{PredictArgs, Split};
use crate::error::{CliError, Result};
use crate::Ui;
use ndarray::Array2;

/// Runs `nn predict`.
///
/// # Errors
/// Bad model, data, indices or image file.
pub fn run(args: &PredictArgs, ui: &Ui) -> Result<()> {
    let m = model::load(&args.model)?;
    let (x, labels, names): (Array2<f32>, Vec<Option<u8>>, Vec<String>) = if let Some(file) =
        &args.idx_file
    {
        let images = nn_preprocess::readers::idx::read_idx_images_file(file).map_err(|e| {
            CliError::Data {
                path: file.clone(),
                message: e.to_string(),
                hint: Some("pass an IDX image file (magic 2051), raw or gzip-compressed".into()),
            }
        })?;
        let x = images.to_f32()?;
        if x.ncols() != m.net.input_dim() {
            return Err(CliError::Data {
                path: file.clone(),
                message: format!(
                    "it holds {}x{} images ({} pixels each), but the model takes {} features per image",
                    images.rows,
                    images.cols,
                    x.ncols(),
                    m.net.input_dim()
                ),
                hint: Some("pass images of the size the model was trained on".into()),
            });
        }
        let names = class_names(&m.data_config());
        let n = x.nrows();
        (x, vec![None; n], names)
    } else {
        if args.index.is_empty() {
            return Err(CliError::usage(
                "nothing to predict",
                "name test images with --index 0,1,2 or an image file with --idx-file FILE",
            ));
        }
        let (data, _) = load_split(&m, args.data.as_deref(), None, Split::Test, None)?;
        if let Some(&bad) = args.index.iter().find(|&&i| i >= data.len()) {
            return Err(CliError::usage(
                format!(
                    "--index {bad} is out of range: the test split has {} images",
                    data.len()
                ),
                format!("use indices 0..{}", data.len().saturating_sub(1)),
            ));
        }
        let sel = data.select(&args.index)?;
        let labels = sel.labels().iter().map(|&l| Some(l)).collect();
        (
            sel.features().to_owned(),
            labels,
            data.class_names().to_vec(),
        )
    };
    let probs = m.probabilities(x.view())?;
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    for (i, (row, label)) in probs.outer_iter().zip(&labels).enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let top: Vec<usize> = order.iter().copied().take(args.top.max(1)).collect();
        let id = args.index.get(i).copied().unwrap_or(i);
        ui.json(&serde_json::json!({
            "image": id, "predicted": top[0], "class": name(top[0]),
            "label": label, "probabilities": row.to_vec(),
        }));
        if ui.is_quiet() {
            println!("{}", top[0]);
        }
        let truth = label.map_or(String::new(), |l| {
            format!(" (true: {})", name(usize::from(l)))
        });
        let alts: Vec<String> = top
            .iter()
            .map(|&c| format!("{} {:.3}", name(c), row[c]))
            .collect();
        ui.info(&format!(
            "image {id}: {}{truth}   [{}]",
            name(top[0]),
            alts.join(", ")
        ));
    }
    Ok(())
}

/// The class names of the data set a model was trained on, from its saved data config: the
/// format named there, or the one detected from the data directory when it still exists. Empty
/// (classes print as numbers) when neither tells.
fn class_names(config: &crate::config::DataConfig) -> Vec<String> {
    use crate::config::DataFormat;
    let format = match config.format {
        DataFormat::Auto => {
            crate::data::detect_format(&crate::data::data_dir(config)).unwrap_or(DataFormat::Auto)
        }
        known => known,
    };
    let names: &[&str] = match format {
        DataFormat::Mnist => nn_preprocess::IdxSet::Mnist.class_names(),
        DataFormat::FashionMnist => nn_preprocess::IdxSet::FashionMnist.class_names(),
        DataFormat::Cifar10 => &nn_preprocess::CIFAR10_CLASSES,
        DataFormat::Auto => &[],
    };
    names.iter().map(|s| s.to_string()).collect()
}
