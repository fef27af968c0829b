//! Columns in, reference profile out.
//!
//! Owns [`ColumnSet`] (borrowed, validated columns of one population: the training rows when building a profile,
//! a window of logged traffic when checking drift), [`FeatureKind`] and [`ReferenceProfile`], the serialisable
//! training distributions carried in the model package so monitoring never needs the training file.
//!
//! A profile built from a set with dates is **partitioned by calendar month**: each feature keeps one summary per
//! month present in the training rows. The whole-training reference is the count-weighted mixture of all months
//! (exactly the training distribution); a same-months reference mixes only the months of the current window.

use crate::error::MonitorError;
use crate::sketch::{CategoricalSummary, NumericSummary, SketchConfig};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Version of the profile's JSON layout; bumped on incompatible changes.
pub const PROFILE_FORMAT_VERSION: u32 = 1;

/// How a feature is compared, which decides its statistics (see [`crate::drift`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Continuous or ordinal numbers (KS test, PSI over reference-quantile bins).
    Numeric,
    /// Unordered labels (chi-square, total variation distance, PSI per category).
    Categorical,
    /// 0/1 flags, compared like categoricals with categories `"0"` and `"1"`.
    Binary,
}

impl FeatureKind {
    /// Lower-case name for reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::Categorical => "categorical",
            Self::Binary => "binary",
        }
    }
}

/// The values of one column, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub enum ColumnValues<'a> {
    /// Numbers; NaN means missing.
    Numeric(&'a [f64]),
    /// 0/1 flags; NaN means missing.
    Binary(&'a [f64]),
    /// Labels; `None` means missing.
    Categorical(&'a [Option<String>]),
}

impl ColumnValues<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Numeric(v) | Self::Binary(v) => v.len(),
            Self::Categorical(v) => v.len(),
        }
    }

    /// The kind of feature these values describe.
    pub fn kind(&self) -> FeatureKind {
        match self {
            Self::Numeric(_) => FeatureKind::Numeric,
            Self::Binary(_) => FeatureKind::Binary,
            Self::Categorical(_) => FeatureKind::Categorical,
        }
    }
}

/// One named, validated column.
#[derive(Clone, Copy, Debug)]
pub struct Column<'a> {
    /// Feature name as users see it (e.g. `Promo`).
    pub name: &'a str,
    /// The values.
    pub values: ColumnValues<'a>,
}

/// Equal-length columns describing one population, optionally with each row's date.
///
/// Adding a column checks its length and values, so later steps cannot fail on them.
///
/// ```
/// use modelops_monitor::ColumnSet;
/// let promo = [1.0, 0.0, 1.0];
/// let distance = [120.0, 5400.0, f64::NAN];
/// let store_type = [Some("a".to_string()), Some("c".to_string()), None];
/// let set = ColumnSet::new()
///     .binary("Promo", &promo)?
///     .numeric("CompetitionDistance", &distance)?
///     .categorical("StoreType", &store_type)?;
/// assert_eq!(set.rows(), Some(3));
/// # Ok::<(), modelops_monitor::MonitorError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ColumnSet<'a> {
    rows: Option<usize>,
    dates: Option<&'a [NaiveDate]>,
    columns: Vec<Column<'a>>,
    prediction: Option<&'a [f64]>,
}

impl<'a> ColumnSet<'a> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn check_length(&mut self, name: &str, len: usize) -> Result<(), MonitorError> {
        match self.rows {
            Some(expected) if expected != len => Err(MonitorError::LengthMismatch {
                feature: name.to_owned(),
                expected,
                found: len,
            }),
            _ => {
                self.rows = Some(len);
                Ok(())
            }
        }
    }

    fn push(mut self, name: &'a str, values: ColumnValues<'a>) -> Result<Self, MonitorError> {
        if self.columns.iter().any(|c| c.name == name) {
            return Err(MonitorError::DuplicateFeature(name.to_owned()));
        }
        self.check_length(name, values.len())?;
        self.columns.push(Column { name, values });
        Ok(self)
    }

    /// Each row's date (the day predicted). Needed to partition a profile by month and for the current window.
    ///
    /// # Errors
    /// [`MonitorError::LengthMismatch`] when the length differs from the columns already added.
    pub fn with_dates(mut self, dates: &'a [NaiveDate]) -> Result<Self, MonitorError> {
        self.check_length("dates", dates.len())?;
        self.dates = Some(dates);
        Ok(self)
    }

    /// Adds a numeric feature; NaN is missing.
    ///
    /// # Errors
    /// An infinite value ([`MonitorError::InvalidValue`]), a length mismatch or a repeated name.
    pub fn numeric(self, name: &'a str, values: &'a [f64]) -> Result<Self, MonitorError> {
        reject_infinite(name, values)?;
        self.push(name, ColumnValues::Numeric(values))
    }

    /// Adds a 0/1 flag; NaN is missing.
    ///
    /// # Errors
    /// A value other than 0, 1 or NaN ([`MonitorError::InvalidValue`]), a length mismatch or a repeated name.
    pub fn binary(self, name: &'a str, values: &'a [f64]) -> Result<Self, MonitorError> {
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_nan() || **v == 0.0 || **v == 1.0))
        {
            return Err(MonitorError::InvalidValue {
                feature: name.to_owned(),
                row: i + 1,
                value: v.to_string(),
                expected: "a binary feature takes 0 or 1 (NaN for missing); declare it numeric otherwise",
            });
        }
        self.push(name, ColumnValues::Binary(values))
    }

    /// Adds a categorical feature; `None` is missing.
    ///
    /// # Errors
    /// A length mismatch or a repeated name.
    pub fn categorical(
        self,
        name: &'a str,
        values: &'a [Option<String>],
    ) -> Result<Self, MonitorError> {
        self.push(name, ColumnValues::Categorical(values))
    }

    /// Adds the model's predictions for the same rows (NaN is missing).
    ///
    /// # Errors
    /// An infinite value or a length mismatch.
    pub fn prediction(mut self, values: &'a [f64]) -> Result<Self, MonitorError> {
        reject_infinite("prediction", values)?;
        self.check_length("prediction", values.len())?;
        self.prediction = Some(values);
        Ok(self)
    }

    /// Number of rows, once a column has been added.
    pub fn rows(&self) -> Option<usize> {
        self.rows
    }

    /// The row dates, if given.
    pub fn dates(&self) -> Option<&'a [NaiveDate]> {
        self.dates
    }

    /// The feature columns in the order added.
    pub fn columns(&self) -> &[Column<'a>] {
        &self.columns
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column<'a>> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The predictions, if given.
    pub fn predictions(&self) -> Option<&'a [f64]> {
        self.prediction
    }
}

fn reject_infinite(name: &str, values: &[f64]) -> Result<(), MonitorError> {
    match values.iter().enumerate().find(|(_, v)| v.is_infinite()) {
        Some((i, v)) => Err(MonitorError::InvalidValue {
            feature: name.to_owned(),
            row: i + 1,
            value: v.to_string(),
            expected: "values must be finite (use NaN for missing)",
        }),
        None => Ok(()),
    }
}

/// The distribution of one feature within one partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Distribution {
    /// For numeric features.
    Numeric(NumericSummary),
    /// For categorical and binary features.
    Categorical(CategoricalSummary),
}

/// A feature's summary over the rows of one calendar month (or all rows when `month` is `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// Calendar month 1..=12, or `None` for an unpartitioned profile.
    pub month: Option<u32>,
    /// The summary of the rows in this partition.
    pub distribution: Distribution,
}

/// The reference distributions of one feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    /// Feature name.
    pub name: String,
    /// How it is compared.
    pub kind: FeatureKind,
    /// One partition per month present in training (ascending), or a single unpartitioned one.
    pub partitions: Vec<Partition>,
}

/// Training distributions of every monitored feature and of the prediction, to store in the model package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// [`PROFILE_FORMAT_VERSION`] at build time.
    pub format_version: u32,
    /// Precision of the numeric sketches.
    pub sketch: SketchConfig,
    /// Training rows summarised.
    pub rows: u64,
    /// Training rows per calendar month (index 0 = January); all zero when not partitioned.
    pub rows_by_month: [u64; 12],
    /// True when built with dates, so a same-months reference can be assembled.
    pub partitioned_by_month: bool,
    /// Per-feature distributions, in the order the columns were given.
    pub features: Vec<FeatureProfile>,
    /// Distribution of the model's predictions on the training rows, if given.
    pub prediction: Option<FeatureProfile>,
}

impl ReferenceProfile {
    /// Summarises every column of `training` (and its predictions, if set). With dates, each feature is
    /// partitioned by calendar month.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] when the sketch settings are zero.
    pub fn build(training: &ColumnSet<'_>, sketch: &SketchConfig) -> Result<Self, MonitorError> {
        if sketch.quantiles == 0 {
            return Err(MonitorError::InvalidConfig {
                name: "sketch.quantiles",
                value: "0".into(),
                expected: "at least 1 (1000 recommended)",
            });
        }
        let rows = training.rows().unwrap_or(0);
        let months: Option<Vec<u32>> = training
            .dates()
            .map(|d| d.iter().map(|d| d.month()).collect());
        let mut rows_by_month = [0_u64; 12];
        if let Some(months) = &months {
            for &m in months {
                rows_by_month[(m - 1) as usize] += 1;
            }
        }
        let features = training
            .columns()
            .iter()
            .map(|c| profile_column(c.name, &c.values, months.as_deref(), &rows_by_month, sketch))
            .collect();
        let prediction = training.predictions().map(|p| {
            profile_column(
                "prediction",
                &ColumnValues::Numeric(p),
                months.as_deref(),
                &rows_by_month,
                sketch,
            )
        });
        tracing::debug!(
            rows,
            features = training.columns().len(),
            "reference profile built"
        );
        Ok(Self {
            format_version: PROFILE_FORMAT_VERSION,
            sketch: *sketch,
            rows: rows as u64,
            rows_by_month,
            partitioned_by_month: months.is_some(),
            features,
            prediction,
        })
    }

    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureProfile> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Serialises the profile as JSON (compact).
    ///
    /// # Errors
    /// [`MonitorError::Json`] (only for non-finite numbers, which building never produces).
    pub fn to_json(&self) -> Result<String, MonitorError> {
        serde_json::to_string(self).map_err(|source| MonitorError::Json {
            what: "reference profile".into(),
            source,
        })
    }

    /// Reads a profile from JSON and checks it.
    ///
    /// # Errors
    /// [`MonitorError::Json`] for malformed JSON, [`MonitorError::CorruptProfile`] for inconsistent contents.
    pub fn from_json(json: &str) -> Result<Self, MonitorError> {
        let profile: Self = serde_json::from_str(json).map_err(|source| MonitorError::Json {
            what: "reference profile".into(),
            source,
        })?;
        profile.check()?;
        Ok(profile)
    }

    /// Checks internal consistency (kinds match summaries, sketches are well-formed).
    ///
    /// # Errors
    /// [`MonitorError::CorruptProfile`] naming the feature.
    pub fn check(&self) -> Result<(), MonitorError> {
        for feature in self.features.iter().chain(self.prediction.as_ref()) {
            let corrupt = |problem: String| MonitorError::CorruptProfile {
                feature: feature.name.clone(),
                problem,
            };
            for partition in &feature.partitions {
                match (&partition.distribution, feature.kind) {
                    (Distribution::Numeric(summary), FeatureKind::Numeric) => {
                        summary.check().map_err(corrupt)?
                    }
                    (
                        Distribution::Categorical(_),
                        FeatureKind::Categorical | FeatureKind::Binary,
                    ) => {}
                    _ => {
                        return Err(corrupt(format!(
                            "a {} feature holds the wrong summary type",
                            feature.kind.label()
                        )));
                    }
                }
                if let Some(m) = partition.month
                    && !(1..=12).contains(&m)
                {
                    return Err(corrupt(format!("partition month {m} is not 1..=12")));
                }
            }
        }
        Ok(())
    }
}

fn binary_label(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        None
    } else if v == 0.0 {
        Some("0")
    } else {
        Some("1")
    }
}

/// Summarises one column, for all rows or for each month's rows.
pub(crate) fn profile_column(
    name: &str,
    values: &ColumnValues<'_>,
    months: Option<&[u32]>,
    rows_by_month: &[u64; 12],
    sketch: &SketchConfig,
) -> FeatureProfile {
    let summarise = |keep: &dyn Fn(usize) -> bool| match values {
        ColumnValues::Numeric(v) => {
            let selected: Vec<f64> = v
                .iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, x)| *x)
                .collect();
            Distribution::Numeric(NumericSummary::from_values(&selected, sketch))
        }
        ColumnValues::Binary(v) => Distribution::Categorical(CategoricalSummary::from_values(
            v.iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, x)| binary_label(*x)),
        )),
        ColumnValues::Categorical(v) => Distribution::Categorical(CategoricalSummary::from_values(
            v.iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, x)| x.as_deref()),
        )),
    };
    let partitions = match months {
        None => vec![Partition {
            month: None,
            distribution: summarise(&|_| true),
        }],
        Some(months) => (1..=12_u32)
            .filter(|m| rows_by_month[(m - 1) as usize] > 0)
            .map(|m| Partition {
                month: Some(m),
                distribution: summarise(&|i| months[i] == m),
            })
            .collect(),
    };
    FeatureProfile {
        name: name.to_owned(),
        kind: values.kind(),
        partitions,
    }
}

/// Summarises current-window values the same way as the reference (one unpartitioned distribution).
pub(crate) fn summarise_current(values: &ColumnValues<'_>, sketch: &SketchConfig) -> Distribution {
    let mut profile = profile_column("", values, None, &[0; 12], sketch);
    match profile.partitions.pop() {
        Some(p) => p.distribution,
        None => Distribution::Categorical(CategoricalSummary::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn binary_rejects_values_other_than_zero_and_one_naming_the_row() {
        let err = ColumnSet::new()
            .binary("Promo", &[0.0, 1.0, 2.0])
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("'Promo'") && text.contains("row 3"), "{text}");
    }

    #[test]
    fn columns_of_different_length_are_rejected() {
        let err = ColumnSet::new()
            .numeric("a", &[1.0, 2.0])
            .and_then(|s| s.numeric("b", &[1.0]))
            .unwrap_err();
        assert!(
            matches!(
                err,
                MonitorError::LengthMismatch {
                    expected: 2,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn profile_is_partitioned_by_month_and_round_trips_through_json() {
        let dates = [day(2014, 1, 5), day(2014, 1, 6), day(2014, 3, 1)];
        let promo = [1.0, 0.0, 1.0];
        let set = ColumnSet::new()
            .with_dates(&dates)
            .and_then(|s| s.binary("Promo", &promo))
            .unwrap();
        let profile = ReferenceProfile::build(&set, &SketchConfig::default()).unwrap();
        assert_eq!(profile.rows_by_month[0], 2);
        assert_eq!(profile.rows_by_month[2], 1);
        let promo = profile.feature("Promo").unwrap();
        assert_eq!(
            promo.partitions.iter().map(|p| p.month).collect::<Vec<_>>(),
            vec![Some(1), Some(3)]
        );
        let back = ReferenceProfile::from_json(&profile.to_json().unwrap()).unwrap();
        assert_eq!(back, profile);
    }
}
