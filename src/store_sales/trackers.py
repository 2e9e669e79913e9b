"""The tracker seam: everything a run records goes through one `Tracker`.

`Tracker` itself records nothing (the base of every tracker, and the `none` tracker). W&B is
`wb.tracker.WandbTracker`; a tracker for another service implements the same methods. Nothing
here imports a tracking library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .models.base import StepEvent


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


class Tracker:
    name = "none"

    def start(self, info: RunInfo) -> None:
        """Open the run: identity, config, input data."""

    def library_callbacks(self, model: str, fold: int) -> list:
        """The tracker's own integration with the model library for one fit (e.g. W&B's
        LightGBM callback); [] when it has none: then `on_step` records the curves."""
        return []

    def config_update(self, values: dict[str, Any]) -> None:
        """Config known only after the start (the feature list)."""

    def on_step(self, event: StepEvent) -> None:
        """Per-step values of a fit (also `event.extra`, a hook's own metrics)."""

    def log(self, metrics: dict[str, float]) -> None:
        """Scalars of the finished fit (val/rmsle, cv/...)."""

    def summary(self, values: dict[str, Any]) -> None:
        """Values that describe the run as a whole (timings, stop reasons)."""

    def table(self, key: str, frame: pd.DataFrame, line: tuple[str, str] | None = None) -> None:
        """A table; `line=(x, y)` also draws it as a line chart."""

    def images(self, images: dict[str, Path]) -> None: ...

    def histogram(self, key: str, values) -> None: ...

    def model_summary(self, model_name: str, model: Any) -> None:
        """The tracker's own summary of a trained model, where it has one."""

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

    def closing_lines(self) -> list[str]:
        """What to tell the user at the end: where the run is, how to upload or browse it."""
        return []


def make_tracker(cfg) -> Tracker:
    """The tracker a config asks for. W&B also covers `wandb_mode=disabled` (a no-op run)."""
    from .wb.tracker import WandbTracker

    return WandbTracker(cfg.wandb_mode, cfg.wandb_project, cfg.wandb_entity)
