"""Progress: a bar in a terminal, plain lines (no carriage returns) in a pipe, for every
adapter's steps and for N runs; the summary table a notebook's last cell shows."""

from __future__ import annotations

import io
import os
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from store_sales import pipeline, progress, templates
from store_sales.models.base import StepEvent
from store_sales.summary import Summary


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_forced_mode(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)


def _events(fold: int, scores: list[float]):
    for step, score in enumerate(scores, start=1):
        yield StepEvent(fold, step, {"val_rmse": score + 0.1, "val_rmsle": score})


SCORES = [0.9, 0.7, 0.8, 0.6, 0.65]


def test_the_mode_follows_where_the_output_goes(monkeypatch):
    assert progress.mode(FakeTerminal()) == "bar"
    assert progress.mode(io.StringIO()) == "lines"
    monkeypatch.setenv(progress.ENV, "off")
    assert progress.mode(FakeTerminal()) == "off"


def test_a_kernel_gets_a_widget_when_someone_can_see_it(monkeypatch):
    monkeypatch.setattr(progress, "_in_kernel", lambda: True)
    monkeypatch.setattr(progress, "_has_widgets", lambda: True)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    assert progress.mode(FakeTerminal()) == "widget"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")  # Kaggle's Save Version: headless
    assert progress.mode() == "lines"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setattr(progress, "_has_widgets", lambda: False)
    assert progress.mode() == "lines"


def test_a_terminal_gets_a_bar_per_fold_with_the_score_and_the_best_so_far():
    out = FakeTerminal()
    hook = progress.StepProgress(total=10, unit="round", stream=out)
    for fold in (1, 2):
        for event in _events(fold, SCORES):
            hook(event)
    hook.close()
    text = out.getvalue()
    assert "\r" in text  # redrawn in place
    assert "fold 1" in text and "fold 2" in text
    assert "5/10" in text
    assert "best=0.60000@4" in text and "val_rmsle=0.65000" in text


def test_the_librarys_printout_goes_above_a_terminal_bar(capsys):
    out = FakeTerminal()
    hook = progress.StepProgress(total=10, stream=out)
    stdout = sys.stdout
    events = list(_events(1, SCORES))
    hook(events[0])
    print("[1]\ttrain's rmse: 0.9\tval's rmse: 1.0")  # LightGBM's log_evaluation
    hook(events[1])
    hook.close()
    assert sys.stdout is stdout  # given back when the fold's bar closes
    assert "[1]\ttrain's rmse: 0.9\tval's rmse: 1.0\n" in capsys.readouterr().out
    assert "2/10" in out.getvalue()


def test_a_pipe_gets_plain_lines_without_carriage_returns():
    out = io.StringIO()
    hook = progress.StepProgress(total=10, unit="round", stream=out, interval=0.0)
    for event in _events(1, SCORES):
        hook(event)
    hook.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == len(SCORES)  # interval 0: one a step, the last not repeated
    assert lines[-1].startswith("fold 1:") and "5/10" in lines[-1]
    assert "best=0.60000@4" in lines[-1]
    assert "<" in lines[0]  # elapsed<remaining: the ETA


def test_plain_lines_come_at_a_modest_rate_and_the_last_state_is_always_shown():
    out, now = io.StringIO(), [0.0]
    hook = progress.StepProgress(total=100, stream=out, interval=30.0, clock=lambda: now[0])
    for event in _events(1, [1.0 / s for s in range(1, 61)]):
        now[0] += 1.0  # a step a second: 60 steps in 60 s
        hook(event)
    hook.close()
    lines = out.getvalue().splitlines()
    # the first line 30 s after the first step, then the last state
    assert [line.split()[3] for line in lines] == ["31/100", "60/100"]


def test_batch_events_are_not_steps():
    out = io.StringIO()
    hook = progress.StepProgress(total=3, stream=out, interval=0.0)
    hook(StepEvent(1, 50, {"loss": 0.3}, scope="batch"))
    hook.close()
    assert out.getvalue() == ""


def test_runs_in_a_pipe_get_a_line_each_with_the_eta():
    out = io.StringIO()
    bar = progress.runs(3, "runs", stream=out)
    for i in range(3):
        bar.write(f"run {i} finished")
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "run 0 finished" and lines[1].startswith("runs:")
    assert "1/3" in lines[1] and "3/3" in lines[-1] and len(lines) == 6


def test_runs_in_a_terminal_get_a_bar_and_the_lines_above_it():
    out = FakeTerminal()
    bar = progress.runs(2, "trials", stream=out)
    bar.write("trial 0: x=1")
    bar.update()
    bar.close()
    text = out.getvalue()
    assert "\r" in text and "trial 0: x=1\n" in text and "1/2" in text


def test_the_runner_makes_its_kernels_print_lines_unless_the_user_chose(monkeypatch):
    with progress.headless():
        assert os.environ[progress.ENV] == "lines"
    assert progress.ENV not in os.environ
    monkeypatch.setenv(progress.ENV, "off")
    with progress.headless():
        assert os.environ[progress.ENV] == "off"


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["target"] = frame["a"] * 2 + rng.normal(scale=0.1, size=n)
    return frame


@pytest.mark.parametrize(
    "name,params",
    [
        ("exp001", {"num_boost_round": 12, "early_stopping_rounds": 50, "log_period": 0}),
        ("exp004", {"iterations": 12, "early_stopping_rounds": 50, "log_period": 0}),
    ],
)
def test_the_hook_follows_each_adapters_rounds(name, params, capsys):
    """The package's LightGBM and exp004's notebook-written CatBoost alike: a line per round."""
    template = templates.get(name)
    cfg = template.config(**params)
    adapter = templates.adapter(name, cfg)
    out = io.StringIO()
    hook = progress.StepProgress(total=12, stream=out, interval=0.0)
    adapter.fit(_rows(400, 0), _rows(100, 1), ["a", "b"], fold=1, hooks=[hook])
    hook.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 12 and "12/12" in lines[-1] and "val_rmse=" in lines[-1]


def test_the_pipelines_total_is_the_adapters_most_steps():
    # asked of the adapter (`max_steps`), not guessed from field names
    run = SimpleNamespace(
        adapter=SimpleNamespace(max_steps=3000, num_boost_round=7, step_unit="boosting round"),
        cfg=SimpleNamespace(iterations=9),
    )
    hook = progress.steps(run)
    assert (hook.total, hook.unit) == (3000, "round")
    for name, adapter in templates_adapters().items():
        assert adapter.max_steps and adapter.max_steps > 0, name
    run = SimpleNamespace(adapter=SimpleNamespace(step_unit="epoch"), cfg=SimpleNamespace())
    assert progress.steps(run).total is None  # unknown: a bar without an end


def templates_adapters() -> dict:
    from store_sales import templates

    return {
        n: templates.adapter(n) for n in templates.TEMPLATES if n in ("exp001", "exp002", "exp003")
    }


# ---- the summary table ------------------------------------------------------------------------
def test_the_summary_shows_the_runs_folds_horizon_days_and_files(run_pipeline):
    run = run_pipeline(n_folds=2)
    summary = pipeline.summary(SimpleNamespace(dir=run.dir, metrics=run.metrics))
    metrics = run.metrics
    assert list(summary.folds.index) == [1, 2]
    assert summary.folds["rmsle"].tolist() == [
        metrics["cv_rmsle_fold_1"],
        metrics["cv_rmsle_fold_2"],
    ]
    assert summary.folds["best_step"].tolist() == metrics["fold_best_steps"]
    assert list(summary.horizon.columns) == list(range(1, 17))
    assert summary.horizon.loc["rmsle", 3] == metrics["rmsle_by_horizon"]["3"]  # json keys
    files = summary.files.set_index("file")
    for name in ("submission.csv", "metrics.json", "oof.parquet"):
        assert files.loc[name, "path"] == str(run.dir / name)
    assert not [f for f in files.index if f.startswith(".")]
    html = summary._repr_html_()
    assert html.count("<table") == 3 and "submission.csv" in html
    assert str(run.dir) in repr(summary)
    # the folder alone (metrics.json) gives the same table
    again = Summary.of(run.dir)
    pd.testing.assert_frame_equal(again.folds, summary.folds)


@pytest.mark.parametrize("name", sorted(templates.TEMPLATES))
def test_each_template_notebook_ends_on_the_summary(name):
    template = templates.TEMPLATES[name]
    import nbformat

    last = nbformat.read(template.notebook, as_version=4).cells[-1]
    assert last.source.splitlines()[-1].startswith("pipeline.summary(run)")
