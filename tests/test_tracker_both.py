"""Two trackers on one run (`tracker=both` is `wandb+mlflow`; here two stub trackers joined by
`+`, registered with a registry line each): an in-process run keeps each tracker's entry in
metrics.json and prints each tracker's closing lines, live and from the finished run."""

from __future__ import annotations

import json

import pytest
from helpers import LabelAdapter, isolate_outputs, run_notebook_calls

from store_sales import cli, tracker_registry
from store_sales.templates.exp001 import Exp001Config
from store_sales.tracker_registry import TrackerRecord
from store_sales.trackers import Tracker


class _StubRecord(TrackerRecord):
    @classmethod
    def open(cls, cfg):
        return cls.live_class()()

    @classmethod
    def closing_lines(cls, entry):
        return [f"{cls.title}: run {entry['run_id']} (val_rmsle {entry['val_rmsle']:.5f})"]


class _StubTracker(Tracker):
    """Remembers the headline it was given; its finish returns its metrics.json entry."""

    def results(self, metrics):
        self.val_rmsle = metrics["val_rmsle"]

    def finish(self, exit_code):
        return {"run_id": f"{self.name}-1", "val_rmsle": self.val_rmsle, "exit": exit_code}


class StubARecord(_StubRecord):
    name, title, live = "stub_a", "Stub A", f"{__name__}:StubATracker"


class StubBRecord(_StubRecord):
    name, title, live = "stub_b", "Stub B", f"{__name__}:StubBTracker"


class StubATracker(_StubTracker):
    name, record = "stub_a", StubARecord


class StubBTracker(_StubTracker):
    name, record = "stub_b", StubBRecord


@pytest.fixture(scope="module")
def both_run(small_data_dir, tmp_path_factory):
    """A LabelAdapter run of exp001 with tracker=stub_a+stub_b: (folder, metrics, printed)."""
    import contextlib
    import io

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        isolate_outputs(mp, tmp_path_factory.mktemp("both-outputs"))
        mp.setitem(tracker_registry.REGISTRY, "stub_a", f"{__name__}:StubARecord")
        mp.setitem(tracker_registry.REGISTRY, "stub_b", f"{__name__}:StubBRecord")
        cfg = Exp001Config(
            data_dir=str(small_data_dir),
            output_dir=str(tmp_path_factory.mktemp("both") / "run"),
            n_origins=4,
            tracker="stub_a+stub_b",
        )
        run, metrics = run_notebook_calls(cfg, LabelAdapter())
        # `store-sales run -q`'s summary of the finished run, while the stubs are registered
        summary = cli._summary(run.dir, metrics)
    return run.dir, out.getvalue(), summary


def test_metrics_json_keeps_each_trackers_entry(both_run):
    folder, _, _ = both_run
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["tracker"] == "stub_a+stub_b"
    for name in ("stub_a", "stub_b"):  # each got the run's results and was finished
        assert metrics[name] == {
            "run_id": f"{name}-1",
            "val_rmsle": pytest.approx(metrics["val_rmsle"]),
            "exit": 0,
        }


def test_each_trackers_closing_lines_are_printed_live_and_after(both_run):
    folder, printed, summary = both_run
    val = json.loads((folder / "metrics.json").read_text())["val_rmsle"]
    lines = [
        f"Stub A: run stub_a-1 (val_rmsle {val:.5f})",
        f"Stub B: run stub_b-1 (val_rmsle {val:.5f})",
    ]
    tail = printed.splitlines()[-2:]  # run.finish() ends on the trackers' lines, in order
    assert tail == lines
    assert [line for line in summary.splitlines() if line.startswith("Stub ")] == lines
