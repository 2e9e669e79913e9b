"""The step-judging hook base: what every engine's per-step hook of a trial shares.

Model-independent: any adapter calls it after every training step (`models.base.StepEvent`).
Only fold 1 is judged (the fold nearest the test, fitted first), on its per-step score under
the metric's own definition: for `val/rmsle` the pipeline's `val_rmsle` (every validation row,
zero-rule ones included, before clipping at 0), else the adapter's `val_rmse` (the rows the model
forecasts). Every `every` steps, once a best step exists, the engine's `judge` may stop the
trial (`StopTraining`); it then ends at its best step so far, as the adapter does.
"""

from __future__ import annotations

import math

from ..models.base import StepEvent, StopTraining

JUDGED_FOLD = 1  # the fold nearest the test, fitted first; the engines judge it alone


def step_source(metric: str) -> str:
    """The step value that tracks `metric`: val/rmsle's own, else the adapter's val_rmse."""
    return "val_rmsle" if metric == "val/rmsle" else "val_rmse"


class StepJudge:
    """Fold 1's steps: `record` each, `judge` every `every` steps once a best step exists (a
    dict: the trial stops, with it in `StopTraining`'s info; None: it trains on)."""

    def __init__(self, metric: str, every: int):
        self.metric = metric
        self.every = int(every)
        self.source = step_source(metric)
        self._best: tuple[float, int] = (math.inf, 0)  # value, step (0: none yet)

    @property
    def best_step(self) -> int:
        return self._best[1]

    def __call__(self, event: StepEvent) -> None:
        if event.fold != JUDGED_FOLD or event.scope != "step":
            return
        step = event.step
        if step == 1:  # a new training: a new record
            self.restart()
        value = float(event.values.get(self.source, event.values["val_rmse"]))
        self.record(step, value, event)
        if step % self.every == 0 and self.best_step > 0:
            info = self.judge(step, value)
            if info is not None:
                raise StopTraining({"stopped_at_round": step, "best_round": self.best_step, **info})
        # after the check: a stop keeps the best of the steps before this one, as the adapter
        # does (it ends at its best step so far)
        if value < self._best[0]:
            self._best = (value, step)

    def restart(self) -> None:
        self._best = (math.inf, 0)

    def record(self, step: int, value: float, event: StepEvent) -> None:
        """Each judged step's value (default: nothing kept)."""

    def judge(self, step: int, value: float) -> dict | None:
        raise NotImplementedError
