//! TPE against random search on synthetic objectives, over many seeds (samplers driven directly, no storage).

use super::{box_space, objectives};
use modelops_tune::{
    Direction, Params, RandomSampler, Sampler, SearchSpace, TpeSampler, TpeSettings, Trial,
    TrialState, sampler::trial_rng,
};

/// Best value after `n_trials` sequential trials of `sampler` on `f`.
fn best_after(
    sampler: &dyn Sampler,
    space: &SearchSpace,
    f: fn(&Params) -> f64,
    n_trials: u64,
    seed: u64,
) -> f64 {
    let mut history: Vec<Trial> = Vec::new();
    for number in 0..n_trials {
        let mut rng = trial_rng(seed, number);
        let params = sampler.sample(space, Direction::Minimize, &history, &mut rng);
        let value = f(&params);
        history.push(Trial {
            number,
            state: TrialState::Complete,
            params,
            value: Some(value),
            intermediate_values: Default::default(),
            worker: None,
            attempts: 1,
            created_at_ms: 0,
            started_at_ms: None,
            finished_at_ms: None,
            heartbeat_at_ms: None,
            error: None,
        });
    }
    history
        .iter()
        .filter_map(|t| t.value)
        .fold(f64::INFINITY, f64::min)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn compare(
    settings: TpeSettings,
    f: fn(&Params) -> f64,
    dims: usize,
    n_trials: u64,
    seeds: u64,
) -> (f64, f64, usize) {
    let space = box_space(dims);
    let tpe = TpeSampler::new(settings);
    let (mut tpe_best, mut random_best, mut tpe_wins) = (Vec::new(), Vec::new(), 0);
    for seed in 0..seeds {
        let t = best_after(&tpe, &space, f, n_trials, seed);
        let r = best_after(&RandomSampler, &space, f, n_trials, seed + 10_000);
        tpe_wins += usize::from(t < r);
        tpe_best.push(t);
        random_best.push(r);
    }
    (median(tpe_best), median(random_best), tpe_wins)
}

#[test]
fn tpe_beats_random_on_a_shifted_quadratic() {
    let (tpe, random, wins) = compare(
        TpeSettings::default(),
        objectives::shifted_quadratic,
        4,
        60,
        41,
    );
    println!(
        "shifted quadratic, 4 dims, 60 trials, 41 seeds: median best TPE {tpe:.4}, random {random:.4}, TPE wins {wins}/41"
    );
    assert!(
        tpe < 0.5 * random,
        "TPE median {tpe} is not clearly below random's {random}"
    );
    assert!(wins >= 30, "TPE won only {wins} of 41 seeds");
}

#[test]
fn tpe_beats_random_on_rosenbrock() {
    let (tpe, random, wins) = compare(TpeSettings::default(), objectives::rosenbrock, 3, 80, 31);
    println!(
        "rosenbrock, 3 dims, 80 trials, 31 seeds: median best TPE {tpe:.3}, random {random:.3}, TPE wins {wins}/31"
    );
    assert!(
        tpe < random,
        "TPE median {tpe} is not below random's {random}"
    );
    assert!(wins >= 19, "TPE won only {wins} of 31 seeds");
}

#[test]
fn univariate_tpe_beats_random_too() {
    let settings = TpeSettings {
        multivariate: false,
        ..TpeSettings::default()
    };
    let (tpe, random, wins) = compare(settings, objectives::shifted_quadratic, 4, 60, 41);
    println!(
        "univariate TPE, shifted quadratic: median best {tpe:.4}, random {random:.4}, TPE wins {wins}/41"
    );
    assert!(
        tpe < 0.5 * random,
        "TPE median {tpe} is not clearly below random's {random}"
    );
    assert!(wins >= 30, "TPE won only {wins} of 41 seeds");
}

#[test]
fn samplers_are_deterministic_by_seed() {
    let space = box_space(3);
    let tpe = TpeSampler::new(TpeSettings::default());
    let a = best_after(&tpe, &space, objectives::shifted_quadratic, 30, 5);
    let b = best_after(&tpe, &space, objectives::shifted_quadratic, 30, 5);
    let c = best_after(&tpe, &space, objectives::shifted_quadratic, 30, 6);
    assert_eq!(a.to_bits(), b.to_bits());
    assert_ne!(a.to_bits(), c.to_bits());
}
