//! Origin-safe feature engineering: features are a pure function of (row inputs, store metadata, history strictly
//! before the forecast origin), and the [`FeatureSpec`] a model package carries to rebuild them.
//!
//! # The forecasting contract
//! A prediction for a store-day may use only
//! 1. that row's own inputs, the Kaggle test schema: `Store, DayOfWeek, Date, Open, Promo, StateHoliday,
//!    SchoolHoliday` ([`InputRow`]) — and the same inputs of the other rows of the batch, which are known in
//!    advance (calendar, promotion plan, opening plan);
//! 2. store metadata (store.csv, [`StoreTable`]);
//! 3. Sales and Customers history strictly before the forecast origin ([`History`]).
//!
//! Nothing from the predicted rows' outcomes or any later day. The features hold for any horizon: history is
//! fixed at the origin, `DaysSinceOrigin` tells the model how far ahead it is, and year-ago features stay defined
//! up to 364 days ahead, so a 48-day Kaggle horizon and a 5-month batch both work (accuracy degrades with the
//! horizon; it does not break).
//!
//! # One code path
//! [`FeatureBuilder::build`]`(rows, stores, history)` is the only function that computes features. Training
//! ([`SalesData::training_set`], rolling origins, see [`dataset`]), each CV fold and the holdout
//! ([`SalesData::forecast_set`] at the fold's origin), batch prediction and the service ([`FeatureSpec::build`])
//! all go through it.
//!
//! ```no_run
//! # fn demo(clean: polars::prelude::DataFrame, rows: Vec<modelops_features::InputRow>)
//! # -> Result<(), modelops_features::FeatureError> {
//! use modelops_features::{FeatureBuilder, FeatureSettings, FeatureSpec, RollingOrigins, RowFilter, SalesData};
//! let data = SalesData::from_clean_frame(&clean)?;
//! let origin = data.day_range().1 + 1; // forecast the days after the data
//! let builder = FeatureBuilder::new(data.stores(), FeatureSettings::default());
//! let train = data.training_set(&builder, origin, &RollingOrigins::default(), RowFilter::ModelRows)?;
//! // … fit a model on train.features / ln(train.sales) …
//! let spec = FeatureSpec::new(builder, data.stores().clone(), data.history_at(origin));
//! let features = spec.build(&rows)?; // at serving time: spec + raw rows only
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod builder;
pub mod calendar;
pub mod dataset;
mod error;
pub mod history;
pub mod io;
pub mod table;

pub use builder::{
    CategoricalLevels, FEATURE_FORMAT_VERSION, FEATURE_NAMES, FeatureBuilder, FeatureSettings,
    FeatureSpec,
};
pub use calendar::Day;
pub use dataset::{
    LabelledRows, RollingOrigins, RowFilter, SalesData, is_model_row, zero_when_closed,
};
pub use error::FeatureError;
pub use history::{DailyGrid, History, StoreHistory};
pub use table::{InputRow, Observation, StateHoliday, StoreMeta, StoreTable};
