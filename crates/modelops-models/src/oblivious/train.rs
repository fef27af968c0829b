//! Training: quantize once, then grow symmetric trees on per-leaf gradient histograms.
//!
//! Data layout, chosen for cache behaviour on ~1M × 50 inputs:
//! - every feature (numeric, one-hot, CTR) is binned once into a row-major `u8` matrix, so the bins of one row
//!   share a cache line and a histogram pass reads each row once for all features;
//! - rows are kept grouped by leaf in one index array (stable partition per level, so indices stay ascending
//!   inside a leaf and memory is walked forwards);
//! - per level, histograms of (weighted gradient, weight) per leaf × bin are built only for the smaller child of
//!   each split leaf; the sibling is parent − smaller (the subtraction trick), so a tree costs about
//!   `rows × (1 + depth / 2)` row visits;
//! - an oblivious level uses one split for all leaves, so each candidate (feature, border) is scored over all
//!   leaves at once from those histograms (CatBoost's default `Cosine` score), plus CatBoost's decaying
//!   Gaussian noise (`random_strength`).
//!
//! Everything runs on a private rayon pool of `threads` workers. Parallel sums are reduced in a fixed order and
//! every random stream is keyed by (seed, tree, chunk), so the same data and seed give the same model bytes
//! whatever the number of threads.

use super::config::{Bootstrap, ObliviousConfig};
use super::ctr::{self, CtrFeature, CtrKind};
use super::hash::SplitMix64;
use super::model::{BinnedSource, CatFeature, FloatFeature, ObliviousModel, ObliviousTree, Split};
use super::quantize::{bin_of, choose_borders};
use crate::{FeatureKind, ModelError, TrainProgress, TrainSet};
use rayon::prelude::*;
use std::time::Instant;

/// Rows per parallel task for row-wise passes (bootstrap, gradients, binning, histogram pieces).
const ROW_CHUNK: usize = 16_384;

/// One histogram cell: sum of weighted gradients and sum of weights.
type Cell = [f64; 2];

/// Per-row weighted gradient and weight of the current tree, side by side (one cache access per row).
type RowStats = [f32; 2];

/// How many rows ahead the histogram loop prefetches.
const PREFETCH_DISTANCE: usize = 24;

/// Hints the CPU to load the cache line holding `ptr` (a no-op on other architectures). Prefetching never
/// faults, whatever the address.
#[inline(always)]
fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `prefetch` instructions have no architectural effect and never fault.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Trains a model; see [`ObliviousConfig`] for the settings.
pub(crate) fn fit(
    config: &ObliviousConfig,
    train: &TrainSet<'_>,
    eval: Option<&TrainSet<'_>>,
    progress: &dyn TrainProgress,
) -> Result<ObliviousModel, ModelError> {
    config.validate()?;
    train.check()?;
    if let Some(eval) = eval {
        eval.check()
            .map_err(|e| ModelError::InvalidData(format!("evaluation set: {e}")))?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .thread_name(|i| format!("oblivious-{i}"))
        .build()
        .map_err(|e| ModelError::Engine {
            engine: "oblivious",
            message: format!("cannot start threads: {e}"),
        })?;
    pool.install(|| Trainer::new(config, train, eval).and_then(|t| t.run(progress)))
}

/// Gradient statistics of the rows in one leaf.
#[derive(Clone, Copy, Debug, Default)]
struct LeafSums {
    gradient: f64,
    weight: f64,
}

struct Trainer<'a> {
    config: &'a ObliviousConfig,
    target: &'a [f32],
    user_weights: Option<&'a [f32]>,
    model: ObliviousModel,
    /// Row-major bins of the training rows (training-time CTR values).
    bins: Vec<u8>,
    n_rows: usize,
    /// Bins per binned feature.
    n_bins: Vec<usize>,
    /// Offset of each feature's bins inside one leaf's histogram.
    offsets: Vec<usize>,
    total_bins: usize,
    /// Matrix column behind each binned feature (for importance).
    source_column: Vec<usize>,
    eval: Option<EvalData<'a>>,
}

struct EvalData<'a> {
    bins: Vec<u8>,
    target: &'a [f32],
    weights: Option<&'a [f32]>,
    predictions: Vec<f64>,
}

impl<'a> Trainer<'a> {
    fn new(
        config: &'a ObliviousConfig,
        train: &TrainSet<'a>,
        eval: Option<&TrainSet<'a>>,
    ) -> Result<Self, ModelError> {
        let started = Instant::now();
        let matrix = train.features;
        let n = matrix.n_rows();
        let n_cols = matrix.n_features();
        let columns: Vec<Vec<f32>> = (0..n_cols)
            .into_par_iter()
            .map(|c| (0..n).map(|r| matrix.values()[r * n_cols + c]).collect())
            .collect();

        // Numeric columns: borders.
        let numeric: Vec<usize> = (0..n_cols)
            .filter(|&c| matches!(matrix.kinds()[c], FeatureKind::Numeric))
            .collect();
        let floats: Vec<FloatFeature> = numeric
            .par_iter()
            .map(|&c| {
                let (borders, has_nans) = choose_borders(
                    &columns[c],
                    config.border_count as usize,
                    config.seed ^ c as u64,
                );
                FloatFeature {
                    column: c,
                    borders,
                    has_nans,
                }
            })
            .collect();

        // Categorical columns: one-hot or CTRs.
        let border = ctr::target_border(train.target);
        let mut cats = Vec::new();
        let mut ctrs = Vec::new();
        let mut ctr_training_values: Vec<Vec<f32>> = Vec::new();
        for (c, kind) in matrix.kinds().iter().enumerate() {
            let FeatureKind::Categorical { levels } = *kind else {
                continue;
            };
            let codes: Vec<Option<u32>> = columns[c]
                .iter()
                .map(|v| ctr::level_of(*v, levels))
                .collect();
            let cat_index = cats.len();
            let one_hot = levels <= config.one_hot_max_size.min(254);
            if one_hot {
                cats.push(CatFeature {
                    column: c,
                    levels,
                    one_hot,
                    stats: None,
                });
                continue;
            }
            let stats = ctr::level_stats(&codes, train.target, border, levels);
            let scale = config.ctr_border_count as f32;
            let borders = ctr::uniform_borders(config.ctr_border_count, scale);
            let mut kinds: Vec<CtrKind> = config
                .ctr_priors
                .iter()
                .map(|&prior| CtrKind::Borders { prior })
                .collect();
            if config.counter_ctr {
                kinds.push(CtrKind::Counter);
            }
            let features: Vec<CtrFeature> = kinds
                .into_iter()
                .map(|kind| CtrFeature {
                    cat_index,
                    kind,
                    scale,
                    borders: borders.clone(),
                })
                .collect();
            let values: Vec<Vec<f32>> = features
                .par_iter()
                .map(|f| ctr::training_values(f, &codes, train.target, border, &stats, config.seed))
                .collect();
            ctr_training_values.extend(values);
            ctrs.extend(features);
            cats.push(CatFeature {
                column: c,
                levels,
                one_hot,
                stats: Some(stats),
            });
        }

        let mut binned: Vec<BinnedSource> = (0..floats.len()).map(BinnedSource::Float).collect();
        binned.extend(
            cats.iter()
                .enumerate()
                .filter(|(_, c)| c.one_hot)
                .map(|(i, _)| BinnedSource::OneHot(i)),
        );
        binned.extend((0..ctrs.len()).map(BinnedSource::Ctr));
        let n_bins: Vec<usize> = binned
            .iter()
            .map(|s| match *s {
                BinnedSource::Float(i) => floats[i].borders.len() + 1,
                BinnedSource::OneHot(i) => cats[i].levels as usize + 1,
                BinnedSource::Ctr(i) => ctrs[i].borders.len() + 1,
            })
            .collect();
        let source_column: Vec<usize> = binned
            .iter()
            .map(|s| match *s {
                BinnedSource::Float(i) => floats[i].column,
                BinnedSource::OneHot(i) => cats[i].column,
                BinnedSource::Ctr(i) => cats[ctrs[i].cat_index].column,
            })
            .collect();
        let mut offsets = Vec::with_capacity(n_bins.len());
        let mut total_bins = 0;
        for nb in &n_bins {
            offsets.push(total_bins);
            total_bins += nb;
        }

        let model = ObliviousModel {
            names: matrix.names().to_vec(),
            kinds: matrix.kinds().to_vec(),
            floats,
            cats,
            ctrs,
            binned,
            trees: Vec::new(),
            bias: 0.0,
            gains: vec![0.0; n_cols],
        };

        // Training bins: numeric and one-hot as at prediction time, CTRs from their ordered training values.
        let nf = model.n_binned();
        let mut bins = vec![0u8; n * nf];
        if nf > 0 {
            bins.par_chunks_mut(ROW_CHUNK * nf)
                .enumerate()
                .for_each(|(chunk, out)| {
                    let first = chunk * ROW_CHUNK;
                    for (i, row_out) in out.chunks_mut(nf).enumerate() {
                        let r = first + i;
                        model.bin_row(matrix.row(r), row_out);
                        for (slot, source) in row_out.iter_mut().zip(&model.binned) {
                            if let BinnedSource::Ctr(k) = *source {
                                *slot = bin_of(&model.ctrs[k].borders, ctr_training_values[k][r]);
                            }
                        }
                    }
                });
        }

        let eval = match eval {
            Some(e) => {
                model
                    .check_columns(e.features)
                    .map_err(|err| ModelError::InvalidData(format!("evaluation set: {err}")))?;
                Some(EvalData {
                    bins: model.bin_matrix(e.features),
                    target: e.target,
                    weights: e.weights,
                    predictions: Vec::new(),
                })
            }
            None => None,
        };
        tracing::debug!(
            rows = n,
            binned_features = nf,
            total_bins,
            seconds = started.elapsed().as_secs_f64(),
            "oblivious booster: data quantized"
        );
        Ok(Self {
            config,
            target: train.target,
            user_weights: train.weights,
            model,
            bins,
            n_rows: n,
            n_bins,
            offsets,
            total_bins,
            source_column,
            eval,
        })
    }

    fn run(mut self, progress: &dyn TrainProgress) -> Result<ObliviousModel, ModelError> {
        let started = Instant::now();
        let n = self.n_rows;
        let config = self.config;
        let bias = match self.user_weights {
            Some(w) => {
                let sw: f64 = w.iter().map(|&x| f64::from(x)).sum();
                if sw <= 0.0 {
                    return Err(ModelError::InvalidData(
                        "all training weights are zero".into(),
                    ));
                }
                self.target
                    .iter()
                    .zip(w)
                    .map(|(&y, &x)| f64::from(y) * f64::from(x))
                    .sum::<f64>()
                    / sw
            }
            None => self.target.iter().map(|&y| f64::from(y)).sum::<f64>() / n as f64,
        };
        self.model.bias = bias;
        let mut predictions = vec![bias; n];
        if let Some(e) = self.eval.as_mut() {
            e.predictions = vec![bias; e.target.len()];
        }
        let mut row_stats: Vec<RowStats> = vec![[0.0; 2]; n];
        let mut order: Vec<u32> = Vec::new();
        let max_leaves_with_hist = 1usize << (config.depth - 1);
        let mut hist = vec![[0f64; 2]; max_leaves_with_hist * self.total_bins];
        let mut parent_hist = vec![[0f64; 2]; max_leaves_with_hist * self.total_bins];
        let mut best_eval: Option<(f64, usize)> = None;
        let total = config.iterations as usize;

        for iteration in 0..total {
            let gradient_scale = self.prepare_gradients(iteration, &predictions, &mut row_stats);
            let tree = self.grow_tree(
                iteration,
                gradient_scale,
                &row_stats,
                &mut order,
                &mut hist,
                &mut parent_hist,
            );
            let nf = self.model.n_binned();
            ObliviousModel::add_trees(
                std::slice::from_ref(&tree),
                &self.bins,
                nf,
                &mut predictions,
            );
            let mut eval_metric = None;
            if let Some(e) = self.eval.as_mut() {
                ObliviousModel::add_trees(
                    std::slice::from_ref(&tree),
                    &e.bins,
                    nf,
                    &mut e.predictions,
                );
                let rmse = weighted_rmse(&e.predictions, e.target, e.weights);
                eval_metric = Some(rmse);
                if best_eval.is_none_or(|(best, _)| rmse < best) {
                    best_eval = Some((rmse, iteration));
                }
            }
            self.model.trees.push(tree);
            progress.on_round(iteration + 1, total, eval_metric);
            if let (Some(patience), Some((_, best_iteration))) =
                (config.early_stopping_rounds, best_eval)
                && iteration - best_iteration >= patience as usize
            {
                tracing::debug!(
                    iteration,
                    best_iteration,
                    "oblivious booster: early stopping"
                );
                break;
            }
        }
        if let Some((rmse, best_iteration)) = best_eval {
            // The best iteration is kept whenever an evaluation set is given (CatBoost's use_best_model).
            self.model.trees.truncate(best_iteration + 1);
            tracing::info!(
                best_iteration,
                eval_rmse = rmse,
                "oblivious booster: kept best iteration"
            );
        }
        tracing::info!(
            trees = self.model.trees.len(),
            seconds = started.elapsed().as_secs_f64(),
            "oblivious booster: trained"
        );
        Ok(self.model)
    }

    /// Draws this tree's bootstrap weights, computes weighted RMSE gradients and returns the split-noise
    /// standard deviation (CatBoost: `random_strength × RMS(gradient) × decay(model size)`).
    fn prepare_gradients(
        &self,
        iteration: usize,
        predictions: &[f64],
        row_stats: &mut [RowStats],
    ) -> f64 {
        let config = self.config;
        let seed = config.seed;
        let target = self.target;
        let user_weights = self.user_weights;
        let squares: Vec<f64> = row_stats
            .par_chunks_mut(ROW_CHUNK)
            .enumerate()
            .map(|(chunk, out)| {
                let mut rng =
                    SplitMix64::from_parts(&[seed, iteration as u64, chunk as u64, 0x6273]);
                let first = chunk * ROW_CHUNK;
                let mut squares = 0.0f64;
                for (i, stats) in out.iter_mut().enumerate() {
                    let r = first + i;
                    let sample = match config.bootstrap {
                        Bootstrap::Bayesian => {
                            if config.bagging_temperature == 0.0 {
                                1.0
                            } else {
                                (-rng.next_open01().ln()).powf(config.bagging_temperature)
                            }
                        }
                        Bootstrap::Bernoulli => {
                            f64::from(u8::from(rng.next_open01() <= config.subsample))
                        }
                        Bootstrap::No => 1.0,
                    };
                    let user = user_weights.map_or(1.0, |uw| f64::from(uw[r]));
                    let gradient = f64::from(target[r]) - predictions[r];
                    squares += gradient * gradient;
                    *stats = [(gradient * sample * user) as f32, (sample * user) as f32];
                }
                squares
            })
            .collect();
        if config.random_strength == 0.0 {
            return 0.0;
        }
        let rms = (squares.iter().sum::<f64>() / self.n_rows as f64).sqrt();
        // CatBoost's CalcScoreStDevMult: the noise fades once the model length (iterations × learning rate)
        // exceeds ln(rows).
        let model_length = iteration as f64 * config.learning_rate;
        let left = ((self.n_rows as f64).ln() - model_length).exp();
        config.random_strength * rms * left / (1.0 + left)
    }

    #[allow(clippy::too_many_arguments)]
    fn grow_tree(
        &mut self,
        iteration: usize,
        noise_sd: f64,
        row_stats: &[RowStats],
        order: &mut Vec<u32>,
        hist: &mut Vec<Cell>,
        parent_hist: &mut Vec<Cell>,
    ) -> ObliviousTree {
        let n = self.n_rows;
        let depth = self.config.depth as usize;
        let tb = self.total_bins;
        order.clear();
        order.extend(0..n as u32);
        let mut ranges: Vec<(usize, usize)> = vec![(0, n)];
        let total_weight: f64 = row_stats
            .par_chunks(ROW_CHUNK)
            .map(|c| c.iter().map(|s| f64::from(s[1])).sum::<f64>())
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        let l2 = self.config.l2_leaf_reg * total_weight / n as f64;
        let mut splits: Vec<Split> = Vec::with_capacity(depth);

        // Root histogram.
        self.build_histograms(&[(0, 0, n)], order, row_stats, hist);
        for level in 0..depth {
            let leaves = 1usize << level;
            let Some((split, gain)) =
                self.best_split(&hist[..leaves * tb], leaves, l2, noise_sd, iteration, level)
            else {
                break;
            };
            self.model.gains[self.source_column[split.feature]] += gain;
            splits.push(split);
            self.partition(order, &mut ranges, split);
            if level + 1 == depth {
                break;
            }
            // Histograms of the next level: build the smaller child, subtract for the larger.
            std::mem::swap(hist, parent_hist);
            let mut to_build = Vec::with_capacity(leaves);
            for parent in 0..leaves {
                let (a, b) = (ranges[parent], ranges[parent + leaves]);
                let small = if a.1 - a.0 <= b.1 - b.0 {
                    parent
                } else {
                    parent + leaves
                };
                to_build.push((small, ranges[small].0, ranges[small].1));
            }
            self.build_histograms(&to_build, order, row_stats, hist);
            let (low, high) = hist[..2 * leaves * tb].split_at_mut(leaves * tb);
            low.par_chunks_mut(tb)
                .zip(high.par_chunks_mut(tb))
                .zip(parent_hist[..leaves * tb].par_chunks(tb))
                .enumerate()
                .for_each(|(parent, ((left, right), whole))| {
                    let small_is_left = to_build[parent].0 == parent;
                    let (built, derived) = if small_is_left {
                        (&*left, right)
                    } else {
                        (&*right, left)
                    };
                    for ((d, b), w) in derived.iter_mut().zip(built.iter()).zip(whole) {
                        *d = [w[0] - b[0], w[1] - b[1]];
                    }
                });
        }

        // Leaf values: one Newton step (for RMSE equal to the gradient step) with L2, shrunk by the learning rate.
        let n_leaves = 1usize << splits.len();
        let sums: Vec<(LeafSums, f64)> = (0..n_leaves)
            .into_par_iter()
            .map(|leaf| {
                let (start, end) = ranges[leaf];
                let mut s = LeafSums::default();
                let mut count = 0.0f64;
                let rows = &order[start..end];
                for (i, &r) in rows.iter().enumerate() {
                    if let Some(&ahead) = rows.get(i + PREFETCH_DISTANCE) {
                        prefetch(row_stats.as_ptr().wrapping_add(ahead as usize).cast());
                    }
                    let r = r as usize;
                    s.gradient += f64::from(row_stats[r][0]);
                    s.weight += f64::from(row_stats[r][1]);
                    count += self.user_weights.map_or(1.0, |w| f64::from(w[r]));
                }
                (s, count)
            })
            .collect();
        let learning_rate = self.config.learning_rate;
        let leaf_values = sums
            .iter()
            .map(|(s, _)| {
                if s.weight > 0.0 {
                    learning_rate * s.gradient / (s.weight + l2)
                } else {
                    0.0
                }
            })
            .collect();
        let leaf_weights = sums.iter().map(|(_, c)| *c).collect();
        ObliviousTree {
            splits,
            leaf_values,
            leaf_weights,
        }
    }

    /// Builds the histograms of the listed leaves (`(slot, start, end)` into `order`) into their slots of `hist`.
    fn build_histograms(
        &self,
        leaves: &[(usize, usize, usize)],
        order: &[u32],
        row_stats: &[RowStats],
        hist: &mut [Cell],
    ) {
        let tb = self.total_bins;
        let nf = self.n_bins.len();
        let bins = &self.bins;
        let offsets = &self.offsets;
        let accumulate = |rows: &[u32], out: &mut [Cell]| {
            for (i, &r) in rows.iter().enumerate() {
                // Rows of a leaf are scattered: ask for a row's bins and gradient well before it is needed.
                if let Some(&ahead) = rows.get(i + PREFETCH_DISTANCE) {
                    let ahead = ahead as usize;
                    prefetch(bins.as_ptr().wrapping_add(ahead * nf));
                    prefetch(bins.as_ptr().wrapping_add(ahead * nf + nf - 1));
                    prefetch(row_stats.as_ptr().wrapping_add(ahead).cast());
                }
                let r = r as usize;
                let g = f64::from(row_stats[r][0]);
                let w = f64::from(row_stats[r][1]);
                let row = &bins[r * nf..(r + 1) * nf];
                for (&bin, &offset) in row.iter().zip(offsets) {
                    let cell = &mut out[offset + bin as usize];
                    cell[0] += g;
                    cell[1] += w;
                }
            }
        };
        // Big leaves are cut into row pieces summed in a fixed order; small leaves are built in place.
        let big_limit = 2 * ROW_CHUNK;
        let mut pieces: Vec<(usize, usize, usize)> = Vec::new();
        for &(slot, start, end) in leaves {
            if end - start > big_limit {
                let mut s = start;
                while s < end {
                    let e = (s + ROW_CHUNK).min(end);
                    pieces.push((slot, s, e));
                    s = e;
                }
            }
        }
        let in_place: Vec<(usize, usize, usize)> = leaves
            .iter()
            .copied()
            .filter(|&(_, s, e)| e - s <= big_limit)
            .collect();
        let mut slot_task: Vec<Option<(usize, usize)>> = vec![None; hist.len() / tb.max(1)];
        for &(slot, s, e) in &in_place {
            slot_task[slot] = Some((s, e));
        }
        hist.par_chunks_mut(tb)
            .zip(slot_task.par_iter())
            .for_each(|(out, task)| {
                if let Some((s, e)) = *task {
                    out.fill([0.0, 0.0]);
                    accumulate(&order[s..e], out);
                }
            });
        if !pieces.is_empty() {
            let partial: Vec<Vec<Cell>> = pieces
                .par_iter()
                .map(|&(_, s, e)| {
                    let mut local = vec![[0.0f64; 2]; tb];
                    accumulate(&order[s..e], &mut local);
                    local
                })
                .collect();
            let mut cleared: Vec<bool> = vec![false; hist.len() / tb.max(1)];
            for (&(slot, _, _), local) in pieces.iter().zip(&partial) {
                let out = &mut hist[slot * tb..(slot + 1) * tb];
                if !cleared[slot] {
                    out.copy_from_slice(local);
                    cleared[slot] = true;
                } else {
                    for (o, l) in out.iter_mut().zip(local) {
                        o[0] += l[0];
                        o[1] += l[1];
                    }
                }
            }
        }
    }

    /// The best (noisy Cosine score) split of this level over all leaves, with its L2 gain; `None` when no
    /// feature can split.
    fn best_split(
        &self,
        hist: &[Cell],
        leaves: usize,
        l2: f64,
        noise_sd: f64,
        iteration: usize,
        level: usize,
    ) -> Option<(Split, f64)> {
        let tb = self.total_bins;
        let seed = self.config.seed;
        let candidates: Vec<Option<(f64, u8, f64)>> = (0..self.n_bins.len())
            .into_par_iter()
            .map(|f| {
                let nb = self.n_bins[f];
                if nb < 2 {
                    return None;
                }
                let is_equality = matches!(self.model.binned[f], BinnedSource::OneHot(_));
                let candidates = nb - 1;
                let mut numerator = vec![0.0f64; candidates];
                let mut denominator = vec![0.0f64; candidates];
                let mut gain = vec![0.0f64; candidates];
                let average = |s: f64, w: f64| if w > 0.0 { s / (w + l2) } else { 0.0 };
                for leaf in 0..leaves {
                    let cells =
                        &hist[leaf * tb + self.offsets[f]..leaf * tb + self.offsets[f] + nb];
                    let (mut s_total, mut w_total) = (0.0, 0.0);
                    for c in cells {
                        s_total += c[0];
                        w_total += c[1];
                    }
                    let before = if w_total > 0.0 {
                        s_total * s_total / (w_total + l2)
                    } else {
                        0.0
                    };
                    let (mut s_acc, mut w_acc) = (0.0, 0.0);
                    for k in 0..candidates {
                        // "true" side: bin > k (threshold) or bin == k + 1 (one-hot level k).
                        let (s_true, w_true) = if is_equality {
                            (cells[k + 1][0], cells[k + 1][1])
                        } else {
                            s_acc += cells[k][0];
                            w_acc += cells[k][1];
                            (s_total - s_acc, w_total - w_acc)
                        };
                        let (s_false, w_false) = (s_total - s_true, w_total - w_true);
                        let a_true = average(s_true, w_true);
                        let a_false = average(s_false, w_false);
                        numerator[k] += a_true * s_true + a_false * s_false;
                        denominator[k] += a_true * a_true * w_true + a_false * a_false * w_false;
                        gain[k] += a_true * s_true + a_false * s_false - before;
                    }
                }
                let mut rng = SplitMix64::from_parts(&[
                    seed,
                    iteration as u64,
                    level as u64,
                    f as u64,
                    0x6e6f,
                ]);
                let mut best: Option<(f64, u8, f64)> = None;
                for k in 0..candidates {
                    let mut score = if denominator[k] > 0.0 {
                        numerator[k] / denominator[k].sqrt()
                    } else {
                        0.0
                    };
                    if noise_sd > 0.0 {
                        score += noise_sd * rng.next_normal();
                    }
                    let threshold = if is_equality { k + 1 } else { k } as u8;
                    if best.is_none_or(|(b, _, _)| score > b) {
                        best = Some((score, threshold, gain[k]));
                    }
                }
                best
            })
            .collect();
        let mut best: Option<(f64, Split, f64)> = None;
        for (f, c) in candidates.into_iter().enumerate() {
            if let Some((score, threshold, gain)) = c
                && best.as_ref().is_none_or(|(b, _, _)| score > *b)
            {
                let is_equality = matches!(self.model.binned[f], BinnedSource::OneHot(_));
                best = Some((
                    score,
                    Split {
                        feature: f,
                        threshold,
                        is_equality,
                    },
                    gain,
                ));
            }
        }
        best.map(|(_, split, gain)| (split, gain.max(0.0)))
    }

    /// Splits every leaf's rows by `split` (stable), the "true" rows becoming leaf `leaf + leaves`.
    fn partition(&self, order: &mut [u32], ranges: &mut Vec<(usize, usize)>, split: Split) {
        let leaves = ranges.len();
        let nf = self.n_bins.len();
        let bins = &self.bins;
        let mut by_start: Vec<(usize, (usize, usize))> =
            ranges.iter().copied().enumerate().collect();
        by_start.sort_by_key(|(_, r)| *r);
        let mut slices: Vec<(usize, usize, &mut [u32])> = Vec::with_capacity(leaves);
        let mut rest: &mut [u32] = order;
        let mut consumed = 0;
        for (leaf, (start, end)) in by_start {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - consumed);
            let (mine, tail) = tail.split_at_mut(end - start);
            slices.push((leaf, start, mine));
            rest = tail;
            consumed = end;
        }
        let falses: Vec<(usize, usize, usize)> = slices
            .into_par_iter()
            .map(|(leaf, start, rows)| {
                let mut trues = Vec::new();
                let mut kept = 0;
                for i in 0..rows.len() {
                    if let Some(&ahead) = rows.get(i + PREFETCH_DISTANCE) {
                        prefetch(
                            bins.as_ptr()
                                .wrapping_add(ahead as usize * nf + split.feature),
                        );
                    }
                    let r = rows[i];
                    if split.holds(bins[r as usize * nf + split.feature]) {
                        trues.push(r);
                    } else {
                        rows[kept] = r;
                        kept += 1;
                    }
                }
                rows[kept..].copy_from_slice(&trues);
                (leaf, start, kept)
            })
            .collect();
        ranges.resize(2 * leaves, (0, 0));
        for (leaf, start, kept) in falses {
            let end = ranges[leaf].1;
            ranges[leaf] = (start, start + kept);
            ranges[leaf + leaves] = (start + kept, end);
        }
    }
}

/// RMSE of predictions, weighted when weights are given.
fn weighted_rmse(predictions: &[f64], target: &[f32], weights: Option<&[f32]>) -> f64 {
    let mut sum = 0.0;
    let mut weight = 0.0;
    for (i, (&p, &y)) in predictions.iter().zip(target).enumerate() {
        let w = weights.map_or(1.0, |w| f64::from(w[i]));
        let e = p - f64::from(y);
        sum += w * e * e;
        weight += w;
    }
    if weight > 0.0 {
        (sum / weight).sqrt()
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FeatureMatrix, Fit, NoProgress, Regressor};

    /// y = 6·[cat ∈ {1, 3}] + 2·[x0 > 0.5] + noise-free x1 ramp, with NaNs in x1.
    fn problem(n: usize, seed: u64) -> (FeatureMatrix, Vec<f32>) {
        let mut rng = SplitMix64::from_parts(&[seed]);
        let mut values = Vec::with_capacity(n * 3);
        let mut target = Vec::with_capacity(n);
        for _ in 0..n {
            let x0 = rng.next_open01() as f32;
            let x1 = if rng.next_below(10) == 0 {
                f32::NAN
            } else {
                rng.next_open01() as f32
            };
            let cat = rng.next_below(6) as f32;
            values.extend([x0, x1, cat]);
            let y = 2.0 * f32::from(u8::from(x0 > 0.5))
                + 6.0 * f32::from(u8::from(cat == 1.0 || cat == 3.0))
                + if x1.is_nan() { -1.0 } else { x1 };
            target.push(y);
        }
        let m = FeatureMatrix::new(
            vec!["x0".into(), "x1".into(), "cat".into()],
            vec![
                FeatureKind::Numeric,
                FeatureKind::Numeric,
                FeatureKind::Categorical { levels: 6 },
            ],
            values,
        )
        .unwrap();
        (m, target)
    }

    fn rmse(a: &[f64], b: &[f32]) -> f64 {
        (a.iter()
            .zip(b)
            .map(|(p, y)| (p - f64::from(*y)).powi(2))
            .sum::<f64>()
            / a.len() as f64)
            .sqrt()
    }

    #[test]
    fn finds_the_separating_split_of_a_step() {
        let x: Vec<f32> = (0..200).map(|i| i as f32 / 200.0).collect();
        let y: Vec<f32> = x
            .iter()
            .map(|v| if *v > 0.6 { 5.0 } else { -5.0 })
            .collect();
        let m = FeatureMatrix::new(vec!["x".into()], vec![FeatureKind::Numeric], x).unwrap();
        let config = ObliviousConfig {
            depth: 1,
            iterations: 1,
            learning_rate: 1.0,
            l2_leaf_reg: 0.0,
            random_strength: 0.0,
            bootstrap: Bootstrap::No,
            ..Default::default()
        };
        let model = config
            .fit(
                &TrainSet {
                    features: &m,
                    target: &y,
                    weights: None,
                },
                None,
                &NoProgress,
            )
            .unwrap();
        let tree = &model.trees[0];
        let split = tree.splits[0];
        let border = model.floats[0].borders[split.threshold as usize];
        assert!(border > 0.59 && border < 0.61, "border {border}");
        let p = model.predict(&m).unwrap();
        assert!(
            (p[0] + 5.0).abs() < 1e-6 && (p[199] - 5.0).abs() < 1e-6,
            "{} {}",
            p[0],
            p[199]
        );
    }

    #[test]
    fn learns_numeric_missing_and_categorical_effects() {
        let (m, y) = problem(4000, 1);
        let config = ObliviousConfig {
            depth: 4,
            iterations: 300,
            learning_rate: 0.2,
            ..Default::default()
        };
        let model = config
            .fit(
                &TrainSet {
                    features: &m,
                    target: &y,
                    weights: None,
                },
                None,
                &NoProgress,
            )
            .unwrap();
        let (test, ty) = problem(2000, 2);
        let err = rmse(&model.predict(&test).unwrap(), &ty);
        assert!(err < 0.3, "test rmse {err}");
        let importance = model.feature_importance();
        assert!(
            importance[2].1 > importance[0].1 && importance[0].1 > 0.0,
            "{importance:?}"
        );
        // The same problem with one-hot splits for the categorical column.
        let one_hot = ObliviousConfig {
            one_hot_max_size: 6,
            ..config
        };
        let model = one_hot
            .fit(
                &TrainSet {
                    features: &m,
                    target: &y,
                    weights: None,
                },
                None,
                &NoProgress,
            )
            .unwrap();
        assert!(model.cats[0].one_hot);
        let err = rmse(&model.predict(&test).unwrap(), &ty);
        assert!(err < 0.3, "one-hot test rmse {err}");
    }

    #[test]
    fn same_seed_gives_identical_bytes_whatever_the_threads() {
        let (m, y) = problem(3000, 3);
        let train = TrainSet {
            features: &m,
            target: &y,
            weights: None,
        };
        let config = ObliviousConfig {
            depth: 5,
            iterations: 40,
            threads: 1,
            seed: 9,
            ..Default::default()
        };
        let a = config
            .fit(&train, None, &NoProgress)
            .unwrap()
            .predict(&m)
            .unwrap();
        let b = ObliviousConfig {
            threads: 2,
            ..config.clone()
        }
        .fit(&train, None, &NoProgress)
        .unwrap()
        .predict(&m)
        .unwrap();
        let c = ObliviousConfig { seed: 10, ..config }
            .fit(&train, None, &NoProgress)
            .unwrap()
            .predict(&m)
            .unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
    }

    #[test]
    fn early_stopping_keeps_the_best_iteration() {
        // Training target is pure noise: the evaluation error is best after very few trees.
        let (m, _) = problem(2000, 4);
        let mut rng = SplitMix64::from_parts(&[77]);
        let noise: Vec<f32> = (0..2000).map(|_| rng.next_normal() as f32).collect();
        let (em, _) = problem(1000, 5);
        let eval_y: Vec<f32> = (0..1000).map(|_| rng.next_normal() as f32).collect();
        let config = ObliviousConfig {
            depth: 6,
            iterations: 500,
            learning_rate: 0.5,
            early_stopping_rounds: Some(20),
            ..Default::default()
        };
        let eval = TrainSet {
            features: &em,
            target: &eval_y,
            weights: None,
        };
        let rounds = std::sync::Mutex::new(Vec::new());
        struct Record<'a>(&'a std::sync::Mutex<Vec<(usize, f64)>>);
        impl TrainProgress for Record<'_> {
            fn on_round(&self, done: usize, _total: usize, metric: Option<f64>) {
                self.0.lock().unwrap().push((done, metric.unwrap()));
            }
        }
        let model = config
            .fit(
                &TrainSet {
                    features: &m,
                    target: &noise,
                    weights: None,
                },
                Some(&eval),
                &Record(&rounds),
            )
            .unwrap();
        let rounds = rounds.into_inner().unwrap();
        assert!(
            rounds.len() < 500,
            "should stop early, ran {}",
            rounds.len()
        );
        let (best_round, best) =
            rounds.iter().copied().fold(
                (0, f64::INFINITY),
                |acc, r| if r.1 < acc.1 { r } else { acc },
            );
        assert_eq!(model.n_rounds(), best_round);
        assert_eq!(rounds.len(), best_round + 20);
        let again = rmse(&model.predict(&em).unwrap(), &eval_y);
        assert!((again - best).abs() < 1e-9, "{again} vs {best}");
    }

    #[test]
    fn eval_columns_must_match() {
        let (m, y) = problem(100, 6);
        let other = FeatureMatrix::new(vec!["z".into()], vec![FeatureKind::Numeric], vec![0.0; 10])
            .unwrap();
        let oy = vec![0.0; 10];
        let err = ObliviousConfig {
            iterations: 2,
            ..Default::default()
        }
        .fit(
            &TrainSet {
                features: &m,
                target: &y,
                weights: None,
            },
            Some(&TrainSet {
                features: &other,
                target: &oy,
                weights: None,
            }),
            &NoProgress,
        )
        .unwrap_err();
        assert!(err.to_string().contains("evaluation set"), "{err}");
    }
}
