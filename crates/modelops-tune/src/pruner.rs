//! Pruners: decide, from a running trial's intermediate values and the finished trials', whether to stop it early.
//!
//! [`MedianPruner`] is Optuna's `MedianPruner` (a `PercentilePruner` at 50): at step `s` (the step just reported),
//! once at least `n_startup_trials` trials are complete and `s >= n_warmup_steps`, the trial is pruned when its
//! best intermediate value so far is worse than the median of the completed trials' values *at step `s`*. With
//! the tuning objective's running mean RMSPE reported after fold `s`, that is "prune when the running mean never
//! got as good as the typical finished trial at the same fold". Steps are the caller's numbers (fold index from 0).

use crate::trial::{Direction, Trial, TrialState};
use serde::{Deserialize, Serialize};

/// Decides whether a running trial should stop.
pub trait Pruner: Send + Sync {
    /// `trial` holds the intermediate values reported so far (the last one just now); `history` is every trial of
    /// the study (any state). True means: stop this trial and record it as pruned.
    fn should_prune(&self, direction: Direction, trial: &Trial, history: &[Trial]) -> bool;
}

/// Which pruner a study uses, as stored with the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrunerConfig {
    /// Never prune.
    None,
    /// [`MedianPruner`].
    Median(MedianPruner),
}

impl Default for PrunerConfig {
    fn default() -> Self {
        PrunerConfig::Median(MedianPruner::default())
    }
}

impl PrunerConfig {
    /// The pruner as a trait object.
    pub fn pruner(&self) -> &dyn Pruner {
        match self {
            PrunerConfig::None => &NopPruner,
            PrunerConfig::Median(median) => median,
        }
    }

    /// A short name for logs and tracking params (`MedianPruner`, `NopPruner`).
    pub fn name(&self) -> &'static str {
        match self {
            PrunerConfig::None => "NopPruner",
            PrunerConfig::Median(_) => "MedianPruner",
        }
    }
}

/// Never prunes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn should_prune(&self, _direction: Direction, _trial: &Trial, _history: &[Trial]) -> bool {
        false
    }
}

/// Optuna's median pruner; defaults are the reference's `MedianPruner(n_startup_trials=5, n_warmup_steps=2)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedianPruner {
    /// No pruning until this many trials are complete.
    pub n_startup_trials: usize,
    /// No pruning at steps below this.
    pub n_warmup_steps: u32,
    /// Only steps `n_warmup_steps + k·interval_steps` are checked.
    pub interval_steps: u32,
    /// No pruning at a step fewer than this many completed trials reported.
    pub n_min_trials: usize,
}

impl Default for MedianPruner {
    fn default() -> Self {
        Self {
            n_startup_trials: 5,
            n_warmup_steps: 2,
            interval_steps: 1,
            n_min_trials: 1,
        }
    }
}

/// The median of finite values (mean of the middle two for an even count); `None` when there are none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        0.5 * (values[mid - 1] + values[mid])
    })
}

impl Pruner for MedianPruner {
    fn should_prune(&self, direction: Direction, trial: &Trial, history: &[Trial]) -> bool {
        let completed: Vec<&Trial> = history
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .collect();
        if completed.is_empty() || completed.len() < self.n_startup_trials {
            return false;
        }
        let Some((step, _)) = trial.last_step() else {
            return false;
        };
        if step < self.n_warmup_steps {
            return false;
        }
        if self.interval_steps > 1
            && !(step - self.n_warmup_steps).is_multiple_of(self.interval_steps)
        {
            return false;
        }
        // The trial's best value so far, in "lower is better" terms; NaN anywhere means prune (as Optuna).
        let values: Vec<f64> = trial
            .intermediate_values
            .values()
            .map(|v| direction.normalize(*v))
            .collect();
        if values.iter().any(|v| v.is_nan()) {
            return true;
        }
        let best_so_far = values.iter().copied().fold(f64::INFINITY, f64::min);
        let at_step: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.intermediate_values.get(&step))
            .map(|v| direction.normalize(*v))
            .collect();
        if at_step.len() < self.n_min_trials.max(1) {
            return false;
        }
        match median(at_step) {
            Some(m) => best_so_far > m,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn trial(number: u64, state: TrialState, steps: &[f64]) -> Trial {
        Trial {
            number,
            state,
            params: Default::default(),
            value: steps.last().copied(),
            intermediate_values: steps
                .iter()
                .enumerate()
                .map(|(s, v)| (s as u32, *v))
                .collect::<BTreeMap<_, _>>(),
            worker: None,
            attempts: 1,
            created_at_ms: 0,
            started_at_ms: None,
            finished_at_ms: None,
            heartbeat_at_ms: None,
            error: None,
        }
    }

    /// Five completed trials whose running means at steps 0..=4 are 0.10..0.14 (median 0.12 at every step).
    fn five_completed() -> Vec<Trial> {
        (0..5)
            .map(|i| trial(i, TrialState::Complete, &[0.10 + 0.01 * i as f64; 5]))
            .collect()
    }

    #[test]
    fn prunes_a_trial_worse_than_the_median_after_warm_up() {
        let pruner = MedianPruner::default();
        let history = five_completed();
        assert!(pruner.should_prune(
            Direction::Minimize,
            &trial(9, TrialState::Running, &[0.2, 0.2, 0.2]),
            &history
        ));
        assert!(!pruner.should_prune(
            Direction::Minimize,
            &trial(9, TrialState::Running, &[0.2, 0.2, 0.11]),
            &history
        ));
        // Exactly the median is not worse.
        assert!(!pruner.should_prune(
            Direction::Minimize,
            &trial(9, TrialState::Running, &[0.2, 0.2, 0.12]),
            &history
        ));
    }

    #[test]
    fn never_prunes_during_warm_up_steps() {
        let pruner = MedianPruner::default();
        let history = five_completed();
        assert!(!pruner.should_prune(
            Direction::Minimize,
            &trial(9, TrialState::Running, &[0.9]),
            &history
        ));
        assert!(!pruner.should_prune(
            Direction::Minimize,
            &trial(9, TrialState::Running, &[0.9, 0.9]),
            &history
        ));
    }

    #[test]
    fn never_prunes_before_enough_completed_trials() {
        let pruner = MedianPruner::default();
        let mut history = five_completed();
        history.truncate(4);
        // Pruned, failed and running trials do not count as completed.
        history.push(trial(4, TrialState::Pruned, &[0.1, 0.1, 0.1]));
        history.push(trial(5, TrialState::Failed, &[]));
        assert!(!pruner.should_prune(
            Direction::Minimize,
            &trial(9, TrialState::Running, &[0.9, 0.9, 0.9]),
            &history
        ));
    }

    #[test]
    fn maximize_flips_the_comparison() {
        let pruner = MedianPruner::default();
        let history = five_completed();
        assert!(!pruner.should_prune(
            Direction::Maximize,
            &trial(9, TrialState::Running, &[0.2, 0.2, 0.2]),
            &history
        ));
        assert!(pruner.should_prune(
            Direction::Maximize,
            &trial(9, TrialState::Running, &[0.0, 0.0, 0.0]),
            &history
        ));
    }

    #[test]
    fn median_of_even_count_is_the_midpoint() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
