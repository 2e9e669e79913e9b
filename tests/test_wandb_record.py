"""What an exp001 run leaves in W&B, read back with W&B's own reader of the .wandb log."""

from __future__ import annotations

import json
import os
from dataclasses import fields

import pytest
from helpers import by_type, free_port, leet_records, write_fake_kaggle_secrets

from store_sales import runner
from store_sales.data import SCHEMAS
from store_sales.errors import RunFailed
from store_sales.templates.exp001 import Exp001Config

SENTINEL = "5e171e1ca9f0c0ffee5e171e1ca9f0c0ffee5e17"  # a fake W&B key; must never be written

pytestmark = pytest.mark.e2e  # every test here executes exp001 through papermill


@pytest.fixture(scope="module")
def records(exp001_run):
    return leet_records(exp001_run)


def test_config_holds_the_template_features_fingerprint_and_environment(records):
    config = {}
    for run in by_type(records, "run"):
        config.update(run["config"]["update"])
    for update in by_type(records, "config"):
        config.update(update.get("update", {}))
    assert {f.name for f in fields(Exp001Config)} <= set(config)
    assert config["n_origins"] == 6 and config["n_folds"] == 3
    assert config["template"] == "exp001"
    assert "mean_28" in config["feature_names"] and config["features"] == "default"
    assert len(config["code"]["package_sha256"]) == len(config["code"]["notebook_sha256"]) == 64
    files = config["data"]["files"]
    assert set(files) == {f"{name}.csv" for name in SCHEMAS}
    assert len(files["train.csv"]["md5"]) == 32 and files["train.csv"]["bytes"] > 0
    assert config["env"]["packages"]["lightgbm"]
    assert config["env"]["platform"] == "local"


def test_run_identity(records):
    (run,) = by_type(records, "run")
    assert run["display_name"].startswith("exp001-lightgbm-")
    assert run["run_group"] == "exp001"
    assert run["job_type"] == "train"
    assert {"lightgbm", "synthetic", "ts-cv-3x16d"} <= set(run["tags"])
    assert "n_origins=6" in run["notes"] and "n_folds=3" in run["notes"]


def test_history_has_callback_curves_and_namespaced_metrics(records):
    keys = set()
    for item in by_type(records, "history"):
        keys |= set(item["item"])
    assert {"train_rmse", "val_rmse"} <= keys  # W&B's own LightGBM callback
    assert {"val/rmsle", "val/rmse_log", "train/rmse_log", "val/family/GROCERY I"} <= keys
    assert {"val/worst_series._type", "val/by_family._type", "val/log_residuals._type"} <= keys
    assert {"val/by_horizon._type", "val/by_horizon_chart_table._type"} <= keys
    assert {"plots/learning_curve._type", "plots/rmsle_by_horizon._type"} <= keys
    # every fold's curve against one step axis, so the folds overlay in one chart
    for k in (1, 2, 3):
        assert {f"cv/fold_{k}/val_rmse", f"cv/fold_{k}/train_rmse"} <= keys
    assert {"cv/step", "cv/rmsle_mean", "cv/rmsle_std", "cv/rmsle_fold_3"} <= keys
    metric_defs = {m.get("glob_name") or m["name"]: m for m in by_type(records, "metric")}
    assert metric_defs["cv/fold_2/*"]["step_metric"] == "cv/step"


def test_fold_curves_are_the_fits_own_scores(records, exp001_run):
    """cv/fold_2's curve ends at its best step + early-stopping patience."""
    rows = [r["item"] for r in by_type(records, "history")]
    curve = [r["cv/fold_2/val_rmse"] for r in rows if "cv/fold_2/val_rmse" in r]
    steps = [r["cv/step"] for r in rows if "cv/fold_2/val_rmse" in r]
    assert steps == list(range(1, len(steps) + 1))
    metrics = json.loads((exp001_run / "metrics.json").read_text())
    best = metrics["fold_best_steps"][1]
    assert min(curve) == pytest.approx(curve[best - 1])


def test_every_round_of_fold_one_logs_the_headline_metric(records, exp001_run):
    """val/rmsle per round (zero-rule rows included, before clipping): its best round is the
    model's, and clipping at 0 can only lower the final score below it."""
    rows = [r["item"] for r in by_type(records, "history")]
    per_round = [r["val/rmsle"] for r in rows if "iteration" in r and "val/rmsle" in r]
    metrics = json.loads((exp001_run / "metrics.json").read_text())
    assert len(per_round) > metrics["best_step"]
    assert per_round.index(min(per_round)) == metrics["best_step"] - 1
    assert metrics["val_rmsle"] <= min(per_round) + 1e-6
    assert min(per_round) - metrics["val_rmsle"] < 0.01


def test_summary_headline_matches_metrics_json(records, exp001_run):
    summary = {}
    for s in by_type(records, "summary"):
        summary.update(s["update"])
    metrics = json.loads((exp001_run / "metrics.json").read_text())
    assert summary["val/rmsle"]["min"] == pytest.approx(metrics["val_rmsle"], abs=1e-6)
    assert summary["best_iteration"] == metrics["best_step"]  # from W&B's log_summary
    assert summary["cv/rmsle_mean"]["min"] == pytest.approx(metrics["cv_rmsle_mean"], abs=1e-6)
    assert summary["system/time_train_s"] > 0
    metric_defs = {m.get("glob_name") or m["name"]: m for m in by_type(records, "metric")}
    assert metric_defs["val/rmsle"]["summary"] == {"min": True}


def test_three_artifacts_with_types_aliases_and_metadata(records):
    arts = {a["type"]: a for a in by_type(records, "artifact") if a["type"] != "run_table"}
    # no dataset: offline, the data's fingerprint is in the config; online it is a *used*
    # artifact (W&B cannot resolve those offline: tests/test_lineage.py)
    assert set(arts) == {"model", "submission", "predictions"}
    model = arts["model"]
    # no "best": the newest version is not the best one (that is a comparison across runs)
    assert model["aliases"] == ["latest"]
    meta = json.loads(model["metadata"])
    assert {"val_rmsle", "cv_rmsle_mean", "best_step", "n_features", "config"} <= set(meta)
    sub_meta = json.loads(arts["submission"]["metadata"])
    assert sub_meta["run_name"] and sub_meta["val_rmsle"] == pytest.approx(meta["val_rmsle"])
    files = {e["path"] for e in arts["predictions"]["manifest"]["contents"]}
    assert files == {"oof.parquet", "test_pred.parquet"}
    tables = {a["name"] for a in by_type(records, "artifact") if a["type"] == "run_table"}
    assert any("worst_series" in n for n in tables) and any("by_family" in n for n in tables)


def test_clean_exit(records):
    assert by_type(records, "exit")[0]["exit_code"] == 0


def _run(small_data_dir, out, **params):
    return runner.run(
        "exp001",
        {"data_dir": str(small_data_dir), "output_dir": str(out), "n_origins": 6, **params},
        log_output=False,
    )


def test_a_failing_run_is_recorded_as_failed(small_data_dir, tmp_path):
    out = tmp_path / "failing"
    # 400 origins need more history than the small data has: fails after W&B has started
    with pytest.raises(RunFailed, match="Lower n_folds, n_origins"):
        _run(small_data_dir, out, n_origins=400, wandb_mode="offline")
    assert by_type(leet_records(out), "exit")[0]["exit_code"] != 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "Lower n_folds, n_origins" in metrics["error"]
    assert "load" in metrics["timings"]  # what was done before the failure is kept


def test_disabled_mode_runs_and_writes_no_wandb_files(small_data_dir, tmp_path):
    out = tmp_path / "disabled"
    _run(small_data_dir, out, wandb_mode="disabled")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["wandb"]["mode"] == "disabled" and metrics["status"] == "finished"
    assert (out / "submission.csv").is_file()
    assert not (out / "wandb").exists()


def test_key_from_kaggle_secrets_with_w_and_b_unreachable(
    small_data_dir, tmp_path, monkeypatch, capfd
):
    """A key is found but the server is down: offline within 10 s, and the key leaks nowhere."""
    fake = tmp_path / "fake_kaggle"
    write_fake_kaggle_secrets(fake, SENTINEL)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(fake), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.delenv("WANDB_MODE")
    # a port free a moment ago: connections are refused
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{free_port()}")
    out = tmp_path / "secret-run"
    _run(small_data_dir, out, wandb_mode="auto")

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["wandb"]["mode"] == "offline"
    assert metrics["timings"]["login"] < 10
    captured = capfd.readouterr()
    assert SENTINEL not in captured.out + captured.err
    leaks = [p for p in out.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]
    assert leaks == []
    assert "key from" not in (out / "exp001.ipynb").read_text()  # it did not go online
