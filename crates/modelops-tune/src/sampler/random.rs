//! Uniform random sampling: each parameter drawn independently, uniformly in its internal space (so log-scaled
//! parameters are log-uniform), snapped to its grid.

use super::Sampler;
use crate::space::{Distribution, Params, SearchSpace};
use crate::trial::{Direction, Trial};
use rand::{Rng, RngCore};

/// Draws every parameter uniformly, ignoring history.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomSampler;

impl RandomSampler {
    /// One uniform draw for one distribution.
    pub fn sample_one(
        distribution: &Distribution,
        rng: &mut dyn RngCore,
    ) -> crate::space::ParamValue {
        match (distribution.numeric_bounds(), distribution.n_choices()) {
            (Some(bounds), _) => {
                distribution.from_internal(rng.random_range(bounds.low..bounds.high))
            }
            (None, Some(n)) => distribution.from_internal(rng.random_range(0..n.max(1)) as f64),
            (None, None) => distribution.from_internal(0.0),
        }
    }
}

impl Sampler for RandomSampler {
    fn sample(
        &self,
        space: &SearchSpace,
        _direction: Direction,
        _history: &[Trial],
        rng: &mut dyn RngCore,
    ) -> Params {
        space
            .params
            .iter()
            .map(|(name, d)| (name.clone(), Self::sample_one(d, rng)))
            .collect()
    }
}
