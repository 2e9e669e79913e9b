"""exp001 executed end to end through papermill on small synthetic data."""

import json
from pathlib import Path

import nbformat
import pandas as pd

from store_sales.data import load_data
from store_sales.synth import load_solution
from store_sales.validation import rmsle


def test_writes_submission_in_sample_order(exp001_run, small_data_dir):
    sub = pd.read_csv(exp001_run / "submission.csv")
    sample = pd.read_csv(small_data_dir / "sample_submission.csv")
    assert list(sub.columns) == ["id", "sales"]
    assert sub["id"].tolist() == sample["id"].tolist()
    assert (sub["sales"] >= 0).all() and sub["sales"].notna().all()


def test_metrics_and_run_files(exp001_run):
    metrics = json.loads((exp001_run / "metrics.json").read_text())
    assert 0 < metrics["val_rmsle"] < 2
    assert metrics["best_iteration"] >= 1
    assert metrics["n_features"] > 20
    assert {"load", "features", "train", "forecast", "total"} <= set(metrics["timings"])
    for name in ("config.json", "model.txt", "learning_curve.png", "exp001.ipynb"):
        assert (exp001_run / name).is_file(), name
    assert metrics["wandb"]["mode"] == "offline"
    wandb_dir = Path(metrics["wandb"]["dir"])
    assert wandb_dir.parent.parent == exp001_run  # <run>/wandb/offline-run-*
    assert list(wandb_dir.glob("run-*.wandb"))


def test_executed_notebook_is_saved_with_the_injected_parameters(exp001_run):
    nb = nbformat.read(exp001_run / "exp001.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "n_origins = 6" in injected[0].source


def test_test_score_is_close_to_validation(exp001_run, small_data_dir):
    """Honest validation: the hidden test score lands near the validation score."""
    sub = pd.read_csv(exp001_run / "submission.csv")
    sol = load_solution(small_data_dir).set_index("id").loc[sub["id"]]
    test = rmsle(sol["sales"].to_numpy(), sub["sales"].to_numpy())
    val = json.loads((exp001_run / "metrics.json").read_text())["val_rmsle"]
    assert abs(test - val) < 0.15, (test, val)
    assert len(sub) == len(load_data(small_data_dir).test)
