//! `modelops predict`: batch predictions from a model package for a file in the Kaggle test schema.

use clap::Args;
use modelops_pipeline::predict::predict_file;
use std::path::PathBuf;

use crate::context::Context;
use crate::progress::StepPrinter;

/// Arguments of `modelops predict`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelops predict --model outputs/models/ensemble-20261126-101500 --input test.csv \
                        --output outputs/predictions/test_predictions.csv\n  modelops predict --stage Production \
                        --input batch.parquet --output preds.parquet"
)]
pub struct PredictArgs {
    /// The model: a package directory, or a registry URI (models:/name/N, models:/name/Production,
    /// models:/name@alias, runs:/<run_id>/ensemble_model).
    #[arg(
        long,
        value_name = "PATH|URI",
        required_unless_present = "stage",
        conflicts_with = "stage"
    )]
    pub model: Option<String>,
    /// Shorthand for models:/<model name>/<STAGE>.
    #[arg(long, value_name = "STAGE", value_parser = ["Production", "Staging"])]
    pub stage: Option<String>,
    /// Input rows (.csv or .parquet): Store, DayOfWeek, Date, Open, Promo, StateHoliday, SchoolHoliday; optional Id
    /// and other columns are carried through.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output file (.csv or .parquet): the input columns in input order plus Predicted_Sales.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs `modelops predict`.
pub fn exec(args: PredictArgs, ctx: &Context) -> anyhow::Result<u8> {
    let uri = match (&args.model, &args.stage) {
        (Some(m), _) => m.clone(),
        (None, Some(stage)) => format!("models:/{}/{stage}", ctx.model_name),
        (None, None) => anyhow::bail!("give --model PATH|URI or --stage Production|Staging"),
    };
    let (package_dir, label) = crate::commands::model_uri::resolve(&uri, ctx)?;
    let printer = StepPrinter::new(ctx.quiet);
    let report = predict_file(&package_dir, label, &args.input, &args.output, &printer)?;
    println!(
        "{} predictions ({} … {}, {} closed rows → 0) written to {}",
        report.n_predictions,
        report.date_range.start,
        report.date_range.end,
        report.closed_rows,
        report.output_path.display()
    );
    println!(
        "Metadata: {}",
        modelops_pipeline::predict::metadata_path(&report.output_path).display()
    );
    Ok(crate::commands::EXIT_OK)
}
