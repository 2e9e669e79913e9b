"""The per-step hook of a tune trial, inside the template's kernel: reports fold 1's validation
metric to the Optuna trial and asks the study's pruner whether to stop (`StopTraining`).

The trial folder's tune.json names the storage, study and trial; the kernel opens the study
from the storage (another process asked for the trial and will tell its result).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..models.base import StepEvent, StopTraining
from .quiet import import_optuna
from .study import TRIAL_STATE, make_pruner, open_study, read_trial_state

JUDGED_FOLD = 1  # as in a sweep: the fold nearest the test, fitted first


def is_tune_trial(sweep_dir: str | Path) -> bool:
    return (Path(sweep_dir) / TRIAL_STATE).is_file()


class PruningHook:
    """`trial.report(value, step)` every `report_every` steps of fold 1, then
    `trial.should_prune()`; a pruned trial ends at its best step so far, as after hyperband."""

    def __init__(self, trial_dir: Path):
        optuna = import_optuna()

        state = read_trial_state(trial_dir)
        self.pruner = state["pruner"]["name"]
        study = open_study(
            state["study"],
            state["storage"],
            # the sampler is never asked here; a random one keeps the kernel from fitting TPE
            sampler=optuna.samplers.RandomSampler(),
            pruner=make_pruner(state["pruner"]),
        )
        self.trial = optuna.trial.Trial(study, state["trial_id"])
        self.number = state["trial_number"]
        self.every = int(state["report_every"])
        self.source = "val_rmsle" if state["metric"] == "val/rmsle" else "val_rmse"
        self._best = (math.inf, 0)  # value, step
        self._reported: set[int] = set()

    def __call__(self, event: StepEvent) -> None:
        if event.fold != JUDGED_FOLD or event.scope != "step":
            return
        step = event.step
        value = float(event.values.get(self.source, event.values["val_rmse"]))
        if step % self.every == 0 and step not in self._reported and self._best[1] > 0:
            self._reported.add(step)
            self.trial.report(value, step)
            if self.pruner != "none" and self.trial.should_prune():
                info = {
                    "stopped_at_round": step,
                    "best_round": self._best[1],
                    "pruned_by": f"optuna {self.pruner}",
                    "verdict": f"trial {self.number} pruned at step {step} ({value:.5f})",
                }
                print(f"tune: {info['verdict']} by Optuna's {self.pruner} pruner")
                raise StopTraining(info)
        if (
            value < self._best[0]
        ):  # after the check, as the sweep's hook: a stop keeps the best before
            self._best = (value, step)
