//! The fitted oblivious-tree model: its features (numeric borders, one-hot levels, CTRs), symmetric trees and
//! prediction. Saving and loading in CatBoost's JSON format lives in [`super::json`].

use super::ctr::{CtrFeature, LevelStats, level_of};
use super::quantize::bin_of;
use crate::{Engine, FeatureKind, FeatureMatrix, ModelError, Regressor};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// A numeric column and its borders.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FloatFeature {
    /// Column in the feature matrix.
    pub(crate) column: usize,
    /// Strictly ascending borders; splits are `value > border`.
    pub(crate) borders: Vec<f32>,
    /// Whether training data had missing values (first border is then `f32::MIN`).
    pub(crate) has_nans: bool,
}

/// A categorical column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CatFeature {
    /// Column in the feature matrix.
    pub(crate) column: usize,
    /// Levels known at training time (codes `0..levels`).
    pub(crate) levels: u32,
    /// Whether splits test single levels (one-hot) instead of CTRs.
    pub(crate) one_hot: bool,
    /// Full-training-set statistics, for CTR columns.
    pub(crate) stats: Option<LevelStats>,
}

/// What a binned feature is made from. Binned features are ordered floats, one-hots, CTRs: CatBoost's order of
/// binary features, which its `split_index` counts in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BinnedSource {
    /// `floats[i]`: bin = number of borders below the value.
    Float(usize),
    /// `cats[i]`: bin = level + 1 (0 for missing or unseen).
    OneHot(usize),
    /// `ctrs[i]`: bin = number of CTR borders below the CTR value.
    Ctr(usize),
}

/// One level of a symmetric tree: a binned feature and a bin threshold. For numeric and CTR features the
/// condition is `bin > threshold` (value above border number `threshold`); for one-hot features it is
/// `bin == threshold` (the level `threshold - 1`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Split {
    /// Index into the model's binned features.
    pub(crate) feature: usize,
    /// Bin threshold (see the type's docs).
    pub(crate) threshold: u8,
    /// Equality (one-hot) instead of greater-than.
    pub(crate) is_equality: bool,
}

impl Split {
    /// Whether a row with this bin goes to the "true" side.
    #[inline]
    pub(crate) fn holds(&self, bin: u8) -> bool {
        if self.is_equality {
            bin == self.threshold
        } else {
            bin > self.threshold
        }
    }
}

/// A symmetric tree: split `d` decides bit `d` of the leaf index (CatBoost's layout).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ObliviousTree {
    /// One split per level.
    pub(crate) splits: Vec<Split>,
    /// `2^splits.len()` leaf values, learning rate included.
    pub(crate) leaf_values: Vec<f64>,
    /// Training weight per leaf (row counts with unit weights).
    pub(crate) leaf_weights: Vec<f64>,
}

/// A fitted CatBoost-compatible oblivious-tree model (RMSE). Predicts, saves CatBoost JSON (`catboost.json`) and
/// loads it back with [`ObliviousModel::load`].
#[derive(Clone, Debug, PartialEq)]
pub struct ObliviousModel {
    pub(crate) names: Vec<String>,
    pub(crate) kinds: Vec<FeatureKind>,
    pub(crate) floats: Vec<FloatFeature>,
    pub(crate) cats: Vec<CatFeature>,
    pub(crate) ctrs: Vec<CtrFeature>,
    pub(crate) binned: Vec<BinnedSource>,
    pub(crate) trees: Vec<ObliviousTree>,
    pub(crate) bias: f64,
    /// Total split gain per matrix column.
    pub(crate) gains: Vec<f64>,
}

/// Rows per parallel task when binning or predicting.
const ROW_CHUNK: usize = 256;

impl ObliviousModel {
    /// Loads a model saved by [`Regressor::save`] (or any CatBoost JSON model using only the parts we write).
    ///
    /// # Errors
    /// [`ModelError::Io`] when the file cannot be read, [`ModelError::Format`] when it is not such a model.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        super::json::load(path)
    }

    /// The number of binned features (numeric, one-hot and CTR).
    pub(crate) fn n_binned(&self) -> usize {
        self.binned.len()
    }

    /// Checks that `features` has the training columns, by name, kind and order.
    pub(crate) fn check_columns(&self, features: &FeatureMatrix) -> Result<(), ModelError> {
        if features.names() != self.names.as_slice() {
            return Err(ModelError::InvalidData(format!(
                "the oblivious model was trained on columns [{}] but got [{}]; pass the same columns in the same order",
                self.names.join(", "),
                features.names().join(", ")
            )));
        }
        for (i, (a, b)) in self.kinds.iter().zip(features.kinds()).enumerate() {
            let same = matches!(
                (a, b),
                (FeatureKind::Numeric, FeatureKind::Numeric)
                    | (
                        FeatureKind::Categorical { .. },
                        FeatureKind::Categorical { .. }
                    )
            );
            if !same {
                return Err(ModelError::InvalidData(format!(
                    "column {} ('{}') was {:?} at training time but is {:?} now",
                    i, self.names[i], a, b
                )));
            }
        }
        Ok(())
    }

    /// The full-data CTR value of a level for prediction.
    #[inline]
    fn ctr_value(&self, ctr: &CtrFeature, value: f32) -> f32 {
        let cat = &self.cats[ctr.cat_index];
        match &cat.stats {
            Some(stats) => {
                let counts =
                    level_of(value, cat.levels).map_or([0, 0], |l| stats.class_counts[l as usize]);
                ctr.value(counts, stats.max_count)
            }
            None => ctr.value([0, 0], 0),
        }
    }

    /// Bins one row into `out` (one bin per binned feature), using full-data CTR statistics.
    pub(crate) fn bin_row(&self, row: &[f32], out: &mut [u8]) {
        for (slot, source) in out.iter_mut().zip(&self.binned) {
            *slot = match *source {
                BinnedSource::Float(i) => {
                    let f = &self.floats[i];
                    bin_of(&f.borders, row[f.column])
                }
                BinnedSource::OneHot(i) => {
                    let c = &self.cats[i];
                    level_of(row[c.column], c.levels).map_or(0, |l| (l + 1).min(255) as u8)
                }
                BinnedSource::Ctr(i) => {
                    let ctr = &self.ctrs[i];
                    let value = self.ctr_value(ctr, row[self.cats[ctr.cat_index].column]);
                    bin_of(&ctr.borders, value)
                }
            };
        }
    }

    /// Row-major bins of every row of `features` (columns already checked).
    pub(crate) fn bin_matrix(&self, features: &FeatureMatrix) -> Vec<u8> {
        let nf = self.n_binned();
        let mut bins = vec![0u8; features.n_rows() * nf];
        if nf == 0 {
            return bins;
        }
        for_each_chunk(&mut bins, ROW_CHUNK * nf, |chunk, out| {
            let first = chunk * ROW_CHUNK;
            for (i, row_out) in out.chunks_mut(nf).enumerate() {
                self.bin_row(features.row(first + i), row_out);
            }
        });
        bins
    }

    /// Adds the trees' outputs to `predictions` for binned rows (`nf` bins a row).
    ///
    /// Many trees (a prediction): each chunk's bins are turned column-major once, then every tree sets its leaf
    /// index bit by bit over the whole chunk, one level at a time — a loop over contiguous bytes the compiler
    /// vectorises. Few trees (a training round adds one): the transpose would cost more than it saves, so each row
    /// walks the trees. Both add leaf values tree by tree in the same order, so the sums are identical.
    pub(crate) fn add_trees(
        trees: &[ObliviousTree],
        bins: &[u8],
        nf: usize,
        predictions: &mut [f64],
    ) {
        // Leaf indices of up to 16 levels fit 16 bits, twice as many to a vector as 32 (CatBoost's limit is 16).
        let narrow = trees.iter().all(|t| t.splits.len() <= 16);
        for_each_chunk(predictions, ROW_CHUNK, |chunk, out| {
            let first = chunk * ROW_CHUNK;
            let rows = &bins[first * nf..(first + out.len()) * nf];
            if trees.len() >= COLUMNAR_MIN_TREES || nf == 0 {
                add_trees_by_column(trees, rows, nf, narrow, out);
            } else {
                for tree in trees {
                    for (p, row) in out.iter_mut().zip(rows.chunks_exact(nf)) {
                        *p += tree.leaf_values[leaf_index(&tree.splits, row)];
                    }
                }
            }
        });
    }
}

/// Trees per call from which [`ObliviousModel::add_trees`] transposes a chunk (see there).
const COLUMNAR_MIN_TREES: usize = 8;

/// [`ObliviousModel::add_trees`] for one chunk of row-major `rows`, through a column-major copy: compiled twice,
/// for the baseline x86-64 (SSE2) and for AVX2 where the CPU has it (checked at run time), because the level loops
/// are what the compiler vectorises and AVX2 does twice the bytes per instruction. Same arithmetic, same sums.
/// `narrow`: every tree has at most 16 levels (16-bit leaf indices).
fn add_trees_by_column(
    trees: &[ObliviousTree],
    rows: &[u8],
    nf: usize,
    narrow: bool,
    out: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { add_trees_by_column_avx2(trees, rows, nf, narrow, out) };
        return;
    }
    add_trees_by_column_portable(trees, rows, nf, narrow, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_trees_by_column_avx2(
    trees: &[ObliviousTree],
    rows: &[u8],
    nf: usize,
    narrow: bool,
    out: &mut [f64],
) {
    add_trees_by_column_portable(trees, rows, nf, narrow, out);
}

#[inline(always)]
fn add_trees_by_column_portable(
    trees: &[ObliviousTree],
    rows: &[u8],
    nf: usize,
    narrow: bool,
    out: &mut [f64],
) {
    let n = out.len();
    let columns = transpose(rows, nf, n);
    if narrow {
        add_leaf_values::<u16>(trees, &columns, n, out);
    } else {
        add_leaf_values::<u32>(trees, &columns, n, out);
    }
}

/// `n` row-major rows of `nf` bins as `nf` columns of `n` bins.
#[inline(always)]
fn transpose(rows: &[u8], nf: usize, n: usize) -> Vec<u8> {
    let mut columns = vec![0u8; nf * n];
    // (No features: no splits either, every tree is one leaf.)
    for (r, row) in rows.chunks_exact(nf.max(1)).enumerate() {
        for (f, &bin) in row.iter().enumerate() {
            columns[f * n + r] = bin;
        }
    }
    columns
}

/// A leaf index being built bit by bit, one bit per level.
trait LeafIndex:
    Copy + Default + std::ops::BitOrAssign + std::ops::Shl<usize, Output = Self> + From<bool>
{
    fn get(self) -> usize;
}

impl LeafIndex for u16 {
    fn get(self) -> usize {
        usize::from(self)
    }
}

impl LeafIndex for u32 {
    fn get(self) -> usize {
        self as usize
    }
}

/// Adds every tree's leaf value to `out` for the `n` rows of column-major `columns`.
///
/// A column whose bins are all equal in the chunk — a store's attributes when the chunk is one store's rows, the
/// calendar when it is one day's stores — decides each of its levels alike for every row: that level's bit is set
/// once for the whole chunk instead of row by row. Same leaf indices, same sums.
#[inline(always)]
fn add_leaf_values<L: LeafIndex>(
    trees: &[ObliviousTree],
    columns: &[u8],
    n: usize,
    out: &mut [f64],
) {
    if n == 0 {
        return;
    }
    let fixed: Vec<Option<u8>> = columns
        .chunks_exact(n)
        .map(|column| {
            column
                .iter()
                .all(|&bin| bin == column[0])
                .then_some(column[0])
        })
        .collect();
    let mut leaves = vec![L::default(); n];
    for tree in trees {
        let mut common = L::default();
        for (depth, split) in tree.splits.iter().enumerate() {
            if let Some(bin) = fixed[split.feature] {
                common |= L::from(split.holds(bin)) << depth;
            }
        }
        leaves.fill(common);
        for (depth, split) in tree.splits.iter().enumerate() {
            if fixed[split.feature].is_some() {
                continue;
            }
            let column = &columns[split.feature * n..(split.feature + 1) * n];
            let threshold = split.threshold;
            // Two loops rather than `holds` per byte: the test is the same for the whole column.
            if split.is_equality {
                for (leaf, &bin) in leaves.iter_mut().zip(column) {
                    *leaf |= L::from(bin == threshold) << depth;
                }
            } else {
                for (leaf, &bin) in leaves.iter_mut().zip(column) {
                    *leaf |= L::from(bin > threshold) << depth;
                }
            }
        }
        for (p, &leaf) in out.iter_mut().zip(&leaves) {
            *p += tree.leaf_values[leaf.get()];
        }
    }
}

/// Runs `f(chunk_index, chunk)` over `chunk_len`-sized chunks of `data`: on the calling thread when there is only
/// one chunk (a single-row request must not hop to the rayon pool and back), else in parallel on rayon's pool.
fn for_each_chunk<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    if data.len() <= chunk_len {
        f(0, data);
    } else {
        data.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(chunk, out)| f(chunk, out));
    }
}

/// The leaf a binned row falls into.
#[inline]
pub(crate) fn leaf_index(splits: &[Split], row: &[u8]) -> usize {
    let mut index = 0usize;
    for (depth, split) in splits.iter().enumerate() {
        index |= usize::from(split.holds(row[split.feature])) << depth;
    }
    index
}

impl Regressor for ObliviousModel {
    fn engine(&self) -> Engine {
        Engine::Catboost
    }

    fn predict(&self, features: &FeatureMatrix) -> Result<Vec<f64>, ModelError> {
        self.check_columns(features)?;
        let bins = self.bin_matrix(features);
        let mut predictions = vec![self.bias; features.n_rows()];
        // Leaf sums are added tree by tree in a fixed order, so results do not depend on the thread count.
        Self::add_trees(&self.trees, &bins, self.n_binned(), &mut predictions);
        Ok(predictions)
    }

    fn save(&self, dir: &Path) -> Result<PathBuf, ModelError> {
        let path = dir.join("catboost.json");
        super::json::save(self, &path)?;
        Ok(path)
    }

    fn feature_importance(&self) -> Vec<(String, f64)> {
        self.names
            .iter()
            .cloned()
            .zip(self.gains.iter().copied())
            .collect()
    }

    fn n_rounds(&self) -> usize {
        self.trees.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_and_row_evaluation_agree_exactly() {
        // A deterministic jumble of bins and trees (greater-than and equality splits, depths 1 to 6) over more
        // rows than one chunk, so both paths and a short last chunk are exercised.
        let (nf, rows) = (5, 3 * ROW_CHUNK + 37);
        let mut state = 0x9e37_79b9_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        // Column 1 holds one bin per chunk and column 3 one bin throughout (a store's attributes in a chunk of its
        // rows): the column path sets their levels once per chunk.
        let bins: Vec<u8> = (0..rows * nf)
            .map(|i| match i % nf {
                1 => (i / nf / ROW_CHUNK % 7) as u8,
                3 => 4,
                _ => (next() % 7) as u8,
            })
            .collect();
        let trees: Vec<ObliviousTree> = (0..40)
            .map(|t| {
                let depth = 1 + t % 6;
                let splits = (0..depth)
                    .map(|_| Split {
                        feature: next() as usize % nf,
                        threshold: (next() % 7) as u8,
                        is_equality: next() % 3 == 0,
                    })
                    .collect();
                let leaf_values = (0..1 << depth)
                    .map(|_| f64::from(next() % 1000) / 7.0 - 70.0)
                    .collect();
                ObliviousTree {
                    splits,
                    leaf_values,
                    leaf_weights: vec![1.0; 1 << depth],
                }
            })
            .collect();
        let mut by_column = vec![0.5; rows];
        ObliviousModel::add_trees(&trees, &bins, nf, &mut by_column);
        let mut by_row = vec![0.5; rows];
        for tree in &trees {
            ObliviousModel::add_trees(std::slice::from_ref(tree), &bins, nf, &mut by_row);
        }
        assert_eq!(by_column, by_row);
        // The baseline build of the column path (what a CPU without AVX2 runs) agrees too.
        let mut portable = vec![0.5; ROW_CHUNK];
        add_trees_by_column_portable(&trees, &bins[..ROW_CHUNK * nf], nf, true, &mut portable);
        assert_eq!(portable, by_column[..ROW_CHUNK]);
        // 32-bit leaf indices (trees deeper than 16 levels) give the same sums as the 16-bit ones used here.
        let mut wide = vec![0.5; ROW_CHUNK];
        add_trees_by_column_portable(&trees, &bins[..ROW_CHUNK * nf], nf, false, &mut wide);
        assert_eq!(wide, portable);
        let first_row_by_hand = trees.iter().fold(0.5, |sum, tree| {
            sum + tree.leaf_values[leaf_index(&tree.splits, &bins[..nf])]
        });
        assert_eq!(by_column[0], first_row_by_hand);
    }
}
