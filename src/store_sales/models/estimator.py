"""Any scikit-learn-API regressor behind the adapter seam: a model in about ten lines.

    from sklearn.ensemble import HistGradientBoostingRegressor
    from store_sales.models.estimator import Estimator

    adapter = Estimator(HistGradientBoostingRegressor(max_iter=2000), patience=100)

The pipeline then gives it time-series CV, early stopping, the exact refit, curves, step hooks
(progress bars, hyperband pruning), threads and trackers. How it stops early depends on the
estimator (`kind`):

- `grow`: estimators with `warm_start` and a step count (`max_iter`: HistGradientBoosting;
  `n_estimators`: GradientBoosting, RandomForest, ExtraTrees) grow in chunks with warm_start,
  their own early stopping off. After each chunk the new steps are scored on the validation
  rows (`staged_predict`, or the new trees of a forest), one hook call per step, until
  `patience` steps bring no better `val_rmse`. The model kept has exactly the best step count:
  the grown model cut to its first steps where its trees are a list of steps
  (HistGradientBoosting, forests), else the snapshot taken before the chunk that holds the
  best step, grown to it. Warm-started growth is the same model as one fit of that many steps,
  bit for bit, so the refit, one fit of a clone, is the same training. `train_rmse` is scored
  on at most 10,000 training rows (every k-th), as HistGradientBoosting's own scorer does.
  Chunks: see `_next_target`.
- `lightgbm`, `xgboost`, `catboost` (LGBMRegressor, XGBRegressor, CatBoostRegressor): the
  library's own early stopping on the validation rows (an eval set) and its per-round callback
  for the hooks.
- `single`: anything else (Ridge, a Pipeline): one fit, one step.

The refit is a clone (`sklearn.base.clone`) with the step count set to the validated one and
early stopping off, fit on the refit rows. Categorical features are pandas `category` columns
(HistGradientBoosting: `categorical_features="from_dtype"`, its default from 1.6); numeric
features may hold NaN. Threads: scikit-learn's OpenMP through threadpoolctl, `n_jobs` /
`thread_count` for the GBDT libraries. Models are saved with joblib.

This module imports no scikit-learn or model library when it is imported (only in the calls that
need one): `estimator_label` is used without training, and the package core needs no sklearn.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .base import FitResult, Integration, ModelAdapter, StepEvent, StopTraining, call_hooks

TRAIN_SAMPLE = 10_000  # training rows that `train_rmse` is scored on (grow kind)
# warm-start chunks (grow kind): each warm-started fit re-bins X and re-predicts the training
# rows with every tree so far, so a chunk is at least GROWTH x the steps grown (that overhead is
# then a bounded share of the training) and at least MIN_CHUNK steps; it reaches at least where
# patience runs out if no better step comes. Full-scale fold 1 of exp005 (685k rows, 1 thread):
# 49.9 s against 48.6 s for one fit of the same 199 trees (docs/templates.md).
MIN_CHUNK = 10
GROWTH = 0.5

# parameters that may differ between a fold fit and the refit (not `settings`)
STEP_PARAMS = ("max_iter", "n_estimators", "iterations", "num_boost_round")
_NOT_SETTINGS = frozenset(
    {
        *STEP_PARAMS,
        "warm_start",
        "early_stopping",
        "n_iter_no_change",
        "early_stopping_rounds",
        "use_best_model",
        "callbacks",
        "n_jobs",
        "nthread",
        "num_threads",
        "thread_count",
        "verbose",
        "verbosity",
        "silent",
        "logging_level",
    }
)
_LIBRARIES = ("lightgbm", "xgboost", "catboost")


def estimator_label(class_name: str) -> str:
    """A model's label from its estimator's class name: without a trailing "Regressor",
    lowercased (HistGradientBoostingRegressor -> "histgradientboosting", Ridge -> "ridge")."""
    suffix = "Regressor"
    if class_name.endswith(suffix) and len(class_name) > len(suffix):
        class_name = class_name[: -len(suffix)]
    return class_name.lower()


def final_estimator(estimator: Any) -> Any:
    """The estimator that predicts: a Pipeline's last step (nested ones too), else itself."""
    while hasattr(estimator, "steps") and isinstance(estimator.steps, list):
        estimator = estimator.steps[-1][1]
    return estimator


def kind_of(estimator: Any) -> str:
    """How an estimator stops early: grow | lightgbm | xgboost | catboost | single."""
    library = type(estimator).__module__.split(".")[0]
    if library in _LIBRARIES:
        return library
    params = estimator.get_params(deep=False)
    if "warm_start" in params and ("max_iter" in params or "n_estimators" in params):
        if hasattr(estimator, "staged_predict") or _is_forest(estimator):
            return "grow"
    return "single"


def _is_forest(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("sklearn.ensemble._forest")


def _rmse(pred, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, dtype=np.float64) - y) ** 2)))


def _next_target(done: int, best: int, patience: int, limit: int) -> int:
    """Steps after the next warm-started fit (see MIN_CHUNK, GROWTH)."""
    grow = max(MIN_CHUNK, math.ceil(GROWTH * done))
    return min(limit, max(best + patience, done + grow))


class Estimator(ModelAdapter):
    """A scikit-learn-API regressor (`fit`, `predict`) on log1p(sales); see the module."""

    model_file = "model.joblib"

    def __init__(self, estimator: Any, patience: int = 100, threads: int = 0, name=None):
        self.estimator = estimator
        self.patience = max(1, int(patience))
        self.threads = int(threads)
        self.kind = kind_of(estimator)
        self.name = name or estimator_label(type(final_estimator(estimator)).__name__)
        params = estimator.get_params(deep=False)
        self.step_param = {
            "grow": "n_estimators" if "n_estimators" in params else "max_iter",
            "lightgbm": "n_estimators",
            "xgboost": "n_estimators",
            "catboost": "iterations",
        }.get(self.kind)
        defaults = {"n_estimators": 100, "iterations": 1000}  # XGBoost's None, CatBoost's unset
        steps = params.get(self.step_param) if self.step_param else 1
        self.max_steps = int(steps or defaults.get(self.step_param, 1))
        self.step_unit = {"single": "fit"}.get(
            self.kind, "tree" if _is_forest(estimator) else "boosting round"
        )
        self._predict_threads: int | None = None

    # -- the estimator, configured for one fit -----------------------------------------------

    def _configured(self, threads: int, steps: int | None = None, warm: bool = False):
        """A clone with `threads`, its own early stopping off and, for the refit, `steps`."""
        from sklearn.base import clone

        model = clone(self.estimator)
        params = model.get_params(deep=False)
        own: dict[str, Any] = {}
        if self.kind == "grow":  # HistGradientBoosting's early_stopping, GradientBoosting's
            own = {"warm_start": warm}
            if "early_stopping" in params:
                own["early_stopping"] = False
            elif "n_iter_no_change" in params:
                own["n_iter_no_change"] = None
        elif self.kind == "lightgbm":
            own = {"n_jobs": threads}
        elif self.kind == "xgboost":
            own = {"n_jobs": threads, "early_stopping_rounds": None, "callbacks": None}
            own["eval_metric"] = "rmse"  # the hooks read val_rmse; the refit has the same
        elif self.kind == "catboost":
            own = {"thread_count": threads}
        if "n_jobs" in params and self.kind in ("grow", "single"):  # forests
            own["n_jobs"] = threads
        if steps is not None and self.step_param:
            own[self.step_param] = int(steps)
        return model.set_params(**own)

    @contextlib.contextmanager
    def _limits(self, threads: int | None):
        """scikit-learn's OpenMP threads (HistGradientBoosting) for the block."""
        if threads is None:
            yield
            return
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads, user_api="openmp"):
            yield

    def _threads(self, stage: str) -> int:
        self._predict_threads = self.fit_threads(stage, self.threads)
        return self._predict_threads

    # -- the seam ------------------------------------------------------------------------------

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()) -> FitResult:
        features = list(features)
        threads = self._threads(f"fit_{fold}")
        X, y = train[features], train["target"].to_numpy(dtype=np.float64)
        Xv, yv = valid[features], valid["target"].to_numpy(dtype=np.float64)
        fit = {
            "grow": self._fit_grow,
            "lightgbm": self._fit_lightgbm,
            "xgboost": self._fit_xgboost,
            "catboost": self._fit_catboost,
            "single": self._fit_single,
        }[self.kind]
        with self._limits(threads):
            return fit(threads, X, y, Xv, yv, fold, list(hooks), list(callbacks))

    def refit(self, train, features, steps):
        threads = self._threads("refit")
        model = self._configured(threads, steps=steps if self.kind != "single" else None)
        X, y = train[list(features)], train["target"].to_numpy(dtype=np.float64)
        with self._limits(threads):
            if self.kind == "catboost":
                return model.fit(X, y, cat_features=_categorical(X), verbose=False)
            return model.fit(X, y)

    def predict(self, model, rows, features) -> np.ndarray:
        with self._limits(self._predict_threads):
            return np.asarray(model.predict(rows[list(features)]), dtype=np.float64).ravel()

    def save(self, model, path: Path) -> Path:
        import joblib

        joblib.dump(model, path)
        return Path(path)

    def load(self, path: Path):
        import joblib

        return joblib.load(path)

    def steps(self, model) -> int:
        if self.kind == "grow":
            if hasattr(model, "n_iter_"):
                return int(model.n_iter_)
            if hasattr(model, "n_estimators_"):
                return int(model.n_estimators_)
            return len(model.estimators_)
        if self.kind == "lightgbm":
            return int(model.booster_.current_iteration())
        if self.kind == "xgboost":
            return int(model.get_booster().num_boosted_rounds())
        if self.kind == "catboost":
            return int(model.tree_count_)
        return 1

    def settings(self, model) -> dict[str, Any]:
        """`get_params()` (nested ones flattened) less step count, warm start, early stopping,
        threads and verbosity; values that are estimators are left out (their own parameters
        are in), other objects by their repr."""
        out = {}
        for key, value in model.get_params(deep=True).items():
            if key.rsplit("__", 1)[-1] in _NOT_SETTINGS or _holds_estimator(value):
                continue
            out[key] = (
                value if isinstance(value, (type(None), bool, int, float, str)) else repr(value)
            )
        return out

    def feature_importance(self, model) -> pd.Series | None:
        last = final_estimator(model)
        values = getattr(last, "feature_importances_", None)
        names = None
        for attr in ("feature_names_in_", "feature_name_", "feature_names_"):
            names = getattr(last, attr, None)
            if names is not None:
                break
        if values is None or names is None or len(names) != len(values):
            return None
        share = pd.Series(np.asarray(values, dtype=np.float64), index=list(names))
        return share / max(float(share.sum()), 1e-12)

    def integration(self, tracker: str) -> Integration | None:
        if self.kind == "lightgbm":  # the LightGBM adapter's own (W&B's wandb_callback)
            from .lightgbm import LightGBMAdapter

            return LightGBMAdapter({}, 0, 0).integration(tracker)
        return None

    # -- fits by kind ----------------------------------------------------------------------------

    def _fit_single(self, threads, X, y, Xv, yv, fold, hooks, callbacks) -> FitResult:
        model = self._configured(threads).fit(X, y)
        rows = _sample(len(X))
        values = {"train_rmse": _rmse(model.predict(X.iloc[rows]), y[rows])}
        values["val_rmse"] = _rmse(model.predict(Xv), yv)
        curves = {k: [v] for k, v in values.items()}
        stopped = None
        try:
            call_hooks(hooks, StepEvent(fold, 1, dict(values)))
        except StopTraining as stop:
            stopped = stop.info
        return FitResult(model=model, best_step=1, curves=curves, stopped=stopped)

    def _fit_grow(self, threads, X, y, Xv, yv, fold, hooks, callbacks) -> FitResult:
        rows = _sample(len(X))
        Xs, ys = X.iloc[rows], y[rows]
        model = self._configured(threads, warm=True)
        curves: dict[str, list[float]] = {"train_rmse": [], "val_rmse": []}
        done, best, best_score, stopped = 0, 0, math.inf, None
        base = before = None  # snapshots: at or before the best step; at the chunk's start
        pending = False  # the best step is the last chunk's end: the next snapshot is it
        while done < self.max_steps:
            target = _next_target(done, best, self.patience, self.max_steps)
            before = copy.deepcopy(model) if done and _cut(model, done, None) is None else None
            if pending:
                base, pending = before, False
            model.set_params(**{self.step_param: target}).fit(X, y)
            grown = self.steps(model)
            if grown <= done:  # the estimator grew no more (nothing left to split)
                break
            new_best = ran_out = False
            scored = zip(
                _staged(model, Xv, done, grown), _staged(model, Xs, done, grown), strict=True
            )
            for step, (pred_v, pred_t) in enumerate(scored, start=done + 1):
                values = {"train_rmse": _rmse(pred_t, ys), "val_rmse": _rmse(pred_v, yv)}
                curves["train_rmse"].append(values["train_rmse"])
                curves["val_rmse"].append(values["val_rmse"])
                if values["val_rmse"] < best_score:
                    best_score, best, new_best = values["val_rmse"], step, True
                try:
                    call_hooks(hooks, StepEvent(fold, step, values))
                except StopTraining as stop:
                    stopped = stop.info
                    break
                if step >= best + self.patience:
                    ran_out = True
                    break
            if new_best:  # the snapshot to grow the best model from: this chunk's start
                base, pending = (None, True) if best == grown else (before, False)
            done = grown
            if stopped is not None or ran_out:
                break
        model = self._exactly(model, base, best, X, y, Xv, yv, best_score, threads)
        return FitResult(model=model, best_step=best, curves=curves, stopped=stopped)

    def _exactly(self, model, base, best: int, X, y, Xv, yv, score: float, threads):
        """The model of exactly `best` steps. The grown one cut to its first `best` steps where
        its trees are a list of steps (HistGradientBoosting's, a forest's; checked: it must
        score the best step's `val_rmse`), else the snapshot before the best step's chunk grown
        to it (the same trees, since growth is exact; it costs a warm-started fit)."""
        if self.steps(model) != best:
            cut = _cut(model, best, self.step_param)
            if (
                cut is None
                or self.steps(cut) != best
                or not math.isclose(_rmse(cut.predict(Xv), yv), score, rel_tol=1e-9)
            ):
                model = base if base is not None else self._configured(threads, warm=True)
                model.set_params(**{self.step_param: best}).fit(X, y)
            else:
                model = cut
        return model.set_params(warm_start=False)

    def _fit_lightgbm(self, threads, X, y, Xv, yv, fold, hooks, callbacks) -> FitResult:
        from .lightgbm import LightGBMStepHooks, lgb  # only models/lightgbm.py imports lightgbm

        model = self._configured(threads)
        hook, evals = LightGBMStepHooks(hooks, fold), {}
        # LightGBM 4.7 names them eval_X / eval_y (eval_set deprecated); Kaggle's 4.6 has no such
        if "eval_X" in inspect.signature(model.fit).parameters:
            evals_set = {"eval_X": (X, Xv), "eval_y": (y, yv)}
        else:
            evals_set = {"eval_set": [(X, y), (Xv, yv)]}
        model.fit(
            X,
            y,
            **evals_set,
            eval_names=["train", "val"],
            eval_metric="rmse",
            callbacks=[
                lgb.early_stopping(self.patience, first_metric_only=True, verbose=False),
                lgb.record_evaluation(evals),
                hook,
                *callbacks,
            ],
        )
        best = model.best_iteration_ or model.booster_.current_iteration()
        curves = {f"{name}_rmse": [float(v) for v in log["rmse"]] for name, log in evals.items()}
        return FitResult(model=model, best_step=int(best), curves=curves, stopped=hook.stopped)

    def _fit_xgboost(self, threads, X, y, Xv, yv, fold, hooks, callbacks) -> FitResult:
        model = self._configured(threads)
        hook = _xgboost_callback(hooks, fold, self.patience)
        model.set_params(callbacks=[hook, *callbacks])
        model.fit(X, y, eval_set=[(X, y), (Xv, yv)], verbose=False)
        log = model.evals_result()
        curves = {
            "train_rmse": [float(v) for v in log["validation_0"]["rmse"]],
            "val_rmse": [float(v) for v in log["validation_1"]["rmse"]],
        }
        best = int(np.argmin(curves["val_rmse"])) + 1
        model.set_params(callbacks=None)  # a model to pickle: no hooks in it
        return FitResult(model=model, best_step=best, curves=curves, stopped=hook.stopped)

    def _fit_catboost(self, threads, X, y, Xv, yv, fold, hooks, callbacks) -> FitResult:
        model = self._configured(threads)
        hook = _CatBoostHooks(hooks, fold)
        cats = _categorical(X)
        model.fit(
            X,
            y,
            cat_features=cats,
            eval_set=[(Xv, yv)],
            early_stopping_rounds=self.patience,
            use_best_model=True,
            callbacks=[hook, *callbacks],
            verbose=False,
        )
        log = model.get_evals_result()
        curves = {
            "train_rmse": [float(v) for v in log["learn"]["RMSE"]],
            "val_rmse": [float(v) for v in log["validation"]["RMSE"]],
        }
        best = model.get_best_iteration() + 1
        return FitResult(model=model, best_step=best, curves=curves, stopped=hook.stopped)


def _sample(n: int) -> np.ndarray:
    """Every k-th of n rows, at most TRAIN_SAMPLE (the same rows every step)."""
    return np.unique(np.linspace(0, n - 1, min(n, TRAIN_SAMPLE)).astype(np.int64))


def _staged(model, X, done: int, grown: int):
    """Predictions after each of the steps done+1..grown (`staged_predict`; a forest: the mean
    of its first trees, one new tree at a time)."""
    if hasattr(model, "staged_predict"):
        for step, pred in enumerate(model.staged_predict(X), start=1):
            if step > done:
                yield pred
            if step >= grown:
                return
        return
    values = np.asarray(X, dtype=np.float32)
    total = np.zeros(len(values))
    for tree in model.estimators_[:done]:
        total += tree.predict(values)
    for k, tree in enumerate(model.estimators_[done:grown], start=done + 1):
        total += tree.predict(values)
        yield total / k


def _cut(model, steps: int, step_param: str | None):
    """`model` holding only its first `steps` steps, or None where its trees are not a list of
    steps: HistGradientBoosting's `_predictors` (a list per step; `n_iter_` is its length) and
    a forest's `estimators_` (a tree per step). A step's trees depend only on those before it,
    so the cut model is the model of `steps` steps. `step_param` None: only ask whether it can."""
    trees = "_predictors" if hasattr(model, "_predictors") else None
    if (
        trees is None
        and _is_forest(model)
        and isinstance(getattr(model, "estimators_", None), list)
    ):
        trees = "estimators_"
    if trees is None or not isinstance(getattr(model, trees), list):
        return None
    if step_param is not None:
        setattr(model, trees, getattr(model, trees)[:steps])
        model.set_params(**{step_param: steps})
    return model


def _holds_estimator(value) -> bool:
    if hasattr(value, "get_params") and not isinstance(value, type):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_estimator(v) for v in value)
    return False


def _categorical(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]


class _CatBoostHooks:
    """CatBoost's per-iteration callback: each round's RMSE to the hooks; a stop ends the fit."""

    def __init__(self, hooks: Sequence, fold: int):
        self.hooks, self.fold, self.stopped = list(hooks), fold, None

    def after_iteration(self, info) -> bool:
        values = {
            "train_rmse": float(info.metrics["learn"]["RMSE"][-1]),
            "val_rmse": float(info.metrics["validation"]["RMSE"][-1]),
        }
        try:
            call_hooks(self.hooks, StepEvent(self.fold, info.iteration, values))
        except StopTraining as stop:
            self.stopped = stop.info
            return False
        return True


def _xgboost_callback(hooks: Sequence, fold: int, patience: int):
    """XGBoost's per-round callback: the hooks, and early stopping on the validation rows
    (`validation_1`, the sklearn API's name) in the same callback, so that a hook's stop and
    patience both end training after every callback has seen the round."""
    from .xgboost import xgb  # only models/xgboost.py imports xgboost

    class Hooks(xgb.callback.TrainingCallback):
        def __init__(self):
            super().__init__()
            self.hooks = list(hooks)
            self.stopped: dict | None = None
            self.best = (math.inf, 0)

        def after_iteration(self, model, epoch, evals_log) -> bool:
            step = epoch + 1
            values = {
                "train_rmse": float(evals_log["validation_0"]["rmse"][-1]),
                "val_rmse": float(evals_log["validation_1"]["rmse"][-1]),
            }
            if values["val_rmse"] < self.best[0]:
                self.best = (values["val_rmse"], step)
                model.set_attr(best_iteration=str(epoch), best_score=str(values["val_rmse"]))
            try:
                call_hooks(self.hooks, StepEvent(fold, step, values))
            except StopTraining as stop:
                self.stopped = stop.info
            return self.stopped is not None or step >= self.best[1] + patience

    return Hooks()
