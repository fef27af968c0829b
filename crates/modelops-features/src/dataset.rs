//! Labelled feature sets for training and evaluation, all built through [`FeatureBuilder::build`].
//!
//! # Leak-free training rows: rolling origins
//! A forecast made at origin O sees history up to O−1 and predicts days O … O+h. Training rows must look the same,
//! or the model learns from features it will never have. [`SalesData::training_set`] therefore cuts the days
//! before the origin into consecutive blocks of [`RollingOrigins::block_days`] (42) days, ending at the origin.
//! Each block is treated as a forecast of its own: its history is computed at the block's first day, its rows get
//! `DaysSinceOrigin` 1…42, and its proximity features look only along the block's own row inputs. A training row's
//! features thus never include its own Sales or any later day's, and the model learns how accuracy decays with
//! the horizon. Evaluation ([`SalesData::forecast_set`]) builds its rows the same way at its single origin.

use crate::FeatureError;
use crate::builder::FeatureBuilder;
use crate::calendar::Day;
use crate::history::{DailyGrid, History};
use crate::table::{InputRow, Observation, StoreTable, observations_from_frame};
use modelops_models::FeatureMatrix;
use polars::prelude::DataFrame;

/// How the training period is cut into forecast-like blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollingOrigins {
    /// Days per block (the forecast horizon trained for). Default 42.
    pub block_days: i32,
    /// Blocks whose origin has fewer days of data before it are skipped (their history would be too thin).
    /// Default 0: every whole block.
    pub min_history_days: i32,
}

impl Default for RollingOrigins {
    fn default() -> Self {
        Self {
            block_days: 42,
            min_history_days: 0,
        }
    }
}

/// Which rows a labelled set keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowFilter {
    /// Open days with Sales > 0: what models are fitted and scored on.
    ModelRows,
    /// Every row (closed days too), e.g. for the features file.
    AllRows,
}

impl RowFilter {
    fn keeps(self, o: &Observation) -> bool {
        match self {
            Self::ModelRows => is_model_row(o),
            Self::AllRows => true,
        }
    }
}

/// Whether a row is used to fit or score models: the store was open and sold something.
pub fn is_model_row(o: &Observation) -> bool {
    o.input.open && o.sales > 0.0
}

/// Features plus what is needed to fit or score them.
#[derive(Clone, Debug)]
pub struct LabelledRows {
    /// One row per kept observation.
    pub features: FeatureMatrix,
    /// Actual Sales per row.
    pub sales: Vec<f32>,
    /// The row inputs (store, date, …), aligned with the matrix.
    pub rows: Vec<InputRow>,
    /// The origin whose history each row's features used.
    pub origins: Vec<Day>,
}

impl LabelledRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.sales.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.sales.is_empty()
    }
}

/// Observations, their day grid and the store table: everything history is computed from.
#[derive(Clone, Debug)]
pub struct SalesData {
    observations: Vec<Observation>,
    grid: DailyGrid,
    stores: StoreTable,
}

impl SalesData {
    /// Wraps observations (any order) and the store table.
    ///
    /// # Errors
    /// [`FeatureError::Empty`] without observations; [`FeatureError::UnknownStore`] for an observation whose store
    /// is not in the table.
    pub fn new(
        mut observations: Vec<Observation>,
        stores: StoreTable,
    ) -> Result<Self, FeatureError> {
        if observations.is_empty() {
            return Err(FeatureError::Empty(
                "no observations: the cleaned train table is empty".into(),
            ));
        }
        if let Some((row, o)) = observations
            .iter()
            .enumerate()
            .find(|(_, o)| stores.get(o.input.store).is_none())
        {
            return Err(FeatureError::UnknownStore {
                row,
                store: o.input.store,
            });
        }
        observations.sort_by_key(|o| (o.input.date, o.input.store));
        let grid = DailyGrid::new(&observations);
        Ok(Self {
            observations,
            grid,
            stores,
        })
    }

    /// Reads the cleaned train frame (`train_clean.parquet`: train's 9 columns plus the store's 9); the store
    /// table is taken from the same frame.
    ///
    /// # Errors
    /// A missing column or invalid value, named.
    pub fn from_clean_frame(df: &DataFrame) -> Result<Self, FeatureError> {
        let stores = StoreTable::from_clean_frame(df)?;
        Self::new(observations_from_frame(df)?, stores)
    }

    /// All observations, sorted by (date, store).
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// The store table.
    pub fn stores(&self) -> &StoreTable {
        &self.stores
    }

    /// First and last observed day.
    pub fn day_range(&self) -> (Day, Day) {
        self.grid.day_range().unwrap_or((0, 0))
    }

    /// Store histories at `origin` (days strictly before it).
    pub fn history_at(&self, origin: Day) -> History {
        History::at(&self.grid, origin)
    }

    /// Observations with `start <= date < end`.
    pub fn between(&self, start: Day, end: Day) -> &[Observation] {
        let lo = self.observations.partition_point(|o| o.input.date < start);
        let hi = self.observations.partition_point(|o| o.input.date < end);
        &self.observations[lo..hi.max(lo)]
    }

    /// The training origins for a forecast at `origin`: block starts, oldest first.
    pub fn block_origins(&self, origin: Day, plan: &RollingOrigins) -> Vec<Day> {
        let (first, _) = self.day_range();
        let block = plan.block_days.max(1);
        let mut starts = Vec::new();
        let mut start = origin - block;
        while start >= first + plan.min_history_days {
            starts.push(start);
            start -= block;
        }
        starts.reverse();
        starts
    }

    /// Labelled rows for every day before `origin`, each block built at its own rolling origin (see module docs).
    ///
    /// # Errors
    /// [`FeatureError::Empty`] when no block fits before the origin; builder errors otherwise.
    pub fn training_set(
        &self,
        builder: &FeatureBuilder,
        origin: Day,
        plan: &RollingOrigins,
        filter: RowFilter,
    ) -> Result<LabelledRows, FeatureError> {
        let starts = self.block_origins(origin, plan);
        if starts.is_empty() {
            return Err(FeatureError::Empty(format!(
                "no {}-day training block fits before the origin {}; use an earlier-starting data set or a later \
                 origin",
                plan.block_days,
                crate::calendar::format_day(origin)
            )));
        }
        let mut parts = Vec::with_capacity(starts.len());
        for (k, &start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(origin);
            parts.push(self.forecast_set(builder, start, end, filter)?);
            tracing::debug!(block = k, start = %crate::calendar::format_day(start), rows = parts[k].len(), "training block built");
        }
        concat(builder, parts)
    }

    /// Labelled rows for `origin <= date < end`, with history at `origin`: exactly what a forecast made at the
    /// origin would see (plus the actual Sales, for scoring).
    ///
    /// # Errors
    /// Builder errors.
    pub fn forecast_set(
        &self,
        builder: &FeatureBuilder,
        origin: Day,
        end: Day,
        filter: RowFilter,
    ) -> Result<LabelledRows, FeatureError> {
        let history = self.history_at(origin);
        let block = self.between(origin, end);
        // Proximity features look along all the block's row inputs (closed days included), then rows are filtered.
        let inputs: Vec<InputRow> = block.iter().map(|o| o.input).collect();
        let matrix = builder.build(&inputs, &self.stores, &history)?;
        let keep: Vec<usize> = (0..block.len())
            .filter(|&i| filter.keeps(&block[i]))
            .collect();
        Ok(LabelledRows {
            features: if keep.len() == block.len() {
                matrix
            } else {
                matrix.select_rows(&keep)
            },
            sales: keep.iter().map(|&i| block[i].sales).collect(),
            rows: keep.iter().map(|&i| block[i].input).collect(),
            origins: vec![origin; keep.len()],
        })
    }
}

fn concat(
    builder: &FeatureBuilder,
    parts: Vec<LabelledRows>,
) -> Result<LabelledRows, FeatureError> {
    let n: usize = parts.iter().map(LabelledRows::len).sum();
    let width = builder.names().len();
    let mut values = Vec::with_capacity(n * width);
    let (mut sales, mut rows, mut origins) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for p in parts {
        values.extend_from_slice(p.features.values());
        sales.extend(p.sales);
        rows.extend(p.rows);
        origins.extend(p.origins);
    }
    let features = FeatureMatrix::new(builder.names(), builder.kinds(), values)
        .map_err(FeatureError::Matrix)?;
    Ok(LabelledRows {
        features,
        sales,
        rows,
        origins,
    })
}

/// Sets the prediction of every closed row (`Open = 0`) to 0: a closed store sells nothing, whatever the model
/// says. `predictions` is aligned with `rows`.
pub fn zero_when_closed(rows: &[InputRow], predictions: &mut [f64]) {
    for (row, p) in rows.iter().zip(predictions.iter_mut()) {
        if !row.open {
            *p = 0.0;
        }
    }
}
