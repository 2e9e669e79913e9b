"""LightGBM behind the adapter seam: the only module of the package that imports lightgbm."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from .. import devices
from .base import (
    FitResult,
    Integration,
    ModelAdapter,
    StepEvent,
    StepHook,
    StopTraining,
    call_hooks,
)

THREADS_ALIAS = "num_thread"  # LightGBM's alias of num_threads


class LightGBMStepHooks:
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
    """LightGBM on log1p(sales). Every fit goes through `train`, LightGBM's own call: the
    validated fold fits (with the validation set and early stopping) and the refit that makes
    the submission (the validated round count, nothing to stop on). A template overrides
    `train` to show or change it; what it changes reaches both."""

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
        self.num_boost_round = self.max_steps = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.log_period = log_period
        self._device: str | None = None  # device_type resolved (auto -> gpu or cpu), once
        self._bins: lgb.Dataset | None = None  # fold 1's binned Dataset, for the refit

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
        if fold == 1:  # the refit bins its rows (16 days later) with fold 1's boundaries
            self._bins = dtrain
        evals: dict = {}
        hook = LightGBMStepHooks(hooks, fold)
        booster = self.train(
            self._params(f"fit_{fold}"),  # the template sets metric=rmse: the hooks read val_rmse
            dtrain,
            self.num_boost_round,
            [
                lgb.early_stopping(self.early_stopping_rounds, verbose=True),
                lgb.log_evaluation(self.log_period),
                lgb.record_evaluation(evals),
                hook,
                *callbacks,
            ],
            valid_sets=[dtrain, dvalid],
            valid_names=["train", "val"],
        )
        best = booster.best_iteration or booster.current_iteration()
        curves = {f"{name}_rmse": list(scores["rmse"]) for name, scores in evals.items()}
        return FitResult(model=booster, best_step=int(best), curves=curves, stopped=hook.stopped)

    def refit(self, train, features, steps):
        features = list(features)
        # fold 1's bin boundaries (its Dataset, already binned): no second pass to find them,
        # and the validated model's splits mean the same values. Measured on full-scale data:
        # test RMSLE 0.38021 against 0.38028 with bins of its own (docs/benchmarks.md).
        bins, self._bins = self._bins, None
        # `_handle`: LightGBM has no public "is it binned yet"; None until the Dataset is built
        if bins is not None and (bins._handle is None or bins.get_feature_name() != features):
            bins = None  # not binned (a train() of another kind), or other features
        dtrain = lgb.Dataset(
            train[features], label=train["target"], free_raw_data=True, reference=bins
        )
        return self.train(self._params("refit"), dtrain, int(steps), [])

    def train(self, params: dict, train_set, rounds: int, callbacks: list, **evals):
        """LightGBM's own training call, run by every fit. A fold fit: `evals` names the train
        and validation sets ("val": the step hook reads `val_rmse`), `callbacks` hold early
        stopping, the printer, the curves, the pipeline's step hook and the tracker's own
        (W&B's `wandb_callback()`). The refit: `rounds` is the validated count, no `evals`, no
        callbacks."""
        return lgb.train(params, train_set, num_boost_round=rounds, callbacks=callbacks, **evals)

    def predict(self, model, rows, features) -> np.ndarray:
        return model.predict(rows[list(features)], num_iteration=model.best_iteration or None)

    def steps(self, model) -> int:
        return model.current_iteration()

    def settings(self, model) -> dict:
        """The booster's parameters as LightGBM took them, less rounds, threads and stopping."""
        return {k: v for k, v in model.params.items() if k not in _NOT_SETTINGS}

    def integration(self, tracker: str) -> Integration | None:
        if tracker != "wandb":
            return None
        import wandb
        from wandb.integration.lightgbm import wandb_callback

        def log_params(env) -> None:
            """The parameters fold 1 trains with, as W&B's callback logs them, but allowed to
            differ from the run's config: a model cell that trains with another value than
            the run's parameter (`num_leaves` 31 where the config says 127) made W&B's own
            `config.update` raise. What trained is what the config then says."""
            if env.iteration == env.begin_iteration and wandb.run is not None:
                wandb.run.config.update(env.params, allow_val_change=True)

        return Integration([log_params, wandb_callback(log_params=False)], logs_steps=True)

    def tracker_summary(self, tracker: str, model) -> None:
        if tracker != "wandb":
            return
        from wandb.integration.lightgbm import log_summary

        # best_iteration, best_score and W&B's importance chart. Its model checkpoint is not
        # used: it fails in disabled mode and carries no metadata (our model artifact does).
        log_summary(model, feature_importance=True, save_model_checkpoint=False)

    def save(self, model, path: Path) -> Path:
        model.save_model(str(path))
        return Path(path)

    def load(self, path: Path):
        return lgb.Booster(model_file=str(path))

    def feature_importance(self, model) -> pd.Series:
        gain = pd.Series(model.feature_importance("gain"), index=model.feature_name())
        return gain / max(float(gain.sum()), 1e-12)


# what may differ between a fold fit and the refit: the round count, threads, early stopping
_NOT_SETTINGS = frozenset(
    {"num_iterations", "num_boost_round", "num_threads", THREADS_ALIAS, "early_stopping_round"}
)
