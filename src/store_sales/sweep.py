"""Hyperparameter sweeps: one W&B sweep YAML, run online by W&B agents or offline by W&B's engine.

Online (`create`, `agent`): the W&B server holds the sweep and decides every trial; any number of
agents on any machines (or Kaggle sessions) pull trials from one sweep id.

Offline (`local_sweep`): the same YAML is handed to `sweeps`, the open-source engine the W&B server
runs, so grid/random/bayes suggestions and hyperband stopping follow the same rules without a
network. One controller process asks the engine for every trial (no two workers can race for a
suggestion); each trial is an exp001 run through papermill into its own folder, logged as an
offline W&B run in a group named after the sweep.

Sweep folder layout (offline; an online agent keeps the same layout for its own trials):

    <sweep>/sweep.yaml   the sweep config as given      <sweep>/sweep.json  what trials need to know
    <sweep>/trials/<trial>/  the exp001 run folder, plus trial.json (state, parameters) and
                         history.jsonl (per-round validation metric, written by `trial_callback`)
    <sweep>/results.csv, best.yaml (papermill parameters of the best trial), sweep.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from . import runner
from .config import REPO_ROOT, TEMPLATES, outputs_root, to_jsonable, write_json

TEMPLATE = "exp001"
DEFAULT_PROJECT = "store-sales"
# What the template reports in its W&B summary, and the metrics.json key holding the same value.
METRICS = {"val/rmsle": "val_rmsle", "val/rmsle_alive": "val_rmsle_alive"}
METHODS = ("grid", "random", "bayes")  # the engine's; "custom" needs a W&B-side controller
# Set per trial by the sweep itself; a sweep that tuned them would break its own bookkeeping.
RESERVED = ("output_dir", "sweep_dir", "wandb_mode", "wandb_group")
NOT_TUNABLE = (*RESERVED, "exp_name", "wandb_project", "wandb_entity")
MAX_GRID = 50  # seed 002: more than a few dozen grid points is days of training; ask explicitly
CHECK_EVERY = 10  # boosting rounds between two hyperband checks of a local trial
MAX_CONSECUTIVE_FAILURES = 3  # a broken data_dir would otherwise fail `count` times

STATE_FILE = "sweep.json"
TRIAL_FILE = "trial.json"
HISTORY_FILE = "history.jsonl"
STOP_FILE = "stopped.json"
# trial states (trial.json) -> the engine's run states. A trial hyperband stopped is "killed",
# as on the W&B server, so bayes imputes it (metric.impute, default worst) rather than trusting
# a half-trained model's score.
ENGINE_STATE = {
    "running": "running",
    "finished": "finished",
    "stopped": "killed",
    "failed": "failed",
}


class SweepError(ValueError):
    """A sweep that cannot start: bad YAML, guard, or missing W&B access. One readable message."""


# ---------------------------------------------------------------------------------------------
# the engine


def _engine():
    """`sweeps` (W&B's engine). Its pydantic-1 style models warn on import under pydantic 2."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Valid config keys have changed", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import sweeps
    return sweeps


def engine_run(name: str, state: str, config: dict, summary: dict, history: list[dict]):
    """A `sweeps.SweepRun`. Only the camelCase aliases reach the model under pydantic 2: the
    snake_case `summary_metrics=` / `history=` would be dropped without an error, and the engine
    would then see every trial as metric-less."""
    sweeps = _engine()
    return sweeps.SweepRun(
        name=name,
        state=sweeps.RunState(ENGINE_STATE[state]),
        config={k: {"value": v} for k, v in config.items()},
        summaryMetrics=summary,
        sampledHistory=history,
    )


# ---------------------------------------------------------------------------------------------
# config: load, check (guards)


def config_path(source: str | Path) -> Path:
    """A sweep file as given, else relative to the repo (`configs/sweep.yaml` from anywhere)."""
    path = Path(source).expanduser()
    if not path.is_file() and not path.is_absolute() and (REPO_ROOT / path).is_file():
        return REPO_ROOT / path
    return path


def load_config(source: str | Path | dict) -> dict:
    """A sweep config from a YAML file (or a dict, copied)."""
    if isinstance(source, dict):
        return json.loads(json.dumps(source))
    path = config_path(source)
    if not path.is_file():
        raise SweepError(f"sweep file {path} not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SweepError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise SweepError(f"{path}: a sweep config is a mapping (method, metric, parameters)")
    return config


def _fill(name: str, spec: Any) -> dict | None:
    """The parameter spec with its distribution made explicit (the engine's own inference)."""
    _engine()  # imports sweeps quietly first
    from sweeps.config import fill_parameter

    if not isinstance(spec, dict):
        return None
    try:
        filled = fill_parameter(name, spec)
    except ValueError:  # includes ParamValidationError (nested parameters)
        return None
    return filled[1] if filled else None


def _extremes(spec: dict) -> list:
    """Values a parameter can reach at its ends, to check them against the template's config."""
    dist = spec["distribution"]
    if dist == "constant":
        return [spec["value"]]
    if dist.startswith("categorical"):
        return list(spec["values"])
    if dist in ("log_uniform", "q_log_uniform"):  # bounds are natural logs of the values
        return [math.exp(spec["min"]), math.exp(spec["max"])]
    if dist == "inv_log_uniform":
        return [math.exp(-spec["max"]), math.exp(-spec["min"])]
    if "min" in spec and "max" in spec:
        return [spec["min"], spec["max"]]
    return []  # normal, beta: unbounded or not checkable here


def _gives_ints(spec: dict) -> bool:
    dist = spec["distribution"]
    if dist == "constant":
        return _is_int(spec["value"])
    if dist.startswith("categorical"):
        return all(_is_int(v) for v in spec["values"])
    if dist == "int_uniform":
        return True
    q = spec.get("q", 1)  # round(x / q) * q: whole numbers for a whole q
    return dist.startswith("q_") and isinstance(q, (int, float)) and float(q).is_integer()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def grid_size(config: dict) -> int:
    """Number of grid points; raises if a parameter is continuous (grid cannot enumerate it)."""
    import numpy as np

    size = 1
    for name, spec in (config.get("parameters") or {}).items():
        filled = _fill(name, spec) or {}
        dist = filled.get("distribution")
        if dist == "constant":
            n = 1
        elif dist == "categorical":
            n = len(filled["values"])
        elif dist == "int_uniform":
            n = filled["max"] - filled["min"] + 1
        elif dist == "q_uniform":
            n = len(np.arange(filled["min"], filled["max"], filled["q"]))
        else:
            raise SweepError(
                f"grid sweeps need discrete parameters; {name} is {dist or spec!r}: "
                "use values: [...], int_uniform or q_uniform, or method random/bayes"
            )
        size *= n
    return size


def check_config(
    config: dict,
    template: str = TEMPLATE,
    fixed: dict | None = None,
    allow_large_grid: bool = False,
) -> dict:
    """Refuse a sweep that would fail or mislead, before any training; returns the template's
    declared parameters with their defaults. All problems are reported in one error."""
    sweeps = _engine()
    fixed = dict(fixed or {})
    nb = runner.resolve_notebook(template)
    declared = runner.notebook_parameters(nb)
    problems: list[str] = []
    try:
        problems += sweeps.schema_violations_from_proposed_config(config)
    except (ValueError, TypeError) as err:  # TypeError: min/max of different types
        problems.append(f"the sweep schema check failed: {err}")
    params = config.get("parameters")
    if not isinstance(params, dict) or not params:
        problems.append("parameters: give at least one exp001 parameter to tune")
        params = {}
    method = config.get("method")
    if method not in METHODS:
        problems.append(f"method {method!r}: use one of {', '.join(METHODS)}")
    metric = config.get("metric")
    if not isinstance(metric, dict) or "name" not in metric:
        problems.append(
            "metric: give `metric: {name: val/rmsle, goal: minimize}` "
            f"({nb.stem} logs {', '.join(METRICS)})"
        )
    else:
        if metric["name"] not in METRICS:
            problems.append(
                f"metric {metric['name']!r} is never logged by {nb.stem}; it logs "
                f"{', '.join(METRICS)} to the W&B summary"
            )
        if metric.get("goal", "minimize") != "minimize":
            problems.append(f"metric {metric['name']!r} is an error: goal must be minimize")

    config_cls = _config_class(nb.stem)
    for name, spec in params.items():
        if name not in declared:
            problems.append(f"{nb.stem} has no parameter {name!r}; valid: {', '.join(declared)}")
            continue
        if name in NOT_TUNABLE:
            problems.append(f"parameter {name!r} is set by the sweep itself, not tunable")
            continue
        if name in fixed:
            problems.append(f"parameter {name!r} is both tuned and fixed (-p/-f); pick one")
        if isinstance(spec, dict):
            for key in ("min", "max", "value", "mu", "sigma", "q"):
                if isinstance(spec.get(key), str) and _looks_numeric(spec[key]):
                    problems.append(
                        f"{name}.{key}: {spec[key]!r} is read as text by YAML; write it with a "
                        "dot and a signed exponent, e.g. 1.0e-6"
                    )
        filled = _fill(name, spec)
        if filled is None:
            continue  # the schema check above has already said what is wrong
        default = declared[name]
        if _is_int(default) and not _gives_ints(filled):
            problems.append(
                f"{name} is an integer parameter but {filled['distribution']} draws floats: use "
                "int_uniform, values: [...], or a q_* distribution with an integer q"
            )
        if config_cls is not None:
            for value in _extremes(filled):
                try:
                    config_cls(**{**_fixed_for_config(fixed, declared), name: value})
                except (ValueError, TypeError) as err:
                    problems.append(f"{name}={value!r}: {err}")
    if method == "grid" and params and not problems:
        try:
            size = grid_size(config)
        except SweepError as err:
            problems.append(str(err))
        else:
            if size > MAX_GRID and not allow_large_grid:
                problems.append(
                    f"the grid has {size} combinations (more than {MAX_GRID}); use random or "
                    "bayes, shrink the grid, or pass --allow-large-grid (allow_large_grid=True)"
                )
    problems += _check_fixed(fixed, declared, config_cls)
    if not problems:  # the engine's own dry run: anything it would only say at trial time
        try:
            sweeps.next_run(config, [])
            if "early_terminate" in config:
                sweeps.stop_runs(config, [])
        except (ValueError, KeyError, TypeError) as err:
            problems.append(f"the sweep engine refuses this config: {err}")
    if problems:
        raise SweepError("invalid sweep config:\n  - " + "\n  - ".join(dict.fromkeys(problems)))
    return declared


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _config_class(stem: str):
    """The template's config class (its own value checks), from the registry in config."""
    return TEMPLATES.get(stem)


def _fixed_for_config(fixed: dict, declared: dict) -> dict:
    return {k: v for k, v in fixed.items() if k in declared and k not in RESERVED}


def _check_fixed(fixed: dict, declared: dict, config_cls) -> list[str]:
    problems = []
    for name in fixed:
        if name not in declared:
            problems.append(f"fixed parameter {name!r} is not a template parameter")
        elif name in RESERVED:
            problems.append(f"fixed parameter {name!r} is set by the sweep for each trial")
    if config_cls is not None and not problems:
        try:
            config_cls(**fixed)
        except (ValueError, TypeError) as err:
            problems.append(f"fixed parameters: {err}")
    return problems


def suggested_params(suggestion_config: dict, declared: dict) -> dict:
    """The engine's `{name: {"value": v}}` as plain values typed like the template's defaults."""
    out = {}
    for name, entry in suggestion_config.items():
        value = to_jsonable(
            entry["value"] if isinstance(entry, dict) and "value" in entry else entry
        )
        if _is_int(declared.get(name)) and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out


# ---------------------------------------------------------------------------------------------
# sweep folder: state, trials, runs for the engine


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_history(trial_dir: Path, metric: str) -> list[dict]:
    """Per-round metric records; a line being written right now is skipped."""
    out = []
    try:
        lines = (trial_dir / HISTORY_FILE).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if metric in record:
            out.append({metric: record[metric]})
    return out


def trial_dirs(sweep_dir: Path) -> list[Path]:
    trials = Path(sweep_dir) / "trials"
    return (
        sorted(p for p in trials.iterdir() if (p / TRIAL_FILE).is_file()) if trials.is_dir() else []
    )


def _summary(trial_dir: Path, metric: str) -> dict:
    value = runner.read_metrics(trial_dir).get(METRICS[metric])
    return {metric: value} if value is not None else {}


def engine_runs(sweep_dir: Path, config: dict, cache: dict | None = None) -> list:
    """Every trial of the folder as the engine's runs: swept values, state, summary metric and
    the per-round history (what the W&B server gives the engine for its own sweeps). Terminal
    trials never change, so a cache may keep them."""
    metric = config["metric"]["name"]
    names = list(config["parameters"])
    runs = []
    for trial_dir in trial_dirs(sweep_dir):
        if cache is not None and trial_dir.name in cache:
            runs.append(cache[trial_dir.name])
            continue
        record = _read_json(trial_dir / TRIAL_FILE)
        state = record.get("state", "running")
        suggested = record.get("suggested", {})
        run = engine_run(
            trial_dir.name,
            state,
            {k: suggested[k] for k in names if k in suggested},
            _summary(trial_dir, metric),
            read_history(trial_dir, metric),
        )
        if cache is not None and state != "running":
            cache[trial_dir.name] = run
        runs.append(run)
    return runs


def _new_trial(sweep_dir: Path, suggested: dict, params: dict) -> Path:
    """The next free `trial-NNN` folder; mkdir is the lock, so two controllers never share one."""
    trials = sweep_dir / "trials"
    trials.mkdir(parents=True, exist_ok=True)
    number = len(list(trials.iterdir())) + 1
    while True:
        trial_dir = trials / f"trial-{number:03d}"
        try:
            trial_dir.mkdir()
        except FileExistsError:
            number += 1
            continue
        break
    params = {**params, "output_dir": str(trial_dir)}
    record = {
        "name": trial_dir.name,
        "state": "running",
        "suggested": suggested,
        "params": params,
        "started": datetime.now().isoformat(timespec="seconds"),
    }
    write_json(trial_dir / TRIAL_FILE, record)
    return trial_dir


def _end_trial(trial_dir: Path, error: str = "") -> str:
    """Record how a trial ended: finished, stopped (by hyperband) or failed."""
    record = _read_json(trial_dir / TRIAL_FILE)
    if error or not (trial_dir / "metrics.json").is_file():
        state = "failed"
        record["error"] = error or "no metrics.json"
    else:
        state = "stopped" if (trial_dir / STOP_FILE).is_file() else "finished"
    record["state"] = state
    record["ended"] = datetime.now().isoformat(timespec="seconds")
    write_json(trial_dir / TRIAL_FILE, record)
    return state


def _run_trial(template: str, params: dict, log_output: bool = False) -> dict:
    """One trial (in a worker process with --workers > 1). Errors come back as text: a papermill
    exception does not always survive pickling between processes."""
    try:
        out = runner.run(template, params, log_output=log_output)
    except Exception as err:
        name = type(err).__name__
        return {"dir": params["output_dir"], "error": f"{name}: {str(err).strip()[-2000:]}"}
    return {"dir": str(out), "error": ""}


class _InlineExecutor:
    """workers=1: run each trial in this process when submitted (no pool to start)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# the trial's LightGBM callback


class _TrialCallback:
    """Records the trial's per-round validation metric and, in a local sweep with
    `early_terminate`, asks the engine every few rounds whether hyperband stops this trial.

    The value is LightGBM's validation RMSE on log1p(sales) of the series the model forecasts.
    Its best round is the trial's best model, so its minimum is what the template scores; the
    summary `val/rmsle` (all series, zero-rule ones included, forecasts clipped at 0) is at most
    that minimum whenever the zero-rule series stay at zero, so bayes, which takes the best of
    history and summary as the W&B server does, ranks trials by the headline metric.
    """

    order = 15  # after log_evaluation (10); before W&B's callback commits the step (20)
    before_iteration = False

    def __init__(self, sweep_dir: Path, run_dir: Path):
        state = _read_json(sweep_dir / STATE_FILE)
        if not state:
            raise FileNotFoundError(
                f"sweep_dir {sweep_dir} holds no {STATE_FILE}: sweep_dir is set by "
                "`store-sales sweep` for its trials; leave it empty for a plain run"
            )
        self.sweep_dir = sweep_dir
        self.run_dir = run_dir
        self.name = run_dir.name
        self.config = state["config"]
        self.metric = self.config["metric"]["name"]
        self.check_every = int(state.get("check_every", CHECK_EVERY))
        early_terminate = "early_terminate" in self.config
        self.hyperband = early_terminate and state.get("mode") == "local"
        # Online, the W&B server runs hyperband on the run's history of the metric, so the
        # per-round value must be logged under the metric's name. Not otherwise: W&B's
        # LightGBM callback already logs the same curve as `val_rmse`.
        self.log_to_wandb = early_terminate and state.get("mode") == "online"
        self.history: list[dict] = []
        self._cache: dict = {}
        self._best: tuple[float, int, list] = (math.inf, -1, [])

    def __call__(self, env) -> None:
        import wandb

        if env.iteration == env.begin_iteration:  # a new training: start a new record
            self.history = []
            self._best = (math.inf, -1, [])
            (self.run_dir / HISTORY_FILE).write_text("")
        value = next(
            (r[2] for r in env.evaluation_result_list if r[0] == "val" and r[1] == "rmse"), None
        )
        if value is None:
            raise ValueError("the sweep callback needs a validation set named 'val' with rmse")
        value = float(value)
        rounds = env.iteration - env.begin_iteration + 1
        self.history.append({self.metric: value})
        with (self.run_dir / HISTORY_FILE).open("a") as f:
            f.write(json.dumps({"round": rounds, self.metric: value}) + "\n")
        if self.log_to_wandb and wandb.run is not None:  # in the step W&B's callback commits
            wandb.run.log({self.metric: value}, commit=False)
        if self.hyperband and rounds % self.check_every == 0 and self._best[1] >= 0:
            info = self._stop_info(rounds)
            if info is not None:
                self._stop(rounds, info)
        # after the check: a stop keeps the best of the rounds lgb.record_evaluation (order 20)
        # has already recorded, as the template reads its curve at the best round
        if value < self._best[0]:
            self._best = (value, env.iteration, list(env.evaluation_result_list))

    def _stop_info(self, rounds: int) -> dict | None:
        """The engine's verdict over all trials' histories; None = keep training."""
        sweeps = _engine()
        others = [
            r for r in engine_runs(self.sweep_dir, self.config, self._cache) if r.name != self.name
        ]
        me = engine_run(self.name, "running", {}, {}, self.history)
        stopped = sweeps.stop_runs(self.config, [*others, me])
        if not any(r.name == self.name for r in stopped):
            return None
        info = me.early_terminate_info or {}
        reached = [i for i, band in enumerate(info.get("bands", [])) if band < rounds]
        return {
            "bands": [info["bands"][i] for i in reached],  # the engine lists 100; keep the used
            "thresholds": [to_jsonable(info["thresholds"][i]) for i in reached],
            "verdict": (info.get("lines") or [""])[-1],
        }

    def _stop(self, rounds: int, info: dict) -> None:
        import lightgbm as lgb
        import wandb

        _, best_iteration, best_score = self._best
        write_json(
            self.run_dir / STOP_FILE,
            {"stopped_at_round": rounds, "best_round": best_iteration + 1, **info},
        )
        if wandb.run is not None:
            wandb.run.summary.update({"sweep/stopped": True, "sweep/stopped_at_round": rounds})
            wandb.run.tags = (*(wandb.run.tags or ()), "stopped-by-hyperband")
        print(f"sweep: hyperband stopped {self.name} at round {rounds}: {info['verdict']}")
        raise lgb.callback.EarlyStopException(best_iteration, best_score)


def trial_callback(sweep_dir: str, run_dir: Path) -> Callable:
    """LightGBM callback for a sweep trial (added by `tracking.Run.lgb_callbacks`)."""
    return _TrialCallback(Path(sweep_dir), Path(run_dir))


# ---------------------------------------------------------------------------------------------
# offline sweep


@dataclass
class Summary:
    dir: Path
    table: Any  # pandas.DataFrame, best first
    best: dict | None  # the best finished trial's row
    files: dict[str, Path] = field(default_factory=dict)


def _default_threads(fixed: dict, config: dict, workers: int) -> dict:
    """Parallel trials each get their share of the cores (0 would give each all of them). The
    value is kept in best.yaml: the rerun then uses the same threads, hence the same model."""
    if workers > 1 and "num_threads" not in fixed and "num_threads" not in config["parameters"]:
        return {**fixed, "num_threads": max(1, (os.cpu_count() or 1) // workers)}
    return fixed


def _open_sweep_dir(
    folder: Path, name: str, config: dict, template: str, fixed: dict, check_every: int, source: str
) -> None:
    """Create the folder, or continue the sweep in it (same config; its trials count)."""
    state = {
        "name": name,
        "mode": "local",
        "template": template,
        "config": config,
        "fixed": fixed,
        "check_every": check_every,
    }
    old = _read_json(folder / STATE_FILE)
    if old:
        keys = ("mode", "template", "config", "fixed")
        if any(to_jsonable(old.get(k)) != to_jsonable(state[k]) for k in keys):
            raise SweepError(
                f"{folder} holds another sweep (different config, template or fixed parameters); "
                "pick a new --name"
            )
        for trial_dir in trial_dirs(folder):  # a previous controller was interrupted
            if _read_json(trial_dir / TRIAL_FILE).get("state") == "running":
                _end_trial(trial_dir, error="interrupted (controller stopped)")
        print(f"continuing sweep {name}: {len(trial_dirs(folder))} earlier trial(s)")
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.yaml").write_text(
        source if source else yaml.safe_dump(config, sort_keys=False)
    )
    state["created"] = datetime.now().isoformat(timespec="seconds")
    write_json(folder / STATE_FILE, state)


def local_sweep(
    config: str | Path | dict,
    count: int | None,
    *,
    workers: int = 1,
    name: str = "",
    sweep_dir: str | Path = "",
    fixed: dict | None = None,
    template: str = TEMPLATE,
    allow_large_grid: bool = False,
    check_every: int = CHECK_EVERY,
) -> Summary:
    """Run `count` trials of `template` chosen by W&B's engine, offline.

    Each trial is an offline W&B run in group `name`, in `<sweep_dir>/trials/trial-NNN`.
    `fixed` holds template parameters shared by all trials (e.g. data_dir, num_boost_round).
    Re-running with the same name (or sweep_dir) continues that sweep.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise SweepError("count is required: the number of trials to run (e.g. --count 20)")
    if workers < 1:
        raise SweepError("workers must be >= 1")
    if check_every < 1:
        raise SweepError("check_every must be >= 1")
    cfg = load_config(config)
    source = config_path(config).read_text() if isinstance(config, (str, Path)) else ""
    fixed = dict(fixed or {})
    declared = check_config(cfg, template, fixed, allow_large_grid)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    if sweep_dir:
        folder = Path(sweep_dir).expanduser().resolve()
        name = name or folder.name
    else:
        prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(cfg.get("name") or "sweep"))
        name = name or f"{prefix}-{stamp}"
        folder = outputs_root() / "sweeps" / name
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise SweepError(f"sweep name {name!r}: use letters, digits, '_', '-', '.'")
    _open_sweep_dir(folder, name, cfg, template, fixed, check_every, source)
    tuned = ", ".join(cfg["parameters"])
    print(f"sweep {name}: {cfg['method']} over {tuned}; {count} trial(s), {workers} worker(s)")
    print(f"folder {folder}")

    base = {
        **_default_threads(fixed, cfg, workers),
        "wandb_mode": "offline",
        "wandb_group": name,
        "sweep_dir": str(folder),
    }
    target = cfg["metric"].get("target")
    sweeps = _engine()
    executor = (
        _InlineExecutor()
        if workers == 1
        else ProcessPoolExecutor(workers, mp_context=_spawn_context())
    )
    pending: dict[Future, Path] = {}
    launched = failures = 0
    stop_reason = ""
    try:
        while True:
            while not stop_reason and launched < count and len(pending) < workers:
                # the engine sees running trials too: bayes spreads parallel suggestions, grid
                # never hands out a point twice
                suggestion = sweeps.next_run(cfg, engine_runs(folder, cfg))
                if suggestion is None:
                    stop_reason = "the grid is exhausted"
                    break
                suggested = suggested_params(suggestion.config, declared)
                trial_dir = _new_trial(folder, suggested, {**base, **suggested})
                launched += 1
                shown = ", ".join(f"{k}={_fmt(v)}" for k, v in suggested.items())
                print(f"[{launched}/{count}] {trial_dir.name}: {shown}", flush=True)
                params = _read_json(trial_dir / TRIAL_FILE)["params"]
                pending[executor.submit(_run_trial, template, params)] = trial_dir
            if not pending:
                break
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                trial_dir = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as err:  # a worker died (killed, out of memory)
                    for other in [trial_dir, *pending.values()]:
                        _end_trial(other, error=f"worker process died: {err}")
                    raise SweepError(f"a worker process died ({err}); see {trial_dir}") from err
                state = _end_trial(trial_dir, outcome["error"])
                print(
                    _trial_line(trial_dir, state, cfg["metric"]["name"], outcome["error"]),
                    flush=True,
                )
                summarize(folder, quiet=True, plot=False)  # current even if the session dies
                failures = failures + 1 if state == "failed" else 0
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    stop_reason = f"{failures} trials failed in a row (see the error above)"
                value = runner.read_metrics(trial_dir).get(METRICS[cfg["metric"]["name"]])
                if (
                    target is not None
                    and state == "finished"
                    and value is not None
                    and value <= target
                ):
                    stop_reason = f"metric target {target} reached"
    except KeyboardInterrupt:
        for trial_dir in pending.values():
            _end_trial(trial_dir, error="interrupted")
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()
    if stop_reason:
        print(f"sweep stopped early: {stop_reason}")
    summary = summarize(folder)
    print(f"upload the runs:  wandb sync {folder}/trials/*/wandb/offline-run-*")
    return summary


def _spawn_context():
    import multiprocessing

    # fork would copy the controller's threads and the engine's state; spawn starts clean. (It
    # re-imports the main script, so a script piped through stdin cannot use --workers > 1.)
    return multiprocessing.get_context("spawn")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _trial_line(trial_dir: Path, state: str, metric: str, error: str) -> str:
    if state == "failed":
        return f"    {trial_dir.name} failed: {error.splitlines()[-1] if error else ''}"
    value = runner.read_metrics(trial_dir).get(METRICS[metric])
    rounds = len(read_history(trial_dir, metric))
    return f"    {trial_dir.name} {state}: {metric} {value:.5f} after {rounds} rounds"


# ---------------------------------------------------------------------------------------------
# results: table, best.yaml, plot


def results_table(sweep_dir: str | Path):
    """One row per trial, best metric first (failed and unscored trials last)."""
    import pandas as pd

    folder = Path(sweep_dir)
    state = _read_json(folder / STATE_FILE)
    if not state:
        raise SweepError(f"{folder} is not a sweep folder (no {STATE_FILE})")
    metric = state["config"]["metric"]["name"]
    swept = [k for k, v in state["config"]["parameters"].items() if not _is_constant(v)]
    rows = []
    for trial_dir in trial_dirs(folder):
        record = _read_json(trial_dir / TRIAL_FILE)
        metrics = runner.read_metrics(trial_dir)
        rows.append(
            {
                "trial": trial_dir.name,
                "state": record.get("state", "?"),
                metric: metrics.get(METRICS[metric]),
                "best_iteration": metrics.get("best_iteration"),
                "rounds": len(read_history(trial_dir, metric)),
                "seconds": (metrics.get("timings") or {}).get("total"),
                **{k: record.get("suggested", {}).get(k) for k in swept},
            }
        )
    columns = ["trial", "state", metric, "best_iteration", "rounds", "seconds", *swept]
    table = pd.DataFrame(rows, columns=columns)
    table[metric] = pd.to_numeric(table[metric])
    return table.sort_values(metric, na_position="last", kind="stable").reset_index(drop=True)


def _is_constant(spec: Any) -> bool:
    return isinstance(spec, dict) and "value" in spec and "values" not in spec


def best_params(sweep_dir: str | Path, trial: str) -> dict:
    """The trial's parameters that differ from the template defaults, minus the run-specific
    ones: what `papermill ... -f best.yaml -p output_dir NEW` needs to train the same model."""
    folder = Path(sweep_dir)
    state = _read_json(folder / STATE_FILE)
    declared = runner.notebook_parameters(runner.resolve_notebook(state["template"]))
    params = _read_json(folder / "trials" / trial / TRIAL_FILE)["params"]
    return {
        k: params[k]
        for k in declared
        if k in params and k not in RESERVED and params[k] != declared[k]
    }


def summarize(sweep_dir: str | Path, quiet: bool = False, plot: bool = True) -> Summary:
    """Write results.csv, best.yaml and sweep.png; print the table and the rerun command."""
    import pandas as pd

    folder = Path(sweep_dir)
    state = _read_json(folder / STATE_FILE)
    metric = state.get("config", {}).get("metric", {}).get("name", "")
    table = results_table(folder)
    files = {"results": folder / "results.csv"}
    table.to_csv(files["results"], index=False)
    finished = table[(table["state"] == "finished") & table[metric].notna()]
    best = to_jsonable(finished.iloc[0].to_dict()) if len(finished) else None
    if best is not None:
        files["best"] = folder / "best.yaml"
        params = best_params(folder, best["trial"])
        header = (
            f"# Best trial of sweep {state['name']} ({state['config']['method']}): "
            f"{best['trial']}, {metric} = {best[metric]:.6f}\n"
            f"# Rerun: papermill notebooks/{state['template']}.ipynb out.ipynb -f best.yaml "
            "-p output_dir NEW\n"
            f"#    or: store-sales run {state['template']} -f best.yaml\n"
        )
        files["best"].write_text(header + yaml.safe_dump(params, sort_keys=False))
    figure = plot_sweep(table, state) if plot else None
    if figure is not None:
        files["plot"] = folder / "sweep.png"
        figure.savefig(files["plot"], dpi=100)
    if not quiet:
        with pd.option_context("display.width", 160, "display.max_columns", 30):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
        print(f"table   {files['results']}")
        if best is not None:
            print(f"best    {best['trial']}: {metric} {best[metric]:.5f} -> {files['best']}")
            print(f"rerun   store-sales run {state['template']} -f {files['best']}")
        else:
            print("no finished trial yet: no best.yaml")
        if figure is not None:
            print(f"plot    {files['plot']}")
    return Summary(dir=folder, table=table, best=best, files=files)


def plot_sweep(table, state: dict):
    """The metric against each tuned parameter; stopped trials greyed, the best one starred."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    metric = state["config"]["metric"]["name"]
    specs = state["config"]["parameters"]
    scored = table[table[metric].notna()]
    swept = [k for k, v in specs.items() if not _is_constant(v) and scored[k].notna().any()]
    if scored.empty or not swept:
        return None
    ncols = min(3, len(swept))
    nrows = -(-len(swept) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    groups = (
        ("finished", {"color": "tab:blue", "s": 28}),
        ("stopped", {"color": "grey", "marker": "x", "s": 28}),
    )
    for ax, name in zip(axes, swept, strict=False):
        values = scored[name]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            x = values.astype(float)
        else:  # categorical: one position per value
            labels = sorted({str(v) for v in values})
            x = values.map(lambda v, labels=labels: labels.index(str(v)))
            ax.set_xticks(range(len(labels)), labels)
        for group, style in groups:
            mask = (scored["state"] == group).to_numpy()
            if mask.any():
                ax.scatter(x[mask], scored[metric][mask], label=group, **style)
        first = np.flatnonzero((scored["state"] == "finished").to_numpy())[:1]
        if len(first):  # the table is sorted: the first finished trial is the best
            ax.scatter(
                x.iloc[first],
                scored[metric].iloc[first],
                marker="*",
                s=180,
                color="tab:red",
                label="best",
                zorder=3,
            )
        if numeric and "log" in str((specs.get(name) or {}).get("distribution", "")):
            ax.set_xscale("log")
            # plain numbers; label the 2s and 5s too, as a range rarely spans a whole decade
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set(xlabel=name, ylabel=metric)
        ax.grid(alpha=0.3)
    for ax in axes[len(swept) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    method = state["config"]["method"]
    fig.suptitle(f"{state['name']}: {metric} by parameter ({method}, {len(scored)} trials)")
    fig.tight_layout()
    return fig


def _minor_label(value: float, _pos=None) -> str:
    lead = f"{value:.0e}"[0]
    return f"{value:g}" if lead in "25" else ""


# ---------------------------------------------------------------------------------------------
# online: W&B server sweeps and agents


def _require_online(what: str) -> None:
    """wandb.sweep/agent need the W&B server: one line saying why not, instead of W&B's stack
    trace. `resolve_mode` also hands a Kaggle-secret key to W&B."""
    from . import tracking

    try:
        tracking.resolve_mode("online")
    except RuntimeError as err:
        problem = str(err).split(". Use wandb_mode")[0].removeprefix("wandb_mode='online' but ")
        raise SweepError(
            f"{what} needs W&B online, but {problem}. Without network, run the same YAML "
            "with `store-sales sweep local`."
        ) from None


def create(
    config: str | Path | dict,
    project: str = "",
    entity: str = "",
    template: str = TEMPLATE,
    allow_large_grid: bool = False,
) -> str:
    """Create the sweep on the W&B server; returns `[entity/]project/sweep_id` for the agents."""
    import wandb

    cfg = load_config(config)
    check_config(cfg, template, None, allow_large_grid)
    project = project or cfg.get("project") or DEFAULT_PROJECT
    entity = entity or cfg.get("entity") or ""
    _require_online("sweep create")
    sweep_id = wandb.sweep(sweep=cfg, project=project, entity=entity or None)
    path = "/".join(p for p in (entity, project, sweep_id) if p)
    print(f"sweep {path} created; start agents (any number of machines or Kaggle sessions):")
    print(f"  store-sales sweep agent {path} --count N")
    return path


class _AgentTrial:
    """What a W&B agent runs for each trial it is handed.

    The agent process itself never calls wandb.init(): it reads the suggested values from the
    file the agent writes for the job (WANDB_SWEEP_PARAM_PATH) and runs the template through
    papermill. The kernel inherits the agent's WANDB_SWEEP_ID / WANDB_RUN_ID, so exp001's own
    wandb.init() *is* the sweep run: one process writes it, and it is the same full run (config,
    curves, plots, model and submission artifacts) as any exp001 run. An agent-side run would have
    needed a second process writing the same run, or a second run per trial.
    """

    def __init__(self, template: str, base: dict, folder: Path, log_output: bool):
        self.template = template
        self.base = base
        self.folder = folder
        self.log_output = log_output

    def __call__(self) -> None:
        run_id = os.environ["WANDB_RUN_ID"]
        declared = runner.notebook_parameters(runner.resolve_notebook(self.template))
        job = yaml.safe_load(Path(os.environ["WANDB_SWEEP_PARAM_PATH"]).read_text()) or {}
        job.pop("wandb_version", None)
        suggested = suggested_params(job, declared)
        trial_dir = self.folder / "trials" / run_id
        trial_dir.mkdir(parents=True, exist_ok=True)
        params = {**self.base, **suggested, "output_dir": str(trial_dir)}
        write_json(
            trial_dir / TRIAL_FILE,
            {
                "name": run_id,
                "state": "running",
                "suggested": suggested,
                "params": params,
                "started": datetime.now().isoformat(timespec="seconds"),
            },
        )
        outcome = _run_trial(self.template, params, self.log_output)
        _end_trial(trial_dir, outcome["error"])
        if outcome["error"]:  # the agent counts failures (and stops after too many in a row)
            raise RuntimeError(outcome["error"])


def agent(
    sweep_id: str,
    count: int | None,
    project: str = "",
    entity: str = "",
    fixed: dict | None = None,
    template: str = TEMPLATE,
    sweep_dir: str | Path = "",
    log_output: bool = False,
) -> Path:
    """Run `count` trials of a W&B sweep on this machine; returns the local folder of its trials.

    Start agents on as many machines or Kaggle sessions as you like with the same sweep id: the
    server hands each a different trial and runs bayes and hyperband over all of them.
    """
    import wandb

    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise SweepError("count is required: the number of trials this agent runs (--count N)")
    _require_online("sweep agent")
    overrides = {k: v for k, v in (("project", project), ("entity", entity)) if v}
    remote = wandb.Api(overrides=overrides).sweep(sweep_id)
    cfg = dict(remote.config)
    fixed = dict(fixed or {})
    # the server already accepted it; this catches parameters the template lacks, before a trial
    check_config(cfg, template, fixed, allow_large_grid=True)
    folder = (
        Path(sweep_dir).expanduser().resolve()
        if sweep_dir
        else outputs_root() / "sweeps" / remote.id
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = f"{remote.entity}/{remote.project}/{remote.id}"
    write_json(
        folder / STATE_FILE,
        {
            "name": remote.id,
            "mode": "online",
            "sweep": path,
            "template": template,
            "config": cfg,
            "fixed": fixed,
            "check_every": CHECK_EVERY,
        },
    )
    base = {
        **fixed,
        "wandb_mode": "online",
        "wandb_project": remote.project,
        "wandb_entity": remote.entity or "",
        "wandb_group": f"sweep-{remote.id}",
        "sweep_dir": str(folder),
    }
    print(f"agent for sweep {path}: {count} trial(s); local run folders in {folder}")
    wandb.agent(
        remote.id,
        function=_AgentTrial(template, base, folder, log_output),
        count=count,
        project=remote.project,
        entity=remote.entity,
    )
    return folder


def run(
    mode: str,
    config: str | Path,
    count: int | None,
    *,
    workers: int = 1,
    name: str = "",
    sweep_dir: str | Path = "",
    sweep_id: str = "",
    project: str = "",
    entity: str = "",
    fixed: dict | None = None,
    allow_large_grid: bool = False,
) -> Summary:
    """The notebook's entry point. local: `local_sweep`. online: join `sweep_id`, or create a
    sweep from `config` first, then run `count` trials here as one of its agents."""
    if mode == "local":
        return local_sweep(
            config,
            count,
            workers=workers,
            name=name,
            sweep_dir=sweep_dir,
            fixed=fixed,
            allow_large_grid=allow_large_grid,
        )
    if mode == "online":
        if not isinstance(count, int) or count < 1:  # before creating a sweep nobody runs
            raise SweepError("count is required: the number of trials this agent runs")
        path = sweep_id or create(config, project, entity, allow_large_grid=allow_large_grid)
        return summarize(agent(path, count, project, entity, fixed=fixed, sweep_dir=sweep_dir))
    raise SweepError(f"mode={mode!r}: use 'local' (offline engine) or 'online' (W&B server)")


# ---------------------------------------------------------------------------------------------
# command line: `store-sales sweep ...`


def _cmd(fn):
    """Errors a user can fix print as one line (exit 2), like `store-sales run`."""

    def handler(args) -> int:
        try:
            fn(args)
        except (SweepError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0

    return handler


def _cmd_local(args) -> None:
    local_sweep(
        args.config,
        args.count,
        workers=args.workers,
        name=args.name,
        sweep_dir=args.sweep_dir,
        fixed=runner.parameters_from_args(args),
        template=args.template,
        allow_large_grid=args.allow_large_grid,
        check_every=args.check_every,
    )


def _cmd_create(args) -> None:
    create(args.config, args.project, args.entity, args.template, args.allow_large_grid)


def _cmd_agent(args) -> None:
    agent(
        args.sweep_id,
        args.count,
        args.project,
        args.entity,
        fixed=runner.parameters_from_args(args),
        template=args.template,
        sweep_dir=args.sweep_dir,
        log_output=not args.quiet,
    )


def _cmd_results(args) -> None:
    summarize(args.sweep_dir)


def register(subparsers) -> argparse.ArgumentParser:
    """Add `sweep local|create|agent|results` to the `store-sales` command line."""
    p = subparsers.add_parser(
        "sweep",
        help="tune a template with a W&B sweep YAML (offline engine or W&B agents)",
        description=__doc__.split("\n\n")[0],
    )
    actions = p.add_subparsers(dest="sweep_action", required=True)

    def common(q, fixed=True):
        q.add_argument("--template", default=TEMPLATE, help="template notebook (default exp001)")
        if fixed:
            q.add_argument(
                "-p",
                "--parameter",
                nargs=2,
                action="append",
                metavar=("NAME", "VALUE"),
                help="template parameter fixed for every trial (e.g. data_dir)",
            )
            q.add_argument(
                "-f",
                "--parameters-file",
                action="append",
                help="YAML file of fixed template parameters",
            )

    q = actions.add_parser("local", help="run the sweep offline with W&B's engine")
    q.add_argument("config", help="sweep YAML (W&B format), e.g. configs/sweep.yaml")
    q.add_argument("--count", type=int, required=True, help="number of trials (required)")
    q.add_argument("--workers", type=int, default=1, help="trials run in parallel processes")
    q.add_argument("--name", default="", help="sweep name = W&B group (same name: continue it)")
    q.add_argument("--sweep-dir", default="", help="folder (default outputs/sweeps/<name>)")
    q.add_argument(
        "--allow-large-grid",
        action="store_true",
        help=f"allow a grid of more than {MAX_GRID} combinations",
    )
    q.add_argument(
        "--check-every",
        type=int,
        default=CHECK_EVERY,
        help="boosting rounds between hyperband checks",
    )
    common(q)
    q.set_defaults(func=_cmd(_cmd_local))

    q = actions.add_parser("create", help="create the sweep on the W&B server (online)")
    q.add_argument("config", help="sweep YAML (W&B format)")
    q.add_argument(
        "--project", default="", help=f"W&B project (default: YAML, else {DEFAULT_PROJECT})"
    )
    q.add_argument("--entity", default="", help="W&B entity (default: yours)")
    q.add_argument("--allow-large-grid", action="store_true")
    common(q, fixed=False)
    q.set_defaults(func=_cmd(_cmd_create))

    q = actions.add_parser("agent", help="run trials of a W&B sweep here (online)")
    q.add_argument("sweep_id", help="sweep id, project/id or entity/project/id")
    q.add_argument("--count", type=int, required=True, help="trials for this agent (required)")
    q.add_argument("--project", default="")
    q.add_argument("--entity", default="")
    q.add_argument("--sweep-dir", default="", help="local folder (default outputs/sweeps/<id>)")
    q.add_argument("-q", "--quiet", action="store_true", help="do not stream notebook output")
    common(q)
    q.set_defaults(func=_cmd(_cmd_agent))

    q = actions.add_parser("results", help="rebuild results.csv, best.yaml and sweep.png")
    q.add_argument("sweep_dir", help="a sweep folder")
    q.set_defaults(func=_cmd(_cmd_results))
    return p
