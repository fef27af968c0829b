//! The dense feature matrix every engine consumes.

use crate::ModelError;
use serde::{Deserialize, Serialize};

/// How a column is to be treated by the engines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// A number; `NaN` means missing.
    Numeric,
    /// Integer codes `0..levels` stored as `f32`; `NaN` means missing or unseen.
    Categorical {
        /// Number of levels known at training time.
        levels: u32,
    },
}

/// Rows per single-threaded engine call in [`FeatureMatrix::predict_in_blocks`]: a 1,000-row request is two
/// blocks (both cores), a single row one (no hand-off).
pub const PREDICT_BLOCK_ROWS: usize = 512;
/// A row group of at least this many rows gets blocks of its own (see [`FeatureMatrix::set_row_groups`]); it is also
/// the smallest block the compiled forests specialize, since below it specializing does not pay.
pub const GROUP_BLOCK_MIN_ROWS: usize = 64;
/// The most rows of one group in one block: a group of up to this many rows is one block, a longer one is cut into
/// blocks of equal size.
pub const GROUP_BLOCK_MAX_ROWS: usize = 1024;

/// The rows of one engine call in [`FeatureMatrix::predict_in_blocks`].
#[derive(Clone, Copy, Debug)]
pub struct RowBlock<'a> {
    /// Row-major values, `n_rows` rows of every column.
    pub values: &'a [f32],
    /// Rows in the block.
    pub n_rows: usize,
}

/// Rows × features, row-major `f32`, with a name and a kind per column.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMatrix {
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    n_rows: usize,
    values: Vec<f32>,
    /// Where each row group ends (see [`FeatureMatrix::set_row_groups`]); empty when the rows are not grouped.
    group_ends: Vec<usize>,
}

impl FeatureMatrix {
    /// Builds a matrix from row-major values.
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] when the names, kinds and value count disagree.
    pub fn new(
        names: Vec<String>,
        kinds: Vec<FeatureKind>,
        values: Vec<f32>,
    ) -> Result<Self, ModelError> {
        if names.len() != kinds.len() {
            return Err(ModelError::InvalidData(format!(
                "{} feature names but {} feature kinds",
                names.len(),
                kinds.len()
            )));
        }
        if names.is_empty() {
            return Err(ModelError::InvalidData(
                "a feature matrix needs at least one column".into(),
            ));
        }
        if !values.len().is_multiple_of(names.len()) {
            return Err(ModelError::InvalidData(format!(
                "{} values do not fill whole rows of {} features",
                values.len(),
                names.len()
            )));
        }
        let n_rows = values.len() / names.len();
        Ok(Self {
            names,
            kinds,
            n_rows,
            values,
            group_ends: Vec::new(),
        })
    }

    /// Column names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Column kinds, in column order.
    pub fn kinds(&self) -> &[FeatureKind] {
        &self.kinds
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// One row.
    pub fn row(&self, i: usize) -> &[f32] {
        let n = self.names.len();
        &self.values[i * n..(i + 1) * n]
    }

    /// Marks runs of rows that share most of their values — one store's days in a batch sorted by store — so that
    /// [`FeatureMatrix::predict_in_blocks`] keeps each run of [`GROUP_BLOCK_MIN_ROWS`] or more rows in blocks of its
    /// own, where the compiled forests skip the splits every row of the block decides alike (the packed-tree module
    /// explains how). Group `i` is rows `ends[i - 1]..ends[i]` (from row 0 for the first). Predictions do not depend
    /// on the grouping; only their speed does.
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] unless `ends` rises strictly and its last entry is the row count.
    pub fn set_row_groups(&mut self, ends: Vec<usize>) -> Result<(), ModelError> {
        let rising = ends.first().is_none_or(|&e| e > 0) && ends.windows(2).all(|w| w[0] < w[1]);
        if !rising || ends.last().copied().unwrap_or(0) != self.n_rows {
            return Err(ModelError::InvalidData(format!(
                "row groups must end at rising rows and cover all {} rows",
                self.n_rows
            )));
        }
        self.group_ends = ends;
        Ok(())
    }

    /// The rows each block covers: [`PREDICT_BLOCK_ROWS`]-row blocks, or, when the rows are grouped, a block (or
    /// equal blocks of at most [`GROUP_BLOCK_MAX_ROWS`]) per group of [`GROUP_BLOCK_MIN_ROWS`] or more rows, the
    /// smaller groups between them packed into blocks of at most [`PREDICT_BLOCK_ROWS`].
    fn blocks(&self) -> Vec<std::ops::Range<usize>> {
        let mut blocks = Vec::new();
        let pack = |blocks: &mut Vec<_>, rows: std::ops::Range<usize>| {
            let mut first = rows.start;
            while first < rows.end {
                let end = (first + PREDICT_BLOCK_ROWS).min(rows.end);
                blocks.push(first..end);
                first = end;
            }
        };
        let mut loose = 0; // the first row of the small groups not yet in a block
        let mut start = 0;
        for &end in &self.group_ends {
            let len = end - start;
            if len >= GROUP_BLOCK_MIN_ROWS {
                pack(&mut blocks, loose..start);
                let pieces = len.div_ceil(GROUP_BLOCK_MAX_ROWS);
                blocks.extend(
                    (0..pieces).map(|k| start + k * len / pieces..start + (k + 1) * len / pieces),
                );
                loose = end;
            }
            start = end;
        }
        pack(&mut blocks, loose..self.n_rows);
        blocks
    }

    /// Predicts every row with `predict_block(block)` — a single-threaded engine call on a block of rows (see
    /// [`FeatureMatrix::set_row_groups`] for how rows are cut into blocks) — and returns the predictions in row
    /// order. One block runs on the calling thread, so a single-row request pays no thread hand-off; more run in
    /// parallel on rayon's pool. Engines are called single-threaded because a native library's own thread team per
    /// call (OpenMP) costs more than a small request's prediction, and concurrent requests already use every core.
    ///
    /// # Errors
    /// The first error of any block.
    pub fn predict_in_blocks(
        &self,
        predict_block: impl Fn(RowBlock<'_>) -> Result<Vec<f64>, ModelError> + Sync,
    ) -> Result<Vec<f64>, ModelError> {
        use rayon::prelude::*;
        let width = self.names.len();
        let blocks = self.blocks();
        let block = |rows: std::ops::Range<usize>| RowBlock {
            values: &self.values[rows.start * width..rows.end * width],
            n_rows: rows.len(),
        };
        if blocks.len() <= 1 {
            let rows = blocks.into_iter().next().unwrap_or(0..self.n_rows);
            return predict_block(block(rows));
        }
        let predicted: Vec<Vec<f64>> = blocks
            .into_par_iter()
            .map(|rows| predict_block(block(rows)))
            .collect::<Result<_, _>>()?;
        Ok(predicted.concat())
    }

    /// The rows at `indices`, in that order, as a new matrix.
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        let n = self.names.len();
        let mut values = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Self {
            names: self.names.clone(),
            kinds: self.kinds.clone(),
            n_rows: indices.len(),
            values,
            group_ends: Vec::new(),
        }
    }

    /// Indices of the categorical columns.
    pub fn categorical_columns(&self) -> Vec<usize> {
        self.kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| matches!(k, FeatureKind::Categorical { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    /// Checks that this matrix has exactly the columns a model was trained with, by name and in order.
    ///
    /// # Errors
    /// [`ModelError::InvalidData`] naming the first column that differs (or the count mismatch).
    pub fn check_columns(&self, trained_with: &[String]) -> Result<(), ModelError> {
        if let Some(i) = self
            .names
            .iter()
            .zip(trained_with)
            .position(|(got, want)| got != want)
        {
            return Err(ModelError::InvalidData(format!(
                "column {i} is `{}` but the model was trained with `{}` there; build features with the model's \
                 feature spec",
                self.names[i], trained_with[i]
            )));
        }
        if self.names.len() != trained_with.len() {
            return Err(ModelError::InvalidData(format!(
                "{} feature columns but the model was trained with {}; build features with the model's feature spec",
                self.names.len(),
                trained_with.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_values_that_do_not_fill_rows() {
        let err = FeatureMatrix::new(
            vec!["a".into(), "b".into()],
            vec![FeatureKind::Numeric, FeatureKind::Numeric],
            vec![1.0, 2.0, 3.0],
        );
        assert!(matches!(err, Err(ModelError::InvalidData(_))));
    }

    fn column(n: usize) -> FeatureMatrix {
        FeatureMatrix::new(
            vec!["a".into()],
            vec![FeatureKind::Numeric],
            (0..n).map(|i| i as f32).collect(),
        )
        .unwrap()
    }

    #[test]
    fn row_groups_get_blocks_of_their_own() {
        // Small groups (10, 5 rows) share blocks; a group of 64 is one block, one of 2,500 three equal ones.
        let mut m = column(3_079);
        m.set_row_groups(vec![10, 74, 2_574, 2_579, 3_079]).unwrap();
        assert_eq!(
            m.blocks(),
            [
                0..10,
                10..74,
                74..907,
                907..1740,
                1740..2574,
                2574..2579,
                2579..3079
            ]
        );
        // Ungrouped rows: blocks of PREDICT_BLOCK_ROWS.
        assert_eq!(column(1_100).blocks(), [0..512, 512..1024, 1024..1100]);
        // Every row is predicted once, in row order, grouped or not.
        let echo = |block: RowBlock<'_>| Ok(block.values.iter().map(|&v| f64::from(v)).collect());
        let expected: Vec<f64> = (0..3_079).map(f64::from).collect();
        assert_eq!(m.predict_in_blocks(echo).unwrap(), expected);
        assert_eq!(column(3_079).predict_in_blocks(echo).unwrap(), expected);
        // Groups must rise and cover the rows.
        for bad in [vec![], vec![0, 3_079], vec![20, 10, 3_079], vec![10, 3_000]] {
            assert!(column(3_079).set_row_groups(bad).is_err());
        }
    }

    #[test]
    fn select_rows_keeps_requested_order() {
        let m = FeatureMatrix::new(
            vec!["a".into()],
            vec![FeatureKind::Numeric],
            vec![1.0, 2.0, 3.0],
        )
        .unwrap();
        assert_eq!(m.select_rows(&[2, 0]).values(), &[3.0, 1.0]);
    }
}
