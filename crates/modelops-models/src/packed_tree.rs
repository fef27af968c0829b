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
//!
//! A block of rows is walked through copies of the trees without the splits that go the same way for every row of
//! the block ([`BlockWalker`] explains when and why).

/// Rows walked together.
const LANES: usize = 8;
/// A child with this bit set is leaf `child & !LEAF`; without it, the split at that index.
const LEAF: u32 = 1 << 31;
/// Blocks of fewer rows walk the trees as packed: specializing a tree costs about as much as walking a few dozen
/// rows through it.
const SPECIALIZE_MIN_ROWS: usize = crate::GROUP_BLOCK_MIN_ROWS;

/// 16 bytes, four to a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    threshold: f32,
    /// Index into the widened row: `feature`, `n_features + feature` when missing goes left, or
    /// `2 * n_features + index` for derived column `index`.
    column: u32,
    /// Left, right: the index of a split (always after this one: the walk only goes down) or `LEAF | leaf`.
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
        if n_leaves == 0 || n_splits >= LEAF as usize || n_leaves >= LEAF as usize {
            return Err(format!("{n_leaves} leaves and {n_splits} splits"));
        }
        let mut nodes = Vec::with_capacity(n_splits);
        for (i, split) in splits.iter().enumerate() {
            let child = |c: Child| match c {
                Child::Split(s) if s > i && s < n_splits => Ok(s as u32),
                Child::Leaf(l) if l < n_leaves => Ok(LEAF | l as u32),
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
        Ok(Self { nodes, width })
    }
}

/// Walks one block of rows through a forest's trees, one tree at a time, keeping its working memory across trees.
///
/// **Specialization.** In a block of one store's days, many splits go the same way for every row: those on the
/// store's attributes and history, which hold one value across the block, and many on columns that vary within a
/// narrow range — the year, the months since the competitor opened — when the block's values all lie on one side
/// of the threshold (a model trained on past years splits on `Year <= 2014.5`; every future row goes right). The
/// walker takes each column's range over the block once (lowest and highest value, and whether a value is
/// missing), then copies each tree without the splits the ranges decide (each replaced by the child all rows
/// take; what is left of the tree, in the same places) and walks the rows through the copy. A row reaches the
/// same leaf either way — the copy only skips comparisons whose outcome is already known — so predictions do not
/// change, bit for bit. On the reference model and the date-ordered 1M-row batch (predicted in blocks of one
/// store's days, [`crate::FeatureMatrix::set_row_groups`]), steps fell from 8.7 billion (packed trees) to 5.2
/// billion (splits on columns fixed across the block) and to 3.4 billion (splits the ranges decide: LightGBM 2.1,
/// XGBoost 1.2). A served request of one day across stores gains too (1,000 rows: the model's CPU 14.0 → 11.4 ms),
/// and one mixing random stores and days, where ranges decide little, showed no measurable cost. Blocks of fewer
/// than [`SPECIALIZE_MIN_ROWS`] rows walk the trees as packed.
pub(crate) struct BlockWalker<'r> {
    rows: &'r Rows,
    /// Each row's leaf node, plus the lanes' scratch tail.
    leaf_of: Vec<u32>,
    /// The block's column ranges; `None` when the block is not specialized.
    ranges: Option<Ranges>,
    /// The current tree's specialized copy, and where each of its nodes leads (see [`specialize`]).
    copy: Vec<Node>,
    redirect: Vec<u32>,
}

/// What a block's rows hold in each widened column: the lowest and highest value other than `NaN` (when every value
/// is `NaN`, lowest `+inf` and highest `-inf`: no split can then send the rows left), and whether any is `NaN`.
struct Ranges {
    low: Vec<f32>,
    high: Vec<f32>,
    any_nan: Vec<bool>,
}

impl<'r> BlockWalker<'r> {
    /// A walker for `rows`. It specializes the trees when there are enough rows to gain from it.
    pub(crate) fn new(rows: &'r Rows) -> Self {
        let ranges = (rows.len() >= SPECIALIZE_MIN_ROWS).then(|| rows.column_ranges());
        Self {
            rows,
            leaf_of: Vec::new(),
            ranges,
            copy: Vec::new(),
            redirect: Vec::new(),
        }
    }

    /// Adds each row's leaf value in `tree` (`leaves[leaf]`) to its entry of `out` (one per row).
    ///
    /// # Panics
    /// As [`BlockWalker::leaves`], or when `out` is shorter than the block or `leaves` than the tree's leaves.
    #[inline]
    pub(crate) fn add_leaf_values<T: Copy + std::ops::AddAssign>(
        &mut self,
        tree: &PackedTree,
        leaves: &[T],
        out: &mut [T],
    ) {
        let out = &mut out[..self.rows.len()];
        match self.leaves(tree) {
            // A loop the compiler vectorises: a tree the block's ranges decide entirely, or a stump.
            Reached::One(leaf) => {
                let value = leaves[leaf];
                out.iter_mut().for_each(|sum| *sum += value);
            }
            Reached::Each(nodes) => {
                for (sum, &node) in out.iter_mut().zip(nodes) {
                    *sum += leaves[(node & !LEAF) as usize];
                }
            }
        }
    }

    /// Calls `found(row, leaf)` for every row, in row order.
    #[cfg(test)]
    fn for_each_leaf(&mut self, tree: &PackedTree, mut found: impl FnMut(usize, usize)) {
        match self.leaves(tree) {
            Reached::One(leaf) => (0..self.rows.len()).for_each(|row| found(row, leaf)),
            Reached::Each(nodes) => {
                for (row, &node) in nodes.iter().enumerate() {
                    found(row, (node & !LEAF) as usize);
                }
            }
        }
    }

    /// The leaf every row reaches in `tree`.
    ///
    /// # Panics
    /// When the rows are narrower than the tree's splits need (widened from fewer features or derived columns than
    /// given to [`PackedTree::new`]) — a bug in the forest, which builds both — or number 2^31 or more (a block is
    /// [`crate::PREDICT_BLOCK_ROWS`]).
    fn leaves(&mut self, tree: &PackedTree) -> Reached<'_> {
        let rows = self.rows;
        assert!(
            rows.width >= tree.width
                && rows.values.len() == (rows.len() + LANES) * rows.width
                && rows.len() < LEAF as usize - LANES,
            "{} rows of width {} for a tree that needs {}",
            rows.len(),
            rows.width,
            tree.width
        );
        let n = rows.len();
        if tree.nodes.is_empty() {
            return Reached::One(0);
        }
        let nodes = match &self.ranges {
            Some(ranges) => {
                if let Some(leaf) =
                    specialize(&tree.nodes, ranges, &mut self.copy, &mut self.redirect)
                {
                    return Reached::One(leaf as usize);
                }
                &self.copy[..]
            }
            None => &tree.nodes[..],
        };
        let values = &rows.values[..];
        self.leaf_of.clear();
        if n < LANES {
            // Too few rows to fill the lanes (a one-row request): one at a time.
            for row in 0..n {
                // SAFETY: the root is a split (`nodes` is not empty); the row lies in `values` (asserted above).
                self.leaf_of
                    .push(unsafe { finish(nodes, 0, values, row * rows.width) });
            }
        } else {
            self.leaf_of.resize(n + LANES, 0);
            walk(nodes, rows, &mut self.leaf_of);
        }
        Reached::Each(&self.leaf_of[..n])
    }
}

/// Where a block's rows end in a tree.
enum Reached<'a> {
    /// Every row in this leaf.
    One(usize),
    /// Each row's leaf node (`LEAF | leaf`).
    Each(&'a [u32]),
}

/// Copies `nodes` (a packed tree) into `copy` with the splits `ranges` decide bypassed — those every row of the
/// block takes the same way: left when no value is `NaN` and the highest is `<= threshold`, right when the lowest
/// (`NaN` aside, which goes right) is above it. Every child pointer that led to such a split leads to the node its
/// rows all take instead (and on, through any further decided splits), and the root is moved to index 0 when it
/// changes. `Some(leaf)` (and `copy` empty) when the whole tree comes down to one leaf. Children stay after their
/// parents, and every child index of the copy is a split of the copy, as [`walk`] needs; the bypassed splits stay
/// in place, unreached.
///
/// One pass from the last node to the first, without a branch on the data (a copy per tree and block must cost far
/// less than the walk it shortens): children come after their parents, so a node's children are already redirected
/// when it is reached.
fn specialize(
    nodes: &[Node],
    ranges: &Ranges,
    copy: &mut Vec<Node>,
    redirect: &mut Vec<u32>,
) -> Option<u32> {
    use std::hint::select_unpredictable as pick;
    let n = nodes.len();
    copy.clear();
    copy.extend_from_slice(nodes);
    redirect.clear();
    redirect.resize(n, 0);
    for at in (0..n).rev() {
        let node = &mut copy[at];
        for child in &mut node.children {
            // A split child's redirection (computed: it comes after `at`); a leaf stays.
            let to = redirect[(*child as usize).min(n - 1)];
            *child = pick(*child & LEAF != 0, *child, to);
        }
        let column = node.column as usize;
        // As `step` decides each row: `value <= threshold`, false for NaN (neither bound nor a threshold is NaN).
        let all_left = !ranges.any_nan[column] & (ranges.high[column] <= node.threshold);
        let all_right = ranges.low[column] > node.threshold;
        let picked = node.children[usize::from(!all_left)];
        redirect[at] = pick(all_left | all_right, picked, at as u32);
    }
    let root = redirect[0];
    if root & LEAF != 0 {
        copy.clear(); // nothing to walk
        return Some(root & !LEAF);
    }
    copy[0] = copy[root as usize];
    None
}

/// The next node from split `position` for the row starting at `start` in `values`.
///
/// # Safety
/// `position` is a split of `nodes` (`< nodes.len()`), and the row (`start..start + width` of the tree) lies in
/// `values`.
#[inline(always)]
unsafe fn step(nodes: &[Node], position: u32, values: &[f32], start: usize) -> u32 {
    // SAFETY: `position` indexes `nodes` by the caller's promise; every split's column is below the tree's width
    // (checked by `PackedTree::new`, kept by `specialize`), so `start + column` lies in the row; `children` has two
    // entries.
    unsafe {
        let node = nodes.get_unchecked(position as usize);
        let value = *values.get_unchecked(start + node.column as usize);
        let left = value <= node.threshold; // false for NaN: the as-given column sends missing right
        *node.children.get_unchecked(usize::from(!left))
    }
}

/// The leaf node (`LEAF | leaf`) reached from `position` (a split or already a leaf) by the row starting at
/// `start`.
///
/// # Safety
/// As [`step`]: `nodes` is a packed tree (or its specialized copy), and the row lies in `values`.
unsafe fn finish(nodes: &[Node], mut position: u32, values: &[f32], start: usize) -> u32 {
    while position & LEAF == 0 {
        // SAFETY: `position` is a split by the loop's test, and splits' children are splits of `nodes` or leaves;
        // the caller promised the row.
        position = unsafe { step(nodes, position, values, start) };
    }
    position
}

/// Writes each row's leaf node (`LEAF | leaf`) into `leaf_of` (`rows.len() + LANES` long; the tail is scratch).
/// Needs at least `LANES` rows, a tree with a split, and rows as wide as the tree needs (checked by the caller).
/// Every lane runs the same branch-free step: a lane whose row reached its leaf takes the next row and the root;
/// the node a step reaches is stored whether or not it is a leaf (a row's last store is its leaf). Rows handed out
/// past the end (when several lanes finish in the last round) walk `rows`' zero padding into the scratch tail.
fn walk(nodes: &[Node], rows: &Rows, leaf_of: &mut [u32]) {
    use std::hint::select_unpredictable as pick;
    let (values, width, n) = (&rows.values[..], rows.width, rows.len());
    assert!(n >= LANES && !nodes.is_empty() && leaf_of.len() == n + LANES);
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
            // of the `n + LANES` (padded) rows, as wide as the tree needs, and `leaf_of` has `n + LANES` entries.
            unsafe {
                let next = step(nodes, at, values, row * width);
                *leaf_of.get_unchecked_mut(row) = next;
                let done = next & LEAF != 0;
                *state = pick(done, next_row, (u64::from(next) << 32) | row as u64);
                next_row += u64::from(done);
            }
        }
    }
    // The rows still in the lanes, one at a time.
    for (row, at) in lane.map(unpack) {
        if row < n {
            // SAFETY: `at` is a split or leaf of `nodes`; the row is one of the `n` rows.
            leaf_of[row] = unsafe { finish(nodes, at, values, row * width) };
        }
    }
}

/// A lane's row (low half) and node (high half); see [`walk`].
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

    /// Each column's range over the rows.
    fn column_ranges(&self) -> Ranges {
        let width = self.width;
        let mut ranges = Ranges {
            low: vec![f32::INFINITY; width],
            high: vec![f32::NEG_INFINITY; width],
            any_nan: vec![false; width],
        };
        for row in self.values[..self.n_rows * width].chunks_exact(width.max(1)) {
            for (((&v, low), high), nan) in row
                .iter()
                .zip(&mut ranges.low)
                .zip(&mut ranges.high)
                .zip(&mut ranges.any_nan)
            {
                // Comparisons with NaN are false: a NaN moves neither bound.
                *low = if v < *low { v } else { *low };
                *high = if v > *high { v } else { *high };
                *nan |= v.is_nan();
            }
        }
        ranges
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
        BlockWalker::new(&widened).for_each_leaf(tree, |row, leaf| {
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
        let refused = std::panic::catch_unwind(|| {
            BlockWalker::new(&narrow).for_each_leaf(&derived, |_, _| {});
        });
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

    /// A lopsided tree (a long chain with side leaves, like LightGBM's leaf-wise trees) and a balanced one over three
    /// features and one derived column, with their leaf counts.
    fn test_trees() -> [(Vec<Split>, usize); 2] {
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
        [(chain, 41), (balanced, 32)]
    }

    /// What a test block holds in one column.
    #[derive(Clone, Copy, Debug)]
    enum Column {
        /// Random in -1..1, one value in ten missing.
        Free,
        /// This value in every row.
        Fixed(f32),
        /// Random in `low..=high`, and one value in ten missing when the flag is set.
        Span(f32, f32, bool),
        /// One of these values at random.
        OneOf(&'static [f32]),
    }

    /// `n` rows of three features, column `c` as `columns[c]` says.
    fn test_rows(n: usize, columns: [Column; 3], seed: &mut u64) -> Vec<f32> {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        (0..n * 3)
            .map(|i| match columns[i % 3] {
                Column::Fixed(v) => v,
                Column::Free | Column::Span(_, _, true) if next() % 10 == 0 => f32::NAN,
                Column::Free => (next() % 2000) as f32 / 1000.0 - 1.0,
                Column::Span(low, high, _) => low + (high - low) * (next() % 1001) as f32 / 1000.0,
                Column::OneOf(values) => values[next() as usize % values.len()],
            })
            .collect()
    }

    const DERIVE: fn(&[f32], &mut [f32]) = |row, d| d[0] = row[0] + row[1];

    /// The splits of a (specialized) tree a walk from node 0 can reach.
    fn reachable_splits(nodes: &[Node]) -> usize {
        let mut pending = if nodes.is_empty() { vec![] } else { vec![0u32] };
        let mut count = 0;
        while let Some(at) = pending.pop() {
            count += 1;
            pending.extend(
                nodes[at as usize]
                    .children
                    .iter()
                    .filter(|c| *c & LEAF == 0),
            );
        }
        count
    }

    /// Walks `values` through every tree with one walker (as a forest does; through the packed trees themselves
    /// unless `specialize`) and checks each row's leaf against [`reference_leaf`]; returns how many trees the walker
    /// specialized and the splits their copies kept.
    fn walk_and_check(values: &[f32], specialize: bool, label: &str) -> (usize, usize) {
        let n = values.len() / 3;
        let widened = Rows::widen(values, 3, |v| v, 1, DERIVE);
        let trees: Vec<PackedTree> = test_trees()
            .iter()
            .map(|(splits, n_leaves)| PackedTree::new(splits, *n_leaves, 3).unwrap())
            .collect();
        let mut walker = BlockWalker::new(&widened);
        if !specialize {
            walker.ranges = None;
        }
        let (mut specialized, mut kept) = (0, 0);
        for ((splits, _), tree) in test_trees().iter().zip(&trees) {
            walker.copy.clear();
            let mut got = vec![usize::MAX; n];
            walker.for_each_leaf(tree, |row, leaf| got[row] = leaf);
            let expected: Vec<usize> = values
                .chunks(3)
                .map(|row| {
                    let mut d = [0.0];
                    DERIVE(row, &mut d);
                    reference_leaf(splits, row, &d)
                })
                .collect();
            assert_eq!(got, expected, "{label}: {n} rows");
            if walker.ranges.is_some() {
                specialized += 1;
                kept += reachable_splits(&walker.copy);
            }
        }
        (specialized, kept)
    }

    #[test]
    fn lanes_refilled_row_by_row_match_a_plain_walk() {
        // Row counts around the lane count and a block, with NaN and a derived column; one walker per block walks
        // both trees, so the second tree must not see the first one's leaves.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for n in [7, 8, 9, 15, 16, 17, 100, 513, 9] {
            let values = test_rows(n, [Column::Free; 3], &mut seed);
            assert_eq!(walk_and_check(&values, false, "random"), (0, 0));
        }
    }

    #[test]
    fn specialized_trees_reach_the_same_leaves() {
        use Column::{Fixed, Free, OneOf, Span};

        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let nan = Fixed(f32::NAN);
        // Values on both sides of, and exactly at, thresholds of the balanced tree (0.1 * i - 1.5 in f32).
        const AT: &[f32] = &[0.1 * 20.0 - 1.5, 0.1 * 20.0 - 1.5 - 0.25];
        const ABOVE: &[f32] = &[0.1 * 20.0 - 1.5, 0.1 * 20.0 - 1.5 + 0.25];
        for n in [SPECIALIZE_MIN_ROWS - 1, SPECIALIZE_MIN_ROWS, 100, 513] {
            for columns in [
                [Fixed(0.3), Free, Free],
                [nan, Free, Free],
                [Free, Fixed(-0.45), Free],
                [Fixed(0.25), Fixed(0.3), Free], // the derived column is fixed too
                [nan, nan, Fixed(-1.0)],         // every column: each tree is one leaf
                [Fixed(f32::NEG_INFINITY), Free, Fixed(0.05)],
                // Ranges, with and without missing values: within the thresholds, beyond them all, at them.
                [Span(0.2, 0.6, false), Free, Free],
                [Span(-0.9, -0.5, true), Span(0.1, 0.2, false), Free],
                [
                    Span(2.0, 3.0, true),
                    Span(-3.0, -2.0, false),
                    Span(-1.6, -1.55, true),
                ],
                [
                    Span(2.0, 3.0, false),
                    Span(f32::NEG_INFINITY, -2.0, true),
                    Fixed(0.05),
                ],
                [OneOf(AT), OneOf(ABOVE), Free],
            ] {
                let values = test_rows(n, columns, &mut seed);
                let label = format!("{columns:?}");
                let (specialized, kept) = walk_and_check(&values, true, &label);
                if n < SPECIALIZE_MIN_ROWS {
                    assert_eq!(specialized, 0, "{n} rows are walked as packed");
                } else {
                    // Both trees are copied, and the copies are smaller: the chain and the balanced tree have 71
                    // splits together.
                    assert_eq!(specialized, 2, "{label}");
                    assert!(kept < 71, "{label}: {kept} splits kept");
                    if columns.iter().all(|c| matches!(c, Fixed(_))) {
                        assert_eq!(kept, 0, "no split is left when every column is fixed");
                    }
                }
            }
        }
    }

    /// The splits a block's ranges decide, on [`example`]: root `x0 <= 1` (missing left), then `x1 <= 5` on the
    /// left and `x1 <= 100` on the right (missing right).
    #[test]
    fn ranges_decide_exactly_the_splits_every_row_takes_alike() {
        let nan = f32::NAN;
        // (two rows, repeated to a block; the splits the copy keeps; every row's leaf)
        let cases: [([[f32; 2]; 2], usize, [usize; 2]); 7] = [
            ([[0.0, 1.0], [1.0, 2.0]], 0, [0, 0]), // x0 <= 1 and x1 <= 5 everywhere: one leaf
            ([[0.5, 5.0], [1.0, 6.0]], 1, [0, 1]), // highest x0 at the threshold: left; x1 either side
            ([[1.0, 5.0], [2.0, 101.0]], 3, [0, 3]), // x0 and x1 on both sides: all kept
            ([[nan, 1.0], [0.0, 9.0]], 1, [0, 1]), // a missing x0 goes left too: root decided
            ([[2.0, 6.0], [3.0, nan]], 1, [2, 3]), // right, then x1 <= 100 kept (missing goes right)
            ([[2.0, 101.0], [3.0, nan]], 0, [3, 3]), // right, then x1 above 100 or missing: right
            ([[5.0, nan], [f32::INFINITY, nan]], 0, [3, 3]), // x1 all missing: right
        ];
        let tree = example(false);
        for (rows, kept, leaves) in cases {
            let values: Vec<f32> = rows
                .iter()
                .flatten()
                .copied()
                .cycle()
                .take(SPECIALIZE_MIN_ROWS * 2)
                .collect();
            let widened = Rows::widen(&values, 2, |v| v, 1, |_, d| d[0] = 0.0);
            let mut walker = BlockWalker::new(&widened);
            let mut got = Vec::new();
            walker.for_each_leaf(&tree, |_, leaf| got.push(leaf));
            assert_eq!(reachable_splits(&walker.copy), kept, "{rows:?}");
            let expected: Vec<usize> = leaves
                .iter()
                .copied()
                .cycle()
                .take(SPECIALIZE_MIN_ROWS)
                .collect();
            assert_eq!(got, expected, "{rows:?}");
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
