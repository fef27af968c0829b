//! Binary decision trees packed for branch-free evaluation of eight rows in lockstep — the inner loop of the
//! compiled LightGBM and XGBoost forests (`lightgbm/forest.rs`, `xgboost/forest.rs`), which own the engines' rules
//! and reduce each split to this form.
//!
//! A split is one comparison, `value <= threshold` on `f32` inputs, plus where a missing (`NaN`) value goes; both
//! engines' numeric splits reduce to it exactly (each forest documents its reduction). The missing direction costs
//! nothing in the walk: every row is widened to two copies of its values ([`Rows`]) — as given, where `NaN <= t` is
//! false (missing goes right), and with `NaN` read as `-inf`, where `-inf <= t` is true (missing goes left) — and a
//! split reads the copy for its direction. (Exact for every threshold but `NaN`, which no split may have.) Rare
//! splits that do not reduce (LightGBM's categorical and zero-as-missing splits) are *special*: the walk asks the
//! forest's own rule with the value as given. Leaves are nodes that point to themselves, so a row that reached its
//! leaf simply stays there while the other rows of its group go on.
//!
//! Why lockstep: a row's walk is a chain of dependent loads (node → feature value → next node) whose direction the
//! CPU cannot predict, so walking one row at a time pays a mispredicted branch and the full load latency per level.
//! Here eight rows take one level together: eight independent chains the CPU overlaps, the next node chosen by a
//! conditional move instead of a branch, and the only branch — "is every row at a leaf?" — taken once per level.

/// Rows walked together.
pub(crate) const LANES: usize = 8;

/// `column` bit: the split is decided by the forest's special rule (`threshold` holds its id).
const SPECIAL: u32 = 1 << 31;
/// `column` bits holding the index into a widened row.
const COLUMN: u32 = SPECIAL - 1;

/// 16 bytes, four to a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    threshold: f32,
    /// Index into the widened row (`feature`, or `n_features + feature` when missing goes left), and flags.
    column: u32,
    /// Left, right; leaves (at `n_splits..`) point to themselves.
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
    /// Left when the forest's special rule says so for `(id, value)`.
    Special { feature: usize, id: u32 },
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

/// A packed tree: its splits (root first), then its leaves.
#[derive(Clone, Debug)]
pub(crate) struct PackedTree {
    nodes: Vec<Node>,
    n_splits: u32,
}

impl PackedTree {
    /// Packs `splits` (split 0 is the root) over `n_leaves` leaves.
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
        if n_leaves == 0
            || n_splits + n_leaves > COLUMN as usize
            || 2 * n_features > COLUMN as usize
        {
            return Err(format!("{n_leaves} leaves and {n_splits} splits"));
        }
        let mut nodes = Vec::with_capacity(n_splits + n_leaves);
        for (i, split) in splits.iter().enumerate() {
            let child = |c: Child| match c {
                Child::Split(s) if s > i && s < n_splits => Ok(s as u32),
                Child::Leaf(l) if l < n_leaves => Ok((n_splits + l) as u32),
                other => Err(format!(
                    "split {i} points to {other:?}, outside the tree or back up it"
                )),
            };
            let children = [child(split.left)?, child(split.right)?];
            let (feature, column, threshold) = match split.test {
                Test::LessOrEqual {
                    feature,
                    threshold,
                    missing_left,
                } => {
                    if threshold.is_nan() {
                        return Err(format!("split {i} has a NaN threshold"));
                    }
                    let column = if missing_left {
                        n_features + feature
                    } else {
                        feature
                    };
                    (feature, column as u32, threshold)
                }
                Test::Special { feature, id } => {
                    (feature, feature as u32 | SPECIAL, f32::from_bits(id))
                }
            };
            if feature >= n_features {
                return Err(format!("split {i} tests feature {feature} of {n_features}"));
            }
            nodes.push(Node {
                threshold,
                column,
                children,
            });
        }
        for leaf in 0..n_leaves {
            let me = (n_splits + leaf) as u32;
            nodes.push(Node {
                threshold: 0.0,
                column: 0,
                children: [me, me],
            });
        }
        Ok(Self {
            nodes,
            n_splits: n_splits as u32,
        })
    }

    /// Calls `found(row, leaf)` for every row of `rows`, in row order. `special(id, value)` decides special
    /// splits: `true` = left; keep it out of line (`#[inline(never)]`), so the walk's loop stays small enough to be
    /// unrolled over the lanes. `rows` must have been widened from at least the `n_features` given to
    /// [`PackedTree::new`].
    #[inline]
    pub(crate) fn for_each_leaf(
        &self,
        rows: &Rows,
        special: impl Fn(u32, f32) -> bool,
        mut found: impl FnMut(usize, usize),
    ) {
        let n = rows.len();
        if self.n_splits == 0 {
            (0..n).for_each(|row| found(row, 0));
            return;
        }
        let full = n - n % LANES;
        for first in (0..full).step_by(LANES) {
            let starts: [usize; LANES] = std::array::from_fn(|k| (first + k) * rows.width);
            let leaves = self.walk(&rows.values, &starts, &special);
            for (k, leaf) in leaves.iter().enumerate() {
                found(first + k, *leaf as usize);
            }
        }
        // The last few rows (a one-row request's only row) one at a time: lanes would repeat them.
        for row in full..n {
            found(
                row,
                self.walk_one(&rows.values, row * rows.width, &special) as usize,
            );
        }
    }

    /// The next node from `node` for the row starting at `start`.
    #[inline(always)]
    fn step(node: &Node, values: &[f32], start: usize, special: &impl Fn(u32, f32) -> bool) -> u32 {
        let value = values[start + (node.column & COLUMN) as usize];
        let left = if node.column & SPECIAL == 0 {
            value <= node.threshold
        } else {
            special(node.threshold.to_bits(), value)
        };
        node.children[usize::from(!left)]
    }

    /// The leaf of the row starting at `start` in `values`.
    fn walk_one(&self, values: &[f32], start: usize, special: &impl Fn(u32, f32) -> bool) -> u32 {
        let mut position = 0;
        while position < self.n_splits {
            position = Self::step(&self.nodes[position as usize], values, start, special);
        }
        position - self.n_splits
    }

    /// The leaves of the eight rows starting at `starts` in `values`.
    #[inline]
    fn walk(
        &self,
        values: &[f32],
        starts: &[usize; LANES],
        special: &impl Fn(u32, f32) -> bool,
    ) -> [u32; LANES] {
        let mut at = [0u32; LANES];
        loop {
            for (position, &start) in at.iter_mut().zip(starts) {
                *position = Self::step(&self.nodes[*position as usize], values, start, special);
            }
            if at.iter().all(|&position| position >= self.n_splits) {
                return at.map(|position| position - self.n_splits);
            }
        }
    }
}

/// Rows widened for the walk (see the module doc): each row's values as given, then again with `NaN` as `-inf`.
#[derive(Clone, Debug)]
pub(crate) struct Rows {
    values: Vec<f32>,
    /// Values per widened row: twice the features.
    width: usize,
}

impl Rows {
    /// Widens row-major `values` of `n_features` a row, each value first passed through `map`.
    pub(crate) fn widen(values: &[f32], n_features: usize, map: impl Fn(f32) -> f32) -> Self {
        let width = 2 * n_features;
        let mut widened = Vec::with_capacity(values.len() * 2);
        for row in values.chunks_exact(n_features.max(1)) {
            widened.extend(row.iter().map(|&v| map(v)));
            widened.extend(row.iter().map(|&v| {
                let v = map(v);
                if v.is_nan() { f32::NEG_INFINITY } else { v }
            }));
        }
        Self {
            values: widened,
            width,
        }
    }

    fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
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

    /// Root: x0 <= 1 (missing left) → [x1 <= 5 → leaf 0 | leaf 1], else leaf 2 (or special on x1 for id 7).
    fn example(special_right: bool) -> PackedTree {
        let right = if special_right {
            Split {
                test: Test::Special { feature: 1, id: 7 },
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
        tree.for_each_leaf(
            &Rows::widen(&values, 2, |v| v),
            |id, v| id == 7 && v < 0.0,
            |row, leaf| {
                out[row] = leaf;
            },
        );
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
        let special = example(true);
        assert_eq!(
            leaves(&special, &[[5.0, -1.0], [5.0, 1.0], [0.0, 9.0]]),
            vec![2, 3, 1]
        );
    }

    #[test]
    fn single_leaf_trees_and_bad_trees() {
        let stump = PackedTree::new(&[], 1, 3).unwrap();
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
