"""MLflow as a tracker: what a real run records, read back with MLflow's own client and through
the REST API of a real `mlflow server`; the tracker's naming, statuses and errors."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers import free_port
from mlflow.tracking import MlflowClient
from mlflow.types.schema import AnyType, DataType

from store_sales.errors import UserError
from store_sales.features import build_features
from store_sales.mlf.tracker import MlflowTracker
from store_sales.models.base import StepEvent
from store_sales.models.lightgbm import LightGBMAdapter
from store_sales.trackers import RunInfo

MLFLOW_TRACKED = ("mlflow", "both", "broken")


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def searched(tracked_batch) -> pd.DataFrame:
    """Every run of the batch's MLflow experiment, best CV first (MLflow's own search)."""
    mlflow.set_tracking_uri(tracked_batch.mlflow_uri)
    return mlflow.search_runs(
        experiment_names=["exp001"], order_by=["metrics.cv_rmsle_mean ASC"]
    ).set_index("tags.mlflow.runName")


def test_search_runs_finds_exactly_the_mlflow_tracked_runs(tracked_batch, searched):
    names = {stem: _metrics(tracked_batch.runs[stem])["run_name"] for stem in tracked_batch.runs}
    assert set(searched.index) == {names[s] for s in MLFLOW_TRACKED}
    assert searched.loc[names["broken"], "status"] == "FAILED"
    assert searched.loc[names["broken"], "tags.status"] == "failed"
    for stem in ("mlflow", "both"):
        assert searched.loc[names[stem], "status"] == "FINISHED"


def test_best_run_by_search_order_is_the_lowest_cv_in_metrics_json(tracked_batch, searched):
    finished = {s: _metrics(tracked_batch.runs[s]) for s in ("mlflow", "both")}
    best = min(finished.values(), key=lambda m: m["cv_rmsle_mean"])
    assert searched.index[0] == best["run_name"]  # FAILED runs have no score: sorted last


@pytest.mark.parametrize("stem", ["mlflow", "both"])
def test_metrics_tags_params_are_the_run_folders(tracked_batch, searched, stem):
    m = _metrics(tracked_batch.runs[stem])
    row = searched.loc[m["run_name"]]
    for key in ("val_rmsle", "val_rmsle_alive", "cv_rmsle_mean", "cv_rmsle_std", "best_step"):
        assert row[f"metrics.{key}"] == pytest.approx(m[key]), key
    for k in range(1, m["n_folds"] + 1):
        assert row[f"metrics.cv_rmsle_fold_{k}"] == pytest.approx(m[f"cv_rmsle_fold_{k}"])
    assert row["tags.template"] == "exp001" and row["tags.model"] == "lightgbm"
    assert row["tags.data"] == "synthetic"
    assert row["tags.validation"] == ("ts-cv-2x16d" if m["n_folds"] == 2 else "origin-16d-holdout")
    assert "n_origins=6" in row["tags.note"] and row["tags.note"] == row["tags.mlflow.note.content"]
    assert row["params.n_origins"] == "6" and row["params.tracker"] == stem
    assert row["params.features"] == "default"
    assert row["tags.code.package_sha256"] == m["code"]["package_sha256"]
    assert row["tags.code.notebook_sha256"] == m["code"]["notebook_sha256"]
    assert m["mlflow"]["run_id"] == row["run_id"]


def test_curves_by_step_and_scores_by_horizon(tracked_batch, searched):
    m = _metrics(tracked_batch.runs["both"])  # two folds
    client = MlflowClient(tracked_batch.mlflow_uri)
    run_id = searched.loc[m["run_name"], "run_id"]

    def history(key):
        return {x.step: x.value for x in client.get_metric_history(run_id, key)}

    rounds = m["fold_steps_run"]
    assert sorted(history("step/val_rmse")) == list(range(1, rounds[0] + 1))
    assert len(history("step/val_rmsle")) == rounds[0]
    assert len(history("fold_2/val_rmse")) == rounds[1]
    by_h = history("rmsle_by_horizon")
    assert by_h == pytest.approx({int(h): v for h, v in m["rmsle_by_horizon"].items()})
    # the per-step curve must not shadow the headline score (MLflow shows the highest step)
    assert searched.loc[m["run_name"], "metrics.val_rmsle"] == pytest.approx(m["val_rmsle"])


def test_artifacts_are_the_run_folders_files(tracked_batch, searched):
    m = _metrics(tracked_batch.runs["mlflow"])
    client = MlflowClient(tracked_batch.mlflow_uri)
    run_id = searched.loc[m["run_name"], "run_id"]
    listed = {
        a.path
        for top in client.list_artifacts(run_id)
        for a in client.list_artifacts(run_id, top.path)
    }
    for path in (
        "model/model.txt",
        "model/features.txt",
        "submission/submission.csv",
        "predictions/oof.parquet",
        "predictions/test_pred.parquet",
        "plots/learning_curve.png",
        "run_info/env.json",
    ):
        assert path in listed, path
    tables = {a.path for a in client.list_artifacts(run_id, "tables/val")}
    assert "tables/val/by_horizon.csv" in tables
    local = client.download_artifacts(run_id, "submission/submission.csv")
    assert (
        Path(local).read_bytes() == (tracked_batch.runs["mlflow"] / "submission.csv").read_bytes()
    )


@pytest.fixture(scope="module")
def server(tracked_batch):
    """The real `mlflow server` on a free port, serving the store the batch wrote."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            tracked_batch.mlflow_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: MLflow 2.x's gunicorn workers end too
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc, signal.SIGKILL)
                pytest.fail(f"mlflow server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
    yield url
    _stop(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        _stop(proc, signal.SIGKILL)


def _stop(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has ended already
        os.killpg(proc.pid, sig)


def _rest(url: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_real_server_serves_runs_metrics_and_artifacts(tracked_batch, server):
    m = _metrics(tracked_batch.runs["mlflow"])
    experiment = _rest(server, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=exp001")
    found = _rest(
        server,
        "/api/2.0/mlflow/runs/search",
        {
            "experiment_ids": [experiment["experiment"]["experiment_id"]],
            "filter": f"attributes.run_name = '{m['run_name']}'",
        },
    )["runs"]
    assert len(found) == 1 and found[0]["info"]["status"] == "FINISHED"
    run_id = found[0]["info"]["run_id"]
    metrics = {x["key"]: x["value"] for x in found[0]["data"]["metrics"]}
    assert metrics["val_rmsle"] == pytest.approx(m["val_rmsle"])
    assert metrics["cv_rmsle_mean"] == pytest.approx(m["cv_rmsle_mean"])
    listed = _rest(server, f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=submission")
    assert "submission/submission.csv" in [f["path"] for f in listed["files"]]
    # what the UI's download button fetches
    with urllib.request.urlopen(
        f"{server}/get-artifact?path=submission/submission.csv&run_uuid={run_id}", timeout=30
    ) as response:
        assert response.read() == (tracked_batch.runs["mlflow"] / "submission.csv").read_bytes()
    with urllib.request.urlopen(server + "/", timeout=30) as response:  # the UI itself
        assert response.status == 200 and b"<html" in response.read(2000).lower()


def test_the_runs_model_loads_through_the_server_and_predicts_as_the_adapter(
    tracked_batch, server, panel
):
    """`mlflow.pyfunc.load_model("runs:/<id>/model")` against the real server: exp001's
    LightGBM model predicts, on a frame of the run's features, what the adapter predicts from
    the run folder's model.txt."""
    folder = tracked_batch.runs["mlflow"]
    entry = _metrics(folder)["mlflow"]
    assert entry["model"] == f"runs:/{entry['run_id']}/model"
    features = (folder / "features.txt").read_text().split()
    rows = build_features(panel, [panel.n_days - 17])
    adapter = LightGBMAdapter({}, 0, 0)
    expected = adapter.predict(adapter.load(folder / "model.txt"), rows, features)
    with _tracking_uri(server):
        loaded = mlflow.pyfunc.load_model(entry["model"])
    assert loaded.metadata.flavors.keys() >= {"lightgbm", "python_function"}
    np.testing.assert_array_equal(np.asarray(loaded.predict(rows[features])), expected)


# ---- the tracker on its own (no training) ------------------------------------------------------


def _info(tmp_path: Path, n_folds: int = 1) -> RunInfo:
    return RunInfo(
        name="exp001-lightgbm-test",
        dir=tmp_path,
        group="exp001",
        tags=["lightgbm"],
        notes="num_leaves=63",
        config={"num_leaves": 63, "n_folds": n_folds, "env": {"git_commit": "abc"}},
        data_kind="synthetic",
        template="exp001",
        model="lightgbm",
        scheme="origin-16d-holdout",
    )


@pytest.mark.e2e  # slow: whole runs into a real MLflow store
def test_names_mlflow_refuses_are_made_safe_and_a_failure_ends_failed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    tracker = MlflowTracker(uri, "exp001")
    tracker.start(_info(tmp_path, n_folds=2))
    tracker.on_step(StepEvent(fold=2, step=1, values={"val_rmse": 0.5}))
    tracker.on_step(StepEvent(fold=1, step=1, values={"loss": 0.7}, scope="batch"))
    tracker.log({"val/family/LIQUOR,WINE,BEER": 0.4})
    info = tracker.finish(exit_code=130)
    run = MlflowClient(uri).get_run(info["run_id"])
    assert run.info.status == "FAILED" and run.data.tags["status"] == "failed"
    assert run.data.metrics["val/family/LIQUOR_WINE_BEER"] == 0.4
    assert run.data.metrics["fold_2/val_rmse"] == 0.5 and run.data.metrics["loss"] == 0.7
    assert run.data.tags["mlflow.source.git.commit"] == "abc"


# ---- models in MLflow's flavors ----------------------------------------------------------------

FLAVOR_FEATURES = ["store_nbr", "family", "x1", "x2"]


def _rows(n: int, seed: int) -> pd.DataFrame:
    """A frame with the feature frame's column kinds (categories, numbers with NaN) and h."""
    rng = np.random.default_rng(seed)
    store = rng.integers(1, 5, n)
    family = rng.choice(["A", "B", "C"], n)
    x1, x2 = rng.normal(10, 3, n).astype(np.float32), rng.normal(0, 1, n).astype(np.float32)
    x2[rng.random(n) < 0.2] = np.nan
    target = 0.3 * x1 + np.nan_to_num(x2) + 0.5 * store + (family == "B") + rng.normal(0, 0.3, n)
    return pd.DataFrame(
        {
            "h": rng.integers(1, 17, n).astype(np.int8),
            "target": target.astype(np.float32),
            "store_nbr": pd.Categorical(store, categories=[1, 2, 3, 4, 5]),
            "family": pd.Categorical(family, categories=["A", "B", "C", "D"]),
            "x1": x1,
            "x2": x2,
        }
    )


def _adapter(model: str):
    if model == "lightgbm":
        params = {"objective": "regression", "num_threads": 1, "verbose": -1, "seed": 1}
        return LightGBMAdapter(params, 30, 5, log_period=0)
    if model == "xgboost":
        from store_sales.models.xgboost import XGBoostAdapter

        return XGBoostAdapter({"max_depth": 3, "nthread": 1, "seed": 1}, 30, 5, log_period=0)
    from store_sales.models.pytorch import TorchMLPAdapter
    from store_sales.templates.exp003 import Exp003Config

    small = Exp003Config(
        hidden_sizes="8", batch_size=64, max_epochs=1, warmup_epochs=0.5, log_every=0,
        device="cpu", num_threads=1, target_base="",
    )  # fmt: skip
    return TorchMLPAdapter(small, verbose=False)


@contextlib.contextmanager
def _tracking_uri(uri: str):
    """pyfunc resolves `runs:/` through the global tracking URI: set it, then put it back."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before or "")


@pytest.fixture(scope="module")
def flavor_store(tmp_path_factory) -> str:
    """One sqlite store for the flavor tests (making a store's tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('flavors') / 'm.db'}"


def _logged(uri: str, tmp_path: Path, model_name: str, model_file: Path) -> tuple[str, dict]:
    """An MLflow run of `model_name` that logs `model_file` as the run's model artifact."""
    (tmp_path / "features.txt").write_text("\n".join(FLAVOR_FEATURES) + "\n")
    tracker = MlflowTracker(uri, "flavors")
    tracker.start(replace(_info(tmp_path), model=model_name))
    tracker.artifact("exp-model", "model", [model_file, tmp_path / "features.txt"], {"a": 1})
    return uri, tracker.finish(exit_code=0)


@pytest.mark.e2e  # slow: MLflow saves and loads a real model
@pytest.mark.parametrize("model_name", ["lightgbm", "xgboost"])
def test_a_gbdt_model_loads_with_pyfunc_and_predicts_as_the_adapter(
    flavor_store, tmp_path, model_name
):
    adapter = _adapter(model_name)
    model = adapter.refit(_rows(400, 0), FLAVOR_FEATURES, 30)
    path = adapter.save(model, tmp_path / adapter.model_file)
    uri, entry = _logged(flavor_store, tmp_path, model_name, path)
    assert entry["model"] == f"runs:/{entry['run_id']}/model"
    rows = _rows(200, 1)
    expected = adapter.predict(model, rows, FLAVOR_FEATURES)
    with _tracking_uri(uri):
        loaded = mlflow.pyfunc.load_model(entry["model"])
    assert model_name in loaded.metadata.flavors
    got = np.asarray(loaded.predict(rows[FLAVOR_FEATURES]))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.std(expected) > 0.1  # a model that predicts a constant would prove little
    names = {a.path for a in MlflowClient(uri).list_artifacts(entry["run_id"], "model")}
    assert {"model/MLmodel", f"model/{path.name}", "model/features.txt"} <= names
    (tmp_path / "dl").mkdir()
    local = MlflowClient(uri).download_artifacts(
        entry["run_id"], f"model/{path.name}", str(tmp_path / "dl")
    )
    assert Path(local).read_bytes() == path.read_bytes()  # the adapter's file, as in the folder


@pytest.mark.e2e  # slow: MLflow saves and loads a real model
def test_a_catboost_model_loads_with_pyfunc_and_predicts_as_exp004s_adapter(flavor_store, tmp_path):
    """exp004's adapter lives in its notebook; what it does: a Pool naming the categorical
    columns, CatBoost's own .cbm file."""
    catboost = pytest.importorskip("catboost")

    def pool(rows, label=True):
        cats = [c for c in FLAVOR_FEATURES if isinstance(rows[c].dtype, pd.CategoricalDtype)]
        target = rows["target"] if label else None
        return catboost.Pool(rows[FLAVOR_FEATURES], target, cat_features=cats)

    model = catboost.CatBoostRegressor(
        iterations=30, depth=3, thread_count=1, verbose=0, allow_writing_files=False
    )
    model.fit(pool(_rows(400, 0)))
    path = tmp_path / "model.cbm"
    model.save_model(str(path))
    uri, entry = _logged(flavor_store, tmp_path, "catboost", path)
    rows = _rows(200, 1)
    expected = model.predict(pool(rows, label=False))
    with _tracking_uri(uri):
        loaded = mlflow.pyfunc.load_model(entry["model"])
    assert "catboost" in loaded.metadata.flavors and np.std(expected) > 0.1
    np.testing.assert_allclose(np.asarray(loaded.predict(rows[FLAVOR_FEATURES])), expected)


@pytest.mark.e2e  # slow: MLflow saves and loads a real model
def test_a_histgradientboosting_model_loads_with_pyfunc_and_predicts_as_the_estimator(
    flavor_store, tmp_path
):
    """exp005's model (`Estimator`, joblib file) in MLflow's sklearn flavor."""
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingRegressor

    from store_sales.models.estimator import Estimator

    adapter = Estimator(HistGradientBoostingRegressor(max_iter=30, random_state=0), threads=1)
    model = adapter.refit(_rows(400, 0), FLAVOR_FEATURES, 30)
    path = adapter.save(model, tmp_path / adapter.model_file)
    uri, entry = _logged(flavor_store, tmp_path, "histgradientboosting", path)
    rows = _rows(200, 1)
    expected = adapter.predict(model, rows, FLAVOR_FEATURES)
    with _tracking_uri(uri):
        loaded = mlflow.pyfunc.load_model(entry["model"])
    assert "sklearn" in loaded.metadata.flavors and np.std(expected) > 0.1
    np.testing.assert_allclose(np.asarray(loaded.predict(rows[FLAVOR_FEATURES])), expected)


@pytest.mark.e2e  # slow: MLflow saves and loads a real model
def test_a_pytorch_model_loads_as_its_network(flavor_store, tmp_path):
    """PyTorch's flavor holds the network; its inputs are the adapter's (see mlf/flavors.py)."""
    pytest.importorskip("torch")
    adapter = _adapter("pytorch")
    model = adapter.refit(_rows(300, 0), FLAVOR_FEATURES, 1)
    path = adapter.save(model, tmp_path / "model.pt")
    uri, entry = _logged(flavor_store, tmp_path, "pytorch", path)
    with _tracking_uri(uri):
        net = mlflow.pytorch.load_model(entry["model"])
    mine = model.net.state_dict()
    assert type(net) is type(model.net) and net.state_dict().keys() == mine.keys()
    assert all((net.state_dict()[k] == v).all() for k, v in mine.items())


@pytest.mark.parametrize("model_name", ["my-notebook-model", "catboost"])
def test_a_model_without_a_flavor_here_keeps_the_plain_files(
    flavor_store, tmp_path, model_name, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "catboost", None)  # as on an image without it
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights")
    uri, entry = _logged(flavor_store, tmp_path, model_name, path)
    assert "model" not in entry
    names = {a.path for a in MlflowClient(uri).list_artifacts(entry["run_id"], "model")}
    assert names == {"model/model.bin", "model/features.txt", "model/metadata.json"}
    said = capsys.readouterr().out
    assert ("no mlflow.catboost model logged" in said) == (model_name == "catboost")


def test_a_server_that_does_not_answer_is_one_line_at_once():
    t0 = time.monotonic()
    with pytest.raises(UserError, match="does not answer"):
        MlflowTracker(f"http://127.0.0.1:{free_port()}", "exp001")
    assert time.monotonic() - t0 < 10


# ---- lineage: signature, input example, registry, dataset input --------------------------------


def _files(md5: str = "0" * 32) -> dict:
    return {"train.csv": {"bytes": 10, "md5": md5}, "test.csv": {"bytes": 4, "md5": "1" * 32}}


@pytest.mark.parametrize("model_name", ["lightgbm", "xgboost"])
def test_a_model_is_signed_with_an_input_example_and_registered(flavor_store, tmp_path, model_name):
    """The signature and input example come from feature rows (`Tracker.model_example`); the
    categorical columns keep working through pyfunc; `mlflow_register` makes a model version."""
    adapter = _adapter(model_name)
    model = adapter.refit(_rows(400, 0), FLAVOR_FEATURES, 30)
    path = adapter.save(model, tmp_path / adapter.model_file)
    (tmp_path / "features.txt").write_text("\n".join(FLAVOR_FEATURES) + "\n")
    example = _rows(5, 2)[FLAVOR_FEATURES]
    tracker = MlflowTracker(flavor_store, "lineage", register=f"store-sales-{model_name}")
    tracker.start(replace(_info(tmp_path), model=model_name, data_files=_files()))
    tracker.model_example(example, adapter.predict(model, example, FLAVOR_FEATURES))
    tracker.artifact("exp-model", "model", [path, tmp_path / "features.txt"], {"a": 1})
    entry = tracker.finish(exit_code=0)

    with _tracking_uri(flavor_store):
        info = mlflow.models.get_model_info(entry["model"])
        loaded = mlflow.pyfunc.load_model(entry["model"])
    signature = info.signature
    assert signature is not None and signature.inputs.input_names() == FLAVOR_FEATURES
    kinds = {c.name: c.type for c in signature.inputs.inputs}
    assert isinstance(kinds["store_nbr"], AnyType) and isinstance(kinds["family"], AnyType)
    assert kinds["x1"] == DataType.float and kinds["x2"] == DataType.float
    assert signature.outputs is not None
    assert info.saved_input_example_info is not None
    rows = _rows(200, 1)
    expected = adapter.predict(model, rows, FLAVOR_FEATURES)
    np.testing.assert_allclose(np.asarray(loaded.predict(rows[FLAVOR_FEATURES])), expected, 1e-6)
    plain = rows[FLAVOR_FEATURES].astype({"store_nbr": "int64", "family": object})
    np.testing.assert_allclose(np.asarray(loaded.predict(plain)), expected, 1e-6)

    client = MlflowClient(flavor_store)
    assert entry["registered"].startswith(f"models:/store-sales-{model_name}/")
    (version,) = client.search_model_versions(f"name='store-sales-{model_name}'")
    assert version.run_id == entry["run_id"]
    with _tracking_uri(flavor_store):
        again = mlflow.pyfunc.load_model(entry["registered"])
    np.testing.assert_allclose(np.asarray(again.predict(rows[FLAVOR_FEATURES])), expected, 1e-6)


def test_the_input_data_is_the_runs_dataset_with_the_fingerprints_digest(flavor_store, tmp_path):
    from store_sales.envinfo import data_digest

    entries = []
    for md5 in ("0" * 32, "0" * 32, "f" * 32):  # the same files twice, then other files
        tracker = MlflowTracker(flavor_store, "lineage-data")
        tracker.start(replace(_info(tmp_path), data_files=_files(md5), data_source=tmp_path))
        entries.append(tracker.finish(exit_code=0))
    client = MlflowClient(flavor_store)
    inputs = [client.get_run(e["run_id"]).inputs.dataset_inputs for e in entries]
    (first,), (second,), (third,) = inputs
    assert first.dataset.name == "store-sales-synthetic-data"
    assert first.dataset.digest == data_digest(_files()) and len(first.dataset.digest) == 32
    assert second.dataset.digest == first.dataset.digest != third.dataset.digest
    assert {t.key: t.value for t in first.tags}["mlflow.data.context"] == "training"
    assert json.loads(first.dataset.profile)["num_rows"] == 2  # one row per file
