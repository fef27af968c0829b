//! How long TPE takes to propose one trial for the LightGBM space, by history size, and how many trials per second
//! a study on SQLite can hand out (claim + finish) with a trivial objective. Plain `std::time` timing.
//!
//! Run: `cargo bench -p modelops-tune --bench sampling`.

use modelops_tune::{
    Direction, NoObserver, ObjectiveError, OptimizeOptions, Params, Sampler, SearchSpaces, Study,
    StudySettings, TpeSampler, TpeSettings, Trial, TrialInput, TrialOutcome, TrialReporter,
    TrialState, optimize, sampler::trial_rng,
};
use std::sync::Arc;
use std::time::Instant;

fn value_of(params: &Params) -> f64 {
    params
        .values()
        .filter_map(|v| v.as_f64())
        .map(|x| (x - 0.3).powi(2))
        .sum()
}

fn history(space: &modelops_tune::SearchSpace, n: u64) -> Vec<Trial> {
    let sampler = modelops_tune::RandomSampler;
    (0..n)
        .map(|number| {
            let params = sampler.sample(space, Direction::Minimize, &[], &mut trial_rng(1, number));
            Trial {
                number,
                state: TrialState::Complete,
                value: Some(value_of(&params)),
                params,
                intermediate_values: Default::default(),
                worker: None,
                attempts: 1,
                created_at_ms: 0,
                started_at_ms: None,
                finished_at_ms: None,
                heartbeat_at_ms: None,
                error: None,
            }
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spaces = SearchSpaces::builtin()?;
    let space = spaces.get("lightgbm")?;
    let tpe = TpeSampler::new(TpeSettings::default());
    for n in [50u64, 200, 1000] {
        let trials = history(space, n);
        let reps = 200;
        let start = Instant::now();
        for i in 0..reps {
            std::hint::black_box(tpe.sample(
                space,
                Direction::Minimize,
                &trials,
                &mut trial_rng(2, i),
            ));
        }
        let per = start.elapsed() / reps as u32;
        println!("tpe sample, lightgbm space (9 params), history {n:>4}: {per:?} per trial");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let uri = format!("sqlite://{}", dir.path().join("bench.db").display());
    runtime.block_on(async {
        let study = Study::create_or_load(&uri, "bench", StudySettings::new(space.clone(), 3)).await?;
        let objective = |t: &TrialInput<'_>, r: &mut dyn TrialReporter| -> Result<TrialOutcome, ObjectiveError> {
            for step in 0..5 {
                r.report(step, value_of(t.params));
            }
            Ok(TrialOutcome::Complete(value_of(t.params)))
        };
        let n = 200;
        let start = Instant::now();
        optimize(&study, Arc::new(objective), &OptimizeOptions::new(n), Arc::new(NoObserver)).await?;
        let elapsed = start.elapsed();
        println!(
            "sqlite study, 1 worker, 5 reports per trial: {n} trials in {elapsed:?} ({:?} overhead per trial)",
            elapsed / n as u32
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
