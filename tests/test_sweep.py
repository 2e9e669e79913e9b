"""Sweeps: W&B's engine offline (real exp001 trials on small data: e2e), guards, the trial hook
on plain step events and through the LightGBM adapter, and the online commands up to the W&B
call (mocked)."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import QUICK, isolate_wandb, leet_records, run_notebook_calls

from store_sales import pipeline, runner, sweep
from store_sales.models.base import StepEvent, StopTraining
from store_sales.paths import REPO_ROOT
from store_sales.search import template as search_template
from store_sales.search import trials as search_trials
from store_sales.sweep import trials as sweep_trials
from store_sales.templates import exp001
from store_sales.wb import login

SHIPPED = REPO_ROOT / "configs" / "sweep.yaml"
FAST = {"n_origins": 6, "num_boost_round": 120, "early_stopping_rounds": 20}
BIN = Path(sys.executable).parent


def cli(*argv: str) -> int:
    """`store-sales sweep ...` through a parser built the way cli.py builds it."""
    parser = argparse.ArgumentParser(prog="store-sales")
    sweep.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *argv])
    return args.func(args)


def write_yaml(path: Path, config: dict | str) -> Path:
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """conftest's W&B isolation, for module-scoped sweeps."""
    with pytest.MonkeyPatch.context() as mp:
        isolate_wandb(mp, tmp_path_factory.mktemp("wandb-home"))
        yield


def inspect_run(trial_dir: Path) -> dict:
    """The W&B run record of a trial's offline run, read back by W&B's own tool."""
    records = leet_records(trial_dir)
    run, summary = {}, {}
    for r in records:  # later records update earlier ones (tags set after init, summary)
        if r["type"] == "run":
            run.update(r["run"])
        elif r["type"] == "summary":
            summary.update(r["summary"].get("update", {}))
    return {"run": run, "summary": summary, "records": records}


# ---------------------------------------------------------------------------------------------
# the engine and its gotchas


def test_engine_drops_snake_case_fields_and_engine_run_keeps_them():
    sweeps = sweep.import_sweeps()
    dropped = sweeps.SweepRun(name="a", summary_metrics={"m": 1.0}, history=[{"m": 1.0}])
    assert dropped.summary_metrics == {} and dropped.history == []  # the gotcha, still there
    run = sweep.engine_run("a", "finished", {"lr": 0.1}, {"m": 1.0}, [{"m": 2.0}, {"m": 1.5}])
    assert run.summary_metrics == {"m": 1.0}
    assert run.history == [{"m": 2.0}, {"m": 1.5}]
    assert run.metric_extremum("m", "minimum") == 1.0
    assert run.state == "finished" and run.config == {"lr": {"value": 0.1}}


def test_suggestions_become_plain_python_typed_like_the_template():
    sweeps = sweep.import_sweeps()
    config = sweep.load_config(SHIPPED)
    declared = runner.notebook_parameters(runner.resolve_notebook("exp001"))
    raw = sweeps.next_run(config, []).config
    assert any(type(v["value"]).__module__ == "numpy" for v in raw.values())  # why we cast
    with pytest.raises(yaml.representer.RepresenterError):
        yaml.safe_dump({k: v["value"] for k, v in raw.items()})
    params = sweep.suggested_params(raw, declared)
    assert set(params) == set(config["parameters"])
    assert all(type(v) in (int, float) for v in params.values())
    assert type(params["num_leaves"]) is int and type(params["min_data_in_leaf"]) is int
    yaml.safe_dump(params)
    json.dumps(params)
    exp001.Exp001Config(**params)


def test_shipped_sweep_file_is_valid_and_tunes_exp001():
    config = sweep.load_config(SHIPPED)
    declared = sweep.check_config(config)
    assert config["method"] == "bayes"
    assert config["metric"] == {"name": "val/rmsle", "goal": "minimize"}
    assert config["early_terminate"]["type"] == "hyperband"
    assert {"learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction"} <= set(
        config["parameters"]
    )
    assert set(config["parameters"]) <= set(declared)
    lr = config["parameters"]["learning_rate"]
    assert lr["distribution"] == "log_uniform_values" and lr["min"] < 0.05 < lr["max"]


# ---------------------------------------------------------------------------------------------
# guards: one clear error before any training


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a trial was started")

    monkeypatch.setattr(search_trials, "run_trial", refuse)
    monkeypatch.setattr(runner, "run", refuse)


BASE = {
    "method": "random",
    "metric": {"name": "val/rmsle", "goal": "minimize"},
    "parameters": {"learning_rate": {"min": 0.02, "max": 0.2}},
}


def _with(**changes) -> dict:
    config = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        if key == "params":
            config["parameters"].update(value)
        else:
            config[key] = value
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_with(method="evolution"), "method 'evolution'"),
        (_with(params={"num_leaves": {"distribution": "poisson", "min": 2, "max": 9}}), "poisson"),
        (_with(params={"num_leafs": {"values": [31, 63]}}), "exp001 has no parameter 'num_leafs'"),
        (_with(metric={"name": "val/mape", "goal": "minimize"}), "never logged by exp001"),
        (_with(metric={"name": "val/rmsle", "goal": "maximize"}), "goal must be minimize"),
        (_with(params={"num_leaves": {"min": 15.0, "max": 255.0}}), "integer parameter"),
        (_with(params={"learning_rate": {"min": 0.1, "max": 2.0}}), "learning_rate=2.0"),
        (_with(params={"output_dir": {"values": ["a", "b"]}}), "set by the sweep itself"),
        (_with(params={"lambda_l2": {"min": "1e-3", "max": 1.0}}), "read as text by YAML"),
        ("method: bayes\nparameters: [learning_rate\n", "not valid YAML"),
    ],
)
def test_invalid_sweep_file_fails_once_before_training(
    config, message, tmp_path, no_training, capsys
):
    path = write_yaml(tmp_path / "sweep.yaml", config)
    folder = tmp_path / "sweep-out"
    assert cli("local", str(path), "--count", "2", "--sweep-dir", str(folder)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not folder.exists()


def test_all_problems_are_listed_together():
    config = _with(method="evolution", params={"num_leafs": {"values": [1]}})
    with pytest.raises(sweep.SweepError) as err:
        sweep.check_config(config)
    assert "evolution" in str(err.value) and "num_leafs" in str(err.value)


@pytest.mark.parametrize("metric", sorted(sweep.METRICS))
def test_every_metric_the_template_reports_can_be_tuned_for(metric):
    sweep.check_config(_with(metric={"name": metric, "goal": "minimize"}))


def test_hyperband_needs_a_metric_with_a_per_step_curve():
    """cv/rmsle_mean exists only after every fold: fold 1's curve must not stand in for it."""
    hyperband = {"type": "hyperband", "min_iter": 10}
    sweep.check_config(_with(early_terminate=hyperband))  # val/rmsle: fine
    cv = _with(metric={"name": "cv/rmsle_mean", "goal": "minimize"}, early_terminate=hyperband)
    with pytest.raises(sweep.SweepError, match="early_terminate needs a per-step metric"):
        sweep.check_config(cv)


def test_count_is_required(tmp_path, no_training, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli("local", str(SHIPPED))
    assert exit_.value.code == 2 and "--count" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli("agent", "team/store-sales/abc123")
    for count in (None, 0):
        with pytest.raises(sweep.SweepError, match="count is required"):
            sweep.local_sweep(SHIPPED, count, sweep_dir=tmp_path / "s")
        with pytest.raises(sweep.SweepError, match="count is required"):
            sweep.agent("abc123", count)
        with pytest.raises(sweep.SweepError, match="count is required"):
            sweep.run("online", SHIPPED, count)  # refused before creating a sweep
    assert not (tmp_path / "s").exists()


GRID_81 = {
    "method": "grid",
    "metric": {"name": "val/rmsle", "goal": "minimize"},
    "parameters": {
        "learning_rate": {"values": [0.03, 0.05, 0.1]},
        "num_leaves": {"values": [31, 63, 127]},
        "min_data_in_leaf": {"values": [20, 50, 100]},
        "lambda_l2": {"values": [0.1, 1.0, 10.0]},
    },
}


def test_a_large_grid_needs_explicit_permission(tmp_path, no_training, capsys):
    path = write_yaml(tmp_path / "grid.yaml", GRID_81)
    assert cli("local", str(path), "--count", "3", "--sweep-dir", str(tmp_path / "g")) == 2
    assert "81 combinations" in capsys.readouterr().err
    assert sweep.grid_size(GRID_81) == 81
    sweep.check_config(GRID_81, allow_large_grid=True)  # no error when asked for
    small = json.loads(json.dumps(GRID_81))
    del small["parameters"]["lambda_l2"]
    sweep.check_config(small)  # 27 points: fine
    continuous = _with(method="grid")
    with pytest.raises(sweep.SweepError, match="grid sweeps need discrete parameters"):
        sweep.check_config(continuous)


# ---------------------------------------------------------------------------------------------
# the controller, with instant fake trials


def fake_trial(score, fail=False):
    """Stands in for an exp001 run: writes what the template would (metrics, per-round curve)."""

    def run_trial(template, params, log_output=False):
        out = Path(params["output_dir"])
        if fail:
            return {"dir": str(out), "error": "FileNotFoundError: train.csv missing"}
        value = score(params)
        curve = "".join(
            json.dumps({"round": i + 1, "val/rmsle": value + 1 / (i + 1)}) + "\n" for i in range(10)
        )
        (out / sweep.HISTORY_FILE).write_text(curve)
        (out / "metrics.json").write_text(json.dumps({"val_rmsle": value, "best_step": 10}))
        return {"dir": str(out), "error": ""}

    return run_trial


GRID_3 = {
    "method": "grid",
    "metric": {"name": "val/rmsle", "goal": "minimize"},
    "parameters": {"num_leaves": {"values": [15, 31, 63]}, "seed": {"value": 7}},
}


def test_grid_runs_each_point_once_continues_by_name_and_stops_when_exhausted(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(search_trials, "run_trial", fake_trial(lambda p: 1.0 / p["num_leaves"]))
    folder = tmp_path / "grid"
    sweep.local_sweep(GRID_3, 2, sweep_dir=folder)
    summary = sweep.local_sweep(GRID_3, 5, sweep_dir=folder)  # continues: one point left
    out = capsys.readouterr().out
    assert "continuing sweep grid: 2 earlier trial(s)" in out and "grid is exhausted" in out
    table = summary.table
    assert sorted(table["num_leaves"]) == [15, 31, 63]
    assert list(table["trial"]) == ["trial-003", "trial-002", "trial-001"]  # best first
    assert summary.best["trial"] == "trial-003"
    assert list(table.columns) == [
        *("trial", "state", "val/rmsle", "best_step", "steps", "seconds", "num_leaves")
    ]
    assert set(table["best_step"]) == {10} and set(table["steps"]) == {10}
    best = yaml.safe_load(summary.files["best"].read_text())
    assert best == {"seed": 7, "num_leaves": 63}  # non-default, nothing run-specific
    with pytest.raises(sweep.SweepError, match="holds another sweep"):
        sweep.local_sweep({**GRID_3, "method": "random"}, 1, sweep_dir=folder)


def test_consecutive_failures_stop_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(search_trials, "run_trial", fake_trial(None, fail=True))
    summary = sweep.local_sweep(BASE, 10, sweep_dir=tmp_path / "broken")
    assert len(summary.table) == sweep.MAX_CONSECUTIVE_FAILURES
    assert set(summary.table["state"]) == {"failed"}
    assert summary.best is None and "best" not in summary.files
    assert "train.csv missing" in capsys.readouterr().out


def test_metric_target_ends_the_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(search_trials, "run_trial", fake_trial(lambda p: 0.3))
    config = _with(metric={"name": "val/rmsle", "goal": "minimize", "target": 0.5})
    assert len(sweep.local_sweep(config, 5, sweep_dir=tmp_path / "t").table) == 1


def test_parallel_trials_share_the_cores_only_for_a_template_with_num_threads(monkeypatch):
    monkeypatch.setattr(search_template.os, "cpu_count", lambda: 8)
    fields = {"learning_rate", "num_threads"}
    assert search_template.default_threads({}, BASE, 2, fields) == {"num_threads": 4}
    assert search_template.default_threads({}, BASE, 1, fields) == {}  # one trial: all cores
    assert search_template.default_threads({"num_threads": 3}, BASE, 2, fields) == {
        "num_threads": 3
    }
    tuned = _with(params={"num_threads": {"values": [1, 2]}})
    assert search_template.default_threads({}, tuned, 2, fields) == {}
    assert search_template.default_threads({}, BASE, 2, {"learning_rate"}) == {}  # no such knob


# ---------------------------------------------------------------------------------------------
# the trial hook: plain step events (any model), then through the LightGBM adapter

HYPERBAND_5 = {"type": "hyperband", "min_iter": 5, "eta": 3}


def _sweep_dir(
    tmp_path: Path, early_terminate: dict | None, mode: str = "local", metric: str = "val/rmsle"
) -> Path:
    config = dict(BASE, **({"early_terminate": early_terminate} if early_terminate else {}))
    config["metric"] = {"name": metric, "goal": "minimize"}
    folder = tmp_path / "hook"
    (folder / "trials").mkdir(parents=True)
    state = {"name": "hook", "mode": mode, "template": "exp001", "config": config, "check_every": 1}
    (folder / sweep.STATE_FILE).write_text(json.dumps(state))
    return folder


def _trial(folder: Path, name: str, state: str = "running") -> Path:
    trial = folder / "trials" / name
    trial.mkdir(exist_ok=True)
    (trial / sweep.TRIAL_FILE).write_text(json.dumps({"state": state, "suggested": {}}))
    return trial


def _feed(hook, curve, fold: int = 1) -> tuple[list[StepEvent], dict | None]:
    """Step events as an adapter sends them (with the pipeline's `val_rmsle` = the curve; the
    model's own rows score lower), until the curve ends or the hook stops training."""
    events = []
    for step, value in enumerate(curve, start=1):
        values = {"val_rmse": value * 0.9, "train_rmse": value / 2, "val_rmsle": value}
        event = StepEvent(fold, step, values)
        events.append(event)
        try:
            hook(event)
        except StopTraining as stop:
            return events, stop.info
    return events, None


GOOD = [1 / s for s in range(1, 61)]  # learns fast
POOR = [2 - s / 100 for s in range(1, 61)]  # learns, but far behind the good trial


def test_hook_records_the_curve_and_hyperband_stops_a_poor_trial(tmp_path, capsys):
    folder = _sweep_dir(tmp_path, HYPERBAND_5)
    good = _trial(folder, "trial-001")
    events, stopped = _feed(sweep.trial_hook(str(folder), good), GOOD)
    assert stopped is None and len(events) == 60  # alone in the sweep: nothing to beat
    assert [h["val/rmsle"] for h in sweep.read_history(good, "val/rmsle")] == GOOD
    assert json.loads((good / sweep.HISTORY_FILE).read_text().splitlines()[0]) == {
        "round": 1,
        "val/rmsle": 1.0,
    }  # the file keeps its "round" key
    _trial(folder, "trial-001", state="finished")
    poor = _trial(folder, "trial-002")
    events, stopped = _feed(sweep.trial_hook(folder, poor), POOR)
    # checked every step (check_every 1): the first check past the first band (5) stops it
    assert len(events) == 6
    assert stopped["stopped_at_round"] == 6 and stopped["best_round"] == 5
    assert "STOP" in stopped["verdict"]
    record = json.loads((poor / sweep.STOP_FILE).read_text())
    assert record["bands"] == [5] and len(record["thresholds"]) == 1
    assert {k: record[k] for k in stopped} == stopped
    assert len(sweep.read_history(poor, "val/rmsle")) == 6
    assert all(not e.extra for e in events)  # local: nothing for the tracker to log
    assert "hyperband stopped trial-002 at step 6" in capsys.readouterr().out


def test_hook_judges_fold_1_only_and_restarts_its_record_at_step_1(tmp_path):
    folder = _sweep_dir(tmp_path, HYPERBAND_5)
    _trial(folder, "trial-001", state="finished")
    (folder / "trials" / "trial-001" / sweep.HISTORY_FILE).write_text(
        "".join(json.dumps({"round": i, "val/rmsle": v}) + "\n" for i, v in enumerate(GOOD, 1))
    )
    poor = _trial(folder, "trial-002")
    hook = sweep.trial_hook(folder, poor)
    for fold in (2, 3, 0):  # earlier CV folds and the refit: not the curve hyperband judges
        events, stopped = _feed(hook, POOR, fold=fold)
        assert stopped is None and all(not e.extra for e in events)
    assert not (poor / sweep.HISTORY_FILE).exists()
    _feed(hook, [0.5, 0.4, 0.3])  # an aborted start (no stop before the first band)
    events, stopped = _feed(hook, POOR)  # a new training starts a new record
    assert stopped["stopped_at_round"] == 6
    assert len(sweep.read_history(poor, "val/rmsle")) == 6


def test_online_hook_hands_the_metric_to_the_tracker_and_never_stops(tmp_path):
    folder = _sweep_dir(tmp_path, HYPERBAND_5, mode="online", metric="val/rmsle_alive")
    _trial(folder, "run1", state="finished")
    _feed(sweep.trial_hook(folder, folder / "trials" / "run1"), GOOD)
    poor = _trial(folder, "run2")
    events, stopped = _feed(sweep.trial_hook(folder, poor), POOR)
    assert stopped is None and len(events) == 60  # online, the W&B server decides
    # logged under the metric's name in the same step, for the server's hyperband
    assert [list(e.extra) for e in events[:2]] == [["val/rmsle_alive"]] * 2
    logged = [e.extra["val/rmsle_alive"] for e in events[:2]]
    assert logged == pytest.approx([v * 0.9 for v in POOR[:2]])
    assert len(sweep.read_history(poor, "val/rmsle_alive")) == 60


def test_online_val_rmsle_is_left_to_the_tracker(tmp_path):
    """The tracker logs every step's val/rmsle itself; the hook adds nothing twice."""
    folder = _sweep_dir(tmp_path, HYPERBAND_5, mode="online")
    events, _ = _feed(sweep.trial_hook(folder, _trial(folder, "run1")), POOR[:3])
    assert [e.extra for e in events] == [{}, {}, {}]


def test_batch_events_are_never_judged(tmp_path):
    folder = _sweep_dir(tmp_path, HYPERBAND_5)
    trial = _trial(folder, "trial-001")
    sweep.trial_hook(folder, trial)(StepEvent(1, 1, {"train/loss": 0.5}, scope="batch"))
    assert sweep.read_history(trial, "val/rmsle") == []


def test_hook_without_early_terminate_only_records(tmp_path):
    folder = _sweep_dir(tmp_path, None)
    _trial(folder, "trial-001", state="finished")
    _feed(sweep.trial_hook(folder, folder / "trials" / "trial-001"), GOOD)
    poor = _trial(folder, "trial-002")
    events, stopped = _feed(sweep.trial_hook(folder, poor), POOR)
    assert stopped is None and all(not e.extra for e in events)
    assert len(sweep.read_history(poor, "val/rmsle")) == 60


def test_trial_hook_needs_a_sweep_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="leave it empty"):
        sweep.trial_hook(str(tmp_path), tmp_path / "run")


def test_the_hook_and_the_controller_import_neither_wandb_nor_lightgbm(tmp_path):
    code = (
        "import sys\n"
        "from store_sales import sweep\n"
        "from store_sales.models.base import StepEvent\n"
        f"hook = sweep.trial_hook({str(_sweep_dir(tmp_path, HYPERBAND_5))!r}, "
        f"{str(tmp_path)!r})\n"
        "hook(StepEvent(1, 1, {'val_rmse': 1.0}))\n"
        "print(sorted({'wandb', 'lightgbm'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _frame(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(target=y)


def _lgb_fit(folder: Path, name: str, lr: float):
    from store_sales.models.lightgbm import LightGBMAdapter

    trial = _trial(folder, name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = x[:, 0] * 2 + rng.normal(scale=0.1, size=400)
    params = {"objective": "regression", "metric": "rmse", "learning_rate": lr, "verbose": -1}
    adapter = LightGBMAdapter(params, num_boost_round=60, early_stopping_rounds=100)
    hook = sweep.trial_hook(str(folder), trial)
    fit = adapter.fit(
        _frame(x[:300], y[:300]), _frame(x[300:], y[300:]), ["a", "b", "c"], fold=1, hooks=[hook]
    )
    return trial, fit


def test_a_stop_ends_a_lightgbm_fit_at_its_best_round_with_consistent_curves(tmp_path):
    folder = _sweep_dir(tmp_path, HYPERBAND_5)
    good, fit = _lgb_fit(folder, "trial-001", lr=0.3)
    _trial(folder, "trial-001", state="finished")
    assert fit.stopped is None and len(fit.curves["val_rmse"]) == 60  # trained to the end
    assert not (good / sweep.STOP_FILE).exists()
    poor, fit = _lgb_fit(folder, "trial-002", lr=0.005)
    stop = json.loads((poor / sweep.STOP_FILE).read_text())
    assert stop["stopped_at_round"] == 6 and "STOP" in stop["verdict"] and stop["bands"] == [5]
    assert fit.stopped == {k: stop[k] for k in ("stopped_at_round", "best_round", "verdict")}
    # the model is the best round so far, and the curves hold every round up to it
    curve = fit.curves["val_rmse"]
    assert fit.best_step == stop["best_round"] == 5 == fit.model.current_iteration()
    assert len(curve) == 5 and min(curve) == curve[fit.best_step - 1]
    history = [h["val/rmsle"] for h in sweep.read_history(poor, "val/rmsle")]
    assert len(history) == 6 and np.allclose(history[: len(curve)], curve)


# ---------------------------------------------------------------------------------------------
# online: up to the W&B call


@pytest.fixture
def fake_login(monkeypatch):
    monkeypatch.setattr(login, "require_online", lambda: "test key")


def test_create_sends_the_yaml_to_wandb_sweep(monkeypatch, fake_login, capsys):
    import wandb

    calls = []

    def fake_sweep(sweep, entity=None, project=None, prior_runs=None):
        calls.append((sweep, entity, project))
        return "abc123"

    monkeypatch.setattr(wandb, "sweep", fake_sweep)
    assert cli("create", str(SHIPPED), "--entity", "team") == 0
    ((sent, entity, project),) = calls
    assert sent == yaml.safe_load(SHIPPED.read_text())
    assert (entity, project) == ("team", "store-sales")
    assert "store-sales sweep agent team/store-sales/abc123 --count N" in capsys.readouterr().out


def test_create_offline_is_one_clear_error(monkeypatch, capsys):
    import wandb

    monkeypatch.setattr(wandb, "sweep", lambda *a, **k: pytest.fail("wandb.sweep called"))
    assert cli("create", str(SHIPPED)) == 2
    err = capsys.readouterr().err
    assert "no W&B API key" in err and "store-sales sweep local" in err


def test_agent_runs_exp001_as_the_sweep_run(monkeypatch, fake_login, tmp_path, small_data_dir):
    import wandb
    from wandb.sdk.lib import config_util

    class FakeSweep:
        id, project, entity = "abc123", "store-sales", "team"
        config = yaml.safe_load(SHIPPED.read_text())

    class FakeApi:
        def __init__(self, overrides=None):
            self.overrides = overrides

        def sweep(self, path):
            assert path == "team/store-sales/abc123"
            return FakeSweep()

    agent_calls, runs = [], []

    def fake_agent(sweep_id, function=None, entity=None, project=None, count=None):
        """What wandb's agent does for each job: env vars and a param file, then function()."""
        agent_calls.append((sweep_id, entity, project, count))
        param_file = tmp_path / "config-run1.yaml"
        job = {"learning_rate": {"value": 0.05}, "num_leaves": {"value": 31}}
        config_util.save_config_file_from_dict(str(param_file), job)
        monkeypatch.setenv("WANDB_RUN_ID", "run1")
        monkeypatch.setenv("WANDB_SWEEP_ID", sweep_id)
        monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(param_file))
        function()

    def fake_run(notebook, params, log_output=False):
        runs.append((notebook, params))
        out = Path(params["output_dir"])
        (out / "metrics.json").write_text(json.dumps({"val_rmsle": 0.4}))
        return out

    monkeypatch.setattr(wandb, "Api", FakeApi)
    monkeypatch.setattr(wandb, "agent", fake_agent)
    monkeypatch.setattr(runner, "run", fake_run)
    folder = tmp_path / "agent"
    argv = ["agent", "team/store-sales/abc123", "--count", "3", "--sweep-dir", str(folder)]
    data = str(small_data_dir)  # checked here before the agent starts (runner.check_data)
    assert cli(*argv, "-p", "data_dir", data, "-p", "num_boost_round", "500") == 0
    assert agent_calls == [("abc123", "team", "store-sales", 3)]
    ((notebook, params),) = runs
    assert notebook == "exp001"
    assert params == {
        "data_dir": data,
        "num_boost_round": 500,
        "wandb_mode": "online",
        "wandb_project": "store-sales",
        "wandb_entity": "team",
        "wandb_group": "sweep-abc123",
        "sweep_dir": str(folder),
        "learning_rate": 0.05,
        "num_leaves": 31,
        "output_dir": str(folder / "trials" / "run1"),
    }
    record = json.loads((folder / "trials" / "run1" / sweep.TRIAL_FILE).read_text())
    assert record["state"] == "finished"
    assert json.loads((folder / sweep.STATE_FILE).read_text())["mode"] == "online"


def test_an_agent_refuses_bad_data_before_its_first_trial(
    monkeypatch, fake_login, tmp_path, data_copy, capsys
):
    """The sweep's data on this machine, checked once the sweep's config is fetched: one line,
    exit 2, no local folder, no W&B agent (`store-sales sweep create` has no data to check:
    the agents read theirs)."""
    import wandb

    class FakeSweep:
        id, project, entity = "abc123", "store-sales", "team"
        config = yaml.safe_load(SHIPPED.read_text())

    class FakeApi:
        def __init__(self, overrides=None):
            pass

        def sweep(self, path):
            return FakeSweep()

    monkeypatch.setattr(wandb, "Api", FakeApi)
    monkeypatch.setattr(wandb, "agent", lambda *a, **k: pytest.fail("an agent was started"))
    (data_copy / "oil.csv").write_bytes(b"")
    folder = tmp_path / "agent"
    argv = ["agent", "team/store-sales/abc123", "--count", "3", "--sweep-dir", str(folder)]
    assert cli(*argv, "-p", "data_dir", str(data_copy)) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "oil.csv: is empty (0 bytes" in line
    assert not folder.exists()


# ---------------------------------------------------------------------------------------------
# real exp001 trials on small synthetic data


@pytest.fixture(scope="module")
def bayes_sweep(small_data_dir, tmp_path_factory, offline_env):
    """The shipped bayes sweep, 4 trials, 2 at a time, through the command line."""
    folder = tmp_path_factory.mktemp("sweeps") / "bayes"
    argv = ["local", str(SHIPPED), "--count", "4", "--workers", "2", "--sweep-dir", str(folder)]
    argv += ["-p", "data_dir", str(small_data_dir)]
    for name, value in FAST.items():
        argv += ["-p", name, str(value)]
    assert cli(*argv) == 0
    return folder


@pytest.mark.e2e
def test_bayes_sweep_leaves_four_offline_runs_in_one_group(bayes_sweep):
    trials = sweep.trial_dirs(bayes_sweep)
    assert [t.name for t in trials] == [f"trial-00{i}" for i in range(1, 5)]
    suggested = [json.loads((t / sweep.TRIAL_FILE).read_text())["suggested"] for t in trials]
    assert len({json.dumps(s, sort_keys=True) for s in suggested}) == 4  # no repeated suggestion
    for trial, values in zip(trials, suggested, strict=True):
        record = inspect_run(trial)
        run = record["run"]
        assert run["run_group"] == "bayes"
        config = run["config"]["update"]
        for name, value in values.items():
            assert math.isclose(config[name], value), name
        assert config["sweep_dir"] == str(bayes_sweep) and config["wandb_mode"] == "offline"
        assert config["num_threads"] == 1  # 2 cores shared by 2 workers


@pytest.mark.e2e
def test_results_table_is_sorted_and_saved(bayes_sweep):
    csv = (bayes_sweep / "results.csv").read_text().splitlines()
    assert csv[0].startswith("trial,state,val/rmsle,")
    values = [float(line.split(",")[2]) for line in csv[1:]]
    assert len(values) == 4 and values == sorted(values)
    for trial in sweep.trial_dirs(bayes_sweep):
        history = [h["val/rmsle"] for h in sweep.read_history(trial, "val/rmsle")]
        metrics = runner.read_metrics(trial)
        # the history is val/rmsle per round (zero-rule rows included, before clipping at 0),
        # so bayes (best of history and summary) sees the headline metric: clipping only helps
        # (metrics.json rounds to 6 decimals)
        assert metrics["val_rmsle"] <= min(history) + 1e-6
        assert math.isclose(min(history), metrics["val_rmsle"], abs_tol=1e-3)
    assert (bayes_sweep / "sweep.png").stat().st_size > 10_000


@pytest.mark.e2e
def test_best_yaml_reruns_to_the_same_score(bayes_sweep, small_data_dir, tmp_path, offline_env):
    best = bayes_sweep / "best.yaml"
    params = yaml.safe_load(best.read_text())
    assert not {"output_dir", "sweep_dir", "wandb_group", "wandb_mode"} & set(params)
    assert params["data_dir"] == str(small_data_dir) and params["num_boost_round"] == 120
    defaults = exp001.Exp001Config()
    assert all(getattr(defaults, k) != v for k, v in params.items())
    top = (bayes_sweep / "results.csv").read_text().splitlines()[1].split(",")
    out = tmp_path / "rerun"
    subprocess.run(
        [str(BIN / "papermill"), str(REPO_ROOT / "notebooks" / "exp001.ipynb"),
         str(tmp_path / "out.ipynb"), "-f", str(best), "-p", "output_dir", str(out)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    trial = runner.read_metrics(bayes_sweep / "trials" / top[0])
    rerun = runner.read_metrics(out)
    assert rerun["val_rmsle"] == trial["val_rmsle"] == float(top[2])
    assert rerun["best_step"] == trial["best_step"]


@pytest.mark.e2e
def test_results_command_rebuilds_the_files(bayes_sweep, capsys):
    (bayes_sweep / "results.csv").unlink()
    assert cli("results", str(bayes_sweep)) == 0
    assert (bayes_sweep / "results.csv").is_file()
    assert "rerun   store-sales run exp001 -f" in capsys.readouterr().out


HYPERBAND = {
    "method": "grid",  # a good trial first, then a deliberately poor one
    "metric": {"name": "val/rmsle", "goal": "minimize"},
    "parameters": {"learning_rate": {"values": [0.1, 0.003]}},
    "early_terminate": {"type": "hyperband", "min_iter": 10, "eta": 3},
}
NOTEBOOK = REPO_ROOT / "notebooks" / "sweep.ipynb"


@pytest.fixture(scope="module")
def hyperband_sweep(small_data_dir, tmp_path_factory, offline_env):
    """A hyperband sweep run the way a Kaggle user runs it: the sweep notebook, mode local."""
    import papermill

    tmp = tmp_path_factory.mktemp("hyperband")
    out = tmp / "sweep-run.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={
            "sweep_file": str(write_yaml(tmp / "hyperband.yaml", HYPERBAND)),
            "count": 2,
            "data_dir": str(small_data_dir),
            "sweep_dir": str(tmp / "hb"),
            "fixed": FAST,
        },
        cwd=str(tmp),
        progress_bar=False,
    )
    return tmp / "hb", nbformat.read(out, as_version=4)


@pytest.mark.e2e
def test_hyperband_stops_a_poor_trial_early(hyperband_sweep):
    folder, _ = hyperband_sweep
    good, poor = sweep.trial_dirs(folder)
    assert json.loads((good / sweep.TRIAL_FILE).read_text())["state"] == "finished"
    assert json.loads((poor / sweep.TRIAL_FILE).read_text())["state"] == "stopped"
    stop = json.loads((poor / sweep.STOP_FILE).read_text())
    # checked every 10 rounds; at round 20 the first band (10) applies and the poor trial is
    # worse than the best trial's value there
    assert stop["stopped_at_round"] == 20 < FAST["num_boost_round"]
    assert stop["bands"] == [10] and "STOP" in stop["verdict"]
    assert len(sweep.read_history(poor, "val/rmsle")) == 20
    assert len(sweep.read_history(good, "val/rmsle")) > 20
    assert (poor / "metrics.json").is_file()  # a stopped trial still ends as a complete run
    table = sweep.results_table(folder)
    assert list(table["state"]) == ["finished", "stopped"]
    assert yaml.safe_load((folder / "best.yaml").read_text())["learning_rate"] == 0.1
    record = inspect_run(poor)
    assert record["summary"].get("sweep/stopped") is True
    assert "stopped-by-hyperband" in record["run"]["tags"]


@pytest.mark.e2e
def test_sweep_notebook_is_thin_and_shows_the_results(hyperband_sweep):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) <= 20 and all(not c.outputs and c.execution_count is None for c in code)
    declared = runner.notebook_parameters(NOTEBOOK)
    assert {"sweep_file", "count", "mode", "workers", "data_dir", "project"} <= set(declared)
    _, executed = hyperband_sweep
    outputs = json.dumps([c.get("outputs") for c in executed.cells])
    assert "trial-002 stopped" in outputs and "best.yaml" in outputs
    assert "image/png" in outputs  # the plot


def test_a_trial_skips_the_refit_and_test_forecast(tmp_path, small_data_dir):
    """Only the validation score of a trial counts; best.yaml reruns the winner in full."""
    folder = _sweep_dir(tmp_path, None)
    trial = _trial(folder, "trial-001")
    cfg = exp001.Exp001Config(
        data_dir=str(small_data_dir),
        output_dir=str(trial),
        wandb_mode="disabled",
        sweep_dir=str(folder),
        **QUICK["exp001"],
    )
    _, metrics = run_notebook_calls(cfg)
    assert metrics["refit"] == pipeline.SKIPPED == "skipped-sweep-trial"
    assert "forecast" not in metrics["timings"] and metrics["val_rmsle"] > 0
    assert not (trial / "submission.csv").exists() and (trial / "model.txt").is_file()


def test_a_trial_whose_kernel_died_counts_as_failed(tmp_path):
    trial = _trial(_sweep_dir(tmp_path, None), "trial-001")
    (trial / "metrics.json").write_text(json.dumps({"status": "running", "pid": 1}))
    assert sweep_trials.end_trial(trial) == "failed"
    assert json.loads((trial / sweep.TRIAL_FILE).read_text())["error"] == "run never finished"
