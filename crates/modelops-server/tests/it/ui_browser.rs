//! The web UI in a real headless Chromium, driven over WebDriver (fantoccini + the chromedriver we spawn on a free
//! loopback port): open each page, filter runs, open a run's chart and hover it, compare two runs, approve a
//! Staging version and roll back — asserting page content, registry state and an empty script-error log
//! (`window.__modelopsErrors`, filled by the pages' error hook) after every page. Screenshots of every page go to
//! `<target dir>/ui-screenshots/`.
//!
//! Skips with a message when chromedriver is missing, unless `MODELOPS_REQUIRE_EXTERNAL=1`.

use super::ui::{MODEL, fixture};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use modelops_server::router_with_ui;
use modelops_tracking::registry::{Stage, TransitionSource};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn chromedriver_path() -> Option<PathBuf> {
    let candidate = std::env::var_os("MODELOPS_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    candidate.exists().then_some(candidate)
}

fn chromium_path() -> Option<PathBuf> {
    let candidate = std::env::var_os("MODELOPS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    candidate.exists().then_some(candidate)
}

/// `<target dir>/ui-screenshots`, from the test binary's `CARGO_TARGET_TMPDIR` (`<target>/tmp`).
fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Kills the chromedriver we started when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(path: &Path) -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on port {port} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, port)
}

struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
}

impl Browser {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.assert_no_script_errors(path).await;
    }

    /// The page's `<main>` text, waiting for it while a navigation (a submitted form's redirect) is still loading.
    async fn text(&self) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn assert_no_script_errors(&self, page: &str) {
        let errors = self
            .client
            .execute(
                "return window.__modelopsErrors || ['the page script did not run'];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(errors, json!([]), "script errors on {page}");
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Clicks a control that loads a new page (a form's submit button) and waits until the old page is gone, so
    /// what is read next is the new page even on a loaded machine.
    async fn click(&self, css: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.unwrap();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The old document's root element goes stale once the new page replaced it.
        while old_page.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} did not load a new page within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_works_in_a_real_browser() {
    let (Some(driver_path), Some(chromium)) = (chromedriver_path(), chromium_path()) else {
        assert!(
            std::env::var("MODELOPS_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "chromedriver or chromium is missing but MODELOPS_REQUIRE_EXTERNAL=1 (install Debian's chromium and chromium-driver)"
        );
        eprintln!(
            "skipping the browser test: /usr/bin/chromedriver or /usr/bin/chromium missing (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let f = fixture().await;
    let store = f.state.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router_with_ui(f.state.clone(), f.ui.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (_driver, port) = start_driver(&driver_path).await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let b = Browser {
        client,
        base,
        shots: screenshot_dir(),
    };

    // Experiments.
    b.open("/experiments").await;
    assert!(b.text().await.contains("rossmann-forecasting"));
    b.shot("01-experiments").await;

    // Runs: filter with the MLflow grammar, then a bad filter shows an inline error.
    b.client
        .find(Locator::LinkText("rossmann-forecasting"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.assert_no_script_errors("runs").await;
    assert!(b.text().await.contains("train-4"));
    b.shot("02-runs").await;
    b.fill(
        "input[name=filter]",
        "metrics.ensemble_holdout_rmspe < 0.115",
    )
    .await;
    b.click(".filter-bar button[type=submit]").await;
    let text = b.text().await;
    assert!(
        text.contains("train-0") && text.contains("train-1"),
        "{text}"
    );
    assert!(
        !text.contains("train-3"),
        "the filter did not apply: {text}"
    );
    b.shot("03-runs-filtered").await;
    b.fill("input[name=filter]", "metrics.rmspe <<< 1").await;
    b.click(".filter-bar button[type=submit]").await;
    assert!(b.text().await.contains("Cannot search"));
    b.assert_no_script_errors("runs with a bad filter").await;

    // Run page and its metric chart, with the hover tooltip.
    b.open(&format!("/runs/{}", f.runs[0].0)).await;
    let text = b.text().await;
    assert!(
        text.contains("lgb_num_leaves") && text.contains("train_loss"),
        "{text}"
    );
    b.shot("04-run").await;
    b.client
        .find(Locator::LinkText("train_loss"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.assert_no_script_errors("metric").await;
    assert!(b.text().await.contains("2000 points"));
    let svg = b
        .client
        .find(Locator::Css("#metric-chart svg"))
        .await
        .unwrap();
    b.client
        .perform_actions(
            MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
                element: svg,
                duration: None,
                x: 40.0,
                y: 0.0,
            }),
        )
        .await
        .unwrap();
    let tooltip = b
        .client
        .execute("var t = document.querySelector('.chart-tooltip'); return t && !t.hidden ? t.textContent : null;", vec![])
        .await
        .unwrap();
    assert!(
        tooltip.as_str().is_some_and(|t| t.starts_with("step ")),
        "no tooltip on hover: {tooltip}"
    );
    b.shot("05-metric-chart").await;
    b.assert_no_script_errors("metric hover").await;

    // Artifacts: listing and a CSV preview.
    b.open(&format!("/runs/{}/artifacts", f.runs[0].0)).await;
    b.client
        .find(Locator::LinkText("📄 predictions.csv"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(b.text().await.contains("6,064"));
    b.shot("06-artifact-preview").await;

    // Compare two runs selected in the table (the button is enabled by the page script only with two or more).
    b.open(&format!("/experiments/{}", f.experiment_id)).await;
    let disabled = b
        .client
        .find(Locator::Id("compare-button"))
        .await
        .unwrap()
        .prop("disabled")
        .await
        .unwrap();
    assert_eq!(
        disabled.as_deref(),
        Some("true"),
        "compare must wait for two runs"
    );
    let boxes = b
        .client
        .find_all(Locator::Css("input[name=runs]"))
        .await
        .unwrap();
    boxes[0].click().await.unwrap();
    boxes[1].click().await.unwrap();
    b.click("#compare-button").await;
    b.assert_no_script_errors("compare").await;
    let text = b.text().await;
    assert!(
        text.contains("Compare runs") && text.contains("parameters differ"),
        "{text}"
    );
    assert!(
        !b.client
            .find_all(Locator::Css("tr.differs"))
            .await
            .unwrap()
            .is_empty()
    );
    b.shot("07-compare").await;

    // Registry: approve the Staging version 2.
    b.open("/models").await;
    b.shot("08-models").await;
    b.client
        .find(Locator::LinkText(MODEL))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.assert_no_script_errors("model").await;
    b.shot("09-model").await;
    b.open(&format!("/models/{MODEL}/versions/2")).await;
    b.shot("10-version-staging").await;
    b.fill("#approve-approver", "Ada Lovelace").await;
    b.fill("#approve-reason", "holdout RMSPE beats production")
        .await;
    b.click("#approve-form button[type=submit]").await;
    b.assert_no_script_errors("after approve").await;
    assert!(b.text().await.contains("Approved"));
    assert_eq!(
        store
            .get_model_version(MODEL, 2)
            .await
            .unwrap()
            .current_stage,
        Stage::Production
    );
    assert_eq!(
        store
            .get_model_version(MODEL, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    let approved = store
        .audit_trail(MODEL, Some(2))
        .await
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (approved.actor.as_str(), approved.source),
        ("Ada Lovelace", TransitionSource::Ui)
    );
    b.shot("11-version-approved").await;

    // Roll back from the (now Production) version page.
    b.fill("#rollback-approver", "Grace Hopper").await;
    b.fill("#rollback-reason", "latency regression").await;
    b.click("#rollback-form button[type=submit]").await;
    b.assert_no_script_errors("after rollback").await;
    assert!(b.text().await.contains("Rolled back"));
    assert_eq!(
        store
            .get_model_version(MODEL, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Production
    );
    assert_eq!(
        store
            .get_model_version(MODEL, 2)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    let rolled = store
        .audit_trail(MODEL, Some(1))
        .await
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(rolled.action, "rollback");
    b.shot("12-rolled-back").await;

    // A link in MLflow's UI format, as the MLflow client prints it, lands on our run page.
    b.client
        .goto(&format!(
            "{}/#/experiments/{}/runs/{}",
            b.base, f.experiment_id, f.runs[1].0
        ))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.client.current_url().await.unwrap().path() != format!("/runs/{}", f.runs[1].0) {
        assert!(
            Instant::now() < deadline,
            "the MLflow-style link was not followed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.client
        .wait()
        .for_element(Locator::Css("main h1"))
        .await
        .unwrap();
    assert!(b.text().await.contains("train-1"));

    // Monitoring.
    b.open("/monitoring").await;
    let text = b.text().await;
    assert!(
        text.contains("Predictions per day") && text.contains("Latest check"),
        "{text}"
    );
    b.shot("13-monitoring").await;

    b.client.close().await.unwrap();
    server.abort();
    eprintln!("screenshots in {}", b.shots.display());
}
