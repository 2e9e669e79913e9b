"""The seam between the shared pipeline and a model library.

An adapter fits on log1p(sales) with early stopping on a validation set, refits for a fixed
number of steps, predicts log1p(sales), saves and loads its model, and gives feature importance
when the model has one. Steps are the library's unit of training (boosting rounds, epochs).

After every step an adapter calls each hook with a `StepEvent` whose `values` hold at least
`val_rmse` (RMSE on log1p(sales) of the validation rows; `train_rmse` when it has one). The
pipeline adds `val_rmsle`: the same step scored on every validation row, zero-rule rows
included. An adapter that trains in batches may also send `scope="batch"` events. A hook
may raise `StopTraining` (hyperband in a sweep): the adapter then stops and keeps its best step
so far. The zero rule, expm1 and clipping are not the adapter's business (see `validation`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..threads import pick


@dataclass
class StepEvent:
    fold: int  # 1 = the fold nearest the test
    step: int  # 1-based
    values: dict[str, float]  # val_rmse (always, for scope "step"), train_rmse, ... this step
    extra: dict[str, float] = field(default_factory=dict)  # a hook's own metrics to record
    # "step": a unit of early stopping (boosting round, epoch), judged by hooks such as
    # hyperband; "batch": progress inside a step (loss, learning rate every N batches),
    # recorded by trackers, never judged. `step` then counts batches.
    scope: str = "step"


StepHook = Callable[[StepEvent], None]


class StopTraining(Exception):
    """Raised by a hook to end training early; `info` says why (kept in the fit result)."""

    def __init__(self, info: dict | None = None):
        super().__init__(info)
        self.info = info or {}


@dataclass
class Integration:
    """A tracker's own integration with the model's library for one fit, offered by the adapter
    (`ModelAdapter.integration`): W&B's `wandb_callback` for LightGBM, `WandbCallback` for
    XGBoost. The tracker asks; it never chooses by model name."""

    callbacks: list  # passed to the library's training call as they are
    logs_steps: bool = False  # the callbacks log and commit each step's curves themselves


@dataclass
class FitResult:
    model: Any
    best_step: int  # steps of the best model (what a refit trains for)
    curves: dict[str, list[float]]  # per-step values: train_rmse, val_rmse, ...
    stopped: dict | None = None  # StopTraining.info when a hook ended training


class ModelAdapter(ABC):
    """One training path: `fit` (each validation fold, early stopping) and `refit` (the test
    model, exactly the validated step count) run the same training code with the same
    settings; the pipeline checks both after the refit (`steps`, `settings`)."""

    name: str = "model"  # "lightgbm": run names, metrics.json, tags (a class or instance value)
    step_unit: ClassVar[str] = "round"  # what a step is, for axis labels
    model_file: ClassVar[str] = "model.bin"  # the saved model's file name in the run folder
    max_steps: int | None = None  # the most steps a fit may run (progress bars' total)

    @abstractmethod
    def fit(
        self,
        train: pd.DataFrame,
        valid: pd.DataFrame,
        features: Sequence[str],
        *,
        fold: int = 1,
        hooks: Sequence[StepHook] = (),
        callbacks: Sequence = (),
    ) -> FitResult:
        """Train on `train`, stop early on `valid` (both have `target` = log1p sales).

        `callbacks` are the library's own callbacks (a tracker's integration), passed as is.
        """

    @abstractmethod
    def refit(self, train: pd.DataFrame, features: Sequence[str], steps: int) -> Any:
        """Train for exactly `steps` steps on later data; no validation set."""

    @abstractmethod
    def predict(self, model: Any, rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
        """log1p(sales) forecasts, unclipped, one per row."""

    @abstractmethod
    def save(self, model: Any, path: Path) -> Path: ...

    @abstractmethod
    def load(self, path: Path) -> Any: ...

    def steps(self, model: Any) -> int | None:
        """The training steps a model holds (a refit's must be exactly those asked for); None
        where the library cannot say."""
        return None

    def settings(self, model: Any) -> dict[str, Any] | None:
        """The training settings a model was made with, step count, threads and early stopping
        left out: a refit's must equal the validated fit's (None: the library cannot say)."""
        return None

    def integration(self, tracker: str) -> Integration | None:
        """`tracker`'s own integration with this library (by tracker name: "wandb"), or None."""
        return None

    def tracker_summary(self, tracker: str, model: Any) -> None:
        """`tracker`'s own summary of a trained model where the library has one (W&B's LightGBM
        `log_summary`); called with the tracker's run open."""
        return None

    def feature_importance(self, model: Any) -> pd.Series | None:
        """Share of importance per feature (sums to 1), or None when the model has none."""
        return None

    @property
    def threads_used(self) -> dict[str, list[int]]:
        """CPU thread counts per stage (`fit_<k>`, `refit`), in the order set (metrics.json)."""
        return self.__dict__.setdefault("_threads_used", {})

    def fit_threads(self, stage: str, requested: int) -> int:
        """Threads for one whole fit (`threads.pick`: the free cores when `requested` is 0),
        recorded for the stage."""
        threads = pick(requested)
        self.threads_used[stage] = [threads]
        return threads


def call_hooks(hooks: Sequence[StepHook], event: StepEvent) -> None:
    """Hooks in order; a StopTraining from one still lets the others record the step."""
    stop = None
    for hook in hooks:
        try:
            hook(event)
        except StopTraining as err:
            stop = stop or err
    if stop is not None:
        raise stop
