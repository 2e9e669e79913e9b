"""`tune`: Optuna's ask/tell over template runs, on the search layer's worker pool. The
controller here asks the study for each trial, a worker runs the template into the trial's own
folder, and the controller tells the result; `tune` processes on other machines may share the
study through its storage (Optuna's own distributed mode)."""

from __future__ import annotations

import socket
import sys
import threading
import time
import warnings
from pathlib import Path

from .. import extras, progress, runner
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
from .records import dashboard_line, record_study
from .results import summarize, trial_record, write_table
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
    study_trials: int | None = None,
    heartbeat: int = st.HEARTBEAT_S,
) -> SearchSummary:
    """Run `trials` trials of `template` here, `workers` at a time, on Optuna study `study`
    (created, or resumed when it exists). `config`: a W&B sweep YAML (its parameters and
    metric; its method picks the default sampler). `storage`: an Optuna RDB URL (default
    sqlite in the study folder). `fixed`: template parameters of every trial.
    `study_trials`: stop once the study holds that many complete or pruned trials, whichever
    process ran them (then `trials` may be left out). `heartbeat`: seconds between the
    heartbeats of this process's trials; a trial whose heartbeat stops is failed and
    re-queued by the processes still running."""
    _check_counts(trials, study_trials, workers, heartbeat)
    extras.require_storage(storage)  # a database driver missing: one line, before anything
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
    described = {"study": name, "storage": url, "template": Path(template).stem,
                 "metric": space.metric, "sampler": sampler, "pruner": settings,
                 "report_every": report_every}  # fmt: skip
    # in the study too: `tune --results` rebuilds the folder on any machine from the study alone
    created.set_user_attr(st.FOLDER_ATTR, {k: v for k, v in described.items() if k != "storage"})
    st.write_folder(folder, described, config_source(config))
    total = _planned(created, trials, study_trials)
    if earlier:
        print(f"continuing study {name}: {earlier} earlier trial(s)")
    tuned = ", ".join(space.distributions)
    count = f"{trials} trial(s)" if trials else f"until the study holds {study_trials}"
    print(f"tune {name}: {sampler} sampler, {settings['name']} pruner over {tuned}; "
          f"{count}, {workers} worker(s); heartbeat {heartbeat}s")  # fmt: skip
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
        "total": total, "study_trials": study_trials, "heartbeat": heartbeat,
    }  # fmt: skip
    controller = _StudyController(job)
    try:
        run_trials(controller, template, trials or sys.maxsize, workers, TuneError)
    finally:
        controller.close()
    return _summarize(folder, name, url, {**base, **fixed})


def _check_counts(trials, study_trials, workers: int, heartbeat: int) -> None:
    if study_trials is None or trials is not None:
        check_count(
            trials,
            TuneError,
            "trials is required: the number of trials to run here (e.g. --trials 20), "
            "or --study-trials N: until the study holds N",
        )
    if study_trials is not None:
        check_count(study_trials, TuneError, "study_trials must be >= 1")
    if workers < 1:
        raise TuneError("workers must be >= 1")
    if heartbeat < 1:
        raise TuneError("heartbeat must be >= 1 (seconds)")


def _summarize(folder: Path, name: str, url: str, params: dict) -> SearchSummary:
    """results.csv, best.yaml and the plots; the study's tracker records; the dashboard line."""
    summary = summarize(folder)
    try:
        record_study(summary, st.open_study(name, url), params)
    except Exception as err:  # the study and its files are done: a tracker's trouble is a note
        print(f"note    the study's tracker records were not written: {type(err).__name__}: {err}")
    if line := dashboard_line(url):
        print(line)
    return summary


def _planned(study, trials: int | None, study_trials: int | None) -> int:
    """The trials this invocation expects to run (its progress bar and ETA)."""
    if not study_trials:
        return int(trials)
    TrialState = import_optuna().trial.TrialState
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    left = max(study_trials - done, 0)
    return min(trials, left) if trials else left


class _Heartbeat:
    """A thread beating for this process's running trials every `seconds`, and failing other
    processes' stale trials (Optuna's `fail_stale_trials`: its storage's callback re-queues a
    copy of each). Optuna beats only inside `study.optimize`; ask/tell beats here. On its own
    storage and study object: the controller's thread keeps its own."""

    def __init__(self, name: str, url: str, seconds: int):
        self.optuna = import_optuna()
        self.name, self.seconds = name, seconds
        self.store = st.storage(url, seconds)
        self.study = self.optuna.load_study(
            study_name=name, storage=self.store, sampler=self.optuna.samplers.RandomSampler()
        )
        self.ids: dict[int, int] = {}  # trial number -> storage id
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.complained = False
        self.thread = threading.Thread(target=self._run, name="tune-heartbeat", daemon=True)

    def start(self) -> None:
        self.reap()  # trials of processes that died before this one started
        self.thread.start()

    def add(self, number: int) -> None:
        trial_id = st.trial_id(self.store, self.name, number)
        self.store.record_heartbeat(trial_id)
        with self.lock:
            self.ids[number] = trial_id

    def remove(self, number: int) -> None:
        with self.lock:
            self.ids.pop(number, None)

    def reap(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
            self.optuna.storages.fail_stale_trials(self.study)

    def _run(self) -> None:
        while not self.stopped.wait(self.seconds):
            with self.lock:
                ids = list(self.ids.values())
            try:
                for trial_id in ids:
                    self.store.record_heartbeat(trial_id)
                self.reap()
            except Exception as err:  # the database away for a moment: beat again next time
                if not self.complained:
                    print(f"tune: heartbeat failed ({type(err).__name__}); retrying", flush=True)
                    self.complained = True

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)


class _StudyController:
    """The pool's trial source: `study.ask` for each trial, `study.tell` for each outcome."""

    def __init__(self, job: dict):
        self.job = job
        optuna = import_optuna()
        self.TrialState = optuna.trial.TrialState
        self.sampler = st.make_sampler(job["sampler"], job["seed"], job["grid"])
        self.grid = isinstance(self.sampler, optuna.samplers.GridSampler)
        self.study = st.open_study(
            job["study"],
            job["storage"],
            sampler=self.sampler,
            pruner=st.make_pruner(job["pruner"]),
            heartbeat=job["heartbeat"],
        )
        self.beat = _Heartbeat(job["study"], job["storage"], job["heartbeat"])
        self.beat.start()
        self.running: dict[Path, tuple] = {}  # trial folder -> (Optuna trial, tune.json state)
        self.begun: dict[Path, float] = {}  # trial folder -> when launched
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
        self.beat.stop()
        if self.bar is not None:
            self.bar.close()

    def _study_is_full(self) -> str | None:
        """With study_trials N: why to stop (N trials complete or pruned), None when the trials
        running (here or elsewhere) would complete it (wait: they end, or die and are
        re-queued), "" when there is room for one more."""
        target = self.job["study_trials"]
        if not target:
            return ""
        S = self.TrialState
        trials = self.study.get_trials(deepcopy=False)
        done = sum(t.state in (S.COMPLETE, S.PRUNED) for t in trials)
        if done >= target:
            print(f"tune: the study holds its {target} trials", flush=True)
            return f"the study holds its {target} trials"
        running = sum(t.state == S.RUNNING for t in trials)
        return None if done + running >= target else ""

    def launch(self) -> tuple[Path, dict] | str | None:
        job = self.job
        if self.grid and self.sampler.is_exhausted(self.study):
            print("tune: the grid is exhausted", flush=True)
            return "the grid is exhausted"
        full = self._study_is_full()
        if full != "":
            return full
        with warnings.catch_warnings():  # "heartbeat ... supposed to be used with optimize"
            warnings.filterwarnings("ignore", "Heartbeat of storage")
            trial = self.study.ask(job["space"].distributions)
        self.beat.add(trial.number)
        path = st.trial_dir(job["folder"], trial.number)
        suggested = typed(trial.params, job["space"].declared)
        params = {**job["base"], **suggested}
        trial.set_user_attr("params", params)
        trial.set_user_attr("dir", str(path))
        trial.set_user_attr("host", socket.gethostname())
        state = {
            "storage": job["storage"], "study": job["study"], "trial_number": trial.number,
            "metric": job["space"].metric, "pruner": job["pruner"],
            "report_every": job["report_every"],
        }  # fmt: skip
        st.write_trial_state(path, state)
        self.say(f"trial {trial.number}: {shown(suggested)}")
        self.running[path] = (trial, state)
        self.begun[path] = time.time()
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
        seconds = time.time() - self.begun.pop(path)
        for key, attr in trial_record(metrics, seconds).items():
            trial.set_user_attr(key, attr)  # results from the study alone (tune --results)
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
        """The trial's end told to the study: failed, pruned or complete ("lost" when others
        failed it meanwhile: its heartbeat stopped for longer than the grace period)."""
        optuna = import_optuna()
        self.beat.remove(trial.number)
        try:
            if error:
                trial.set_user_attr("error", error[-500:])
                self.study.tell(trial, state=self.TrialState.FAIL)
                return "failed"
            if metrics.get("stopped"):
                self.study.tell(trial, state=self.TrialState.PRUNED)
                return "pruned"
            self.study.tell(trial, float(value))
            return "complete"
        except optuna.exceptions.UpdateFinishedTrialError:
            return "lost"

    def abandon(self, path: Path, error: str) -> None:
        trial, state = self.running.pop(path)
        self.begun.pop(path, None)
        self._tell(trial, error or "abandoned", {}, None)
        st.write_trial_state(path, {**state, "state": "failed", "value": None})

    def _line(self, number, end, metric, value, metrics, error) -> str:
        """One line per trial: its end, value, the best so far and the ETA of this invocation."""
        total, finished = self.job["total"], self.finished
        elapsed = time.time() - self.started
        eta = elapsed / finished * max(total - finished, 0)
        head = f"[{finished}/{total}] trial {number} {end}"
        if end == "lost":
            body = "failed and re-queued by another process (no heartbeat in time)"
        elif end == "failed":
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
