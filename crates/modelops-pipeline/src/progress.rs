//! How jobs report progress: steps with a size. The binary draws bars or prints timestamped lines; libraries
//! never print.

/// Receives a job's progress.
pub trait Progress: Send + Sync {
    /// A new step starts; `total` units of work (0 when unknown).
    fn step(&self, name: &str, total: u64);
    /// `done` units of the current step are finished so far (a running total, not an increment).
    fn advance(&self, done: u64);
    /// The current step finished; `summary` is one line about its result.
    fn finish(&self, summary: &str);
}

/// Progress that goes nowhere (tests, embedding).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn step(&self, _name: &str, _total: u64) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self, _summary: &str) {}
}

/// Adapts [`Progress`] to the engines' per-round callback.
pub(crate) struct RoundProgress<'a>(pub &'a dyn Progress);

impl modelops_models::TrainProgress for RoundProgress<'_> {
    fn on_round(&self, done: usize, _total: usize, _eval_metric: Option<f64>) {
        self.0.advance(done as u64);
    }
}
