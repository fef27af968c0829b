"""MLflow model-registry compatibility suite: drives mlflow-skinny's registry calls against a running modelops server.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python test_registry.py
Plain asserts, no pytest. Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
Run with MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 so a 5xx fails at once instead of being retried for minutes.
"""

import os
import sys
import tempfile
import threading
import time
import traceback
import uuid

import requests

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

URI = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
API = URI + "/api/2.0/mlflow"
client = MlflowClient()
results = {"passed": 0, "failed": 0}

MLMODEL = """flavors:
  python_function:
    loader_module: modelops_pyfunc
    code: code
    data: data
  modelops: {package_format: 1}
model_uuid: 0b6d3c1e9a7f4e52b1c2d3e4f5a6b7c8
utc_time_created: '2026-11-26 20:15:30.000000'
"""

LOADER = """import json, os
class Model:
    def __init__(self, root):
        self.offset = json.load(open(os.path.join(root, "model.json")))["offset"]
    def predict(self, model_input, params=None):
        return [float(x) + self.offset for x in list(model_input["x"])]
def _load_pyfunc(data_path):
    return Model(data_path)
"""


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
    except MlflowException as e:
        assert e.error_code == code, f"expected {code}, got {e.error_code}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def logged_model_run(offset=1.0):
    """A run whose artifacts hold model/ with an MLmodel file (the M1 workaround of MLFLOW-API.md §6.1)."""
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model")
        os.makedirs(os.path.join(model, "code"))
        os.makedirs(os.path.join(model, "data"))
        with open(os.path.join(model, "MLmodel"), "w") as f:
            f.write(MLMODEL)
        with open(os.path.join(model, "code", "modelops_pyfunc.py"), "w") as f:
            f.write(LOADER)
        with open(os.path.join(model, "data", "model.json"), "w") as f:
            f.write('{"offset": %s}' % offset)
        mlflow.set_experiment("registry-compat")
        with mlflow.start_run() as run:
            mlflow.log_artifacts(model, artifact_path="model")
        return run


@check
def create_get_and_duplicate_models():
    n = name("rm")
    m = client.create_registered_model(n, tags={"team": "fc"}, description="d")
    assert m.name == n and m.description == "d" and m.tags == {"team": "fc"}, m
    err = expect_error("RESOURCE_ALREADY_EXISTS", client.create_registered_model, n)
    assert "already exists" in str(err)
    r = requests.post(API + "/registered-models/create", json={"name": n})
    assert r.status_code == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", r.text
    expect_error("INVALID_PARAMETER_VALUE", client.create_registered_model, "bad/name")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, name("missing"))


@check
def register_model_from_runs_uri():
    n = name("reg")
    run = logged_model_run()
    rid = run.info.run_id
    v1 = mlflow.register_model(f"runs:/{rid}/model", n)
    assert v1.version == "1" and v1.status == "READY", v1
    assert v1.source == f"mlflow-artifacts:/{run.info.experiment_id}/{rid}/artifacts/model", v1.source
    assert v1.run_id == rid
    v2 = mlflow.register_model(f"runs:/{rid}/model", n)
    assert v2.version == "2"
    assert client.get_model_version_download_uri(n, "1") == v1.source


@check
def create_model_version_errors():
    n = name("cmv")
    run = logged_model_run()
    rid = run.info.run_id
    expect_error("RESOURCE_DOES_NOT_EXIST", client.create_model_version, n, f"runs:/{rid}/model", rid)
    client.create_registered_model(n)
    r = requests.post(API + "/model-versions/create", json={"name": n, "source": f"runs:/{rid}/model"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    v = client.create_model_version(n, f"runs:/{rid}/model", run_id=rid, tags={"t": "1"}, description="x")
    assert v.version == "1" and v.tags == {"t": "1"} and v.description == "x"
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, n, "7")
    client.delete_model_version(n, "1")
    err = expect_error("RESOURCE_DOES_NOT_EXIST", client.get_model_version, n, "1")
    assert f"Model Version (name={n}, version=1) not found" in str(err)


@check
def stages_and_latest_versions():
    n = name("stg")
    run = logged_model_run()
    for _ in range(3):
        mlflow.register_model(f"runs:/{run.info.run_id}/model", n)
    v = client.transition_model_version_stage(n, "1", "staging")
    assert v.current_stage == "Staging"
    client.transition_model_version_stage(n, "2", "Staging", archive_existing_versions=False)
    assert client.get_model_version(n, "1").current_stage == "Staging"
    client.transition_model_version_stage(n, "2", "Staging", archive_existing_versions=True)
    assert client.get_model_version(n, "1").current_stage == "Archived"
    expect_error("INVALID_PARAMETER_VALUE", client.transition_model_version_stage, n, "3", "Prod")
    expect_error(
        "INVALID_PARAMETER_VALUE", client.transition_model_version_stage, n, "3", "Archived", archive_existing_versions=True
    )
    client.transition_model_version_stage(n, "3", "Production")
    latest = {v.current_stage: v.version for v in client.get_latest_versions(n)}
    assert latest == {"Staging": "2", "Production": "3", "Archived": "1"}, latest
    assert [v.version for v in client.get_latest_versions(n, ["Production"])] == ["3"]
    assert client.get_latest_versions(n, ["None"]) == []
    audit = requests.get(API + "/modelops/registry/audit", params={"name": n}).json()["entries"]
    assert len(audit) == 5 and all(e["source"] == "api" for e in audit), audit


@check
def aliases():
    n = name("al")
    run = logged_model_run()
    for _ in range(3):
        mlflow.register_model(f"runs:/{run.info.run_id}/model", n)
    client.set_registered_model_alias(n, "champion", "2")
    client.set_registered_model_alias(n, "champion", "3")
    v = client.get_model_version_by_alias(n, "champion")
    assert v.version == "3" and "champion" in v.aliases, v
    assert client.get_registered_model(n).aliases == {"champion": "3"}
    for bad in ["latest", "v1", "bad alias"]:
        expect_error("INVALID_PARAMETER_VALUE", client.set_registered_model_alias, n, bad, "1")
    expect_error("INVALID_PARAMETER_VALUE", client.get_model_version_by_alias, n, "nope")
    client.delete_model_version(n, "3")
    assert client.get_registered_model(n).aliases == {}
    assert mlflow.register_model(f"runs:/{run.info.run_id}/model", n).version == "4"
    client.delete_registered_model_alias(n, "never-set")


@check
def searches():
    prefix = name("v")
    run = logged_model_run()
    for i in range(3):
        client.create_registered_model(f"{prefix}-{i}")
        mlflow.register_model(f"runs:/{run.info.run_id}/model", f"{prefix}-{i}")
        client.create_model_version(f"{prefix}-{i}", f"runs:/{run.info.run_id}/model", run.info.run_id, tags={"t": "1"})
    # The store may hold other suites' models: walk every page rather than trusting the first one.
    everything, token = [], None
    while True:
        page = client.search_registered_models(max_results=50, page_token=token)
        everything.extend(page)
        token = page.token
        if not token:
            break
    assert {f"{prefix}-{i}" for i in range(3)} <= {m.name for m in everything}
    page = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'", max_results=2, page_token=page.token)
    assert len(rest) == 1 and not rest.token
    expect_error("INVALID_PARAMETER_VALUE", client.search_registered_models, max_results=1001)
    vs = client.search_model_versions(
        f"name='{prefix}-1' and version_number > 1", order_by=["version_number ASC"]
    )
    assert [v.version for v in vs] == ["2"], vs
    assert len(client.search_model_versions(f"name LIKE '{prefix}%' AND tags.t = '1'")) == 3
    assert len(client.search_model_versions(f"run_id = '{run.info.run_id}'")) == 6
    expect_error("INVALID_PARAMETER_VALUE", client.search_model_versions, "current_stage = 'None'")


@check
def tags_descriptions_rename_delete():
    n = name("tg")
    run = logged_model_run()
    mlflow.register_model(f"runs:/{run.info.run_id}/model", n)
    client.set_registered_model_tag(n, "k", "v")
    client.set_model_version_tag(n, "1", "vk", "vv")
    assert client.get_registered_model(n).tags == {"k": "v"}
    assert client.get_model_version(n, "1").tags == {"vk": "vv"}
    client.delete_registered_model_tag(n, "k")
    client.delete_registered_model_tag(n, "k")
    client.delete_model_version_tag(n, "1", "vk")
    assert client.get_registered_model(n).tags == {} and client.get_model_version(n, "1").tags == {}
    before = client.get_registered_model(n).last_updated_timestamp
    time.sleep(0.01)
    assert client.update_registered_model(n, description="new").description == "new"
    assert client.get_registered_model(n).last_updated_timestamp > before
    assert client.update_model_version(n, "1", description="vd").description == "vd"
    client.set_registered_model_alias(n, "a", "1")
    renamed = name("renamed")
    client.rename_registered_model(n, renamed)
    assert client.get_model_version(renamed, "1").name == renamed
    assert client.get_registered_model(renamed).aliases == {"a": "1"}
    client.delete_registered_model(renamed)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, renamed)
    assert mlflow.register_model(f"runs:/{run.info.run_id}/model", renamed).version == "1"


@check
def load_model_by_every_uri():
    import pandas as pd

    n = name("load")
    run = logged_model_run(offset=10.0)
    mlflow.register_model(f"runs:/{run.info.run_id}/model", n)
    client.transition_model_version_stage(n, "1", "Production")
    client.set_registered_model_alias(n, "champion", "1")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    for uri in [f"models:/{n}/1", f"models:/{n}/Production", f"models:/{n}/latest", f"models:/{n}@champion"]:
        predictions = list(mlflow.pyfunc.load_model(uri).predict(frame))
        assert predictions == [11.0, 12.0], (uri, predictions)


@check
def concurrent_production_promotions_leave_one():
    n = name("race")
    run = logged_model_run()
    for _ in range(6):
        mlflow.register_model(f"runs:/{run.info.run_id}/model", n)
    errors = []

    def promote(v):
        try:
            MlflowClient().transition_model_version_stage(n, str(v), "Production", archive_existing_versions=True)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=promote, args=(v,)) for v in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    stages = [client.get_model_version(n, str(v)).current_stage for v in range(1, 7)]
    assert stages.count("Production") == 1 and stages.count("Archived") == 5, stages


@check
def registry_routes_on_ajax_prefix_and_bad_versions():
    n = name("ajax")
    client.create_registered_model(n)
    r = requests.get(URI + "/ajax-api/2.0/mlflow/registered-models/get", params={"name": n})
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == n, r.text
    r = requests.get(API + "/model-versions/get", params={"name": n, "version": "abc"})
    assert r.status_code == 400, r.text
    r = requests.post(API + "/model-versions/transition-stage", json={"name": n, "version": "1"})
    assert r.status_code == 400, r.text


print(f"{results['passed']} passed, {results['failed']} failed", flush=True)
sys.exit(1 if results["failed"] else 0)
