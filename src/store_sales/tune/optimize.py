"""`tune`: Optuna's ask/tell over template runs. Each worker process asks the study for a
trial, runs the template into the trial's own folder, and tells the result; workers on other
machines may share the study through its storage (Optuna's own distributed mode)."""

from __future__ import annotations

import multiprocessing
import re
import socket
import time
from datetime import datetime
from pathlib import Path

from .. import progress, runner
from ..paths import REPO_ROOT, outputs_root
from ..sweep import spec
from ..sweep.local import MAX_CONSECUTIVE_FAILURES, _default_threads, _fmt
from ..sweep.results import Summary
from ..sweep.trials import run_trial
from . import study as st
from .quiet import import_optuna
from .results import summarize, write_table
from .space import TuneError, check, typed


def default_config(template: str) -> Path:
    """configs/sweep_<template>.yaml if the repo has one, else configs/sweep.yaml (exp001's)."""
    own = REPO_ROOT / "configs" / f"sweep_{Path(template).stem}.yaml"
    return own if own.is_file() else REPO_ROOT / "configs" / "sweep.yaml"


def tune(
    template: str = spec.DEFAULT_TEMPLATE,
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
) -> Summary:
    """Run `trials` trials of `template` here, `workers` at a time, on Optuna study `study`
    (created, or resumed when it exists). `config`: a W&B sweep YAML (its parameters and
    metric; its method picks the default sampler). `storage`: an Optuna RDB URL (default
    sqlite in the study folder). `fixed`: template parameters of every trial.

    Long on purpose: a third of it is the keyword arguments and their checks; the rest is the
    one ordered sequence (open or resume, check, start the workers, summarize)."""
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise TuneError("trials is required: the number of trials to run here (e.g. --trials 20)")
    if workers < 1:
        raise TuneError("workers must be >= 1")
    config = config or default_config(template)
    cfg = spec.load_config(config)
    source = spec.config_path(config).read_text() if isinstance(config, (str, Path)) else ""
    sampler = sampler or st.SAMPLER_OF_METHOD.get(cfg.get("method", ""), "tpe")
    if sampler not in st.SAMPLERS:
        raise TuneError(f"sampler {sampler!r}: use one of {', '.join(st.SAMPLERS)}")
    metric_name = (cfg.get("metric") or {}).get("name")
    per_step = metric_name in spec.PER_STEP_METRICS
    pruner = pruner or ("median" if per_step else "none")
    if pruner not in st.PRUNERS:
        raise TuneError(f"pruner {pruner!r}: use one of {', '.join(st.PRUNERS)}")
    if pruner != "none" and not per_step and metric_name in spec.METRICS:
        raise TuneError(
            f"pruning needs a per-step metric ({', '.join(spec.PER_STEP_METRICS)}); "
            f"{metric_name!r} exists only once every fold has finished: use --pruner none"
        )
    report_every = check_every or spec.check_every_default(template)
    if report_every < 1:
        raise TuneError("check_every must be >= 1")
    fixed = dict(fixed or {})
    space = check(cfg, template, fixed, allow_large_grid, grid=sampler == "grid")
    spec.check_data(cfg, template, fixed, space.declared)  # before the study or a trial

    # the template tuned names the study, not the YAML (configs/sweep.yaml is exp001's)
    name = study or f"{Path(template).stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise TuneError(f"study name {name!r}: use letters, digits, '_', '-', '.'")
    folder = Path(study_dir).expanduser().resolve() if study_dir else outputs_root() / "tune" / name
    folder.mkdir(parents=True, exist_ok=True)
    url = storage or st.sqlite_url(folder / "study.db")
    settings = st.pruner_settings(pruner, cfg, startup_trials, warmup_steps)
    grid = space.grid() if sampler == "grid" else None
    created = st.open_study(name, url, create=True)
    earlier = st.adopt(created, {"template": Path(template).stem, "config": cfg, "fixed": fixed})
    st.write_folder(
        folder,
        {"study": name, "storage": url, "template": Path(template).stem, "metric": space.metric,
         "sampler": sampler, "pruner": settings, "report_every": report_every},
        source,
    )  # fmt: skip
    if earlier:
        print(f"continuing study {name}: {earlier} earlier trial(s)")
    tuned = ", ".join(space.distributions)
    print(f"tune {name}: {sampler} sampler, {settings['name']} pruner over {tuned}; "
          f"{trials} trial(s), {workers} worker(s)")  # fmt: skip
    print(f"study {url}\nfolder {folder}")

    base = {
        **_default_threads(fixed, cfg, workers, spec.template_fields(template, space.declared)),
        **space.constants,
        "wandb_mode": "offline",
        "wandb_group": name,
    }
    job = {
        "template": template, "study": name, "storage": url, "folder": str(folder),
        "sampler": sampler, "seed": seed, "grid": grid, "pruner": settings,
        "distributions": space.distributions, "declared": space.declared, "base": base,
        "metric": space.metric, "report_every": report_every, "total": trials,
        "started": time.time(),
    }  # fmt: skip
    # a bar over the trials in a terminal; elsewhere each trial's line carries the ETA
    bar = progress.runs(trials, "trials") if progress.mode() in ("bar", "widget") else None
    if workers == 1:
        _worker(job, 0, _Counter(), _Counter(), bar)
    else:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter, as local sweeps
        claimed, done = ctx.Value("i", 0), ctx.Value("i", 0)
        procs = [
            ctx.Process(target=_worker, args=(job, i, claimed, done), daemon=False)
            for i in range(workers)
        ]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join(None if bar is None else 1.0)
                while p.is_alive():  # only with a bar: the workers count trials in `done`
                    bar.update(done.value - bar.n)
                    p.join(1.0)
        except KeyboardInterrupt:
            for p in procs:
                p.join(30)
            raise
        if bar is not None:
            bar.update(done.value - bar.n)
        dead = [p.exitcode for p in procs if p.exitcode]
        if dead:
            raise TuneError(
                f"a worker process ended with exit code {dead[0]}; see its output above"
            )
    if bar is not None:
        bar.close()
    return summarize(folder)


class _Counter:
    """multiprocessing.Value's interface, for one worker in this process."""

    def __init__(self):
        self.value = 0

    def get_lock(self):
        import contextlib

        return contextlib.nullcontext()


def _claim(claimed, total: int) -> bool:
    with claimed.get_lock():
        if claimed.value >= total:
            return False
        claimed.value += 1
        return True


def _stop_all(claimed, total: int) -> None:
    with claimed.get_lock():
        claimed.value = max(claimed.value, total)


def _worker(job: dict, index: int, claimed, done, bar=None) -> None:
    """Ask, run, tell until this invocation's trials are all claimed. `bar`: the progress bar
    (one worker in this process), which the trial lines then keep intact."""
    say = bar.write if bar is not None else lambda text: print(text, flush=True)
    optuna = import_optuna()
    TrialState = optuna.trial.TrialState

    seed = None if job["seed"] is None else job["seed"] + index  # workers differ, reproducibly
    sampler = st.make_sampler(job["sampler"], seed, job["grid"])
    study = st.open_study(
        job["study"], job["storage"], sampler=sampler, pruner=st.make_pruner(job["pruner"])
    )
    folder, total, metric = Path(job["folder"]), job["total"], job["metric"]
    failures = 0
    while True:
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
            _stop_all(claimed, total)
            print("tune: the grid is exhausted", flush=True)
        if not _claim(claimed, total):
            return
        trial = study.ask(job["distributions"])
        path = st.trial_dir(folder, trial.number)
        suggested = typed(trial.params, job["declared"])
        params = {**job["base"], **suggested}
        trial.set_user_attr("params", params)
        trial.set_user_attr("dir", str(path))
        trial.set_user_attr("host", socket.gethostname())
        state = {
            "storage": job["storage"], "study": job["study"], "trial_number": trial.number,
            "trial_id": trial._trial_id,  # no public accessor; the kernel rebuilds the Trial
            "metric": metric, "pruner": job["pruner"],
            "report_every": job["report_every"],
        }  # fmt: skip
        st.write_trial_state(path, state)
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in suggested.items())
        say(f"trial {trial.number}: {shown}")
        try:
            outcome = run_trial(
                job["template"], {**params, "output_dir": str(path), "sweep_dir": str(path)}
            )
        except KeyboardInterrupt:
            study.tell(trial, state=TrialState.FAIL)
            raise
        metrics = runner.read_metrics(path)
        value = metrics.get(spec.METRICS[metric])
        error = outcome["error"] or (
            ""
            if metrics.get("status") == "finished" and value is not None
            else "run never finished"
        )
        if error:
            trial.set_user_attr("error", error[-500:])
            study.tell(trial, state=TrialState.FAIL)
            end = "failed"
        elif metrics.get("stopped"):
            study.tell(trial, state=TrialState.PRUNED)
            end = "pruned"
        else:
            study.tell(trial, float(value))
            end = "complete"
        st.write_trial_state(path, {**state, "state": end, "value": value})
        with done.get_lock():
            done.value += 1
            finished = done.value
        say(_line(study, trial.number, end, metric, value, metrics, error, finished, job))
        if bar is not None:
            bar.update()
        write_table(folder, study)  # current even if the session dies
        failures = failures + 1 if end == "failed" else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            _stop_all(claimed, total)
            print(f"tune stopped early: {failures} trials failed in a row (see above)", flush=True)
            return


def _line(study, number, end, metric, value, metrics, error, finished, job) -> str:
    """One line per trial: its end, value, the best so far and the ETA of this invocation."""
    total = job["total"]
    elapsed = time.time() - job["started"]
    eta = elapsed / finished * (total - finished)
    head = f"[{finished}/{total}] trial {number} {end}"
    if end == "failed":
        body = error.strip().splitlines()[-1] if error.strip() else ""
    else:
        steps = (metrics.get("fold_steps_run") or [None])[0]
        body = f"{metric} {value:.5f} after {steps} steps"
    try:
        best = study.best_trial
        body += f"; best {best.value:.5f} (trial {best.number})"
    except ValueError:  # no complete trial yet
        pass
    return f"{head}: {body}; {_duration(elapsed)} elapsed, ETA {_duration(eta)}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
