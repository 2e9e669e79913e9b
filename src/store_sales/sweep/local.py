"""The local controller: a sweep run offline by W&B's engine.

One controller process asks the engine for every trial (the search layer's pool: no two workers
can race for a suggestion); each trial is a template run through papermill into its own folder,
logged as an offline W&B run in a group named after the sweep. Hyperband runs inside each trial
(`trial_hook`).
"""

from __future__ import annotations

from pathlib import Path

from .. import progress
from ..jsonio import read_json
from ..search.checklist import check_data
from ..search.pool import run_trials
from ..search.results import SearchSummary
from ..search.template import (
    MAX_CONSECUTIVE_FAILURES,
    check_count,
    check_every_default,
    config_source,
    default_threads,
    search_folder,
    shown,
    stamp,
    template_fields,
)
from . import trials
from .engine import import_sweeps
from .results import summarize
from .spec import (
    DEFAULT_TEMPLATE,
    SweepError,
    check_config,
    load_config,
    suggested_params,
)

__all__ = ["MAX_CONSECUTIVE_FAILURES", "local_sweep"]


class _SweepController:
    """The pool's trial source: the engine's next suggestion, each outcome recorded."""

    def __init__(self, folder: Path, cfg: dict, declared: dict, base: dict, count: int):
        self.folder, self.cfg, self.declared, self.base = folder, cfg, declared, base
        self.count, self.launched, self.failures = count, 0, 0
        self.sweeps = import_sweeps()
        self.bar = progress.runs(count, "trials")  # ETA over the trials

    def launch(self) -> tuple[Path, dict] | str:
        # the engine sees running trials too: bayes spreads parallel suggestions, grid never
        # hands out a point twice
        suggestion = self.sweeps.next_run(self.cfg, trials.engine_runs(self.folder, self.cfg))
        if suggestion is None:
            return "the grid is exhausted"
        suggested = suggested_params(suggestion.config, self.declared)
        trial_dir = trials.new_trial(self.folder, suggested, {**self.base, **suggested})
        self.launched += 1
        self.bar.write(f"[{self.launched}/{self.count}] {trial_dir.name}: {shown(suggested)}")
        return trial_dir, read_json(trial_dir / trials.TRIAL_FILE)["params"]

    def finish(self, trial_dir: Path, outcome: dict) -> str:
        metric = self.cfg["metric"]["name"]
        target = self.cfg["metric"].get("target")
        state = trials.end_trial(trial_dir, outcome["error"])
        self.bar.write(_trial_line(trial_dir, state, metric, outcome["error"]))
        self.bar.update()
        summarize(self.folder, quiet=True, plot=False)  # current even if the session dies
        self.failures = self.failures + 1 if state == "failed" else 0
        if self.failures >= MAX_CONSECUTIVE_FAILURES:
            return f"{self.failures} trials failed in a row (see the error above)"
        value = trials.trial_metric(trial_dir, metric)
        if target is not None and state == "finished" and value is not None and value <= target:
            return f"metric target {target} reached"
        return ""

    def abandon(self, trial_dir: Path, error: str) -> None:
        trials.end_trial(trial_dir, error=error)


def _checked_options(count, workers: int, check_every: int | None, template: str) -> int:
    """The run's options checked; returns check_every (the template's by default)."""
    check_count(
        count, SweepError, "count is required: the number of trials to run (e.g. --count 20)"
    )
    if workers < 1:
        raise SweepError("workers must be >= 1")
    if check_every is None:
        check_every = check_every_default(template)
    if check_every < 1:
        raise SweepError("check_every must be >= 1")
    return check_every


def local_sweep(
    config: str | Path | dict,
    count: int | None,
    *,
    workers: int = 1,
    name: str = "",
    sweep_dir: str | Path = "",
    fixed: dict | None = None,
    template: str = DEFAULT_TEMPLATE,
    allow_large_grid: bool = False,
    check_every: int | None = None,
) -> SearchSummary:
    """Run `count` trials of `template` chosen by W&B's engine, offline.

    Each trial is an offline W&B run in group `name`, in `<sweep_dir>/trials/trial-NNN`.
    `fixed` holds template parameters shared by all trials (e.g. data_dir). Re-running with the
    same name (or sweep_dir) continues that sweep. `check_every`: steps between two hyperband
    checks (default: the template's).
    """
    check_every = _checked_options(count, workers, check_every, template)
    cfg = load_config(config)
    fixed = dict(fixed or {})
    declared = check_config(cfg, template, fixed, allow_large_grid)
    check_data(cfg, template, fixed, declared)
    if not name and not sweep_dir:
        name = f"{_prefix(cfg)}-{stamp()}"
    name, folder = search_folder("sweeps", name, sweep_dir, SweepError, "sweep")
    source = config_source(config)
    trials.open_sweep_dir(folder, name, cfg, template, fixed, check_every, source)
    tuned = ", ".join(cfg["parameters"])
    print(f"sweep {name}: {cfg['method']} over {tuned}; {count} trial(s), {workers} worker(s)")
    print(f"folder {folder}")
    base = {
        **default_threads(fixed, cfg, workers, template_fields(template, declared)),
        "wandb_mode": "offline",
        "wandb_group": name,
        "sweep_dir": str(folder),
    }
    controller = _SweepController(folder, cfg, declared, base, count)
    try:
        stop_reason = run_trials(controller, template, count, workers, SweepError)
    finally:
        controller.bar.close()
    if stop_reason:
        print(f"sweep stopped early: {stop_reason}")
    summary = summarize(folder)
    print(f"upload the runs:  wandb sync {folder}/trials/*/wandb/offline-run-*")
    return summary


def _prefix(cfg: dict) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(cfg.get("name") or "sweep"))


def _trial_line(trial_dir: Path, state: str, metric: str, error: str) -> str:
    if state == "failed":
        return f"    {trial_dir.name} failed: {error.splitlines()[-1] if error else ''}"
    value = trials.trial_metric(trial_dir, metric)
    steps = len(trials.read_history(trial_dir, metric))
    shown_value = f"{value:.5f}" if value is not None else "missing from metrics.json"
    return f"    {trial_dir.name} {state}: {metric} {shown_value} after {steps} steps"
