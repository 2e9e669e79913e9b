"""One run: its folder, phase timings, tracker, notebook error hook and metrics.json.

In a notebook, an exception in any later cell finishes the run (tracker exit code 1, or 130 for
an interrupt) and writes metrics.json with `status: failed`; the traceback is shown as usual, so
papermill still fails. SIGTERM and SIGHUP (`timeout`, `kill`, a scheduler, a closed terminal)
become a `RunSignal` exception while the run is open, so they end it the same way (exit code
128 + the signal's number, `"signal"` in metrics.json). A SIGKILL cannot be caught: metrics.json
is written with `status: running`, the pid and the host at the start, so `rundir.run_state`
can tell a dead run from a live one later.
"""

from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from . import codeinfo, signals, templates
from .envinfo import git_commit, peak_rss_mb
from .errors import TRACEBACK_OUTPUT, UserError
from .models.base import ModelAdapter
from .rundir import RunMetrics, new_run_dir, process_start, write_config, write_metrics
from .signals import RunSignal
from .trackers import Opening, Tracker, make_tracker


class Run:
    def __init__(
        self,
        cfg,
        tracker: Tracker | None = None,
        adapter: ModelAdapter | None = None,
        code: list[str] | None = None,
    ):
        """`adapter`: the model the notebook built; `code`: the notebook cells that ran before
        (kept as code.py and hashed, see codeinfo)."""
        self.cfg = cfg
        self.template = templates.for_config(cfg)
        # the model's name is its adapter's, whatever template the notebook was copied from
        self.model = adapter.name if adapter is not None else self.template.model
        self.dir, self.name = new_run_dir(cfg.exp_name, cfg.output_dir, self.model)
        self.timings: dict[str, float] = {}
        self.metrics: RunMetrics = {
            "status": "running",
            "run_name": self.name,
            "template": self.template.name,
            "model": self.model,
            "tracker": cfg.tracker,
            # who runs it: a "running" file whose process is gone was killed (rundir.state)
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "process_start": process_start(os.getpid()),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": git_commit(),  # `store-sales submit` quotes it in the message
        }
        self.metrics["code"] = codeinfo.record(self.dir, code)
        self.features: list = []  # the features.Feature the rows carry (pipeline.start)
        self.finished = False
        self.plan = None  # the validation.Plan, once pipeline.validate has made it
        self.data = self.panel = None  # what pipeline.load read (the leak audit alters them)
        self._t0 = time.perf_counter()
        write_metrics(self.dir, self.metrics)
        self._signals = signals.catch()
        print(f"run {self.name}: outputs in {self.dir}")
        # the config first: a run that fails later still says what it was (`store-sales runs`)
        write_config(
            self.dir,
            {"run_name": self.name, "template": self.template.name, **asdict(cfg)},
        )
        try:
            with self.phase("login"):
                self.tracker = tracker if tracker is not None else make_tracker(cfg)
            self.adapter = adapter
        except BaseException as err:  # no tracker to finish: the file alone says how it ended
            self.finished = True
            signals.restore(self._signals)
            self.metrics.update(status="failed", error=f"{type(err).__name__}: {err}")
            write_metrics(self.dir, self.metrics)
            raise
        _set_error_hook(self)

    @contextmanager
    def phase(self, name: str):
        """Time a stage of the run (metrics.json and the tracker); repeats add up (the
        features of each CV fold)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            spent = self.timings.get(name, 0.0) + time.perf_counter() - t0
            self.timings[name] = round(spent, 3)

    def tracker_opened(self) -> Tracker:
        """The tracker, its run open: pipeline.load opens it beside fold 1's rows
        (trackers.Opening); what is left of that is timed as `tracker_open`."""
        if isinstance(self.tracker, Opening):
            with self.phase("tracker_open"):
                self.tracker = self.tracker.wait()
        return self.tracker

    def finish(self, exit_code: int = 0) -> dict:
        """Write metrics.json and close the tracker's run; prints where everything went."""
        self.finished = True
        if isinstance(self.tracker, Opening):  # its run may still be opening
            self.tracker = self.tracker.wait(raise_error=exit_code == 0)
        self.timings["total"] = round(time.perf_counter() - self._t0, 3)
        self.metrics["status"] = "finished" if exit_code == 0 else "failed"
        self.metrics["timings"] = self.timings
        self.metrics["peak_rss_mb"] = round(peak_rss_mb(), 1)
        threads = getattr(self.adapter, "threads_used", None)
        if threads:  # per fit: the count it started with, then any change (see threads.py)
            self.metrics["threads"] = threads
        system = {f"system/time_{k}_s": v for k, v in self.timings.items()}
        rows = self.metrics.get("n_train_rows")
        if rows and self.timings.get("train"):
            system["system/train_rows_per_s"] = rows / self.timings["train"]
        system["system/peak_rss_mb"] = self.metrics["peak_rss_mb"]
        try:
            self.tracker.summary(system)
            self.tracker.results(self.metrics)
        finally:
            try:
                self.metrics.update(self.tracker.finish_all(exit_code))
            finally:  # metrics.json is written whatever a tracker does
                write_metrics(self.dir, self.metrics)
        for line in [*result_lines(self.dir, self.metrics), *self.tracker.closing_lines()]:
            print(line)
        _set_error_hook(None)
        signals.restore(self._signals)
        return self.metrics

    def fail(self, err: BaseException) -> None:
        """End the run now as failed by `err`, which the caller raises next (bad data, before
        the tracker's run is opened). In IPython the error hook still shows `err` when it gets
        there (one line for a UserError), then steps aside."""
        self.metrics["error"] = f"{type(err).__name__}: {err}"
        self.finish(exit_code=1)
        _set_error_hook(self)


def result_lines(run_dir: Path, metrics: dict) -> list[str]:
    """What a finished run tells the user first: its scores, its folder, its submission."""
    lines = []
    if "val_rmsle" in metrics:
        line = f"val RMSLE {metrics['val_rmsle']:.5f}"
        if metrics.get("n_folds", 1) > 1:
            line += (
                f"; CV {metrics['cv_rmsle_mean']:.5f} ± {metrics['cv_rmsle_std']:.5f} "
                f"({metrics['n_folds']} folds)"
            )
        lines.append(line)
    lines.append(f"outputs: {run_dir}")
    if (run_dir / "submission.csv").is_file():
        lines.append(f"submission: {run_dir / 'submission.csv'}")
    return lines


def _set_error_hook(run: Run | None) -> None:
    """In IPython, make a failing cell end the run as failed (None: remove the hook)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    if run is None:
        shell.set_custom_exc((), None)
        return

    def on_error(shell, etype, value, tb, tb_offset=None):
        if not run.finished:
            run.metrics["error"] = f"{etype.__name__}: {value}"
            exit_code = 1
            if issubclass(etype, KeyboardInterrupt):
                run.metrics["signal"], exit_code = "SIGINT", 130
            elif isinstance(value, RunSignal):
                run.metrics["signal"], exit_code = value.signal, 128 + value.signum
            run.finish(exit_code=exit_code)
        if isinstance(value, UserError):
            # Bad input, and the message says what to fix: the cell's error output, which
            # papermill prints (and re-raises as PapermillExecutionError) and Kaggle shows,
            # is that one line. The full traceback stays in the notebook as a plain output.
            stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
            shell.display_pub.publish(
                data={"text/plain": "\n".join(stb)}, metadata={TRACEBACK_OUTPUT: True}
            )
            # _showtraceback: the step that emits the error output (ipykernel's override);
            # showtraceback(exception_only=True) would add a "use %tb" line to it
            shell._showtraceback(etype, value, shell.InteractiveTB.get_exception_only(etype, value))
        else:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        if run.finished:  # a run ended by `Run.fail` kept the hook for this error only
            shell.set_custom_exc((), None)

    shell.set_custom_exc((BaseException,), on_error)
