"""The tracker's run opens on a thread of its own (trackers.Opening, pipeline.load) while fold
1's rows are built: every call waits for the opening, in the pipeline and in a notebook's own
cell; a failed opening is raised by the first call, and a run that ends on another error
still ends without it."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import QUICK

from store_sales import pipeline, templates, validation
from store_sales.templates.exp001 import Exp001Config
from store_sales.trackers import Opening, RunInfo, Tracker


class Slow(Tracker):
    """A tracker whose `start` waits for `go` (at most 30 s) and then records the calls."""

    def __init__(self, fail: bool = False):
        self.go = threading.Event()
        self.calls: list[str] = []
        self.fail = fail

    def start(self, info):
        self.calls.append("start:waiting")
        self.go.wait(30)
        if self.fail:
            raise RuntimeError("the tracking server did not answer")
        self.calls.append("start")

    def log(self, metrics):
        self.calls.append("log")

    def finish(self, exit_code):
        self.calls.append(f"finish:{exit_code}")
        return {}


def info(tmp_path) -> RunInfo:
    return RunInfo(name="r", dir=tmp_path, group="g", tags=[], notes="", config={})


def test_opening_returns_at_once_and_a_call_waits_for_the_start(tmp_path):
    slow = Slow()
    t0 = time.monotonic()
    opening = Opening(slow, info(tmp_path))
    assert time.monotonic() - t0 < 1  # the start runs beside the caller
    logged = threading.Thread(target=opening.log, args=({"x": 1.0},))
    logged.start()
    logged.join(0.3)
    assert logged.is_alive() and slow.calls == ["start:waiting"]  # log waits for the start
    slow.go.set()
    logged.join(30)
    assert slow.calls == ["start:waiting", "start", "log"]
    assert opening.wait() is slow and opening.name == slow.name


def test_a_failed_start_is_raised_by_the_first_call_only(tmp_path):
    slow = Slow(fail=True)
    slow.go.set()
    opening = Opening(slow, info(tmp_path))
    with pytest.raises(RuntimeError, match="did not answer"):
        opening.log({"x": 1.0})
    opening.log({"x": 2.0})  # then the calls go to the tracker, as after a start that raised
    assert slow.calls == ["start:waiting", "log"]


def test_a_run_ending_on_another_error_ends_without_the_failed_start(tmp_path):
    slow = Slow(fail=True)
    slow.go.set()
    opening = Opening(slow, info(tmp_path))
    assert opening.wait(raise_error=False) is slow
    assert slow.finish(1) == {}


def exp001(small_data_dir, tmp_path) -> Exp001Config:
    return Exp001Config(
        data_dir=str(small_data_dir),
        output_dir=str(tmp_path / "run"),
        tracker="none",
        exp_name="exp001",
        **{**QUICK["exp001"], "num_boost_round": 20, "n_origins": 4},
    )


def test_the_tracker_opens_while_fold_1s_rows_are_built(small_data_dir, tmp_path, monkeypatch):
    """The start is let go by the first feature build: were it waited for before fold 1's
    rows, it would wait its 30 s out and the rows would be built after it."""
    cfg = exp001(small_data_dir, tmp_path)
    slow = Slow()
    build = validation.build_features
    order = []

    def building(*args, **kwargs):
        order.append("rows")
        slow.go.set()
        return build(*args, **kwargs)

    monkeypatch.setattr(validation, "build_features", building)
    run = pipeline.start(cfg, adapter=templates.adapter("exp001", cfg))
    run.tracker = slow
    t0 = time.monotonic()
    data, panel = pipeline.load(run)
    assert isinstance(run.tracker, Opening) and time.monotonic() - t0 < 25
    run.tracker.log({"data_rows": float(len(data.train))})  # a notebook's own cell: it waits
    cv = pipeline.validate(run, panel)
    forecast = pipeline.forecast(run, data, panel, cv)
    pipeline.report(run, panel, cv, forecast)
    metrics = run.finish()
    assert metrics["status"] == "finished" and run.tracker is slow
    assert "tracker_open" in metrics["timings"]  # the wait that is left, not the fit's time
    assert slow.calls[:3] == ["start:waiting", "start", "log"] and order[0] == "rows"
    assert slow.calls[-1] == "finish:0"


def test_a_run_failing_before_its_tracker_opened_is_recorded_failed(
    small_data_dir, tmp_path, monkeypatch
):
    """The leak audit (or any cell) fails while the tracker's run is still opening, and the
    opening fails too: the run ends failed on the audit's error, the tracker finished."""
    cfg = exp001(small_data_dir, tmp_path)
    slow = Slow(fail=True)
    run = pipeline.start(cfg, adapter=templates.adapter("exp001", cfg))
    run.tracker = slow
    _, panel = pipeline.load(run)

    def audit(*args):
        raise ValueError("a feature reads the future")

    monkeypatch.setattr(pipeline, "audit_features", audit)
    slow.go.set()
    with pytest.raises(ValueError, match="future"):
        pipeline.validate(run, panel)
    run.metrics["error"] = "ValueError: a feature reads the future"
    metrics = run.finish(exit_code=1)  # what the notebook's error hook does
    assert metrics["status"] == "failed" and "future" in metrics["error"]
    assert slow.calls == ["start:waiting", "finish:1"]
