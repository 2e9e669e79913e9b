"""One run: its folder, phase timings, tracker, notebook error hook and metrics.json.

In a notebook, an exception in any later cell finishes the run (tracker exit code 1, or 130 for
an interrupt) and writes metrics.json with `status: failed`; the traceback is shown as usual, so
papermill still fails.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from . import templates
from .envinfo import peak_rss_mb
from .jsonio import write_json
from .models.base import ModelAdapter
from .rundir import new_run_dir
from .trackers import Tracker, make_tracker


class Run:
    def __init__(self, cfg, tracker: Tracker | None = None):
        self.cfg = cfg
        self.template = templates.for_config(cfg)
        self.dir, self.name = new_run_dir(cfg.exp_name, cfg.output_dir, self.template.model)
        self.timings: dict[str, float] = {}
        self.metrics: dict = {
            "status": "running",
            "run_name": self.name,
            "template": self.template.name,
            "model": self.template.model,
        }
        self.finished = False
        self.plan = None  # the validation.Plan, once pipeline.validate has made it
        self._t0 = time.perf_counter()
        print(f"run {self.name}: outputs in {self.dir}")
        with self.phase("login"):
            self.tracker = tracker if tracker is not None else make_tracker(cfg)
        self.adapter: ModelAdapter = self.template.make_adapter(cfg)
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

    def finish(self, exit_code: int = 0) -> dict:
        """Write metrics.json and close the tracker's run; prints where everything went."""
        self.finished = True
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
        finally:
            self.metrics[self.tracker.name] = self.tracker.finish(exit_code)
            write_json(self.dir / "metrics.json", self.metrics)
        if "val_rmsle" in self.metrics:
            line = f"val RMSLE {self.metrics['val_rmsle']:.5f}"
            if self.metrics.get("n_folds", 1) > 1:
                line += (
                    f"; CV {self.metrics['cv_rmsle_mean']:.5f} ± "
                    f"{self.metrics['cv_rmsle_std']:.5f} ({self.metrics['n_folds']} folds)"
                )
            print(line)
        print(f"outputs: {self.dir}")
        for line in self.tracker.closing_lines():
            print(line)
        _set_error_hook(None)
        return self.metrics


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
            run.finish(exit_code=130 if issubclass(etype, KeyboardInterrupt) else 1)
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

    shell.set_custom_exc((BaseException,), on_error)
