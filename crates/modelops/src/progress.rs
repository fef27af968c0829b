//! Logging set-up and progress display: indicatif bars with ETA on a terminal, plain timestamped lines otherwise
//! (cron, CI, pipes). Libraries report progress through small traits; only this module draws.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;
use tracing_subscriber::EnvFilter;

/// Installs the `tracing` subscriber: logs to stderr, stdout stays for results.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,modelops=info",
        (false, 1) => "info,modelops=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// A unit of long work with a known size: a bar on a TTY, a line every few seconds otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    started: Instant,
    last_line: Mutex<Instant>,
    quiet: bool,
}

impl Progress {
    /// Starts showing progress of `total` steps labelled `label`.
    pub fn new(label: &str, total: u64, quiet: bool) -> Self {
        let bar = if !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>14} [{elapsed_precise}] {bar:32.cyan/blue} {pos}/{len} ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            Some(bar)
        } else {
            None
        };
        Self {
            bar,
            label: label.to_string(),
            total,
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            quiet,
        }
    }

    /// Sets the number of finished steps.
    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        if self.quiet {
            return;
        }
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        if last.elapsed().as_secs_f64() >= 5.0 || done == self.total {
            *last = Instant::now();
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = if done > 0 {
                elapsed / done as f64 * (self.total - done.min(self.total)) as f64
            } else {
                0.0
            };
            eprintln!(
                "{} {}: {done}/{} ({elapsed:.0}s elapsed, ETA {eta:.0}s)",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
                self.label,
                self.total
            );
        }
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Draws a pipeline's steps: a bar with ETA for sized steps on a terminal, one timestamped line per step
/// otherwise.
pub struct StepPrinter {
    quiet: bool,
    current: Mutex<Option<(String, Instant, Option<Progress>)>>,
}

impl StepPrinter {
    /// A printer; `quiet` prints nothing.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            current: Mutex::new(None),
        }
    }
}

impl modelops_pipeline::Progress for StepPrinter {
    fn step(&self, name: &str, total: u64) {
        let bar = (total > 0).then(|| Progress::new(name, total, self.quiet));
        if bar.is_none() && !self.quiet && !std::io::stderr().is_terminal() {
            eprintln!(
                "{} {name} …",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
        if let Ok(mut current) = self.current.lock() {
            *current = Some((name.to_string(), Instant::now(), bar));
        }
    }

    fn advance(&self, done: u64) {
        if let Ok(current) = self.current.lock()
            && let Some((_, _, Some(bar))) = current.as_ref()
        {
            bar.set(done);
        }
    }

    fn finish(&self, summary: &str) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        if let Some((name, started, bar)) = current.take() {
            if let Some(bar) = bar {
                bar.finish();
            }
            if !self.quiet {
                eprintln!(
                    "{} {name}: {summary} ({:.1}s)",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
}
