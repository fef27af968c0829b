//! `modelops predict`: batch predictions from a model package for a file in the Kaggle test schema. Every
//! prediction is also recorded in the prediction log (source `batch`) for drift monitoring, unless `--no-log`;
//! a logging failure is a warning, never a lost prediction file.

use clap::Args;
use modelops_pipeline::predict::predict_file_with;
use modelops_serve::BatchLogger;
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
    /// Do not record the predictions in the prediction log (they are logged by default, for `monitor drift`).
    #[arg(long)]
    pub no_log: bool,
    /// Database of the prediction log. Default: the tracking store's database.
    #[arg(long, value_name = "URI", env = "MODELOPS_PREDICTION_LOG_URI")]
    pub prediction_log_uri: Option<String>,
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
    // Where the log goes is settled before predicting, so logging can run alongside the prediction.
    let log_target = if args.no_log {
        None
    } else {
        let uri = log_uri(&args, ctx);
        if uri.is_none() {
            eprintln!(
                "warning: the tracking store {} is remote, so the predictions will be written but NOT logged for \
                 monitoring; give the prediction log's database with --prediction-log-uri",
                ctx.tracking_uri
            );
        }
        uri
    };
    let log_label = modelops_serve::LogLabel {
        source: "batch".into(),
        model_name: label.model_name.clone().unwrap_or_default(),
        model_version: label.model_version.clone().unwrap_or_default(),
        model_stage: label.model_stage.clone().unwrap_or_default(),
    };
    let mut logger: Option<Result<BatchLogger, modelops_serve::ServeError>> = None;
    let started = std::time::Instant::now();
    let predicted = predict_file_with(
        &package_dir,
        label,
        &args.input,
        &args.output,
        &printer,
        &mut |chunk| {
            let Some(uri) = &log_target else { return };
            let started = logger
                .get_or_insert_with(|| BatchLogger::start(uri, &log_label, chunk.spec, started));
            if let Ok(logger) = started {
                logger.submit(chunk.rows, Some(chunk.features), chunk.predictions);
            }
        },
    );
    // The writer finishes what it was given either way, before the process can exit under it.
    let logged = logger.map(|started| started.and_then(BatchLogger::finish));
    let report = match predicted {
        Ok(report) => report,
        Err(err) => {
            if let Some(Ok(rows)) = &logged {
                eprintln!(
                    "note: {rows} predictions made before the failure are in the prediction log (source batch)"
                );
            }
            return Err(err.into());
        }
    };
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
    let Some(uri) = log_target else {
        if args.no_log {
            println!("Prediction log: not recorded (--no-log)");
        }
        return Ok(crate::commands::EXIT_OK);
    };
    match logged {
        Some(Ok(rows)) => {
            println!("Prediction log: {rows} predictions recorded in {uri} (source batch)")
        }
        Some(Err(err)) => eprintln!(
            "warning: the predictions were written to {}, but logging them for monitoring failed: {err:#}\n\
             (monitor drift will not see this batch; run again with --prediction-log-uri, or --no-log to skip)",
            report.output_path.display()
        ),
        None => println!("Prediction log: nothing to record (no rows)"),
    }
    Ok(crate::commands::EXIT_OK)
}

/// The prediction log's database: `--prediction-log-uri`, else the tracking store's own database.
fn log_uri(args: &PredictArgs, ctx: &Context) -> Option<String> {
    match &args.prediction_log_uri {
        Some(uri) => Some(super::serve::absolutize_sqlite(uri, &ctx.project_dir)),
        None => modelops_serve::log_uri_for_tracking(&ctx.tracking_uri),
    }
}
