"""The per-step hook of a tune trial, inside the template's kernel: reports fold 1's validation
metric to the Optuna trial and asks the study's pruner whether to stop (`StopTraining`).

A `search.hook.StepJudge`, as a sweep trial's hook. The trial folder's tune.json names the
storage, study and trial; the kernel opens the study from the storage (another process asked
for the trial and will tell its result).
"""

from __future__ import annotations

from pathlib import Path

from ..search.hook import StepJudge
from .study import TRIAL_STATE, make_pruner, read_trial_state, trial_of


def is_tune_trial(run_dir: str | Path) -> bool:
    """Whether a run folder is a tune trial's (it holds tune.json)."""
    return (Path(run_dir) / TRIAL_STATE).is_file()


class PruningHook(StepJudge):
    """`trial.report(value, step)` every `report_every` steps of fold 1, then
    `trial.should_prune()`; a pruned trial ends at its best step so far, as after hyperband."""

    def __init__(self, trial_dir: Path):
        state = read_trial_state(trial_dir)
        super().__init__(state["metric"], state["report_every"])
        self.pruner = state["pruner"]["name"]
        self.number = state["trial_number"]
        self.trial = trial_of(
            state["study"], state["storage"], self.number, make_pruner(state["pruner"])
        )
        self._reported: set[int] = set()

    def judge(self, step: int, value: float) -> dict | None:
        if step in self._reported:  # Optuna takes one report a step
            return None
        self._reported.add(step)
        self.trial.report(value, step)
        if self.pruner == "none" or not self.trial.should_prune():
            return None
        verdict = f"trial {self.number} pruned at step {step} ({value:.5f})"
        print(f"tune: {verdict} by Optuna's {self.pruner} pruner")
        return {"pruned_by": f"optuna {self.pruner}", "verdict": verdict}
