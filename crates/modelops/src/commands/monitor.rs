//! `modelops monitor`: monitoring over the prediction log.
//!
//! - `actuals` records actual sales so live performance per model version can be computed;
//! - `drift` compares a window of logged traffic with the reference profile in the serving model version's package
//!   and writes a JSON + HTML report (plus `latest.*`), records the check as a run in experiment
//!   `rossmann-monitoring`, and exits [`EXIT_DRIFT_DETECTED`] on dataset drift;
//! - `performance` scores logged predictions against recorded actuals: RMSPE and MAE per model version per ISO
//!   week, with an alert line for each week above the validation threshold.
//!
//! Wiring only: the statistics live in `modelops-monitor`, the log in `modelops-serve`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use modelops_features::calendar::format_day;
use modelops_monitor::{
    DriftConfig, DriftReport, FeatureDrift, MonitoredRow, MonitoredRows, PerformanceThresholds,
    ReferenceProfile, ReferenceWindow, ScoredPrediction,
};
use modelops_serve::PredictionRecord;

use crate::context::Context;

use super::{EXIT_DRIFT_DETECTED, EXIT_PERFORMANCE_ALERT};

/// The experiment drift checks are recorded in.
pub const MONITORING_EXPERIMENT: &str = "rossmann-monitoring";

/// Monitoring subcommands.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Record actual sales (Store, Date, Sales; train.csv's layout works) in the prediction log's database.
    /// Idempotent: a (Store, Date) recorded again keeps one row with the newest value.
    Actuals(ActualsArgs),
    /// Drift report: logged traffic vs the training profile in the model package. Exit 0 no dataset drift,
    /// 5 dataset drift, 1 error.
    Drift(DriftArgs),
    /// Live RMSPE and MAE per model version per ISO week (needs `monitor actuals`); exit 6 when a week is above
    /// the threshold.
    Performance(PerformanceArgs),
}

/// Arguments of `monitor actuals`.
#[derive(Debug, Args)]
pub struct ActualsArgs {
    /// CSV or parquet file with Store, Date and Sales columns.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Database of the prediction log. Default: the tracking store's database.
    #[arg(long, value_name = "URI", env = "MODELOPS_PREDICTION_LOG_URI")]
    pub prediction_log_uri: Option<String>,
}

/// Which time a window selects rows by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WindowOn {
    /// When the prediction was logged (UTC): "the traffic of the last 7 days".
    Logged,
    /// The day predicted (the row's Date): "the traffic about November", e.g. a batch of future dates.
    Date,
}

/// Which training rows form the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReferenceWindowArg {
    /// Every training month (the whole training distribution).
    #[value(alias = "full")]
    All,
    /// Only the training months that occur in the window (seasonal features compared with the same season).
    SameMonths,
}

/// Arguments of `monitor drift`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelops monitor drift --days 7\n  modelops monitor drift --since 2015-11-01 \
                        --until 2015-12-31 --window-on date --reference-window same-months\n\nExit codes: 0 no \
                        dataset drift, 5 dataset drift detected, 1 error (e.g. no traffic in the window)."
)]
pub struct DriftArgs {
    /// The window: the last N days (by default of logging time).
    #[arg(long, value_name = "N", conflicts_with_all = ["since", "until"])]
    pub days: Option<u32>,
    /// First day of the window (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub since: Option<NaiveDate>,
    /// Last day of the window (YYYY-MM-DD, inclusive; default: today).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub until: Option<NaiveDate>,
    /// Select the window by logging time or by the day predicted.
    #[arg(long, value_enum, default_value_t = WindowOn::Logged)]
    pub window_on: WindowOn,
    /// Registered version to check. Default: the version that served the window's traffic (the Production one
    /// when several did). Only that version's traffic is compared.
    #[arg(long, value_name = "N")]
    pub model_version: Option<i64>,
    /// Report folder. Default: <outputs>/monitoring.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Reference: all training months, or only the months of the window.
    #[arg(long, value_enum, default_value_t = ReferenceWindowArg::All)]
    pub reference_window: ReferenceWindowArg,
    /// Significance level of the KS and chi-square tests.
    #[arg(long, default_value_t = 0.05, value_name = "P")]
    pub p_value_threshold: f64,
    /// Total variation distance (with the ½) above which a categorical or binary feature has really changed.
    #[arg(long, default_value_t = 0.1, value_name = "TVD")]
    pub tvd_threshold: f64,
    /// PSI threshold (reported for every feature; decides only under a PSI rule).
    #[arg(long, default_value_t = 0.2, value_name = "PSI")]
    pub psi_threshold: f64,
    /// Dataset drift when the share of drifted features exceeds this.
    #[arg(long, default_value_t = 0.5, value_name = "SHARE")]
    pub drift_share_threshold: f64,
    /// Features with fewer values than this on either side are not tested.
    #[arg(long, default_value_t = 30, value_name = "ROWS")]
    pub min_rows: u64,
    /// Database of the prediction log. Default: the tracking store's database.
    #[arg(long, value_name = "URI", env = "MODELOPS_PREDICTION_LOG_URI")]
    pub prediction_log_uri: Option<String>,
    /// Do not record the check as a run in the tracking store.
    #[arg(long)]
    pub no_track: bool,
}

/// Arguments of `monitor performance`.
#[derive(Debug, Args)]
pub struct PerformanceArgs {
    /// Only this model version.
    #[arg(long, value_name = "N")]
    pub model_version: Option<String>,
    /// Alert above this weekly RMSPE. Default: the validation gate's threshold (thresholds.rmspe, 0.10).
    #[arg(long, value_name = "RMSPE")]
    pub rmspe_threshold: Option<f64>,
    /// Also alert above this weekly MAE.
    #[arg(long, value_name = "MAE")]
    pub mae_threshold: Option<f64>,
    /// Database of the prediction log. Default: the tracking store's database.
    #[arg(long, value_name = "URI", env = "MODELOPS_PREDICTION_LOG_URI")]
    pub prediction_log_uri: Option<String>,
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a date as YYYY-MM-DD ({e})"))
}

/// Runs a monitoring subcommand.
pub fn exec(command: MonitorCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        MonitorCommand::Actuals(args) => actuals(args, ctx),
        MonitorCommand::Drift(args) => drift(args, ctx),
        MonitorCommand::Performance(args) => performance(args, ctx),
    }
}

/// The prediction log's database: the flag, else the tracking store's own database.
fn log_uri(flag: Option<&str>, ctx: &Context) -> anyhow::Result<String> {
    match flag {
        Some(uri) => Ok(super::serve::absolutize_sqlite(uri, &ctx.project_dir)),
        None => modelops_serve::log_uri_for_tracking(&ctx.tracking_uri).with_context(|| {
            format!(
                "the tracking store {} is remote; give the prediction log's database with --prediction-log-uri",
                ctx.tracking_uri
            )
        }),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn open_log(uri: &str) -> anyhow::Result<modelops_serve::PredictionLog> {
    modelops_serve::PredictionLog::open(uri)
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("cannot open the prediction log at {uri}"))
}

fn actuals(args: ActualsArgs, ctx: &Context) -> anyhow::Result<u8> {
    let uri = log_uri(args.prediction_log_uri.as_deref(), ctx)?;
    let input = if args.input.is_absolute() {
        args.input.clone()
    } else {
        ctx.project_dir.join(&args.input)
    };
    let actuals = modelops_serve::actuals::read_actuals(&input).map_err(|e| anyhow::anyhow!(e))?;
    let written = runtime()?.block_on(async {
        let log = open_log(&uri).await?;
        log.record_actuals(&actuals)
            .await
            .map_err(|e| anyhow::anyhow!(e))
    })?;
    if !ctx.quiet {
        let first = actuals
            .iter()
            .map(|a| a.date)
            .min()
            .map(format_day)
            .unwrap_or_default();
        let last = actuals
            .iter()
            .map(|a| a.date)
            .max()
            .map(format_day)
            .unwrap_or_default();
        let mut stores: Vec<u32> = actuals.iter().map(|a| a.store).collect();
        stores.sort_unstable();
        stores.dedup();
        eprintln!(
            "Recorded {written} actual sales ({} stores, {first} … {last}) from {} into {uri}",
            stores.len(),
            input.display()
        );
    }
    Ok(super::EXIT_OK)
}

/// The window a drift check reads, checked.
#[derive(Clone, Debug)]
struct Window {
    on: WindowOn,
    /// Inclusive bounds: instants for `Logged`, compared by the record's time; days for `Date`.
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    description: String,
}

impl Window {
    fn from_args(args: &DriftArgs, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let day_start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let day_end = |d: NaiveDate| d.and_hms_milli_opt(23, 59, 59, 999).map(|t| t.and_utc());
        let on = args.window_on;
        let what = match on {
            WindowOn::Logged => "logged",
            WindowOn::Date => "predicting days",
        };
        if let Some(days) = args.days {
            if days == 0 {
                bail!("--days must be at least 1");
            }
            let start = now - chrono::Duration::days(i64::from(days));
            return Ok(Self {
                on,
                start: Some(start),
                end: Some(now),
                description: format!("{what} in the last {days} day(s)"),
            });
        }
        if args.since.is_none() && args.until.is_none() {
            // Default: the last 7 days, as the reference's `--days 7`.
            let start = now - chrono::Duration::days(7);
            return Ok(Self {
                on,
                start: Some(start),
                end: Some(now),
                description: format!("{what} in the last 7 days"),
            });
        }
        if let (Some(since), Some(until)) = (args.since, args.until)
            && since > until
        {
            bail!("--since {since} is after --until {until}; swap them");
        }
        Ok(Self {
            on,
            start: args.since.and_then(day_start),
            end: args.until.and_then(day_end).or(Some(now)),
            description: format!(
                "{what} {} … {}",
                args.since.map_or("the beginning".into(), |d| d.to_string()),
                args.until.map_or("today".into(), |d| d.to_string())
            ),
        })
    }

    /// The logging-time lower bound worth asking the database for.
    fn logged_since(&self) -> Option<DateTime<Utc>> {
        match self.on {
            WindowOn::Logged => self.start,
            WindowOn::Date => None,
        }
    }

    fn contains(&self, record: &PredictionRecord, day: NaiveDate) -> bool {
        let at = match self.on {
            WindowOn::Logged => record.logged_at,
            WindowOn::Date => match day.and_hms_opt(12, 0, 0) {
                Some(t) => t.and_utc(),
                None => return false,
            },
        };
        self.start.is_none_or(|s| at >= s) && self.end.is_none_or(|e| at <= e)
    }
}

/// The registered version whose traffic and profile a check uses.
fn choose_version(
    args: &DriftArgs,
    ctx: &Context,
    in_window: &[(&PredictionRecord, NaiveDate)],
    registry: &modelops_pipeline::registry::RegistryClient,
) -> anyhow::Result<i64> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for (record, _) in in_window {
        if record.label.model_name == ctx.model_name
            && let Ok(version) = record.label.model_version.trim().parse::<i64>()
        {
            *counts.entry(version).or_default() += 1;
        }
    }
    let listed = || {
        counts
            .iter()
            .map(|(v, n)| format!("version {v}: {n} rows"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(version) = args.model_version {
        if !counts.contains_key(&version) {
            bail!(
                "no open-day traffic of {} version {version} in the window (found: {}); pick another \
                 --model-version or window",
                ctx.model_name,
                if counts.is_empty() {
                    "none from a registered version".into()
                } else {
                    listed()
                }
            );
        }
        return Ok(version);
    }
    match counts.len() {
        0 => bail!(
            "the window's traffic was not served by a registered version of {} (predictions made from a package \
             path carry no version); give --model-version N to compare it with that version's profile",
            ctx.model_name
        ),
        1 => Ok(counts.keys().next().copied().unwrap_or_default()),
        _ => {
            let production = registry
                .latest_in_stage(
                    &ctx.model_name,
                    modelops_tracking::registry::Stage::Production,
                )
                .ok()
                .flatten()
                .map(|v| v.version)
                .filter(|v| counts.contains_key(v));
            let chosen = production.unwrap_or_else(|| {
                counts
                    .iter()
                    .max_by_key(|(v, n)| (**n, **v))
                    .map(|(v, _)| *v)
                    .unwrap_or_default()
            });
            eprintln!(
                "note: the window holds traffic of several versions ({}); checking version {chosen} ({}); pass \
                 --model-version to choose",
                listed(),
                if production.is_some() {
                    "Production"
                } else {
                    "the most traffic"
                }
            );
            Ok(chosen)
        }
    }
}

fn monitored_rows(records: &[(&PredictionRecord, NaiveDate)]) -> MonitoredRows {
    let mut rows = MonitoredRows::with_capacity(records.len());
    for (r, date) in records {
        rows.push(&MonitoredRow {
            store: r.store_id,
            date: *date,
            day_of_week: r.day_of_week,
            promo: r.promo,
            state_holiday: &r.state_holiday,
            school_holiday: r.school_holiday,
            store_type: &r.store_type,
            assortment: &r.assortment,
            competition_distance: r.competition_distance,
            promo2: r.promo2,
            promo2_active: r.is_promo2_active,
            prediction: Some(r.prediction),
        });
    }
    rows
}

fn drift(args: DriftArgs, ctx: &Context) -> anyhow::Result<u8> {
    let now = Utc::now();
    let window = Window::from_args(&args, now)?;
    let config = DriftConfig {
        p_value_threshold: args.p_value_threshold,
        tvd_threshold: args.tvd_threshold,
        psi_threshold: args.psi_threshold,
        drift_share_threshold: args.drift_share_threshold,
        min_rows: args.min_rows,
        reference_window: match args.reference_window {
            ReferenceWindowArg::All => ReferenceWindow::Full,
            ReferenceWindowArg::SameMonths => ReferenceWindow::SameMonths,
        },
        ..DriftConfig::default()
    };
    config.validate()?;

    let uri = log_uri(args.prediction_log_uri.as_deref(), ctx)?;
    let records = runtime()?.block_on(async {
        let log = open_log(&uri).await?;
        log.predictions_since(window.logged_since())
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .context("cannot read the prediction log")
    })?;
    // Open days only: closed days are predicted 0 by rule and the reference profile holds open days only.
    let in_window: Vec<(&PredictionRecord, NaiveDate)> = records
        .iter()
        .filter(|r| r.open)
        .filter_map(|r| {
            NaiveDate::parse_from_str(&r.date, "%Y-%m-%d")
                .ok()
                .map(|d| (r, d))
        })
        .filter(|(r, d)| window.contains(r, *d))
        .collect();
    if in_window.is_empty() {
        bail!(
            "no logged open-day predictions {} in {uri}; widen the window (--days, --since/--until, --window-on) \
             or log traffic first (modelops predict / modelops serve)",
            window.description
        );
    }

    let registry = modelops_pipeline::registry::RegistryClient::open(&ctx.tracking_target())
        .with_context(|| format!("cannot open the model registry at {}", ctx.tracking_uri))?;
    let version = choose_version(&args, ctx, &in_window, &registry)?;
    let traffic: Vec<(&PredictionRecord, NaiveDate)> = in_window
        .iter()
        .filter(|(r, _)| {
            r.label.model_name == ctx.model_name
                && r.label.model_version.trim() == version.to_string()
        })
        .copied()
        .collect();
    let profile = load_profile(&registry, ctx, version)?;

    let rows = monitored_rows(&traffic);
    let current = rows.column_set()?;
    let mut report = modelops_monitor::detect_drift(&profile, &current, &config)?;
    report.generated_at = now;
    report.model_name = Some(ctx.model_name.clone());
    report.model_version = Some(version.to_string());

    let output = match &args.output {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => ctx.project_dir.join(dir),
        None => ctx.outputs_dir.join("monitoring"),
    };
    let written = modelops_monitor::write_report(&report, &output)?;
    print_drift(&report, &window, rows.distinct_stores().len());
    println!(
        "Report: {} (latest: {})",
        written.html.display(),
        written.latest_html.display()
    );
    println!("JSON:   {}", written.json.display());

    if !args.no_track {
        match record_drift_run(ctx, &report, &written, &window) {
            Ok(run_id) => println!("Tracked: run {run_id} in experiment '{MONITORING_EXPERIMENT}'"),
            Err(err) => eprintln!(
                "warning: the report is written, but recording the check in the tracking store failed: {err:#}"
            ),
        }
    }
    Ok(if report.dataset_drift {
        EXIT_DRIFT_DETECTED
    } else {
        super::EXIT_OK
    })
}

fn load_profile(
    registry: &modelops_pipeline::registry::RegistryClient,
    ctx: &Context,
    version: i64,
) -> anyhow::Result<ReferenceProfile> {
    let uri = format!("models:/{}/{version}", ctx.model_name);
    let (dir, _) = registry
        .resolve_local(&uri, &ctx.outputs_dir.join("model-cache"))
        .with_context(|| format!("cannot fetch the package of {uri}"))?;
    let text = modelops_models::ModelPackage::read_reference_profile(&dir)
        .with_context(|| format!("cannot read the reference profile of {uri} ({})", dir.display()))?
        .with_context(|| {
            format!(
                "{uri} has no reference profile (its package predates drift monitoring); retrain with this modelops \
                 to get one"
            )
        })?;
    ReferenceProfile::from_json(&text)
        .with_context(|| format!("the reference profile of {uri} is unreadable"))
}

fn status_word(f: &FeatureDrift) -> &'static str {
    match f.status {
        modelops_monitor::DriftStatus::Drifted => "DRIFT",
        modelops_monitor::DriftStatus::Stable => "ok",
        modelops_monitor::DriftStatus::NotTested => "not tested",
    }
}

fn print_drift(report: &DriftReport, window: &Window, stores: usize) {
    println!(
        "Drift check of {} v{}: {} open-day rows from {stores} store(s), {} ({} … {})",
        report.model_name.as_deref().unwrap_or_default(),
        report.model_version.as_deref().unwrap_or_default(),
        report.current.rows,
        window.description,
        report
            .current
            .start
            .map(|d| d.to_string())
            .unwrap_or_default(),
        report
            .current
            .end
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    println!(
        "Reference: {} ({} training rows{})",
        report.reference.window.label(),
        report.reference.rows,
        if report.reference.months.is_empty() || report.reference.months.len() == 12 {
            String::new()
        } else {
            format!(
                ", months {}",
                report
                    .reference
                    .months
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    );
    println!(
        "{:<20} {:<11} {:>8} {:>10} {:>8}  reason",
        "feature", "status", "stat", "p-value", "PSI"
    );
    for f in report.features.iter().chain(report.prediction.as_ref()) {
        let (stat, p) = match (&f.ks, &f.chi_square, f.total_variation) {
            (Some(ks), _, _) => (format!("D {:.3}", ks.statistic), ks.p_value),
            (_, Some(chi), Some(tvd)) => (format!("TVD {tvd:.3}"), chi.p_value),
            _ => (String::new(), f64::NAN),
        };
        println!(
            "{:<20} {:<11} {:>8} {:>10} {:>8}  {}",
            f.name,
            status_word(f),
            stat,
            if p.is_nan() {
                String::new()
            } else {
                format!("{p:.2e}")
            },
            f.psi.map(|v| format!("{v:.3}")).unwrap_or_default(),
            f.reason
        );
    }
    println!(
        "Dataset drift: {} ({} of {} features drifted, share {:.2}, threshold {})",
        if report.dataset_drift { "YES" } else { "no" },
        report.drifted_features,
        report.tested_features,
        report.drift_share,
        report.config.drift_share_threshold
    );
}

/// Metric keys allow letters, digits and `_ - . / space`; anything else in a feature name becomes `_`.
fn metric_key_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The per-feature statistics as `drift.<feature>.<stat>` metrics (the web UI reads exactly these names).
pub fn feature_metrics(report: &DriftReport) -> Vec<(String, f64)> {
    let mut metrics = Vec::new();
    for f in report.features.iter().chain(report.prediction.as_ref()) {
        let key = |stat: &str| format!("drift.{}.{stat}", metric_key_part(&f.name));
        let mut push = |stat: &str, value: Option<f64>| {
            if let Some(v) = value.filter(|v| v.is_finite()) {
                metrics.push((key(stat), v));
            }
        };
        push("drifted", Some(if f.is_drifted() { 1.0 } else { 0.0 }));
        push("ks_statistic", f.ks.map(|k| k.statistic));
        push("ks_p_value", f.ks.map(|k| k.p_value));
        push("chi_square", f.chi_square.map(|c| c.statistic));
        push("chi_square_p_value", f.chi_square.map(|c| c.p_value));
        push("tvd", f.total_variation);
        push("psi", f.psi);
        push("reference_mean", f.reference_mean);
        push("current_mean", f.current_mean);
    }
    metrics
}

fn record_drift_run(
    ctx: &Context,
    report: &DriftReport,
    written: &modelops_monitor::WrittenReport,
    window: &Window,
) -> anyhow::Result<String> {
    let run_name = format!("drift-{}", report.generated_at.format("%Y%m%d-%H%M%S"));
    let logger = modelops_tracking::RunLogger::start(
        &ctx.tracking_uri,
        &ctx.artifact_root,
        MONITORING_EXPERIMENT,
        Some(&run_name),
        &[
            ("modelops.kind", "drift"),
            ("modelops.job", "monitor-drift"),
        ],
    )?;
    let run_id = logger.run_id().to_string();
    let outcome = (|| -> anyhow::Result<()> {
        let version = report.model_version.clone().unwrap_or_default();
        let months = report
            .current
            .months
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        logger.set_tags(&[
            (
                "modelops.model_name",
                report.model_name.clone().unwrap_or_default(),
            ),
            ("modelops.model_version", version.clone()),
            ("modelops.dataset_drift", report.dataset_drift.to_string()),
            (
                "modelops.drifted_features",
                report.drifted_feature_names().join(","),
            ),
        ])?;
        logger.log_params(&[
            ("model_version", version),
            ("window", window.description.clone()),
            (
                "window_start",
                report
                    .current
                    .start
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            (
                "window_end",
                report
                    .current
                    .end
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            ("window_months", months),
            (
                "reference_window",
                report.reference.window.label().to_string(),
            ),
            (
                "p_value_threshold",
                report.config.p_value_threshold.to_string(),
            ),
            ("tvd_threshold", report.config.tvd_threshold.to_string()),
            ("psi_threshold", report.config.psi_threshold.to_string()),
            (
                "drift_share_threshold",
                report.config.drift_share_threshold.to_string(),
            ),
        ])?;
        let mut metrics: Vec<(String, f64)> = vec![
            ("drift_share".into(), report.drift_share),
            ("n_drifted_features".into(), report.drifted_features as f64),
            ("n_tested_features".into(), report.tested_features as f64),
            (
                "dataset_drift".into(),
                if report.dataset_drift { 1.0 } else { 0.0 },
            ),
            ("current_rows".into(), report.current.rows as f64),
            ("reference_rows".into(), report.reference.rows as f64),
        ];
        if let Some(p) = &report.prediction {
            metrics.push((
                "prediction_drift".into(),
                if p.is_drifted() { 1.0 } else { 0.0 },
            ));
        }
        metrics.extend(feature_metrics(report));
        logger.log_metrics(&metrics, 0)?;
        let staging = tempfile_dir(&ctx.outputs_dir)?;
        let copy = |from: &Path, name: &str| {
            std::fs::copy(from, staging.join(name))
                .with_context(|| format!("cannot stage {} for upload", from.display()))
        };
        copy(&written.html, "drift_report.html")?;
        copy(&written.json, "drift_report.json")?;
        let uploaded = logger.log_artifact_dir(&staging, "");
        let _ = std::fs::remove_dir_all(&staging);
        uploaded?;
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            logger.end(modelops_tracking::RunStatus::Finished)?;
            Ok(run_id)
        }
        Err(err) => {
            let _ = logger.end(modelops_tracking::RunStatus::Failed);
            Err(err)
        }
    }
}

/// A fresh folder below `<outputs>/.tmp` holding just the files to upload as the run's artifacts.
fn tempfile_dir(outputs: &Path) -> anyhow::Result<PathBuf> {
    let dir = outputs.join(".tmp").join(format!(
        "drift-artifacts-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn performance(args: PerformanceArgs, ctx: &Context) -> anyhow::Result<u8> {
    let uri = log_uri(args.prediction_log_uri.as_deref(), ctx)?;
    let (records, actuals) = runtime()?.block_on(async {
        let log = open_log(&uri).await?;
        let records = log
            .predictions_since(None)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let actuals = log.actuals().await.map_err(|e| anyhow::anyhow!(e))?;
        Ok::<_, anyhow::Error>((records, actuals))
    })?;
    if actuals.is_empty() {
        bail!(
            "no actual sales recorded in {uri}; record them first with `modelops monitor actuals --input FILE`"
        );
    }
    let actual_by_key: BTreeMap<(u32, String), f64> = actuals
        .iter()
        .map(|a| ((a.store, format_day(a.date)), a.sales))
        .collect();
    // One prediction per (version, store, day): the latest logged (a re-run batch replaces an earlier one).
    let mut latest: BTreeMap<(String, u32, String), &PredictionRecord> = BTreeMap::new();
    for r in records.iter().filter(|r| r.open) {
        let version = if r.label.model_version.is_empty() {
            "unversioned".to_string()
        } else {
            r.label.model_version.clone()
        };
        if args.model_version.as_deref().is_some_and(|v| v != version) {
            continue;
        }
        latest.insert((version, r.store_id, r.date.clone()), r);
    }
    let scored: Vec<ScoredPrediction> = latest
        .iter()
        .filter_map(|((version, store, day), r)| {
            let actual = *actual_by_key.get(&(*store, day.clone()))?;
            let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
            Some(ScoredPrediction {
                date,
                store: *store,
                prediction: r.prediction,
                actual,
                model_version: version.clone(),
            })
        })
        .collect();
    if scored.is_empty() {
        bail!(
            "none of the {} logged open-day predictions has a recorded actual (matched by Store and Date); record \
             the actual sales of the predicted days with `modelops monitor actuals`",
            latest.len()
        );
    }
    let weeks = modelops_monitor::weekly_performance(&scored)?;
    let thresholds = PerformanceThresholds {
        rmspe: args.rmspe_threshold.unwrap_or(ctx.thresholds.rmspe),
        mae: args.mae_threshold,
    };
    let alerts = modelops_monitor::performance_alerts(&weeks, &thresholds);
    println!(
        "{:<8} {:<9} {:<11} {:>7} {:>9} {:>9}",
        "version", "week", "from", "rows", "RMSPE", "MAE"
    );
    for w in &weeks {
        println!(
            "{:<8} {:<9} {:<11} {:>7} {:>9} {:>9.1}",
            w.model_version,
            format!("{}-W{:02}", w.iso_year, w.iso_week),
            w.week_start.to_string(),
            w.rows,
            w.rmspe
                .map(|r| format!("{r:.4}"))
                .unwrap_or_else(|| "–".into()),
            w.mae
        );
    }
    for alert in &alerts {
        println!("ALERT: {}", alert.message);
    }
    if alerts.is_empty() {
        println!(
            "No week above the thresholds (RMSPE {}{}).",
            thresholds.rmspe,
            thresholds
                .mae
                .map(|m| format!(", MAE {m}"))
                .unwrap_or_default()
        );
        Ok(super::EXIT_OK)
    } else {
        Ok(EXIT_PERFORMANCE_ALERT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: MonitorCommand,
    }

    fn drift_args(args: &[&str]) -> DriftArgs {
        let mut all = vec!["monitor", "drift"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            MonitorCommand::Drift(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn record(date: &str, logged_at: DateTime<Utc>) -> PredictionRecord {
        PredictionRecord {
            batch_id: "b".into(),
            logged_at,
            label: modelops_serve::LogLabel::default(),
            store_id: 1,
            date: date.into(),
            day_of_week: 1,
            open: true,
            promo: false,
            state_holiday: "0".into(),
            school_holiday: false,
            month: 1,
            year: 2015,
            store_type: "a".into(),
            assortment: "a".into(),
            competition_distance: 100.0,
            promo2: false,
            is_promo2_active: false,
            prediction: 1.0,
            response_time_ms: 1.0,
        }
    }

    #[test]
    fn a_date_window_includes_both_ends_and_ignores_logging_time() {
        let now = Utc::now();
        let args = drift_args(&[
            "--since",
            "2015-11-01",
            "--until",
            "2015-11-30",
            "--window-on",
            "date",
        ]);
        let window = Window::from_args(&args, now).unwrap();
        assert_eq!(window.logged_since(), None);
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        for (date, inside) in [
            ("2015-10-31", false),
            ("2015-11-01", true),
            ("2015-11-30", true),
            ("2015-12-01", false),
        ] {
            assert_eq!(
                window.contains(&record(date, now), day(date)),
                inside,
                "{date}"
            );
        }
    }

    #[test]
    fn a_days_window_selects_by_logging_time() {
        let now = Utc::now();
        let window = Window::from_args(&drift_args(&["--days", "7"]), now).unwrap();
        let date = NaiveDate::from_ymd_opt(2015, 8, 1).unwrap();
        assert!(window.contains(&record("2015-08-01", now - chrono::Duration::days(6)), date));
        assert!(!window.contains(&record("2015-08-01", now - chrono::Duration::days(8)), date));
        assert!(Window::from_args(&drift_args(&["--days", "0"]), now).is_err());
        let reversed = drift_args(&["--since", "2015-12-01", "--until", "2015-11-01"]);
        assert!(Window::from_args(&reversed, now).is_err());
    }

    #[test]
    fn days_and_since_cannot_be_combined_and_all_is_the_default_reference() {
        assert!(
            Cli::try_parse_from(["monitor", "drift", "--days", "7", "--since", "2015-01-01"])
                .is_err()
        );
        assert_eq!(drift_args(&[]).reference_window, ReferenceWindowArg::All);
        assert_eq!(
            drift_args(&["--reference-window", "full"]).reference_window,
            ReferenceWindowArg::All
        );
    }

    #[test]
    fn per_feature_metrics_use_the_names_the_web_ui_reads() {
        let train: Vec<f64> = (0..400).map(|i| f64::from(i % 2)).collect();
        let live: Vec<f64> = (0..100)
            .map(|i| if i % 10 < 8 { 1.0 } else { 0.0 })
            .collect();
        let train_dow: Vec<f64> = (0..400).map(|i| f64::from(i % 7 + 1)).collect();
        let live_dow: Vec<f64> = (0..100).map(|i| f64::from(i % 7 + 1)).collect();
        let profile = ReferenceProfile::build(
            &modelops_monitor::ColumnSet::new()
                .binary("Promo", &train)
                .and_then(|s| s.numeric("Day Of/Week", &train_dow))
                .unwrap(),
            &modelops_monitor::SketchConfig::default(),
        )
        .unwrap();
        let current = modelops_monitor::ColumnSet::new()
            .binary("Promo", &live)
            .and_then(|s| s.numeric("Day Of/Week", &live_dow))
            .unwrap();
        let report =
            modelops_monitor::detect_drift(&profile, &current, &DriftConfig::default()).unwrap();
        let metrics: BTreeMap<String, f64> = feature_metrics(&report).into_iter().collect();
        assert_eq!(metrics.get("drift.Promo.drifted"), Some(&1.0));
        assert!(metrics.contains_key("drift.Promo.tvd"));
        assert!(metrics.contains_key("drift.Promo.chi_square_p_value"));
        assert!(
            metrics.contains_key("drift.Day_Of_Week.ks_p_value"),
            "{metrics:?}"
        );
        assert!(!metrics.contains_key("drift.Promo.ks_statistic"));
    }
}
