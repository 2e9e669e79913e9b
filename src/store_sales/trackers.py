"""The tracker seam: everything a run records goes through one `Tracker`.

`Tracker` itself records nothing (the base of every tracker, and the `none` tracker: the run
folder still has everything). Trackers are found by name in `tracker_registry` (W&B's live one
is `wb.tracker.WandbTracker`, MLflow's `mlf.tracker.MlflowTracker`), imported only when a run
asks for them; `Trackers` sends each call to several (`tracker=both`). Nothing here imports a
tracking library or a tracker module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import tracker_registry
from .background import Background
from .models.base import ModelAdapter, StepEvent
from .tracker_registry import TrackerRecord

# metrics.json's headline values: every tracker records them under these names at the end
# (`results`), as `store-sales runs` shows them (docs/tracking.md has the whole table)
HEADLINE = (
    "val_rmsle",
    "val_rmsle_alive",
    "cv_rmsle_mean",
    "cv_rmsle_std",
    "n_folds",
    "best_step",
    "refit_steps",
    "n_features",
    "n_train_rows",
    "peak_rss_mb",
)


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The HEADLINE values a run has, and its `cv_rmsle_fold_<k>`."""
    out = {k: metrics[k] for k in HEADLINE if k in metrics}
    out.update({k: v for k, v in metrics.items() if k.startswith("cv_rmsle_fold_")})
    return out


@dataclass
class RunInfo:
    """What a tracker needs to open its run."""

    name: str
    dir: Path
    group: str
    tags: list[str]
    notes: str
    config: dict[str, Any]  # the template config + data fingerprint + environment
    data_files: dict[str, dict] = field(default_factory=dict)  # name -> bytes, md5
    data_source: Path | None = None
    data_kind: str = ""  # synthetic | real
    template: str = ""
    model: str = ""
    scheme: str = ""  # the validation layout, e.g. ts-cv-3x16d
    job_type: str = "train"  # train | blend | sweep-trial | tune-trial (W&B's job_type)

    @property
    def data_digest(self) -> str:
        """One digest of the input files' fingerprint (`envinfo.data_digest`): the same files
        give the same digest, so a tracker's dataset version follows the data, not the run."""
        from .envinfo import data_digest

        return data_digest(self.data_files)


class Tracker:
    """The methods a run calls while it runs. What is known of the run once it has finished
    (its metrics.json entry) belongs to the tracker's `record` class, which needs no live run."""

    name = "none"
    record: type[TrackerRecord] = TrackerRecord
    _finished: dict[str, Any] | None = None  # what finish() returned

    def start(self, info: RunInfo) -> None:
        """Open the run: identity, config, input data."""

    def library_callbacks(self, adapter: ModelAdapter, fold: int) -> list:
        """The tracker's own integration with the model library for one fit, asked of the
        adapter (`adapter.integration(name)`); [] when it has none: then `on_step` records the
        curves."""
        return []

    def config_update(self, values: dict[str, Any]) -> None:
        """Config known only after the start (the feature list)."""

    def on_step(self, event: StepEvent) -> None:
        """Per-step values of a fit (also `event.extra`, a hook's own metrics)."""

    def log(self, metrics: dict[str, float]) -> None:
        """Scalars of the finished fit (val/rmsle, cv/...)."""

    def summary(self, values: dict[str, Any]) -> None:
        """Values that describe the run as a whole (timings, stop reasons)."""

    def results(self, metrics: dict[str, Any]) -> None:
        """The run's metrics.json values (val_rmsle, cv_rmsle_*, rmsle_by_horizon), once, at
        the end: the same names in every tracker and in `store-sales runs`."""

    def inputs(self, runs: list[dict[str, Any]]) -> None:
        """Runs this one was made from (a blend's members: run name, folder, tracker ids)."""

    def table(self, key: str, frame: pd.DataFrame, line: tuple[str, str] | None = None) -> None:
        """A table; `line=(x, y)` also draws it as a line chart."""

    def images(self, images: dict[str, Path]) -> None: ...

    def histogram(self, key: str, values) -> None: ...

    def model_summary(self, adapter: ModelAdapter, model: Any) -> None:
        """The tracker's own summary of a trained model, where it has one."""

    def model_example(self, inputs: pd.DataFrame, outputs) -> None:
        """A few rows of the model's input (its features, as the adapter predicts from them)
        and its predictions for them, before `artifact(..., "model", ...)`: a tracker that
        keeps models with a signature and an input example (MLflow) takes them from here."""

    def artifact(
        self,
        name: str,
        kind: str,
        files: list[Path],
        metadata: dict | None = None,
        aliases: tuple[str, ...] = ("latest",),
    ) -> None: ...

    def add_tags(self, tags: list[str]) -> None: ...

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Close the run; returns what metrics.json keeps about it (mode, id, folder)."""
        return {}

    def finish_all(self, exit_code: int) -> dict[str, dict[str, Any]]:
        """`finish` of every tracker involved, keyed by tracker name (metrics.json's keys)."""
        info = self._finished = self.finish(exit_code)
        return {self.name: info} if info else {}

    def closing_lines(self) -> list[str]:
        """What to tell the user at the end: where the run is, how to upload or browse it;
        the record's lines from what `finish` returned, as `store-sales run -q` prints them."""
        return self.record.closing_lines(self._finished or {})


class Trackers(Tracker):
    """Several trackers as one (`tracker=both`): each call goes to each, in order."""

    name = "both"

    def __init__(self, members: list[Tracker]):
        self.members = members

    def _each(self, method: str, *args, **kwargs) -> None:
        for t in self.members:
            getattr(t, method)(*args, **kwargs)

    def start(self, info):
        self._each("start", info)

    def config_update(self, values):
        self._each("config_update", values)

    def on_step(self, event):
        self._each("on_step", event)

    def log(self, metrics):
        self._each("log", metrics)

    def summary(self, values):
        self._each("summary", values)

    def results(self, metrics):
        self._each("results", metrics)

    def inputs(self, runs):
        self._each("inputs", runs)

    def table(self, key, frame, line=None):
        self._each("table", key, frame, line)

    def images(self, images):
        self._each("images", images)

    def histogram(self, key, values):
        self._each("histogram", key, values)

    def model_summary(self, adapter, model):
        self._each("model_summary", adapter, model)

    def model_example(self, inputs, outputs):
        self._each("model_example", inputs, outputs)

    def artifact(self, name, kind, files, metadata=None, aliases=("latest",)):
        self._each("artifact", name, kind, files, metadata, aliases)

    def add_tags(self, tags):
        self._each("add_tags", tags)

    def library_callbacks(self, adapter: ModelAdapter, fold: int) -> list:
        return [cb for t in self.members for cb in t.library_callbacks(adapter, fold)]

    def finish_all(self, exit_code: int) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        errors = []
        for t in self.members:  # one failing tracker must not leave the other's run open
            try:
                out.update(t.finish_all(exit_code))
            except Exception as err:
                errors.append(err)
        if errors:
            raise errors[0]
        return out

    def closing_lines(self) -> list[str]:
        return [line for t in self.members for line in t.closing_lines()]


class Opening:
    """`tracker` while its run opens (`start(info)`) on a background thread: opening waits on
    the tracking service (W&B's process, an MLflow server), and the run's first rows are built
    meanwhile (pipeline.load). A method called on it (by the pipeline or a notebook's own cell)
    waits for the opening first and then goes to the tracker; the first call after a failed
    opening raises its error. `wait` gives the tracker itself."""

    def __init__(self, tracker: Tracker, info: RunInfo):
        self.tracker = tracker
        self._opening: Background | None = Background("tracker-start", tracker.start, info)

    def wait(self, raise_error: bool = True) -> Tracker:
        """The tracker, its run open; `raise_error=False` (a run ending on another error)
        keeps a failed opening's error to itself, as a tracker whose `start` raised."""
        opening, self._opening = self._opening, None
        if opening is not None:
            try:
                opening.result()
            except Exception:
                if raise_error:
                    raise
        return self.tracker

    def __getattr__(self, name: str):
        if callable(getattr(type(self.tracker), name, None)):  # a method: it waits when called
            return lambda *args, **kwargs: getattr(self.wait(), name)(*args, **kwargs)
        return getattr(self.wait(), name)


def make_tracker(cfg) -> Tracker:
    """The tracker(s) a config's `tracker` asks for, by name from the registry (W&B also
    covers `wandb_mode=disabled`: a no-op run); `none` records only to the run folder."""
    members = [
        tracker_registry.record(name).open(cfg) for name in tracker_registry.members(cfg.tracker)
    ]
    if not members:
        print("tracker none: this run is recorded in its folder only")
        return Tracker()
    return members[0] if len(members) == 1 else Trackers(members)
