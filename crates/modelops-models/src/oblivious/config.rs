//! Hyperparameters of the oblivious-tree booster and their validation.

use crate::ModelError;
use serde::{Deserialize, Serialize};

/// How rows are re-weighted before each tree (CatBoost's `bootstrap_type`, sampled once per tree).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bootstrap {
    /// Bayesian bootstrap: each row gets weight `(-ln u)^bagging_temperature`, `u ~ U(0,1]`. Temperature 0 gives
    /// all weights 1; 1 gives exponential weights.
    Bayesian,
    /// Each row is kept (weight 1) with probability `subsample`, else dropped (weight 0).
    Bernoulli,
    /// All rows weight 1.
    No,
}

/// Oblivious (symmetric-tree) booster settings: CatBoost's algorithm with RMSE loss.
///
/// | Name | Default | Meaning | Range |
/// |---|---|---|---|
/// | `depth` | 6 | levels per symmetric tree (2^depth leaves) | 1..=12 |
/// | `learning_rate` | 0.03 | shrinkage applied to each tree's leaf values | (0, 1] |
/// | `iterations` | 1000 | maximum number of trees | 1..=100 000 |
/// | `l2_leaf_reg` | 3.0 | L2 penalty on leaf values (scaled by the mean row weight, as CatBoost does) | ≥ 0 |
/// | `random_strength` | 1.0 | multiplier of the Gaussian noise added to split scores; the noise shrinks as the model grows (CatBoost's `NormalWithModelSizeDecrease`) | ≥ 0 |
/// | `bootstrap` | `bayesian` | row re-weighting per tree, see [`Bootstrap`] | |
/// | `bagging_temperature` | 1.0 | Bayesian bootstrap temperature | ≥ 0 |
/// | `subsample` | 0.8 | Bernoulli bootstrap keep probability | (0, 1] |
/// | `border_count` | 254 | maximum borders per numeric feature (a feature with NaNs gets one extra border for them) | 1..=254 |
/// | `early_stopping_rounds` | none | stop when the evaluation RMSE has not improved for this many trees; the best iteration is kept | ≥ 1 |
/// | `seed` | 0 | all randomness (bootstrap, noise, CTR permutation) derives from it | any |
/// | `threads` | 0 | worker threads of a private rayon pool; 0 = all cores | ≥ 0 |
/// | `one_hot_max_size` | 2 | categorical columns with at most this many levels use one-hot splits, others CTRs | ≥ 0 |
/// | `ctr_priors` | [0, 0.5, 1] | one `Borders` CTR per prior per categorical column (numerator; denominator 1) | each in [0, 100] |
/// | `ctr_border_count` | 15 | CTR values are scaled to [0, ctr_border_count] and cut by that many uniform borders | 1..=254 |
/// | `counter_ctr` | true | also add CatBoost's `Counter` CTR (level frequency) per categorical column | |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObliviousConfig {
    /// Levels per symmetric tree.
    pub depth: u32,
    /// Shrinkage per tree.
    pub learning_rate: f64,
    /// Maximum number of trees.
    pub iterations: u32,
    /// L2 regularisation of leaf values.
    pub l2_leaf_reg: f64,
    /// Split-score noise multiplier.
    pub random_strength: f64,
    /// Row re-weighting per tree.
    pub bootstrap: Bootstrap,
    /// Bayesian bootstrap temperature.
    pub bagging_temperature: f64,
    /// Bernoulli bootstrap keep probability.
    pub subsample: f64,
    /// Maximum borders per numeric feature.
    pub border_count: u32,
    /// Early-stopping patience on the evaluation set, in trees.
    pub early_stopping_rounds: Option<u32>,
    /// Seed of all randomness.
    pub seed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Largest level count that still uses one-hot splits.
    pub one_hot_max_size: u32,
    /// Prior numerators of the `Borders` CTRs.
    pub ctr_priors: Vec<f32>,
    /// Uniform borders per CTR.
    pub ctr_border_count: u32,
    /// Whether to add the `Counter` CTR.
    pub counter_ctr: bool,
}

impl Default for ObliviousConfig {
    fn default() -> Self {
        Self {
            depth: 6,
            learning_rate: 0.03,
            iterations: 1000,
            l2_leaf_reg: 3.0,
            random_strength: 1.0,
            bootstrap: Bootstrap::Bayesian,
            bagging_temperature: 1.0,
            subsample: 0.8,
            border_count: 254,
            early_stopping_rounds: None,
            seed: 0,
            threads: 0,
            one_hot_max_size: 2,
            ctr_priors: vec![0.0, 0.5, 1.0],
            ctr_border_count: 15,
            counter_ctr: true,
        }
    }
}

impl ObliviousConfig {
    /// The reference system's tuned CatBoost settings (`config/best_hyperparameters.json`): depth 10, border_count
    /// 226, learning_rate 0.0603, l2_leaf_reg 5.84, random_strength 0.0772, bagging_temperature 0.663, 1500
    /// iterations, seed 42.
    pub fn reference() -> Self {
        Self {
            depth: 10,
            learning_rate: 0.060_279_781_584_468_055,
            iterations: 1500,
            l2_leaf_reg: 5.843_952_578_300_897,
            random_strength: 0.077_202_035_763_335_76,
            bagging_temperature: 0.662_807_442_280_409_9,
            border_count: 226,
            seed: 42,
            ..Self::default()
        }
    }

    /// Checks every setting against its range.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the first setting out of range and the allowed range.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |name: &str, value: String, range: &str| {
            Err(ModelError::InvalidConfig(format!(
                "oblivious booster: {name} = {value} is out of range; allowed: {range}"
            )))
        };
        if !(1..=12).contains(&self.depth) {
            return bad("depth", self.depth.to_string(), "1..=12");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate", self.learning_rate.to_string(), "(0, 1]");
        }
        if !(1..=100_000).contains(&self.iterations) {
            return bad("iterations", self.iterations.to_string(), "1..=100000");
        }
        if !(self.l2_leaf_reg >= 0.0 && self.l2_leaf_reg.is_finite()) {
            return bad("l2_leaf_reg", self.l2_leaf_reg.to_string(), ">= 0");
        }
        if !(self.random_strength >= 0.0 && self.random_strength.is_finite()) {
            return bad("random_strength", self.random_strength.to_string(), ">= 0");
        }
        if !(self.bagging_temperature >= 0.0 && self.bagging_temperature.is_finite()) {
            return bad(
                "bagging_temperature",
                self.bagging_temperature.to_string(),
                ">= 0",
            );
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", self.subsample.to_string(), "(0, 1]");
        }
        if !(1..=254).contains(&self.border_count) {
            return bad("border_count", self.border_count.to_string(), "1..=254");
        }
        if self.early_stopping_rounds == Some(0) {
            return bad("early_stopping_rounds", "0".into(), ">= 1 (or unset)");
        }
        if !(1..=254).contains(&self.ctr_border_count) {
            return bad(
                "ctr_border_count",
                self.ctr_border_count.to_string(),
                "1..=254",
            );
        }
        if let Some(p) = self
            .ctr_priors
            .iter()
            .find(|p| !(**p >= 0.0 && **p <= 100.0))
        {
            return bad("ctr_priors", p.to_string(), "each prior in [0, 100]");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_reference_are_valid() {
        ObliviousConfig::default().validate().unwrap();
        ObliviousConfig::reference().validate().unwrap();
    }

    #[test]
    fn out_of_range_settings_are_named() {
        let cases: Vec<(ObliviousConfig, &str)> = vec![
            (
                ObliviousConfig {
                    depth: 0,
                    ..Default::default()
                },
                "depth",
            ),
            (
                ObliviousConfig {
                    depth: 13,
                    ..Default::default()
                },
                "depth",
            ),
            (
                ObliviousConfig {
                    learning_rate: 0.0,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                ObliviousConfig {
                    learning_rate: f64::NAN,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                ObliviousConfig {
                    iterations: 0,
                    ..Default::default()
                },
                "iterations",
            ),
            (
                ObliviousConfig {
                    l2_leaf_reg: -1.0,
                    ..Default::default()
                },
                "l2_leaf_reg",
            ),
            (
                ObliviousConfig {
                    random_strength: -0.1,
                    ..Default::default()
                },
                "random_strength",
            ),
            (
                ObliviousConfig {
                    bagging_temperature: f64::INFINITY,
                    ..Default::default()
                },
                "bagging_temperature",
            ),
            (
                ObliviousConfig {
                    subsample: 1.5,
                    ..Default::default()
                },
                "subsample",
            ),
            (
                ObliviousConfig {
                    border_count: 255,
                    ..Default::default()
                },
                "border_count",
            ),
            (
                ObliviousConfig {
                    early_stopping_rounds: Some(0),
                    ..Default::default()
                },
                "early_stopping_rounds",
            ),
            (
                ObliviousConfig {
                    ctr_border_count: 0,
                    ..Default::default()
                },
                "ctr_border_count",
            ),
            (
                ObliviousConfig {
                    ctr_priors: vec![-1.0],
                    ..Default::default()
                },
                "ctr_priors",
            ),
        ];
        for (config, name) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(name), "{err} should name {name}");
        }
    }

    #[test]
    fn config_reads_from_json_with_defaults() {
        let config: ObliviousConfig = serde_json::from_str(r#"{"depth": 8, "seed": 7}"#).unwrap();
        assert_eq!(config.depth, 8);
        assert_eq!(config.border_count, 254);
        assert!(serde_json::from_str::<ObliviousConfig>(r#"{"dept": 8}"#).is_err());
    }
}
