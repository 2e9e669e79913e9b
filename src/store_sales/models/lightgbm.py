"""LightGBM behind the adapter seam: the only module of the package that imports lightgbm."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from .. import devices
from .base import FitResult, ModelAdapter, StepEvent, StepHook, StopTraining, call_hooks

THREADS_ALIAS = "num_thread"  # LightGBM's alias of num_threads


class _HookCallback:
    """Feeds LightGBM's per-round scores to the step hooks; a StopTraining becomes LightGBM's
    own early stop at the best round so far, so the booster and its curves stay consistent."""

    order = 15  # after log_evaluation (10); before W&B's callback commits the step (20)
    before_iteration = False

    def __init__(self, hooks: Sequence[StepHook], fold: int):
        self.hooks = list(hooks)
        self.fold = fold
        self.stopped: dict | None = None
        self._best: tuple[float, int, list] = (math.inf, -1, [])

    def __call__(self, env) -> None:
        values = {f"{r[0]}_{r[1]}": float(r[2]) for r in env.evaluation_result_list}
        step = env.iteration - env.begin_iteration + 1
        try:
            call_hooks(self.hooks, StepEvent(self.fold, step, values))
        except StopTraining as stop:
            self.stopped = stop.info
            _, best_iteration, best_score = self._best
            raise lgb.callback.EarlyStopException(best_iteration, best_score) from None
        # after the hooks: a stop keeps the best of the rounds record_evaluation (order 20)
        # has already recorded
        if values["val_rmse"] < self._best[0]:
            self._best = (values["val_rmse"], env.iteration, list(env.evaluation_result_list))


class LightGBMAdapter(ModelAdapter):
    name = "lightgbm"
    step_unit = "boosting round"
    model_file = "model.txt"

    def __init__(
        self,
        params: dict,
        num_boost_round: int,
        early_stopping_rounds: int,
        log_period: int = 100,
    ):
        self.params = dict(params)
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.log_period = log_period
        self._device: str | None = None  # device_type resolved (auto -> gpu or cpu), once

    def _params(self, stage: str) -> dict:
        """Parameters with this stage's thread count: fixed for the whole fit, because
        LightGBM keeps its first count (LGBM_SetMaxThreads does nothing mid-training) and
        reset_parameter re-seeds bagging, which changes the model."""
        params = dict(self.params)
        threads = self.fit_threads(stage, int(params.pop("num_threads", 0)))
        # LightGBM's alias carries the count: W&B's callback copies these params into the run
        # config, where `num_threads` is the parameter as asked (0 = auto) and may not change
        params[THREADS_ALIAS] = threads
        if self._device is None:  # auto: the GPU (OpenCL, in LightGBM's wheels) or the CPU
            self._device = devices.resolve(params.get("device_type", "cpu"), "gpu", "LightGBM")
        params["device_type"] = self._device
        return params

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()) -> FitResult:
        features = list(features)
        dtrain = lgb.Dataset(train[features], label=train["target"], free_raw_data=True)
        dvalid = lgb.Dataset(valid[features], label=valid["target"], reference=dtrain)
        evals: dict = {}
        hook = _HookCallback(hooks, fold)
        booster = self.train(
            self._params(f"fit_{fold}"),  # the template sets metric=rmse: the hooks read val_rmse
            dtrain,
            dvalid,
            [lgb.record_evaluation(evals), hook, *callbacks],
        )
        best = booster.best_iteration or booster.current_iteration()
        curves = {f"{name}_rmse": list(scores["rmse"]) for name, scores in evals.items()}
        return FitResult(model=booster, best_step=int(best), curves=curves, stopped=hook.stopped)

    def train(self, params: dict, train_set, valid_set, callbacks: list):
        """LightGBM's own training call, with early stopping on `valid_set` (named "val": the
        hooks read `val_rmse`). `callbacks` carry the pipeline's step hook and the tracker's
        callbacks (W&B's `wandb_callback()`); a template notebook overrides this to show it."""
        return lgb.train(
            params,
            train_set,
            num_boost_round=self.num_boost_round,
            valid_sets=[train_set, valid_set],
            valid_names=["train", "val"],
            callbacks=[
                lgb.early_stopping(self.early_stopping_rounds, verbose=True),
                lgb.log_evaluation(self.log_period),
                *callbacks,
            ],
        )

    def refit(self, train, features, steps):
        dtrain = lgb.Dataset(train[list(features)], label=train["target"], free_raw_data=True)
        return lgb.train(self._params("refit"), dtrain, num_boost_round=steps)

    def predict(self, model, rows, features) -> np.ndarray:
        return model.predict(rows[list(features)], num_iteration=model.best_iteration or None)

    def steps(self, model) -> int:
        return model.current_iteration()

    def save(self, model, path: Path) -> Path:
        model.save_model(str(path))
        return Path(path)

    def load(self, path: Path):
        return lgb.Booster(model_file=str(path))

    def feature_importance(self, model) -> pd.Series:
        gain = pd.Series(model.feature_importance("gain"), index=model.feature_name())
        return gain / max(float(gain.sum()), 1e-12)
