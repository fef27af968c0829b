//! Load benchmark: `modelops server` against a stock `mlflow server` 3.17.2, both over SQLite in a temporary
//! folder, on 127.0.0.1, one after the other, driven by the same Rust HTTP client (reqwest) with the same
//! workload at a fixed small concurrency:
//!
//! | operation | one op |
//! |---|---|
//! | `create_run` | `POST runs/create` |
//! | `log_batch_1000` | `POST runs/log-batch` with 1000 metrics (100 keys × 10 steps) |
//! | `search_runs` | `POST runs/search` with a metric and a param filter over 10,000 seeded runs, 100 per page |
//! | `metric_history_100k` | every page of `GET metrics/get-history` of a 100,000-point metric |
//!
//! Each operation runs until it reaches its op count or its time cap (whichever is first), so the whole run stays
//! within about ten minutes even when one server is slow. Reported per operation and server: throughput (ops/s),
//! p50 and p99 latency, the throughput ratio, and our server's peak RSS (`VmHWM`; it runs as a child process of
//! this binary so the figure is the server's alone). The table goes to stdout and as JSON to
//! `<target dir>/tracking-load.json`.
//!
//! Run: `cargo bench -p modelops-server --bench tracking_load` (release build). Needs the test venv's `mlflow`
//! (`bash scripts/bootstrap.sh test`); without it only our server is measured. `MODELOPS_BENCH_QUICK=1` shrinks
//! seeds and caps for a smoke run.
//!
//! Plain `std::time` timing (no criterion/divan): each op is a network round trip measured from outside, and
//! the harness's statistics would add nothing to p50/p99 over thousands of samples.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark binary: failing loudly is the right response

#[path = "../../modelops-tracking/tests/it/external.rs"]
mod external;

use serde_json::{Value, json};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set in the child process that serves `modelops server`: the SQLite URI and artifact folder, `\n`-separated.
const SERVE_ROLE_ENV: &str = "MODELOPS_BENCH_SERVE";
/// In-flight requests during measurement.
const CONCURRENCY: usize = 4;
/// In-flight requests while seeding.
const SEED_CONCURRENCY: usize = 8;

/// Sizes and caps of one benchmark run.
#[derive(Clone, Copy)]
struct Plan {
    create_runs: usize,
    log_batches: usize,
    searches: usize,
    histories: usize,
    seeded_runs: usize,
    history_points: usize,
    cap: Duration,
    seed_cap: Duration,
}

impl Plan {
    fn from_env() -> Self {
        if std::env::var("MODELOPS_BENCH_QUICK").as_deref() == Ok("1") {
            Self {
                create_runs: 200,
                log_batches: 40,
                searches: 40,
                histories: 4,
                seeded_runs: 1_000,
                history_points: 10_000,
                cap: Duration::from_secs(10),
                seed_cap: Duration::from_secs(60),
            }
        } else {
            Self {
                create_runs: 2_000,
                log_batches: 400,
                searches: 400,
                histories: 40,
                seeded_runs: 10_000,
                history_points: 100_000,
                cap: Duration::from_secs(25),
                // A stock server creates runs at about 15/s here (its SQLAlchemy store commits several statements
                // per run), so it may not reach 10,000 runs within this cap; the report gives the count reached.
                seed_cap: Duration::from_secs(240),
            }
        }
    }
}

fn main() {
    if let Ok(config) = std::env::var(SERVE_ROLE_ENV) {
        serve_modelops(&config);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful. Either way: run once.
    let plan = Plan::from_env();
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(SEED_CONCURRENCY)
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let started = Instant::now();
    let ours = {
        let server = OurServer::start(&dir.path().join("modelops"));
        eprintln!("modelops server on {}", server.url);
        let results = runtime.block_on(drive(&client, &server.url, plan, "modelops"));
        let peak_rss_kib = vm_hwm_kib(server.pid());
        (results, peak_rss_kib)
    };
    let stock = {
        let stock_dir = dir.path().join("stock");
        std::fs::create_dir_all(&stock_dir).unwrap();
        match external::StockMlflow::start(&stock_dir, None) {
            Some(server) => {
                eprintln!("stock mlflow server on {}", server.url());
                let results = runtime.block_on(drive(&client, server.url(), plan, "mlflow"));
                let peak_rss_kib = group_hwm_kib(server.process.pid());
                Some((results, peak_rss_kib))
            }
            None => None,
        }
    };
    let report = report(plan, &ours, stock.as_ref(), started.elapsed());
    let path = target_dir().join("tracking-load.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("written to {}", path.display());
}

/// The child process: `modelops server` on a free loopback port (announced on stdout) until SIGTERM.
fn serve_modelops(config: &str) {
    let (backend, artifacts) = config.split_once('\n').unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let state = modelops_server::AppState::open(backend, artifacts)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        modelops_server::serve_on(listener, state, modelops_server::shutdown_signal())
            .await
            .unwrap();
    });
}

/// Our server as a child process of this binary (so its RSS is its own), stopped with SIGTERM on drop.
struct OurServer {
    child: std::process::Child,
    url: String,
}

impl OurServer {
    fn start(dir: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(dir).unwrap();
        let config = format!(
            "sqlite://{}\n{}",
            dir.join("mlflow.db").display(),
            dir.join("mlartifacts").display()
        );
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .env(SERVE_ROLE_ENV, config)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!("the modelops server child did not announce its address: {line:?}")
            });
        Self {
            url: format!("http://{address}"),
            child,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// `VmHWM` (peak resident set) of one process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The summed `VmHWM` of every process in process group `pgid` (the stock server runs as several processes).
fn group_hwm_kib(pgid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // Field 5 of /proc/<pid>/stat (after the parenthesised command) is the process group.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .map(vm_hwm_kib)
        .sum()
}

fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/release/deps/tracking_load-<hash>
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Latencies of one operation on one server.
#[derive(Clone, Debug)]
struct OpResult {
    name: &'static str,
    /// Successful ops (the throughput counts only these).
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Failed ops (an HTTP error or an incomplete answer) and the first failure.
    errors: usize,
    first_error: Option<String>,
}

impl OpResult {
    fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index].as_secs_f64() * 1000.0
    }
}

/// Sends one request; a non-2xx reply or a transport failure is an error naming the status and body.
async fn call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    if text.trim().is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_str(&text)
            .map_err(|e| format!("{e}: {}", text.chars().take(300).collect::<String>()))
    }
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    let url = format!("{base}/api/2.0/mlflow/{path}");
    call(client.post(url).json(&body)).await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn create_experiment(client: &reqwest::Client, base: &str, name: &str) -> String {
    let reply = post(client, base, "experiments/create", json!({"name": name}))
        .await
        .unwrap();
    reply["experiment_id"].as_str().unwrap().to_string()
}

async fn create_run(
    client: &reqwest::Client,
    base: &str,
    experiment: &str,
) -> Result<String, String> {
    let body = json!({
        "experiment_id": experiment,
        "start_time": now_ms(),
        "tags": [{"key": "mlflow.user", "value": "bench"}],
    });
    let reply = post(client, base, "runs/create", body).await?;
    reply["run"]["info"]["run_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no run id in {reply}"))
}

/// Runs `op(i)` for i in 0..count with `concurrency` in flight, stopping early at `cap`; returns the latencies
/// of the successful ops and counts the failed ones.
async fn measure<F, Fut>(
    name: &'static str,
    count: usize,
    concurrency: usize,
    cap: Duration,
    op: F,
) -> OpResult
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + cap;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (op, next) = (op.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => errors.push(e),
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for worker in workers {
        let (l, e) = worker.await.unwrap();
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    if let Some(first) = errors.first() {
        eprintln!("{name}: {} failed ops, first: {first}", errors.len());
    }
    OpResult {
        name,
        ops: latencies.len(),
        elapsed,
        latencies,
        errors: errors.len(),
        first_error: errors.into_iter().next(),
    }
}

/// The learning rates the seeded runs cycle through; the search filters on one of them.
const LEARNING_RATES: [&str; 10] = [
    "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1.0",
];

/// A deterministic loss in [0, 1) for seeded run `i`.
fn seeded_loss(i: usize) -> f64 {
    ((i as u64).wrapping_mul(2_654_435_761) % 10_007) as f64 / 10_007.0
}

/// Seeds, measures every operation on the server at `base`, and checks that answers are complete.
async fn drive(client: &reqwest::Client, base: &str, plan: Plan, label: &str) -> Vec<OpResult> {
    let mut results = Vec::new();
    let (client, base) = (client.clone(), base.to_string());

    let experiment = create_experiment(&client, &base, "bench-create").await;
    let result = {
        let (client, base) = (client.clone(), base.clone());
        measure(
            "create_run",
            plan.create_runs,
            CONCURRENCY,
            plan.cap,
            move |_| {
                let (client, base, experiment) = (client.clone(), base.clone(), experiment.clone());
                async move { create_run(&client, &base, &experiment).await.map(drop) }
            },
        )
        .await
    };
    eprintln!("[{label}] create_run: {} ops", result.ops);
    results.push(result);

    let experiment = create_experiment(&client, &base, "bench-batch").await;
    let mut runs = Vec::new();
    for _ in 0..CONCURRENCY {
        runs.push(create_run(&client, &base, &experiment).await.unwrap());
    }
    let result = {
        let (client, base, runs) = (client.clone(), base.clone(), Arc::new(runs));
        measure("log_batch_1000", plan.log_batches, CONCURRENCY, plan.cap, move |i| {
            let (client, base) = (client.clone(), base.clone());
            let run = runs[i % runs.len()].clone();
            async move {
                let timestamp = now_ms();
                let metrics: Vec<Value> = (0..1000)
                    .map(|k| {
                        json!({"key": format!("metric_{}", k % 100), "value": (i * 1000 + k) as f64 * 1e-3,
                               "timestamp": timestamp, "step": (i * 10 + k / 100) as i64})
                    })
                    .collect();
                post(&client, &base, "runs/log-batch", json!({"run_id": run, "metrics": metrics}))
                    .await
                    .map(drop)
            }
        })
        .await
    };
    eprintln!("[{label}] log_batch_1000: {} ops", result.ops);
    results.push(result);

    // 10,000 runs, each with a loss metric and a learning-rate param, in one experiment.
    let experiment = create_experiment(&client, &base, "bench-search").await;
    let seed_started = Instant::now();
    let seeded = {
        let (client, base, experiment) = (client.clone(), base.clone(), experiment.clone());
        measure("seed", plan.seeded_runs, SEED_CONCURRENCY, plan.seed_cap, move |i| {
            let (client, base, experiment) = (client.clone(), base.clone(), experiment.clone());
            async move {
                let run = create_run(&client, &base, &experiment).await?;
                let body = json!({
                    "run_id": run,
                    "metrics": [{"key": "loss", "value": seeded_loss(i), "timestamp": now_ms(), "step": 0}],
                    "params": [{"key": "lr", "value": LEARNING_RATES[i % LEARNING_RATES.len()]}],
                });
                post(&client, &base, "runs/log-batch", body).await.map(drop)
            }
        })
        .await
    };
    eprintln!(
        "[{label}] seeded {} runs in {:.1}s",
        seeded.ops,
        seed_started.elapsed().as_secs_f64()
    );
    let filter = "metrics.loss < 0.5 and params.lr = '0.01'";
    // Exact only when every seed landed; otherwise the count is reported, not checked.
    let exact = seeded.errors == 0;
    let expected = (0..seeded.ops)
        .filter(|&i| seeded_loss(i) < 0.5 && LEARNING_RATES[i % LEARNING_RATES.len()] == "0.01")
        .count()
        .min(100);
    let result = {
        let (client, base, experiment) = (client.clone(), base.clone(), experiment.clone());
        measure("search_runs", plan.searches, CONCURRENCY, plan.cap, move |_| {
            let (client, base, experiment) = (client.clone(), base.clone(), experiment.clone());
            async move {
                let body = json!({"experiment_ids": [experiment], "filter": filter, "max_results": 100});
                let reply = post(&client, &base, "runs/search", body).await?;
                let found = reply["runs"].as_array().map_or(0, Vec::len);
                if found == expected || !exact {
                    Ok(())
                } else {
                    Err(format!("search found {found} runs, expected {expected}"))
                }
            }
        })
        .await
    };
    eprintln!(
        "[{label}] search_runs: {} ops (over {} runs)",
        result.ops, seeded.ops
    );
    results.push(result);

    // One metric with 100,000 points, logged 1000 at a time.
    let experiment = create_experiment(&client, &base, "bench-history").await;
    let run = create_run(&client, &base, &experiment).await.unwrap();
    let seed_started = Instant::now();
    let batches = plan.history_points / 1000;
    let logged = {
        let (client, base, run) = (client.clone(), base.clone(), run.clone());
        measure("seed", batches, CONCURRENCY, plan.seed_cap, move |b| {
            let (client, base, run) = (client.clone(), base.clone(), run.clone());
            async move {
                let metrics: Vec<Value> = (0..1000)
                    .map(|k| {
                        let step = b * 1000 + k;
                        json!({"key": "curve", "value": 1.0 / (1.0 + step as f64), "timestamp": 1_700_000_000_000i64 + step as i64, "step": step})
                    })
                    .collect();
                post(&client, &base, "runs/log-batch", json!({"run_id": run, "metrics": metrics}))
                    .await
                    .map(drop)
            }
        })
        .await
    };
    let points = logged.ops * 1000;
    eprintln!(
        "[{label}] seeded a {points}-point metric in {:.1}s",
        seed_started.elapsed().as_secs_f64()
    );
    let result = {
        let (client, base) = (client.clone(), base.clone());
        measure(
            "metric_history_100k",
            plan.histories,
            CONCURRENCY,
            plan.cap,
            move |_| {
                let (client, base, run) = (client.clone(), base.clone(), run.clone());
                async move {
                    let mut total = 0;
                    let mut token: Option<String> = None;
                    loop {
                        let url = format!("{base}/api/2.0/mlflow/metrics/get-history");
                        let mut query =
                            vec![("run_id", run.clone()), ("metric_key", "curve".to_string())];
                        if let Some(t) = &token {
                            query.push(("page_token", t.clone()));
                        }
                        let reply = call(client.get(url).query(&query)).await?;
                        total += reply["metrics"].as_array().map_or(0, Vec::len);
                        token = reply["next_page_token"]
                            .as_str()
                            .filter(|t| !t.is_empty())
                            .map(str::to_string);
                        if token.is_none() {
                            break;
                        }
                    }
                    if total == points {
                        Ok(())
                    } else {
                        Err(format!("history returned {total} of {points} points"))
                    }
                }
            },
        )
        .await
    };
    eprintln!(
        "[{label}] metric_history: {} ops ({points} points)",
        result.ops
    );
    results.push(result);
    results
}

fn report(
    plan: Plan,
    ours: &(Vec<OpResult>, u64),
    stock: Option<&(Vec<OpResult>, u64)>,
    total: Duration,
) -> Value {
    println!();
    println!(
        "{:<22} {:>12} {:>10} {:>10} | {:>12} {:>10} {:>10} | {:>8}",
        "operation", "modelops/s", "p50 ms", "p99 ms", "mlflow/s", "p50 ms", "p99 ms", "ratio"
    );
    let mut rows = Vec::new();
    for (i, op) in ours.0.iter().enumerate() {
        let other = stock.and_then(|(results, _)| results.get(i));
        let ratio = other.map(|o| op.throughput() / o.throughput());
        println!(
            "{:<22} {:>12.1} {:>10.2} {:>10.2} | {:>12} {:>10} {:>10} | {:>8}",
            op.name,
            op.throughput(),
            op.percentile_ms(0.5),
            op.percentile_ms(0.99),
            other.map_or("-".into(), |o| format!("{:.2}", o.throughput())),
            other.map_or("-".into(), |o| format!("{:.1}", o.percentile_ms(0.5))),
            other.map_or("-".into(), |o| format!("{:.1}", o.percentile_ms(0.99))),
            ratio.map_or("-".into(), |r| format!("{r:.1}x")),
        );
        for (who, r) in [("modelops", Some(op)), ("mlflow", other)] {
            if let Some(r) = r.filter(|r| r.errors > 0) {
                println!(
                    "    {who}: {} failed ops, first: {}",
                    r.errors,
                    r.first_error.as_deref().unwrap_or("")
                );
            }
        }
        let side = |r: &OpResult| {
            json!({
                "ops": r.ops,
                "failed_ops": r.errors,
                "first_error": r.first_error,
                "seconds": r.elapsed.as_secs_f64(),
                "ops_per_sec": r.throughput(),
                "p50_ms": r.percentile_ms(0.5),
                "p99_ms": r.percentile_ms(0.99),
            })
        };
        rows.push(json!({
            "operation": op.name,
            "modelops": side(op),
            "mlflow": other.map(side),
            "throughput_ratio": ratio,
        }));
    }
    let rss_mib = ours.1 as f64 / 1024.0;
    println!("modelops server peak RSS (VmHWM): {rss_mib:.1} MiB");
    if let Some((_, stock_kib)) = stock {
        println!(
            "mlflow server peak RSS, summed over its processes: {:.1} MiB",
            *stock_kib as f64 / 1024.0
        );
    }
    println!("total bench time: {:.0}s", total.as_secs_f64());
    json!({
        "workload": {
            "concurrency": CONCURRENCY,
            "seeded_runs": plan.seeded_runs,
            "history_points": plan.history_points,
            "cap_seconds_per_operation": plan.cap.as_secs(),
        },
        "operations": rows,
        "modelops_peak_rss_mib": rss_mib,
        "mlflow_peak_rss_mib_summed": stock.map(|(_, kib)| *kib as f64 / 1024.0),
        "total_seconds": total.as_secs_f64(),
    })
}
