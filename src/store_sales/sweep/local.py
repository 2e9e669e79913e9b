"""The local controller: a sweep run offline by W&B's engine.

One controller process asks the engine for every trial (no two workers can race for a
suggestion); each trial is a template run through papermill into its own folder, logged as an
offline W&B run in a group named after the sweep. Hyperband runs inside each trial (`trial_hook`).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import progress
from ..jsonio import read_json
from ..paths import outputs_root
from . import trials
from .engine import import_sweeps
from .results import Summary, summarize
from .spec import (
    DEFAULT_TEMPLATE,
    SweepError,
    check_config,
    check_data,
    check_every_default,
    config_path,
    load_config,
    suggested_params,
    template_fields,
)

MAX_CONSECUTIVE_FAILURES = 3  # a broken data_dir would otherwise fail `count` times


def _default_threads(fixed: dict, config: dict, workers: int, fields: set[str]) -> dict:
    """Parallel trials each get their share of the cores (0 would give each all of them), for a
    template with a `num_threads` parameter. The value is kept in best.yaml: the rerun then uses
    the same threads, hence the same model."""
    if (
        workers > 1
        and "num_threads" in fields
        and "num_threads" not in fixed
        and "num_threads" not in config["parameters"]
    ):
        return {**fixed, "num_threads": max(1, (os.cpu_count() or 1) // workers)}
    return fixed


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
) -> Summary:
    """Run `count` trials of `template` chosen by W&B's engine, offline.

    Each trial is an offline W&B run in group `name`, in `<sweep_dir>/trials/trial-NNN`.
    `fixed` holds template parameters shared by all trials (e.g. data_dir). Re-running with the
    same name (or sweep_dir) continues that sweep. `check_every`: steps between two hyperband
    checks (default: the template's).
    It stays long on purpose: one scheduling loop whose state (pending trials, failures in a
    row, the stop reason) every step of suggest, launch, collect and stop reads and changes.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise SweepError("count is required: the number of trials to run (e.g. --count 20)")
    if workers < 1:
        raise SweepError("workers must be >= 1")
    if check_every is None:
        check_every = check_every_default(template)
    if check_every < 1:
        raise SweepError("check_every must be >= 1")
    cfg = load_config(config)
    source = config_path(config).read_text() if isinstance(config, (str, Path)) else ""
    fixed = dict(fixed or {})
    declared = check_config(cfg, template, fixed, allow_large_grid)
    check_data(cfg, template, fixed, declared)
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
    trials.open_sweep_dir(folder, name, cfg, template, fixed, check_every, source)
    tuned = ", ".join(cfg["parameters"])
    print(f"sweep {name}: {cfg['method']} over {tuned}; {count} trial(s), {workers} worker(s)")
    print(f"folder {folder}")

    base = {
        **_default_threads(fixed, cfg, workers, template_fields(template, declared)),
        "wandb_mode": "offline",
        "wandb_group": name,
        "sweep_dir": str(folder),
    }
    metric = cfg["metric"]["name"]
    target = cfg["metric"].get("target")
    sweeps = import_sweeps()
    executor = (
        trials.InlineExecutor()
        if workers == 1
        else ProcessPoolExecutor(workers, mp_context=_spawn_context())
    )
    pending: dict[Future, Path] = {}
    bar = progress.runs(count, "trials")  # ETA over the trials
    launched = failures = 0
    stop_reason = ""
    try:
        while True:
            while not stop_reason and launched < count and len(pending) < workers:
                # the engine sees running trials too: bayes spreads parallel suggestions, grid
                # never hands out a point twice
                suggestion = sweeps.next_run(cfg, trials.engine_runs(folder, cfg))
                if suggestion is None:
                    stop_reason = "the grid is exhausted"
                    break
                suggested = suggested_params(suggestion.config, declared)
                trial_dir = trials.new_trial(folder, suggested, {**base, **suggested})
                launched += 1
                shown = ", ".join(f"{k}={_fmt(v)}" for k, v in suggested.items())
                bar.write(f"[{launched}/{count}] {trial_dir.name}: {shown}")
                params = read_json(trial_dir / trials.TRIAL_FILE)["params"]
                pending[executor.submit(trials.run_trial, template, params)] = trial_dir
            if not pending:
                break
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                trial_dir = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as err:  # a worker died (killed, out of memory)
                    for other in [trial_dir, *pending.values()]:
                        trials.end_trial(other, error=f"worker process died: {err}")
                    raise SweepError(f"a worker process died ({err}); see {trial_dir}") from err
                state = trials.end_trial(trial_dir, outcome["error"])
                bar.write(_trial_line(trial_dir, state, metric, outcome["error"]))
                bar.update()
                summarize(folder, quiet=True, plot=False)  # current even if the session dies
                failures = failures + 1 if state == "failed" else 0
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    stop_reason = f"{failures} trials failed in a row (see the error above)"
                value = trials.trial_metric(trial_dir, metric)
                if (
                    target is not None
                    and state == "finished"
                    and value is not None
                    and value <= target
                ):
                    stop_reason = f"metric target {target} reached"
    except KeyboardInterrupt:
        for trial_dir in pending.values():
            trials.end_trial(trial_dir, error="interrupted")
        executor.shutdown(wait=False, cancel_futures=True)
        bar.close()
        raise
    executor.shutdown()
    bar.close()
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
    value = trials.trial_metric(trial_dir, metric)
    steps = len(trials.read_history(trial_dir, metric))
    shown = f"{value:.5f}" if value is not None else "missing from metrics.json"
    return f"    {trial_dir.name} {state}: {metric} {shown} after {steps} steps"
