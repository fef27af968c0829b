"""MLflow client compatibility suite: drives mlflow-skinny against a running modelops server.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python mlflow_compat.py
Plain asserts, no pytest. Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
Run with MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 so a 5xx fails at once instead of being retried for minutes.
"""

import json
import os
import sys
import tempfile
import time
import traceback
import uuid

import requests

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402

URI = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
API = URI + "/api/2.0/mlflow"
client = MlflowClient()
results = {"passed": 0, "failed": 0}


def check(fn):
    name = fn.__name__
    try:
        fn()
        results["passed"] += 1
        print(f"PASS {name}", flush=True)
    except Exception:  # noqa: BLE001 - report every failure and keep going
        results["failed"] += 1
        print(f"FAIL {name}", flush=True)
        traceback.print_exc()
    return fn


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except MlflowException as e:  # RestException is a subclass
        assert e.error_code == code, f"expected {code}, got {e.error_code}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@check
def service_routes():
    assert requests.get(URI + "/health").text == "OK"
    info = requests.get(URI + "/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False
    default = client.get_experiment("0")
    assert default.name == "Default" and default.lifecycle_stage == "active"
    assert default.artifact_location == "mlflow-artifacts:/0"


@check
def wire_errors_are_4xx_json():
    r = requests.post(API + "/experiments/create", data="name=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    r = requests.post(API + "/experiments/create", data="{bad", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    r = requests.post(API + "/experiments/create", json={})
    assert r.status_code == 400 and "Missing value for required parameter 'name'" in r.json()["message"]
    r = requests.get(API + "/nope")
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert requests.get(API + "/runs/create").status_code == 405
    assert requests.get(URI + "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0").status_code == 200


@check
def set_experiment_and_errors():
    n = name("exp")
    exp = mlflow.set_experiment(n)
    assert exp.name == n
    assert mlflow.set_experiment(n).experiment_id == exp.experiment_id
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment, n)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment, "999999")
    assert client.get_experiment_by_name(name("nope")) is None


@check
def runs_params_metrics_tags():
    mlflow.set_experiment(name("runs"))
    with mlflow.start_run() as run:
        rid = run.info.run_id
        assert len(rid) == 32 and run.info.status == "RUNNING"
        assert run.info.artifact_uri == f"mlflow-artifacts:/{run.info.experiment_id}/{rid}/artifacts"
        assert run.data.tags.get("mlflow.runName") == run.info.run_name
        mlflow.log_param("lr", 0.01)
        mlflow.log_param("lr", 0.01)
        e = expect_error("INVALID_PARAMETER_VALUE", mlflow.log_param, "lr", 0.02)
        assert "Changing param values is not allowed" in str(e)
        mlflow.log_params({"depth": 6, "long": "x" * 7000})
        for step, v in enumerate([0.9, 0.7, 0.5]):
            mlflow.log_metric("loss", v, step=step)
        mlflow.log_metrics({"nan": float("nan"), "pinf": float("inf"), "ninf": float("-inf")})
        mlflow.set_tag("t", "y" * 9000)
        mlflow.set_tags({"a": "1", "b": "2"})
        client.log_batch(rid, metrics=[Metric("bm", 1.5, 1000, 3)], params=[Param("bp", "v")], tags=[RunTag("bt", "w")])
    got = client.get_run(rid)
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    assert got.data.params["lr"] == "0.01" and len(got.data.params["long"]) == 6000
    assert len(got.data.tags["t"]) == 8000
    assert got.data.metrics["loss"] == 0.5 and got.data.metrics["bm"] == 1.5
    import math
    assert math.isnan(got.data.metrics["nan"])
    assert got.data.metrics["pinf"] > 1e308 and got.data.metrics["ninf"] < -1e308
    history = client.get_metric_history(rid, "loss")
    assert [m.value for m in history] == [0.9, 0.7, 0.5] and [m.step for m in history] == [0, 1, 2]
    r = requests.get(API + "/metrics/get-history", params={"run_id": rid, "metric_key": "loss", "max_results": 2}).json()
    assert len(r["metrics"]) == 2 and "next_page_token" in r
    r = requests.get(API + "/metrics/get-history", params={"run_id": rid, "metric_key": "loss", "max_results": 2, "page_token": r["next_page_token"]}).json()
    assert len(r["metrics"]) == 1 and "next_page_token" not in r
    client.delete_tag(rid, "a")
    assert "a" not in client.get_run(rid).data.tags
    expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_tag, rid, "a")
    client.update_run(rid, name="renamed")
    got = client.get_run(rid)
    assert got.info.run_name == "renamed" and got.data.tags["mlflow.runName"] == "renamed"
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_run, "f" * 32)


@check
def invalid_keys_and_batches():
    with mlflow.start_run(experiment_id="0") as run:
        rid = run.info.run_id
        for bad in ["bad*name", "../x", "k" * 251]:
            expect_error("INVALID_PARAMETER_VALUE", mlflow.log_param, bad, "v")
        r = requests.post(API + "/runs/log-batch", json={"run_id": rid, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]})
        assert r.status_code == 400 and "at most 100 params" in r.json()["message"], r.text
        r = requests.post(API + "/runs/log-batch", json={"run_id": rid, "params": [{"key": "d", "value": "1"}, {"key": "d", "value": "2"}]})
        assert r.status_code == 400 and "Duplicate parameter keys" in r.json()["message"], r.text
        assert "d" not in client.get_run(rid).data.params
        r = requests.post(API + "/runs/log-metric", json={"run_id": rid, "key": "m", "timestamp": 1})
        assert r.status_code == 400 and "'value'" in r.json()["message"], r.text
        r = requests.post(API + "/runs/log-metric", json={"run_id": rid, "key": "m", "value": "abc", "timestamp": 1})
        assert r.status_code == 400, r.text


@check
def nested_runs_and_search():
    exp = mlflow.set_experiment(name("search"))
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            pass
    found = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list")
    assert [r.info.run_id for r in found] == [child.info.run_id]
    ids = []
    for i, loss in enumerate([0.5, 0.8, 1.2, 0.3]):
        with mlflow.start_run(run_name=f"s{i}") as run:
            mlflow.log_metric("loss", loss)
            mlflow.log_param("i", str(i))
            ids.append(run.info.run_id)
        if i == 3:
            client.set_terminated(run.info.run_id, status="FAILED")
        time.sleep(0.01)
    runs = client.search_runs(
        [exp.experiment_id],
        "metrics.loss < 0.9 and params.i != '1' and attributes.status = 'FINISHED' and tags.mlflow.runName LIKE 's%'",
        order_by=["metrics.loss ASC", "attributes.start_time DESC"],
    )
    assert [r.info.run_id for r in runs] == [ids[0]], [r.info.run_name for r in runs]
    page = client.search_runs([exp.experiment_id], "params.i IS NOT NULL", max_results=2)
    assert len(page) == 2 and page.token
    page2 = client.search_runs([exp.experiment_id], "params.i IS NOT NULL", max_results=2, page_token=page.token)
    assert len(page2) == 2 and not page2.token
    everything = mlflow.search_runs([exp.experiment_id], output_format="list")
    assert len(everything) == 6
    for bad in ["metrics.a < 1 OR metrics.b > 2", "metrics.a >>> 1", "metrics.m = 'x'", "params.a > 1"]:
        expect_error("INVALID_PARAMETER_VALUE", client.search_runs, [exp.experiment_id], bad)
    expect_error("INVALID_PARAMETER_VALUE", client.search_runs, [exp.experiment_id], "", page_token="garbage")


@check
def delete_and_restore():
    exp_id = client.create_experiment(name("del"))
    run = client.create_run(exp_id)
    rid = run.info.run_id
    client.delete_run(rid)
    e = expect_error("INVALID_PARAMETER_VALUE", client.log_param, rid, "a", "1")
    assert "must be in the 'active' state" in str(e)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    assert len(client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)) == 1
    client.restore_run(rid)
    client.log_param(rid, "a", "1")
    client.delete_experiment(exp_id)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    expect_error("INVALID_PARAMETER_VALUE", client.create_run, exp_id)
    client.restore_experiment(exp_id)
    assert client.get_run(rid).info.lifecycle_stage == "active"


@check
def search_experiments_pages():
    prefix = name("e")
    for i in range(3):
        client.create_experiment(f"{prefix}-{i}")
    first = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"], max_results=1)
    assert [e.name for e in first] == [f"{prefix}-2"] and first.token
    second = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"], max_results=1, page_token=first.token)
    assert [e.name for e in second] == [f"{prefix}-1"]


@check
def artifacts_round_trip():
    mlflow.set_experiment(name("art"))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(os.path.join(src, "sub", "deep"))
        with open(os.path.join(src, "a.txt"), "w") as f:
            f.write("hello")
        with open(os.path.join(src, "sub", "deep", "b.bin"), "wb") as f:
            f.write(bytes(range(256)) * 100)
        single = os.path.join(tmp, "single.json")
        with open(single, "w") as f:
            json.dump({"k": 1}, f)
        with mlflow.start_run() as run:
            mlflow.log_artifact(single)
            mlflow.log_artifacts(src, artifact_path="dir")
            mlflow.log_dict({"x": 2}, "extra/d.json")
        rid = run.info.run_id
        top = {f.path: f for f in client.list_artifacts(rid)}
        assert set(top) == {"single.json", "dir", "extra"}, top
        assert top["dir"].is_dir and not top["single.json"].is_dir and top["single.json"].file_size > 0
        inner = {f.path for f in client.list_artifacts(rid, "dir")}
        assert inner == {"dir/a.txt", "dir/sub"}, inner
        out = os.path.join(tmp, "out")
        path = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="dir", dst_path=out)
        with open(os.path.join(path, "sub", "deep", "b.bin"), "rb") as f:
            assert f.read() == bytes(range(256)) * 100
        with open(os.path.join(path, "a.txt")) as f:
            assert f.read() == "hello"
        one = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="single.json", dst_path=os.path.join(tmp, "one"))
        with open(one) as f:
            assert json.load(f) == {"k": 1}
    base = URI + "/api/2.0/mlflow-artifacts/artifacts"
    assert requests.get(base, params={"path": f"{run.info.experiment_id}/{rid}/artifacts/single.json"}).json() == {}
    assert requests.get(base, params={"path": "no/such/dir"}).json() == {}
    r = requests.get(base + "/no/such/file.txt")
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = requests.put(base + "/%2E%2E/escape.txt", data=b"x")
    assert r.status_code == 400, (r.status_code, r.text)
    r = requests.get(base, params={"path": "/etc"})
    assert r.status_code == 400, (r.status_code, r.text)


print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
