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

/// Rows × features, row-major `f32`, with a name and a kind per column.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMatrix {
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    n_rows: usize,
    values: Vec<f32>,
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

    /// Predicts every row with `predict_block(values, n_rows)` — a single-threaded engine call on a row-major block
    /// of at most [`PREDICT_BLOCK_ROWS`] rows — and returns the predictions in row order. One block runs on the
    /// calling thread, so a single-row request pays no thread hand-off; more run in parallel on rayon's pool.
    /// Engines are called single-threaded because a native library's own thread team per call (OpenMP) costs more
    /// than a small request's prediction, and concurrent requests already use every core.
    ///
    /// # Errors
    /// The first error of any block.
    pub fn predict_in_blocks(
        &self,
        predict_block: impl Fn(&[f32], usize) -> Result<Vec<f64>, ModelError> + Sync,
    ) -> Result<Vec<f64>, ModelError> {
        use rayon::prelude::*;
        let width = self.names.len();
        if self.n_rows <= PREDICT_BLOCK_ROWS {
            return predict_block(&self.values, self.n_rows);
        }
        let blocks: Vec<Vec<f64>> = self
            .values
            .par_chunks(PREDICT_BLOCK_ROWS * width)
            .map(|block| predict_block(block, block.len() / width))
            .collect::<Result<_, _>>()?;
        Ok(blocks.concat())
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
