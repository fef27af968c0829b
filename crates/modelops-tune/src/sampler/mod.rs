//! Samplers: given the search space and the trials so far, propose the next trial's parameters.
//!
//! Two implementations sit behind [`Sampler`]: [`RandomSampler`] and [`TpeSampler`]. A sampler is a pure function
//! of (space, history, random stream); the study hands it a ChaCha stream seeded from the study seed and the trial
//! number ([`trial_rng`]), so the same seed and the same history give the same parameters, whichever process
//! samples, and a resumed study keeps its sequence.

mod parzen;
mod random;
mod tpe;

pub use random::RandomSampler;
pub use tpe::{TpeSampler, TpeSettings};

use crate::space::{Params, SearchSpace};
use crate::trial::{Direction, Trial};
use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Proposes parameters for a new trial.
pub trait Sampler: Send + Sync {
    /// Parameters for the next trial. `history` holds every trial of the study in number order (any state); a
    /// sampler picks the ones it learns from. Never fails: unusable history is ignored.
    fn sample(
        &self,
        space: &SearchSpace,
        direction: Direction,
        history: &[Trial],
        rng: &mut dyn RngCore,
    ) -> Params;
}

/// Which sampler a study uses, as stored with the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SamplerConfig {
    /// Independent uniform draws ([`RandomSampler`]).
    Random,
    /// Tree-structured Parzen estimator ([`TpeSampler`]).
    Tpe(TpeSettings),
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig::Tpe(TpeSettings::default())
    }
}

impl SamplerConfig {
    /// Builds the sampler.
    pub fn build(&self) -> Box<dyn Sampler> {
        match self {
            SamplerConfig::Random => Box::new(RandomSampler),
            SamplerConfig::Tpe(settings) => Box::new(TpeSampler::new(settings.clone())),
        }
    }

    /// A short name for logs and tracking params (`RandomSampler`, `TPESampler`).
    pub fn name(&self) -> &'static str {
        match self {
            SamplerConfig::Random => "RandomSampler",
            SamplerConfig::Tpe(_) => "TPESampler",
        }
    }
}

/// The random stream for trial `number` of a study seeded with `seed`: independent streams per trial, derived with
/// SplitMix64 so neighbouring numbers do not give related streams.
pub fn trial_rng(seed: u64, number: u64) -> ChaCha8Rng {
    let mut z = seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ChaCha8Rng::seed_from_u64(z)
}
