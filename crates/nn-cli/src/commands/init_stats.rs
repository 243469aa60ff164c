//! `nn init-stats`: the lecture's initialisation experiment for initialisers × activations.

use crate::cli::InitStatsArgs;
use crate::error::{CliError, Result};
use crate::report::{self, Section};
use crate::svg::{self, Hist, Series};
use crate::Ui;
use nn_init::{init_stats, InitStatsConfig};
use rand::SeedableRng;

/// Runs the experiment for every pair and writes the table, histograms and report.
///
/// # Errors
/// [`CliError::Usage`] for zero sizes; I/O errors.
pub fn run(args: &InitStatsArgs, ui: &Ui) -> Result<()> {
    for (name, v) in [
        ("--layers", args.layers),
        ("--width", args.width),
        ("--batch", args.batch),
        ("--bins", args.bins),
    ] {
        if v == 0 {
            return Err(CliError::usage(
                format!("{name} must be at least 1"),
                format!("e.g. {name} 10"),
            ));
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::next_run_dir(std::path::Path::new("runs"), "init-stats"));
    report::create_dir(&out)?;
    let mut sections = Vec::new();
    let mut std_series = Vec::new();
    let mut grad_series = Vec::new();
    let mut json_rows = Vec::new();
    for &act_name in &args.activation {
        for &init_name in &args.init {
            let activation = act_name.activation();
            let config = InitStatsConfig {
                batch_size: args.batch,
                input_dim: args.width,
                hidden_dim: args.width,
                hidden_layers: args.layers,
                init: init_name.init(activation),
                activation,
                bins: args.bins,
                ..InitStatsConfig::default()
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
            let r = init_stats::<f32, _>(&config, &mut rng)?;
            let tag = format!("{}-{}", act_name_str(act_name), init_str(init_name));
            let text = r.to_string();
            ui.info(&text);
            let hists: Vec<Hist> = r
                .layers
                .iter()
                .map(|l| Hist {
                    label: format!("layer {} (std {:.2e})", l.layer, l.std),
                    low: l.histogram.low,
                    high: l.histogram.high,
                    counts: l.histogram.counts.clone(),
                })
                .collect();
            let svg_text = svg::histograms(&format!("activations per layer: {tag}"), &hists);
            report::write_atomic(&out.join(format!("hist-{tag}.svg")), svg_text.as_bytes())?;
            std_series.push(Series {
                name: tag.clone(),
                points: r.layers.iter().map(|l| (l.layer as f64, l.std)).collect(),
            });
            grad_series.push(Series {
                name: tag.clone(),
                points: r
                    .layers
                    .iter()
                    .map(|l| (l.layer as f64, l.grad_std))
                    .collect(),
            });
            json_rows.push(
                serde_json::json!({ "activation": act_name, "init": init_name, "report": r }),
            );
            sections.push(Section {
                title: tag,
                text,
                svgs: vec![svg_text],
            });
        }
    }
    let std_svg = svg::line_chart(
        "activation std per layer",
        "layer",
        "std",
        &std_series,
        true,
    );
    let grad_svg = svg::line_chart(
        "gradient std per layer",
        "layer",
        "grad std",
        &grad_series,
        true,
    );
    report::write_atomic(&out.join("std.svg"), std_svg.as_bytes())?;
    report::write_atomic(&out.join("grad-std.svg"), grad_svg.as_bytes())?;
    sections.insert(
        0,
        Section {
            title: "Summary".into(),
            text: String::new(),
            svgs: vec![std_svg, grad_svg],
        },
    );
    let json =
        serde_json::to_vec_pretty(&json_rows).map_err(|e| CliError::Library(e.to_string()))?;
    report::write_atomic(&out.join("init-stats.json"), &json)?;
    let html = report::html("Initialisation experiment", &sections);
    report::write_atomic(&out.join("report.html"), html.as_bytes())?;
    ui.info(&format!("wrote {}", out.join("report.html").display()));
    ui.json(&serde_json::json!({ "command": "init-stats", "out": out, "runs": json_rows }));
    if ui.is_quiet() {
        println!("{}", out.display());
    }
    Ok(())
}

fn act_name_str(a: crate::config::ActivationName) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn init_str(i: crate::config::InitName) -> String {
    serde_json::to_value(i)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}
