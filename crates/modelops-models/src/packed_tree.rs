//! Binary decision trees packed for branch-free evaluation of eight rows at a time — the inner loop of the compiled
//! LightGBM and XGBoost forests (`lightgbm/forest.rs`, `xgboost/forest.rs`), which own the engines' rules and
//! reduce each split to this form.
//!
//! A split is one comparison, `value <= threshold` on `f32` inputs, of one column of a *widened* row ([`Rows`]):
//! every row is widened to its values as given (where `NaN <= t` is false: missing goes right), its values with
//! `NaN` read as `-inf` (where `-inf <= t` is true: missing goes left), and *derived* columns the forest computes
//! once per row for the splits that are not one comparison of an input (LightGBM's categorical splits — a bitset
//! test, derived as 0.0 left / 1.0 right — and zero-as-missing splits, derived as the feature with zeros made
//! missing). Both engines' numeric splits reduce to this exactly (each forest documents its reduction), so the walk
//! has a single kind of step: no missing-value test, no out-of-line rule. (Exact for every threshold but `NaN`,
//! which no split may have.)
//!
//! Why eight lanes: a row's walk is a chain of dependent loads (node → feature value → next node) whose direction
//! the CPU cannot predict, so walking one row at a time pays a mispredicted branch and the full load latency per
//! level. Here eight lanes each walk a row: eight independent chains the CPU overlaps, the next node chosen by a
//! conditional move. A lane whose row reached its leaf takes the next row at once (a select, not a branch), so a
//! tree costs each row its own depth — not, as when eight rows start and end together, the deepest of the eight
//! (LightGBM's leaf-wise trees are lopsided: on the reference model a row's mean depth is 4.5, the deepest of
//! eight 8.4).
//!
//! The step indexes without bounds checks (`unsafe`): the checks were a third of its instructions, and every index
//! is proven in range once — children and columns when a tree is packed, the row width when a walk starts.

/// Rows walked together.
const LANES: usize = 8;

/// 16 bytes, four to a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    threshold: f32,
    /// Index into the widened row: `feature`, `n_features + feature` when missing goes left, or
    /// `2 * n_features + index` for derived column `index`.
    column: u32,
    /// Left, right: a split (`< n_splits`) or leaf `l` as `n_splits + l`.
    children: [u32; 2],
}

/// How a split decides.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Test {
    /// Left when `value <= threshold` (not `NaN`); a missing value goes left when `missing_left`.
    LessOrEqual {
        feature: usize,
        threshold: f32,
        missing_left: bool,
    },
    /// Left when derived column `index` is `<= threshold` (not `NaN`).
    Derived { index: usize, threshold: f32 },
}

/// Where a branch leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Child {
    Split(usize),
    Leaf(usize),
}

/// One split before packing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Split {
    pub(crate) test: Test,
    pub(crate) left: Child,
    pub(crate) right: Child,
}

/// A packed tree: its splits, root first (leaves are only numbers: the walk stops at them).
#[derive(Clone, Debug)]
pub(crate) struct PackedTree {
    nodes: Vec<Node>,
    n_splits: u32,
    /// The widened row width the walk needs: twice the features, plus the derived columns up to the last used.
    width: usize,
}

impl PackedTree {
    /// Packs `splits` (split 0 is the root) over `n_leaves` leaves, for rows widened from `n_features` features
    /// (and as many derived columns as the splits use).
    ///
    /// # Errors
    /// A message when a child lies outside the tree, a split's child is not after it (the walk must only go down),
    /// a feature index is at or beyond `n_features`, a threshold is `NaN`, or there are no leaves.
    pub(crate) fn new(
        splits: &[Split],
        n_leaves: usize,
        n_features: usize,
    ) -> Result<Self, String> {
        let n_splits = splits.len();
        let mut width = 2 * n_features;
        if n_leaves == 0 || n_splits + n_leaves > u32::MAX as usize {
            return Err(format!("{n_leaves} leaves and {n_splits} splits"));
        }
        let mut nodes = Vec::with_capacity(n_splits);
        for (i, split) in splits.iter().enumerate() {
            let child = |c: Child| match c {
                Child::Split(s) if s > i && s < n_splits => Ok(s as u32),
                Child::Leaf(l) if l < n_leaves => Ok((n_splits + l) as u32),
                other => Err(format!(
                    "split {i} points to {other:?}, outside the tree or back up it"
                )),
            };
            let children = [child(split.left)?, child(split.right)?];
            let (column, threshold) = match split.test {
                Test::LessOrEqual {
                    feature,
                    threshold,
                    missing_left,
                } => {
                    if feature >= n_features {
                        return Err(format!("split {i} tests feature {feature} of {n_features}"));
                    }
                    (
                        feature + if missing_left { n_features } else { 0 },
                        threshold,
                    )
                }
                Test::Derived { index, threshold } => (2 * n_features + index, threshold),
            };
            width = width.max(column + 1);
            if column > u32::MAX as usize {
                return Err(format!("split {i} reads column {column}"));
            }
            if threshold.is_nan() {
                return Err(format!("split {i} has a NaN threshold"));
            }
            nodes.push(Node {
                threshold,
                column: column as u32,
                children,
            });
        }
        Ok(Self {
            nodes,
            n_splits: n_splits as u32,
            width,
        })
    }

    /// Calls `found(row, leaf)` for every row of `rows`, in row order. `scratch` is working memory the caller
    /// keeps across trees, so a block's walks do not allocate per tree.
    ///
    /// # Panics
    /// When `rows` are narrower than the tree's splits need (widened from fewer features or derived columns than
    /// given to [`PackedTree::new`]) — a bug in the forest, which builds both — or number 2^32 or more (a block is
    /// [`crate::PREDICT_BLOCK_ROWS`]).
    #[inline]
    pub(crate) fn for_each_leaf(
        &self,
        rows: &Rows,
        scratch: &mut Vec<u32>,
        mut found: impl FnMut(usize, usize),
    ) {
        assert!(
            rows.width >= self.width
                && rows.values.len() == (rows.len() + LANES) * rows.width
                && rows.len() < (u32::MAX as usize) - LANES,
            "{} rows of width {} for a tree that needs {}",
            rows.len(),
            rows.width,
            self.width
        );
        let n = rows.len();
        if self.n_splits == 0 {
            (0..n).for_each(|row| found(row, 0));
            return;
        }
        if n < LANES {
            // Too few rows to fill the lanes (a one-row request): one at a time.
            for row in 0..n {
                found(row, self.leaf_of_one(&rows.values, row * rows.width));
            }
            return;
        }
        scratch.clear();
        scratch.resize(n + LANES, 0);
        self.walk(rows, scratch);
        for (row, &leaf) in scratch[..n].iter().enumerate() {
            found(row, (leaf - self.n_splits) as usize);
        }
    }

    /// The next node from split `position` for the row starting at `start` in `values`.
    ///
    /// # Safety
    /// `position < n_splits`, and `start + self.width <= values.len()`.
    #[inline(always)]
    unsafe fn step(&self, position: u32, values: &[f32], start: usize) -> u32 {
        // SAFETY: `nodes` holds the `n_splits` splits; `new` checked every split's column `< self.width`, so
        // `start + column` lies in the row by the caller's promise; `children` has two entries.
        unsafe {
            let node = self.nodes.get_unchecked(position as usize);
            let value = *values.get_unchecked(start + node.column as usize);
            let left = value <= node.threshold; // false for NaN: the as-given column sends missing right
            *node.children.get_unchecked(usize::from(!left))
        }
    }

    /// The leaf (`0..n_leaves`) of the row starting at `start` in `values`, walked alone.
    fn leaf_of_one(&self, values: &[f32], start: usize) -> usize {
        (self.finish(0, values, start) - self.n_splits) as usize
    }

    /// The leaf node (`n_splits..`) reached from `position` (a split or already a leaf) by the row starting at
    /// `start` (`start + self.width <= values.len()`).
    fn finish(&self, mut position: u32, values: &[f32], start: usize) -> u32 {
        debug_assert!(start + self.width <= values.len());
        while position < self.n_splits {
            // SAFETY: `position` is a split by the loop's test; the caller promised the row is in `values`.
            position = unsafe { self.step(position, values, start) };
        }
        position
    }

    /// Writes each row's leaf node (`n_splits..`) into `leaf_of` (`rows.len() + LANES` long; the tail is
    /// scratch). Needs at least `LANES` rows and a tree with a split. Every lane runs the same branch-free step: a
    /// lane whose row reached its leaf takes the next row and the root; the node a step reaches is stored whether
    /// or not it is a leaf (a row's last store is its leaf). Rows handed out past the end (when several lanes
    /// finish in the last round) walk `rows`' zero padding into the scratch tail.
    fn walk(&self, rows: &Rows, leaf_of: &mut [u32]) {
        use std::hint::select_unpredictable as pick;
        let (values, width, n) = (&rows.values[..], rows.width, rows.len());
        debug_assert!(n >= LANES && self.n_splits > 0 && leaf_of.len() == n + LANES);
        // A lane's state in one register (eight lanes and the loop's pointers fit the CPU's registers): the row
        // in the low half, the node in the high half. A refilled lane's state is the row number alone (node 0).
        let mut lane: [u64; LANES] = std::array::from_fn(|k| k as u64);
        let mut next_row = LANES as u64;
        let end = n as u64;
        while next_row < end {
            for state in &mut lane {
                let (row, at) = unpack(*state);
                // SAFETY: `at` is a split (the root, or a step's result that was not a leaf); `row` is below
                // `next_row`, which the loop keeps `< n` and a round raises by at most `LANES`, so the row is one
                // of the `n + LANES` (padded) rows of width `rows.width >= self.width` (`for_each_leaf` checked),
                // and `leaf_of` has `n + LANES` entries.
                unsafe {
                    let next = self.step(at, values, row * width);
                    *leaf_of.get_unchecked_mut(row) = next;
                    let done = next >= self.n_splits;
                    *state = pick(done, next_row, (u64::from(next) << 32) | row as u64);
                    next_row += u64::from(done);
                }
            }
        }
        // The rows still in the lanes, one at a time.
        for (row, at) in lane.map(unpack) {
            if row < n {
                leaf_of[row] = self.finish(at, values, row * width);
            }
        }
    }
}

/// A lane's row (low half) and node (high half); see [`PackedTree::walk`].
fn unpack(state: u64) -> (usize, u32) {
    (state as u32 as usize, (state >> 32) as u32)
}

/// Rows widened for the walk (see the module doc): each row's values as given, then again with `NaN` as `-inf`,
/// then its derived columns.
#[derive(Clone, Debug)]
pub(crate) struct Rows {
    /// `n_rows` widened rows, then `LANES` rows of zeros.
    values: Vec<f32>,
    n_rows: usize,
    /// Values per widened row: twice the features plus the derived columns.
    width: usize,
}

impl Rows {
    /// Widens row-major `values` of `n_features` a row, each value first passed through `map`;
    /// `derive(row, derived)` fills a row's `n_derived` derived columns from its mapped values.
    pub(crate) fn widen(
        values: &[f32],
        n_features: usize,
        map: impl Fn(f32) -> f32,
        n_derived: usize,
        derive: impl Fn(&[f32], &mut [f32]),
    ) -> Self {
        let width = 2 * n_features + n_derived;
        let n_rows = values.len().checked_div(n_features).unwrap_or(0);
        let mut widened = vec![0.0f32; (n_rows + LANES) * width];
        for (row, out) in values
            .chunks_exact(n_features.max(1))
            .zip(widened.chunks_exact_mut(width.max(1)))
        {
            let (given, rest) = out.split_at_mut(n_features);
            let (as_low, derived) = rest.split_at_mut(n_features);
            for ((g, low), &v) in given.iter_mut().zip(as_low.iter_mut()).zip(row) {
                let v = map(v);
                *g = v;
                *low = if v.is_nan() { f32::NEG_INFINITY } else { v };
            }
            derive(given, derived);
        }
        Self {
            values: widened,
            n_rows,
            width,
        }
    }

    fn len(&self) -> usize {
        self.n_rows
    }
}

/// The largest `f32` that is `<= x` (`x` finite or infinite, not NaN): for every `f32` value `v`,
/// `v <= round_down(x)` exactly when `f64::from(v) <= x`.
pub(crate) fn round_down(x: f64) -> f32 {
    let nearest = x as f32;
    if f64::from(nearest) > x {
        nearest.next_down()
    } else {
        nearest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(
        feature: usize,
        threshold: f32,
        missing_left: bool,
        left: Child,
        right: Child,
    ) -> Split {
        Split {
            test: Test::LessOrEqual {
                feature,
                threshold,
                missing_left,
            },
            left,
            right,
        }
    }

    /// Root: x0 <= 1 (missing left) → [x1 <= 5 → leaf 0 | leaf 1], else leaf 2 (or, with `derived_right`, a
    /// split on derived column 0 — 0.0 when x1 < 0 — left to leaf 2, right to leaf 3).
    fn example(derived_right: bool) -> PackedTree {
        let right = if derived_right {
            Split {
                test: Test::Derived {
                    index: 0,
                    threshold: 0.0,
                },
                left: Child::Leaf(2),
                right: Child::Leaf(3),
            }
        } else {
            split(1, 100.0, false, Child::Leaf(2), Child::Leaf(3))
        };
        let splits = [
            split(0, 1.0, true, Child::Split(1), Child::Split(2)),
            split(1, 5.0, false, Child::Leaf(0), Child::Leaf(1)),
            right,
        ];
        PackedTree::new(&splits, 4, 2).unwrap()
    }

    fn leaves(tree: &PackedTree, rows: &[[f32; 2]]) -> Vec<usize> {
        let values: Vec<f32> = rows.iter().flatten().copied().collect();
        let mut out = vec![usize::MAX; rows.len()];
        let widened = Rows::widen(
            &values,
            2,
            |v| v,
            1,
            |row, derived| {
                derived[0] = if row[1] < 0.0 { 0.0 } else { 1.0 };
            },
        );
        tree.for_each_leaf(&widened, &mut Vec::new(), |row, leaf| {
            out[row] = leaf;
        });
        out
    }

    #[test]
    fn rows_reach_their_leaves_in_any_group_size() {
        let rows = [
            [1.0, 5.0],
            [1.0, 5.5],
            [f32::NAN, f32::NAN],
            [2.0, 50.0],
            [2.0, 500.0],
            [2.0, f32::NAN],
            [-7.0, -1.0],
            [1.5, 100.0],
            [0.0, 6.0],
            [3.0, 101.0],
            [f32::INFINITY, 0.0],
        ];
        let expected = vec![0, 1, 1, 2, 3, 3, 0, 2, 1, 3, 2];
        let tree = example(false);
        assert_eq!(leaves(&tree, &rows), expected);
        // Groups of every length, including short last groups.
        for n in 0..rows.len() {
            assert_eq!(leaves(&tree, &rows[..n]), expected[..n]);
        }
        let derived = example(true);
        let rows = [[5.0, -1.0], [5.0, 1.0], [0.0, 9.0], [f32::NAN, f32::NAN]];
        assert_eq!(leaves(&derived, &rows), vec![2, 3, 1, 1]);
        // Rows narrower than the tree needs are refused, not read past.
        let narrow = Rows::widen(&[1.0, 2.0], 2, |v| v, 0, |_, _| {});
        let refused =
            std::panic::catch_unwind(|| derived.for_each_leaf(&narrow, &mut Vec::new(), |_, _| {}));
        assert!(refused.is_err());
    }

    #[test]
    fn single_leaf_trees_and_bad_trees() {
        let stump = PackedTree::new(&[], 1, 2).unwrap();
        assert_eq!(leaves(&stump, &[[1.0, 2.0], [3.0, 4.0]]), vec![0, 0]);
        let up = [split(0, 1.0, false, Child::Split(0), Child::Leaf(0))];
        assert!(PackedTree::new(&up, 1, 1).unwrap_err().contains("back up"));
        let far = [split(0, 1.0, false, Child::Leaf(0), Child::Leaf(2))];
        assert!(PackedTree::new(&far, 2, 1).is_err());
        let feature = [split(4, 1.0, false, Child::Leaf(0), Child::Leaf(1))];
        assert!(
            PackedTree::new(&feature, 2, 2)
                .unwrap_err()
                .contains("feature 4")
        );
        let nan = [split(0, f32::NAN, false, Child::Leaf(0), Child::Leaf(1))];
        assert!(PackedTree::new(&nan, 2, 1).unwrap_err().contains("NaN"));
    }

    /// The leaf of `row` by following `splits` one at a time, the plain way.
    fn reference_leaf(splits: &[Split], row: &[f32], derived: &[f32]) -> usize {
        let mut at = 0;
        loop {
            let split = &splits[at];
            let left = match split.test {
                Test::LessOrEqual {
                    feature,
                    threshold,
                    missing_left,
                } => {
                    let v = row[feature];
                    if v.is_nan() {
                        missing_left
                    } else {
                        v <= threshold
                    }
                }
                Test::Derived { index, threshold } => derived[index] <= threshold,
            };
            match if left { split.left } else { split.right } {
                Child::Split(s) => at = s,
                Child::Leaf(l) => return l,
            }
        }
    }

    #[test]
    fn lanes_refilled_row_by_row_match_a_plain_walk() {
        // A lopsided tree (a long chain with side leaves, like LightGBM's leaf-wise trees) and a balanced one, over
        // row counts around the lane count and a block, with NaN and a derived column.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let chain: Vec<Split> = (0..40)
            .map(|i| Split {
                test: if i % 7 == 3 {
                    Test::Derived {
                        index: 0,
                        threshold: 0.5,
                    }
                } else {
                    Test::LessOrEqual {
                        feature: i % 3,
                        threshold: (i as f32 * 0.37).sin(),
                        missing_left: i % 2 == 0,
                    }
                },
                left: Child::Leaf(i),
                right: if i == 39 {
                    Child::Leaf(40)
                } else {
                    Child::Split(i + 1)
                },
            })
            .collect();
        let balanced: Vec<Split> = (0..31)
            .map(|i| {
                let child = |c: usize| {
                    if c < 31 {
                        Child::Split(c)
                    } else {
                        Child::Leaf(c - 31)
                    }
                };
                split(
                    i % 3,
                    0.1 * i as f32 - 1.5,
                    i % 2 == 1,
                    child(2 * i + 1),
                    child(2 * i + 2),
                )
            })
            .collect();
        // One scratch for every walk, as a forest keeps it: a short block after a long one must not see its tail.
        let mut scratch = Vec::new();
        for (splits, n_leaves) in [(chain, 41), (balanced, 32)] {
            let tree = PackedTree::new(&splits, n_leaves, 3).unwrap();
            for n in [7, 8, 9, 15, 16, 17, 100, 513, 9] {
                let values: Vec<f32> = (0..n * 3)
                    .map(|_| match next() % 10 {
                        0 => f32::NAN,
                        _ => (next() % 2000) as f32 / 1000.0 - 1.0,
                    })
                    .collect();
                let derive = |row: &[f32], d: &mut [f32]| d[0] = row[0] + row[1];
                let widened = Rows::widen(&values, 3, |v| v, 1, derive);
                let mut got = vec![usize::MAX; n];
                tree.for_each_leaf(&widened, &mut scratch, |row, leaf| got[row] = leaf);
                let expected: Vec<usize> = values
                    .chunks(3)
                    .map(|row| {
                        let mut d = [0.0];
                        derive(row, &mut d);
                        reference_leaf(&splits, row, &d)
                    })
                    .collect();
                assert_eq!(got, expected, "{n} rows");
            }
        }
    }

    #[test]
    fn rounding_down_keeps_every_comparison() {
        let thresholds = [
            0.1,
            -0.1,
            1e-40,
            -1e-40,
            3.0,
            1e39,
            -1e39,
            f64::INFINITY,
            16_777_217.0,
        ];
        let values = [
            0.1f32,
            0.1f32.next_down(),
            0.1f32.next_up(),
            -0.1,
            0.0,
            -0.0,
            1e-45,
            3.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            16_777_216.0,
            16_777_218.0,
        ];
        for &t in &thresholds {
            let rounded = round_down(t);
            for &v in &values {
                assert_eq!(v <= rounded, f64::from(v) <= t, "{v} <= {t}");
            }
        }
    }
}
