//! External servers from the test venv, started on free loopback ports for one test and always stopped: a stock
//! `mlflow server` (MLflow 3.17.2, SQLite backend, artifact proxy) and moto's S3-compatible server.
//!
//! Each server runs in its own process group; [`ServerProcess`] kills the whole group (uvicorn workers, MLflow's
//! job runner and its huey consumer included) when dropped — also while a failing test unwinds — and asks the
//! kernel to signal the group leader if the test binary itself dies.
//!
//! The venv is found through `MODELOPS_TEST_PYTHON`, else `<workspace>/.tools/pyenv/bin/python`. A test whose
//! tool is missing prints why and skips, unless `MODELOPS_REQUIRE_EXTERNAL=1`, which makes it fail.
//!
//! This file is also compiled into `modelops-server`'s test binary (`#[path]`), so it uses only `std`, `libc`,
//! `tokio` and `reqwest`, which both crates have.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a missing external tool must fail the test instead of skipping it (CI sets it).
pub fn require_external() -> bool {
    std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() == Ok("1")
}

/// The test venv's Python, whether or not it exists.
fn test_python() -> PathBuf {
    match std::env::var("MODELOPS_TEST_PYTHON") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/pyenv/bin/python"),
    }
}

/// The console script `name` installed beside the test venv's Python (`mlflow`, `moto_server`), or `None` after
/// printing why `what` is skipped. Panics instead when `MODELOPS_REQUIRE_EXTERNAL=1`.
pub fn venv_tool(name: &str, what: &str) -> Option<PathBuf> {
    let python = test_python();
    let tool = python
        .parent()
        .map(|bin| bin.join(name))
        .unwrap_or_else(|| PathBuf::from(name));
    if tool.is_file() {
        return Some(tool);
    }
    let why = format!(
        "{what}: no `{name}` beside the test Python {} (add it to scripts/test-requirements.txt and run \
         `bash scripts/bootstrap.sh test`, or point MODELOPS_TEST_PYTHON at a venv that has it)",
        python.display()
    );
    assert!(
        !require_external(),
        "{why}; MODELOPS_REQUIRE_EXTERNAL=1 forbids skipping"
    );
    eprintln!("skipping {why}");
    None
}

/// A port that was free a moment ago on 127.0.0.1 (the server binds it right after).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The HTTP status of `GET path` on `address`, or `None` when nothing answers yet. A hand-written HTTP/1.0
/// request because this runs before any async runtime exists and reqwest's blocking client is not built.
fn http_status(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut head = [0u8; 16];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// A server child process, killed with its whole process group on drop.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The server's stdout and stderr, for failure messages.
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `program args…` in a new process group with output to `log`, and waits (up to `startup`) until
    /// `GET health_path` on `port` answers 200. Panics with the log's tail when it does not.
    pub fn start(
        program: &Path,
        args: &[String],
        port: u16,
        health_path: &str,
        log: &Path,
        startup: Duration,
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                // If the test binary dies without unwinding, the group leader gets SIGTERM and stops its workers.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start {}: {e}", program.display());
        });
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + startup;
        loop {
            if http_status(address, health_path) == Some(200) {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "{} exited with {status} before answering on port {port}:\n{}",
                    program.display(),
                    server.log_tail()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer GET {health_path} on port {port} within {startup:?}:\n{}",
                    program.display(),
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The operating-system process id of the group leader.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 4000 characters of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text
            .char_indices()
            .rev()
            .nth(4000)
            .map_or(0, |(index, _)| index);
        text[start..].to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill only sends a signal; the group is the one this child leads.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Workers that ignored SIGTERM (or outlived their parent) go now.
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A stock `mlflow server` (SQLite backend store, local artifact proxy destination) in `dir`.
pub struct StockMlflow {
    /// The running process group.
    pub process: ServerProcess,
    /// Where the proxy stores artifacts (`--artifacts-destination`).
    pub artifacts: PathBuf,
}

impl StockMlflow {
    /// Starts `mlflow server` with `workers` uvicorn workers (its default, 4, when `None`), or returns `None`
    /// (after printing why) when the venv has no MLflow server.
    pub fn start(dir: &Path, workers: Option<u32>) -> Option<Self> {
        let mlflow = venv_tool("mlflow", "the stock MLflow server tests")?;
        let port = free_port();
        let artifacts = dir.join("stock-artifacts");
        let mut args = vec![
            "server".to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--backend-store-uri".into(),
            format!("sqlite:///{}", dir.join("stock-mlflow.db").display()),
            "--artifacts-destination".into(),
            artifacts.display().to_string(),
        ];
        if let Some(workers) = workers {
            args.extend(["--workers".to_string(), workers.to_string()]);
        }
        let process = ServerProcess::start(
            &mlflow,
            &args,
            port,
            "/health",
            &dir.join("stock-mlflow.log"),
            Duration::from_secs(180),
        );
        Some(Self { process, artifacts })
    }

    /// The tracking URI (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.process.url
    }
}

/// moto's S3-compatible server.
pub struct Moto {
    /// The running process group.
    pub process: ServerProcess,
}

/// Credentials moto accepts (it checks no signatures).
pub const MOTO_ACCESS_KEY: &str = "testing";
/// See [`MOTO_ACCESS_KEY`].
pub const MOTO_SECRET_KEY: &str = "testing";
/// The region the buckets are made in.
pub const MOTO_REGION: &str = "us-east-1";

impl Moto {
    /// Starts `moto_server` on a free port, or returns `None` (after printing why) when the venv lacks it.
    pub fn start(dir: &Path) -> Option<Self> {
        let moto = venv_tool("moto_server", "the S3 artifact tests")?;
        let port = free_port();
        let args = [
            "-H".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        let process = ServerProcess::start(
            &moto,
            &args,
            port,
            "/moto-api/",
            &dir.join("moto.log"),
            Duration::from_secs(60),
        );
        Some(Self { process })
    }

    /// The endpoint URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.process.url
    }

    /// Creates `bucket` (path-style `PUT /<bucket>`; moto needs no signature).
    pub async fn create_bucket(&self, bucket: &str) {
        let reply = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.url()))
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "creating bucket {bucket}: HTTP {}",
            reply.status()
        );
    }
}
