"""`tune`: Optuna's ask/tell over template runs, on the search layer's worker pool. The
controller here asks the study for each trial, a worker runs the template into the trial's own
folder, and the controller tells the result; `tune` processes on other machines may share the
study through its storage (Optuna's own distributed mode)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from .. import progress, runner
from ..paths import REPO_ROOT
from ..search.checklist import check_data
from ..search.pool import run_trials
from ..search.results import SearchSummary
from ..search.template import (
    DEFAULT_TEMPLATE,
    MAX_CONSECUTIVE_FAILURES,
    METRICS,
    PER_STEP_METRICS,
    check_count,
    check_every_default,
    config_source,
    default_threads,
    load_config,
    search_folder,
    shown,
    stamp,
    template_fields,
)
from . import study as st
from .quiet import import_optuna
from .results import summarize, write_table
from .space import TuneError, check, typed


def default_config(template: str) -> Path:
    """configs/sweep_<template>.yaml if the repo has one, else configs/sweep.yaml (exp001's)."""
    own = REPO_ROOT / "configs" / f"sweep_{Path(template).stem}.yaml"
    return own if own.is_file() else REPO_ROOT / "configs" / "sweep.yaml"


def _sampler_and_pruner(cfg: dict, sampler: str, pruner: str) -> tuple[str, str]:
    """The sampler (default: the YAML's method's) and pruner (default: median for a per-step
    metric, else none), checked."""
    sampler = sampler or st.SAMPLER_OF_METHOD.get(cfg.get("method", ""), "tpe")
    if sampler not in st.SAMPLERS:
        raise TuneError(f"sampler {sampler!r}: use one of {', '.join(st.SAMPLERS)}")
    metric_name = (cfg.get("metric") or {}).get("name")
    per_step = metric_name in PER_STEP_METRICS
    pruner = pruner or ("median" if per_step else "none")
    if pruner not in st.PRUNERS:
        raise TuneError(f"pruner {pruner!r}: use one of {', '.join(st.PRUNERS)}")
    if pruner != "none" and not per_step and metric_name in METRICS:
        raise TuneError(
            f"pruning needs a per-step metric ({', '.join(PER_STEP_METRICS)}); "
            f"{metric_name!r} exists only once every fold has finished: use --pruner none"
        )
    return sampler, pruner


def tune(
    template: str = DEFAULT_TEMPLATE,
    config: str | Path | dict | None = None,
    trials: int | None = None,
    *,
    workers: int = 1,
    study: str = "",
    storage: str = "",
    study_dir: str | Path = "",
    sampler: str = "",
    pruner: str = "",
    seed: int | None = None,
    fixed: dict | None = None,
    check_every: int | None = None,
    startup_trials: int = 5,
    warmup_steps: int | None = None,
    allow_large_grid: bool = False,
) -> SearchSummary:
    """Run `trials` trials of `template` here, `workers` at a time, on Optuna study `study`
    (created, or resumed when it exists). `config`: a W&B sweep YAML (its parameters and
    metric; its method picks the default sampler). `storage`: an Optuna RDB URL (default
    sqlite in the study folder). `fixed`: template parameters of every trial."""
    check_count(
        trials, TuneError, "trials is required: the number of trials to run here (e.g. --trials 20)"
    )
    if workers < 1:
        raise TuneError("workers must be >= 1")
    config = config or default_config(template)
    cfg = load_config(config, TuneError)
    sampler, pruner = _sampler_and_pruner(cfg, sampler, pruner)
    report_every = check_every or check_every_default(template)
    if report_every < 1:
        raise TuneError("check_every must be >= 1")
    fixed = dict(fixed or {})
    space = check(cfg, template, fixed, allow_large_grid, grid=sampler == "grid")
    check_data(cfg, template, fixed, space.declared)  # before the study or a trial
    # the template tuned names the study, not the YAML (configs/sweep.yaml is exp001's)
    name = study or f"{Path(template).stem}-{stamp()}"
    name, folder = search_folder("tune", name, study_dir, TuneError, "study")
    folder.mkdir(parents=True, exist_ok=True)
    url = storage or st.sqlite_url(folder / "study.db")
    settings = st.pruner_settings(pruner, cfg, startup_trials, warmup_steps)
    created = st.open_study(name, url, create=True)
    earlier = st.adopt(created, {"template": Path(template).stem, "config": cfg, "fixed": fixed})
    st.write_folder(
        folder,
        {"study": name, "storage": url, "template": Path(template).stem, "metric": space.metric,
         "sampler": sampler, "pruner": settings, "report_every": report_every},
        config_source(config),
    )  # fmt: skip
    if earlier:
        print(f"continuing study {name}: {earlier} earlier trial(s)")
    tuned = ", ".join(space.distributions)
    print(f"tune {name}: {sampler} sampler, {settings['name']} pruner over {tuned}; "
          f"{trials} trial(s), {workers} worker(s)")  # fmt: skip
    print(f"study {url}\nfolder {folder}")
    base = {
        **default_threads(fixed, cfg, workers, template_fields(template, space.declared)),
        **space.constants,
        "wandb_mode": "offline",
        "wandb_group": name,
    }
    job = {
        "template": template, "study": name, "storage": url, "folder": folder,
        "sampler": sampler, "seed": seed, "grid": space.grid() if sampler == "grid" else None,
        "pruner": settings, "space": space, "base": base, "report_every": report_every,
        "total": trials,
    }  # fmt: skip
    controller = _StudyController(job)
    try:
        run_trials(controller, template, trials, workers, TuneError)
    finally:
        controller.close()
    return summarize(folder)


class _StudyController:
    """The pool's trial source: `study.ask` for each trial, `study.tell` for each outcome."""

    def __init__(self, job: dict):
        self.job = job
        optuna = import_optuna()
        self.TrialState = optuna.trial.TrialState
        self.sampler = st.make_sampler(job["sampler"], job["seed"], job["grid"])
        self.grid = isinstance(self.sampler, optuna.samplers.GridSampler)
        self.study = st.open_study(
            job["study"], job["storage"], sampler=self.sampler, pruner=st.make_pruner(job["pruner"])
        )
        self.running: dict[Path, tuple] = {}  # trial folder -> (Optuna trial, tune.json state)
        self.finished = self.failures = 0
        self.started = time.time()
        # a bar over the trials in a terminal; elsewhere each trial's line carries the ETA
        shows_bar = progress.mode() in ("bar", "widget")
        self.bar = progress.runs(job["total"], "trials") if shows_bar else None

    def say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)  # keeps the bar intact
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def launch(self) -> tuple[Path, dict] | str:
        job = self.job
        if self.grid and self.sampler.is_exhausted(self.study):
            print("tune: the grid is exhausted", flush=True)
            return "the grid is exhausted"
        trial = self.study.ask(job["space"].distributions)
        path = st.trial_dir(job["folder"], trial.number)
        suggested = typed(trial.params, job["space"].declared)
        params = {**job["base"], **suggested}
        trial.set_user_attr("params", params)
        trial.set_user_attr("dir", str(path))
        trial.set_user_attr("host", socket.gethostname())
        state = {
            "storage": job["storage"], "study": job["study"], "trial_number": trial.number,
            "trial_id": trial._trial_id,  # no public accessor; the kernel rebuilds the Trial
            "metric": job["space"].metric, "pruner": job["pruner"],
            "report_every": job["report_every"],
        }  # fmt: skip
        st.write_trial_state(path, state)
        self.say(f"trial {trial.number}: {shown(suggested)}")
        self.running[path] = (trial, state)
        # sweep_dir: the search's folder, as in a sweep trial; the trial's own tune.json, which
        # the pruning hook reads, is in output_dir
        return path, {**params, "output_dir": str(path), "sweep_dir": str(self.job["folder"])}

    def finish(self, path: Path, outcome: dict) -> str:
        trial, state = self.running.pop(path)
        metric = self.job["space"].metric
        metrics = runner.read_metrics(path)
        value = metrics.get(METRICS[metric])
        error = outcome["error"] or (
            ""
            if metrics.get("status") == "finished" and value is not None
            else "run never finished"
        )
        end = self._tell(trial, error, metrics, value)
        st.write_trial_state(path, {**state, "state": end, "value": value})
        self.finished += 1
        self.say(self._line(trial.number, end, metric, value, metrics, error))
        if self.bar is not None:
            self.bar.update()
        write_table(self.job["folder"], self.study)  # current even if the session dies
        self.failures = self.failures + 1 if end == "failed" else 0
        if self.failures >= MAX_CONSECUTIVE_FAILURES:
            reason = f"{self.failures} trials failed in a row (see above)"
            print(f"tune stopped early: {reason}", flush=True)
            return reason
        return ""

    def _tell(self, trial, error: str, metrics: dict, value) -> str:
        """The trial's end told to the study: failed, pruned or complete."""
        if error:
            trial.set_user_attr("error", error[-500:])
            self.study.tell(trial, state=self.TrialState.FAIL)
            return "failed"
        if metrics.get("stopped"):
            self.study.tell(trial, state=self.TrialState.PRUNED)
            return "pruned"
        self.study.tell(trial, float(value))
        return "complete"

    def abandon(self, path: Path, error: str) -> None:
        trial, state = self.running.pop(path)
        trial.set_user_attr("error", error[-500:])
        self.study.tell(trial, state=self.TrialState.FAIL)
        st.write_trial_state(path, {**state, "state": "failed", "value": None})

    def _line(self, number, end, metric, value, metrics, error) -> str:
        """One line per trial: its end, value, the best so far and the ETA of this invocation."""
        total, finished = self.job["total"], self.finished
        elapsed = time.time() - self.started
        eta = elapsed / finished * (total - finished)
        head = f"[{finished}/{total}] trial {number} {end}"
        if end == "failed":
            body = error.strip().splitlines()[-1] if error.strip() else ""
        else:
            steps = (metrics.get("fold_steps_run") or [None])[0]
            body = f"{metric} {value:.5f} after {steps} steps"
        try:
            best = self.study.best_trial
            body += f"; best {best.value:.5f} (trial {best.number})"
        except ValueError:  # no complete trial yet
            pass
        return f"{head}: {body}; {_duration(elapsed)} elapsed, ETA {_duration(eta)}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
