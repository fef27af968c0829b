//! Load benchmark of the prediction service on loopback (bounded: about 20 seconds).
//!
//! The service runs in a child process (this executable re-run with `--serve-child`), so its resident memory is
//! measured alone, with the prediction log on (SQLite in a temporary folder). The parent is the load generator:
//! - single-row `/predict` at a fixed arrival rate (open loop: requests start on schedule whether or not earlier
//!   ones finished), latency = send → whole reply read; p50, p99, max and errors;
//! - 1,000-row `/predict` requests one after another: p50;
//! - the service's RSS (`VmRSS`, `VmHWM`) after the load.
//!
//! `cargo bench -p modelops-serve --bench load` (env `LOAD_RATE` requests/s, default 500; `LOAD_SECONDS`,
//! default 10). The package and the requests come from `support/target.rs` (the fixture package, or `LOAD_PACKAGE`,
//! `LOAD_ORIGIN`, `LOAD_STORES` for any package). `LOAD_URL` (with
//! `LOAD_PID` for the memory figures) loads an already running service instead, e.g. a release build:
//! `modelops serve --model DIR --port 8000 &` then `LOAD_URL=http://127.0.0.1:8000 LOAD_PID=$! LOAD_PACKAGE=DIR …`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failures abort the run

#[path = "support/target.rs"]
mod bench_target;
#[allow(dead_code)]
#[path = "../tests/it/fixture.rs"]
mod fixture;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The child: serve the package on 127.0.0.1:0, print the port, run until stdin closes.
fn serve_child(package: &str, log_db: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = modelops_serve::ServeConfig {
            model: modelops_serve::ModelChoice::Path(package.into()),
            log_uri: Some(format!("sqlite://{log_db}")),
            ..Default::default()
        };
        let state = modelops_serve::start(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            })
            .await;
        };
        modelops_serve::serve_on(listener, state, Duration::from_secs(30), stdin_closed)
            .await
            .unwrap();
    });
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-child") {
        serve_child(&args[i + 1], &args[i + 2]);
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` runs nothing here.
    }
    let rate = env_number("LOAD_RATE", 500);
    let seconds = env_number("LOAD_SECONDS", 10);
    let target = bench_target::Target::from_env();
    let package = target.package.display().to_string();
    let log_dir = tempfile::tempdir().unwrap();
    let log_db = log_dir.path().join("predictions.db");
    // `LOAD_URL` (+ `LOAD_PID` for its memory) loads a service started elsewhere, e.g. a release
    // `modelops serve --model DIR`; otherwise this executable serves the package in a child process.
    let (mut child, base, pid) = match std::env::var("LOAD_URL") {
        Ok(url) => {
            let pid = env_number("LOAD_PID", 0) as u32;
            (None, url.trim_end_matches('/').to_string(), pid)
        }
        Err(_) => {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args(["--serve-child", &package, &log_db.display().to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut port = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut port)
                .unwrap();
            let port: u16 = port.trim().parse().unwrap();
            let pid = child.id();
            (Some(child), format!("http://127.0.0.1:{port}"), pid)
        }
    };
    let (rss_idle, _) = rss_kib(pid);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
        let one = json!({"inputs": target.rows(1), "model_stage": "Production"}).to_string();
        // Warm up connections and caches.
        for _ in 0..200 {
            client.post(format!("{base}/predict")).body(one.clone()).send().await.unwrap().bytes().await.unwrap();
        }

        // Open-loop single-row load.
        let total = (rate * seconds) as usize;
        let period = Duration::from_secs_f64(1.0 / rate as f64);
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(total);
        for k in 0..total {
            let due = start + period * k as u32;
            tokio::time::sleep_until(due.into()).await;
            let (client, url, body) = (client.clone(), format!("{base}/predict"), one.clone());
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let ok = match client.post(url).header("content-type", "application/json").body(body).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (sent.elapsed().as_secs_f64() * 1000.0, ok)
            }));
        }
        let mut latencies = Vec::with_capacity(total);
        let mut errors = 0;
        for t in tasks {
            let (ms, ok) = t.await.unwrap();
            latencies.push(ms);
            errors += usize::from(!ok);
        }
        let achieved = total as f64 / start.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        println!(
            "single-row /predict @ {rate} req/s target ({achieved:.0} achieved), {total} requests: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {errors}",
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN)
        );

        // 1,000-row requests.
        let rows = target.rows(1000);
        let big = json!({"inputs": rows}).to_string();
        let mut big_latencies = Vec::new();
        for _ in 0..50 {
            let sent = Instant::now();
            let r = client.post(format!("{base}/predict")).body(big.clone()).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
            r.bytes().await.unwrap();
            big_latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
        big_latencies.sort_by(f64::total_cmp);
        println!(
            "1,000-row /predict, 50 sequential requests: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&big_latencies, 50.0),
            percentile(&big_latencies, 99.0)
        );
    });
    let (rss, peak) = rss_kib(pid);
    println!(
        "service RSS: {:.1} MiB after start-up, {:.1} MiB after the load, peak {:.1} MiB",
        rss_idle as f64 / 1024.0,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    if let Some(child) = child.as_mut() {
        drop(child.stdin.take());
        let _ = child.wait();
    }
}
