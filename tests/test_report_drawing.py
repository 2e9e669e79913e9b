"""The report's figures are drawn on their own thread while the refit trains (pipeline.Drawing),
and what that thread fails on fails the report."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import LabelAdapter, run_notebook_calls

from store_sales import pipeline
from store_sales.templates.exp001 import Exp001Config

FIGURES = ("learning_curve", "actual_vs_forecast", "rmsle_by_horizon")


class WaitsForTheFigures(LabelAdapter):
    """A refit that lasts until the figures' PNGs are in the run folder (at most 60 s)."""

    run_dir = None

    def refit(self, train, features, steps):
        deadline = time.monotonic() + 60
        paths = [self.run_dir / f"{name}.png" for name in FIGURES]
        while not all(p.is_file() for p in paths) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.drawn_during_refit = all(p.is_file() for p in paths)
        return super().refit(train, features, steps)


def _cfg(small_data_dir, tmp_path, **params):
    return Exp001Config(
        data_dir=str(small_data_dir),
        output_dir=str(tmp_path / "run"),
        n_origins=4,
        tracker="none",
        **params,
    )


def test_the_figures_are_drawn_while_the_refit_trains(small_data_dir, tmp_path, monkeypatch):
    adapter = WaitsForTheFigures()
    adapter.run_dir = tmp_path / "run"
    drawn_on = []
    figures = pipeline._figures
    monkeypatch.setattr(
        pipeline,
        "_figures",
        lambda *a: drawn_on.append(threading.current_thread().name) or figures(*a),
    )
    run, metrics = run_notebook_calls(_cfg(small_data_dir, tmp_path), adapter)
    assert adapter.drawn_during_refit
    assert drawn_on == ["report-figures"]  # once, on the drawing thread
    assert metrics["status"] == "finished"
    assert (run.dir / "oof.parquet").is_file()


def test_a_drawing_error_fails_the_report(small_data_dir, tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("no room for a figure")

    monkeypatch.setattr(pipeline, "_figures", broken)
    with pytest.raises(RuntimeError, match="no room for a figure"):
        run_notebook_calls(_cfg(small_data_dir, tmp_path), LabelAdapter())
