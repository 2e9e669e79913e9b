"""The per-step hook of a sweep trial: records the validation curve and lets hyperband stop it.

A `search.hook.StepJudge` (fold 1, every `check_every` steps, `StopTraining`). It imports
neither wandb nor a model library; what the trial's tracker records about a stop is the
pipeline's business (it reads `FitResult.stopped`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..jsonio import to_jsonable, write_json
from ..models.base import StepEvent
from ..search.hook import StepJudge
from ..search.template import PER_STEP_METRICS, check_every_default
from .engine import engine_run, import_sweeps
from .trials import HISTORY_FILE, STATE_FILE, STOP_FILE, engine_runs, read_state


class TrialHook(StepJudge):
    """Records the trial's per-step validation metric and, in a local sweep with
    `early_terminate`, asks the engine every few steps whether hyperband stops this trial.

    Its best step is the trial's best model and clipping only lowers it, so the summary is at
    most the history's minimum: bayes, which takes the best of history and summary as the W&B
    server does, ranks trials by the headline metric.
    """

    def __init__(self, sweep_dir: Path, run_dir: Path):
        state = read_state(sweep_dir)
        if not state:
            raise FileNotFoundError(
                f"sweep_dir {sweep_dir} holds no {STATE_FILE}: sweep_dir is set by "
                "`store-sales sweep` for its trials; leave it empty for a plain run"
            )
        config = state["config"]
        every = state.get("check_every") or check_every_default(state.get("template", ""))
        super().__init__(config["metric"]["name"], every)
        self.sweep_dir = sweep_dir
        self.run_dir = run_dir
        self.name = run_dir.name
        self.config = config
        self.check_every = self.every
        early_terminate = "early_terminate" in config
        self.hyperband = early_terminate and state.get("mode") == "local"
        # Online, the W&B server runs hyperband on the run's history of the metric, so the
        # per-step value must be logged under the metric's name (the tracker logs `extra` in
        # the same step). Not otherwise: the tracker already logs the same curve as val_rmse.
        self.log_metric = early_terminate and state.get("mode") == "online"
        # A metric known only after all folds (cv/rmsle_mean) gets no per-step history under
        # its name: the engine would take fold 1's curve for it.
        self.key = self.metric if self.metric in PER_STEP_METRICS else "val_rmse"
        self.history: list[dict] = []
        self._cache: dict = {}

    def restart(self) -> None:
        super().restart()
        self.history = []
        (self.run_dir / HISTORY_FILE).write_text("")

    def record(self, step: int, value: float, event: StepEvent) -> None:
        self.history.append({self.key: value})
        # "round" is the file's historical name for the step
        with (self.run_dir / HISTORY_FILE).open("a") as f:
            f.write(json.dumps({"round": step, self.key: value}) + "\n")
        if self.log_metric and self.metric != "val/rmsle":  # the tracker logs val/rmsle itself
            event.extra[self.metric] = value

    def judge(self, step: int, value: float) -> dict | None:
        if not self.hyperband:
            return None
        info = self._stop_info(step)
        if info is None:
            return None
        write_json(
            self.run_dir / STOP_FILE,
            {"stopped_at_round": step, "best_round": self.best_step, **info},
        )
        print(f"sweep: hyperband stopped {self.name} at step {step}: {info['verdict']}")
        return {"verdict": info["verdict"]}

    def _stop_info(self, steps: int) -> dict | None:
        """The engine's verdict over all trials' histories; None = keep training."""
        sweeps = import_sweeps()
        others = [
            r for r in engine_runs(self.sweep_dir, self.config, self._cache) if r.name != self.name
        ]
        me = engine_run(self.name, "running", {}, {}, self.history)
        stopped = sweeps.stop_runs(self.config, [*others, me])
        if not any(r.name == self.name for r in stopped):
            return None
        info = me.early_terminate_info or {}
        reached = [i for i, band in enumerate(info.get("bands", [])) if band < steps]
        return {
            "bands": [info["bands"][i] for i in reached],  # the engine lists 100; keep the used
            "thresholds": [to_jsonable(info["thresholds"][i]) for i in reached],
            "verdict": (info.get("lines") or [""])[-1],
        }


def trial_hook(sweep_dir: str | Path, run_dir: str | Path):
    """The step hook of a sweep trial (the pipeline adds it when the run has a sweep_dir; a
    `store-sales tune` trial gets tune's pruning hook there instead)."""
    return TrialHook(Path(sweep_dir), Path(run_dir))
