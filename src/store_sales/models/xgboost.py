"""XGBoost behind the adapter seam: the only module of the package that imports xgboost.

Categorical features stay categories: the feature frame's pandas `category` columns go into
XGBoost with `enable_categorical=True`, so splits partition the categories (one-hot for at
most `max_cat_to_onehot` of them) instead of thresholding their integer codes.

Callback order in `xgb.train` matters, because XGBoost runs a round's callbacks with
`any(...)`, which stops at the first that returns True (the others then never see that round):

1. `XGBoostStepHooks`: feeds the round's scores to the step hooks and never returns True itself.
   It runs before the tracker's callbacks: the tracker's `on_step` logs `val/rmsle` with
   `commit=False` and W&B's own `WandbCallback` commits the step right after.
2. the tracker's callbacks (W&B's `WandbCallback` for fold 1), then the evaluation printer;
3. `_EarlyStopping` last: XGBoost's own `EarlyStopping` (sets the booster's `best_iteration`
   / `best_score`), which also ends training when a hook raised `StopTraining` (hyperband).
   Being last, every callback above has recorded the final round, and the best round is the
   argmin of the whole `val_rmse` curve, the round a hook stopped at included.

What W&B's `WandbCallback` records differs from our own numbers in ways this module leaves as
they are (they are W&B's conventions): its `epoch` and summary `best_iteration` count from 0
(XGBoost's attribute; `best_step` and `train/best_step` count from 1), its "Feature Importance"
chart is XGBoost's mean gain per split over every tree (ours: share of total gain over the
best model's trees), and it adds the booster's own config (`learner`, `version`) to the run's
config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from .. import devices
from ..errors import ConfigError
from .base import (
    FitResult,
    Integration,
    ModelAdapter,
    StepEvent,
    StepHook,
    StopTraining,
    call_hooks,
)


class XGBoostStepHooks(xgb.callback.TrainingCallback):
    """Sends each round's `train_rmse` / `val_rmse` to the step hooks; remembers a stop."""

    def __init__(self, hooks: Sequence[StepHook], fold: int):
        super().__init__()
        self.hooks = list(hooks)
        self.fold = fold
        self.stopped: dict | None = None

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        values = {
            f"{data}_{metric}": float(log[-1])
            for data, metrics in evals_log.items()
            for metric, log in metrics.items()
        }
        try:
            call_hooks(self.hooks, StepEvent(self.fold, epoch + 1, values))
        except StopTraining as stop:
            # not True here: W&B's callback still has to log (and commit) this round, and
            # early stopping still has to score it; `_EarlyStopping` ends the training
            self.stopped = stop.info
        return False


class _EarlyStopping(xgb.callback.EarlyStopping):
    """XGBoost's early stopping on `val` rmse that also stops when a step hook asked to."""

    def __init__(self, rounds: int, hook: XGBoostStepHooks):
        super().__init__(rounds=rounds, metric_name="rmse", data_name="val", maximize=False)
        self.hook = hook

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        patience_over = super().after_iteration(model, epoch, evals_log)
        return patience_over or self.hook.stopped is not None


CATEGORIES_ATTR = "store_sales_categories"
# configuration keys a refit may differ in: threads, the tree count, the data's intercept
_NOT_SETTINGS = frozenset({"nthread", "n_jobs", "num_trees", "base_score"})


def _categories(frame: pd.DataFrame, features) -> dict[str, list]:
    """The categories of each categorical column, in order."""
    return {
        c: frame[c].cat.categories.tolist()
        for c in features
        if isinstance(frame[c].dtype, pd.CategoricalDtype)
    }


def _remember_categories(model: xgb.Booster, frame: pd.DataFrame, features) -> xgb.Booster:
    """The training categories of each categorical column, kept in the model (and its file).
    XGBoost 3.2 matches known categories by name at predict time, but raises on a category it
    never saw (a new store); `_recode` makes those missing values, as LightGBM treats them."""
    cats = _categories(frame, features)
    model.set_attr(**{CATEGORIES_ATTR: json.dumps(cats, default=str)})
    return model


def _recode(model: xgb.Booster, rows: pd.DataFrame, features) -> pd.DataFrame:
    frame = rows[list(features)]
    cats = json.loads(model.attr(CATEGORIES_ATTR) or "{}")
    changed = {
        c: frame[c].cat.set_categories(values)  # unseen -> missing
        for c, values in cats.items()
        if c in frame and frame[c].cat.categories.tolist() != values
    }
    return frame.assign(**changed) if changed else frame


def _best_steps(model: xgb.Booster) -> int | None:
    """Rounds of the best model when early stopping chose one (saved with the model)."""
    best = model.attr("best_iteration")  # 0-based, as XGBoost counts
    return None if best is None else int(best) + 1


class XGBoostAdapter(ModelAdapter):
    name = "xgboost"
    step_unit = "boosting round"
    model_file = "model.ubj"  # XGBoost's binary JSON: smaller and faster to write than .json

    def __init__(
        self,
        params: dict,
        num_boost_round: int,
        early_stopping_rounds: int,
        log_period: int = 100,
    ):
        # tree_method "hist" and rmse are the adapter's: QuantileDMatrix needs hist, and the
        # hooks read `val_rmse`
        self.params = {**params, "tree_method": "hist", "eval_metric": "rmse"}
        self.num_boost_round = self.max_steps = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.log_period = log_period
        self._nthread = int(self.params.get("nthread", 0)) or -1  # predict's: last fit's
        self._device: str | None = None  # resolved (auto -> cuda or cpu) at the first fit
        self._bins: tuple[xgb.DMatrix, dict] | None = None  # fold 1's cuts, for the refit

    def _params(self, threads: int) -> dict:
        """The training parameters: this stage's threads, the device resolved once."""
        if self._device is None:
            asked = str(self.params.get("device", "cpu")).lower()
            cuda_build = bool(xgb.build_info().get("USE_CUDA"))  # the xgboost-cpu wheel: no
            if asked == devices.AUTO and not cuda_build:
                print("device=auto: this XGBoost is a CPU-only build, it trains on the CPU")
                self._device = devices.CPU
            elif asked in devices.GPU_DEVICES and not cuda_build:
                raise ConfigError(
                    f"device={asked!r} but this XGBoost is a CPU-only build: "
                    "pip install xgboost (its CUDA wheel), or use device='cpu'"
                )
            else:
                self._device = devices.resolve(asked, "cuda", "XGBoost")
        return {**self.params, "nthread": threads, "device": self._device}

    def _threads(self, stage: str) -> int:
        """This stage's thread count (the free cores when nthread is 0), kept for predict. Fixed
        for the whole fit, as LightGBM's: a mid-training set_param reconfigures the learner."""
        self._nthread = self.fit_threads(stage, int(self.params.get("nthread", 0)))
        return self._nthread

    def _matrix(self, frame: pd.DataFrame, features, ref=None) -> xgb.DMatrix:
        """Training data as XGBoost's quantized matrix (hist needs only the bins, not a copy of
        the frame); `ref`: the matrix whose bins a validation matrix uses."""
        return xgb.QuantileDMatrix(
            frame[list(features)],
            label=frame["target"],
            enable_categorical=True,
            max_bin=int(self.params.get("max_bin", 256)),
            nthread=self._nthread,
            ref=ref,
        )

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()) -> FitResult:
        features = list(features)
        threads = self._threads(f"fit_{fold}")
        dtrain = self._matrix(train, features)
        dvalid = self._matrix(valid, features, ref=dtrain)  # the training bins
        if fold == 1:  # the refit bins its rows (16 days later) with fold 1's cuts: kept in a
            # one-row matrix that shares them, so fold 1's matrix is freed after the fit
            cuts = self._matrix(train.head(1), features, ref=dtrain)
            self._bins = cuts, _categories(train, features)
        evals: dict = {}
        hook = XGBoostStepHooks(hooks, fold)
        monitor = (
            [xgb.callback.EvaluationMonitor(period=self.log_period)] if self.log_period else []
        )
        booster = self.train(
            self._params(threads),
            dtrain,
            self.num_boost_round,
            # XGBoost 3 runs them in this order (2.x kept a set; Kaggle's image has 3.2)
            [hook, *callbacks, *monitor, _EarlyStopping(self.early_stopping_rounds, hook)],
            evals=[(dtrain, "train"), (dvalid, "val")],
            evals_result=evals,
        )
        _remember_categories(booster, train, features)
        curves = {f"{name}_rmse": [float(v) for v in log["rmse"]] for name, log in evals.items()}
        best = _best_steps(booster) or booster.num_boosted_rounds()
        return FitResult(model=booster, best_step=best, curves=curves, stopped=hook.stopped)

    def train(self, params: dict, dtrain, rounds: int, callbacks: list, **evals):
        """XGBoost's own training call, run by every fit. A fold fit: `evals` holds the train
        and validation matrices ("val": the step hook reads `val_rmse`) and `evals_result`;
        `callbacks` run in the order they must (see the module doc): the pipeline's step hook,
        the tracker's (W&B's `WandbCallback`), the printer, early stopping last. The refit:
        `rounds` is the validated count, no `evals`, no callbacks."""
        return xgb.train(
            params, dtrain, num_boost_round=rounds, callbacks=callbacks, verbose_eval=False, **evals
        )

    def refit(self, train, features, steps):
        features = list(features)
        threads = self._threads("refit")
        # fold 1's cuts: no second sketch of the data, and the validated model's split points
        # mean the same values. Measured on full-scale data: see docs/templates.md (exp002).
        # Other features or categories: cuts of its own.
        bins, self._bins = self._bins, None
        ref = None
        if bins is not None and bins[0].feature_names == features:
            ref = bins[0] if bins[1] == _categories(train, features) else None
        dtrain = self._matrix(train, features, ref=ref)
        model = self.train(self._params(threads), dtrain, int(steps), [])
        return _remember_categories(model, train, features)

    def predict(self, model, rows, features) -> np.ndarray:
        frame = _recode(model, rows, features)
        matrix = xgb.DMatrix(frame, enable_categorical=True, nthread=self._nthread)
        # the best model of an early-stopped fit: its first best_steps rounds; a refit: all
        best = _best_steps(model)
        return model.predict(matrix, iteration_range=(0, best or 0))

    def steps(self, model) -> int:
        return model.num_boosted_rounds()

    def settings(self, model) -> dict:
        """The learner's configuration as XGBoost saved it (objective, tree and booster
        parameters), less threads, the tree count and the intercept XGBoost estimates from the
        training rows (`base_score`): one flat dict of dotted names."""
        flat: dict = {}

        def walk(node, prefix):
            for key, value in node.items():
                if isinstance(value, dict):
                    walk(value, f"{prefix}{key}.")
                elif key not in _NOT_SETTINGS:
                    flat[prefix + key] = value

        walk(json.loads(model.save_config()), "")
        return flat

    def integration(self, tracker: str) -> Integration | None:
        if tracker != "wandb":
            return None
        from wandb.integration.xgboost import WandbCallback

        return Integration([WandbCallback(log_model=False, log_feature_importance=True)], True)

    def save(self, model, path: Path) -> Path:
        model.save_model(str(path))  # keeps best_iteration: a loaded model predicts the same
        return Path(path)

    def load(self, path: Path):
        booster = xgb.Booster(model_file=str(path))
        booster.set_param({"nthread": int(self.params.get("nthread", 0))})
        return booster

    def feature_importance(self, model) -> pd.Series:
        """Share of the total gain per feature, over the trees the model predicts with (as
        LightGBM's importance does); features never split on get 0."""
        best = _best_steps(model)
        trees = model[:best] if best else model
        gain = pd.Series(trees.get_score(importance_type="total_gain"), dtype=float)
        gain = gain.reindex(model.feature_names, fill_value=0.0)
        return gain / max(float(gain.sum()), 1e-12)
