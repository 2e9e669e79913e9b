"""The sweep folder on disk: its state file, one folder per trial (opened, ended; the search
layer's convention, `search.trials`), and the trials as the engine's runs.

    <sweep>/sweep.yaml   the sweep config as given      <sweep>/sweep.json  what trials need to know
    <sweep>/trials/<trial>/  the template's run folder, plus trial.json (state, parameters),
                         history.jsonl (per-step validation metric, written by `trial_hook`) and,
                         for a trial hyperband stopped, stopped.json
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import yaml

from .. import rundir, runner
from ..jsonio import read_json, to_jsonable, write_json
from ..search import trials as search_trials
from ..search.template import METRICS
from .engine import engine_run
from .spec import SweepError

STATE_FILE = "sweep.json"
TRIAL_FILE = "trial.json"
HISTORY_FILE = "history.jsonl"
STOP_FILE = "stopped.json"


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# the sweep folder


def read_state(sweep_dir: str | Path) -> dict:
    """sweep.json ({} when the folder holds no sweep)."""
    return read_json(Path(sweep_dir) / STATE_FILE)


def trial_dirs(sweep_dir: str | Path) -> list[Path]:
    return search_trials.trial_dirs(sweep_dir, TRIAL_FILE)


def open_sweep_dir(
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
    old = read_state(folder)
    if old:
        keys = ("mode", "template", "config", "fixed")
        if any(to_jsonable(old.get(k)) != to_jsonable(state[k]) for k in keys):
            raise SweepError(
                f"{folder} holds another sweep (different config, template or fixed parameters); "
                "pick a new --name"
            )
        for trial_dir in trial_dirs(folder):  # a previous controller was interrupted
            if read_json(trial_dir / TRIAL_FILE).get("state") == "running":
                end_trial(trial_dir, error="interrupted (controller stopped)")
        print(f"continuing sweep {name}: {len(trial_dirs(folder))} earlier trial(s)")
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.yaml").write_text(
        source if source else yaml.safe_dump(config, sort_keys=False)
    )
    state["created"] = _now()
    write_json(folder / STATE_FILE, state)


# ---------------------------------------------------------------------------------------------
# trial folders


def start_trial(trial_dir: Path, suggested: dict, params: dict) -> dict:
    """Write trial.json for a trial about to run; returns its parameters (with output_dir)."""
    params = {**params, "output_dir": str(trial_dir)}
    record = {
        "name": trial_dir.name,
        "state": "running",
        "suggested": suggested,
        "params": params,
        "started": _now(),
    }
    write_json(trial_dir / TRIAL_FILE, record)
    return params


def new_trial(sweep_dir: Path, suggested: dict, params: dict) -> Path:
    """The next free `trial-NNN` folder, its trial.json written."""
    trial_dir = search_trials.next_trial(sweep_dir, digits=3)
    start_trial(trial_dir, suggested, params)
    return trial_dir


def end_trial(trial_dir: Path, error: str = "") -> str:
    """Record how a trial ended: finished, stopped (by hyperband) or failed."""
    record = read_json(trial_dir / TRIAL_FILE)
    found = (trial_dir / rundir.METRICS_FILE).is_file()
    # "running": the kernel died without a word (metrics.json is written at a run's start)
    never_ended = found and rundir.read_metrics(trial_dir).get("status") == "running"
    if error or not found or never_ended:
        state = "failed"
        record["error"] = error or ("run never finished" if found else "no metrics.json")
    else:
        state = "stopped" if (trial_dir / STOP_FILE).is_file() else "finished"
    record["state"] = state
    record["ended"] = _now()
    write_json(trial_dir / TRIAL_FILE, record)
    return state


# ---------------------------------------------------------------------------------------------
# what the engine reads: the trials' metrics


def read_history(trial_dir: Path, metric: str) -> list[dict]:
    """Per-step metric records; a line being written right now is skipped."""
    out = []
    try:
        lines = (Path(trial_dir) / HISTORY_FILE).read_text().splitlines()
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


def trial_metric(trial_dir: Path, metric: str):
    """The trial's summary value of the sweep metric (from metrics.json), or None."""
    return runner.read_metrics(trial_dir).get(METRICS[metric])


def engine_runs(sweep_dir: Path, config: dict, cache: dict | None = None) -> list:
    """Every trial of the folder as the engine's runs: swept values, state, summary metric and
    the per-step history (what the W&B server gives the engine for its own sweeps). Terminal
    trials never change, so a cache may keep them."""
    metric = config["metric"]["name"]
    names = list(config["parameters"])
    runs = []
    for trial_dir in trial_dirs(sweep_dir):
        if cache is not None and trial_dir.name in cache:
            runs.append(cache[trial_dir.name])
            continue
        record = read_json(trial_dir / TRIAL_FILE)
        state = record.get("state", "running")
        suggested = record.get("suggested", {})
        value = trial_metric(trial_dir, metric)
        run = engine_run(
            trial_dir.name,
            state,
            {k: suggested[k] for k in names if k in suggested},
            {metric: value} if value is not None else {},
            read_history(trial_dir, metric),
        )
        if cache is not None and state != "running":
            cache[trial_dir.name] = run
        runs.append(run)
    return runs
