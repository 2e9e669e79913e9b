"""Horizon-honest validation folds (time-series CV), the zero rule, and the test forecast.

The test asks for days T+1..T+16 knowing sales up to T (the last train day). Fold k asks the
same question k horizons earlier: origin T-16k, days T-16k+1..T-16(k-1). Each fold trains on
its own origins, whose 16 target days all end on or before its validation origin, so no
validation target is ever a training target of that fold. Fold 1 (nearest the test) gives
`val_rmsle`. The test forecast refits on fold 1's layout moved 16 days later for the number of
steps the folds agree on (the median of their best steps), or reuses fold 1's model.

Features are built per fold, for that fold's origins only, so CV costs no more memory than a
single holdout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .background import Background
from .errors import ConfigError, TrainingPathError
from .features import Feature, build_features, feature_names, select
from .metrics import rmsle
from .models.base import FitResult, ModelAdapter, StepEvent, StepHook
from .paths import HORIZON

VAL_COLUMNS = ["s", "origin", "h", "day", "target", "alive", "pred"]


@dataclass(frozen=True)
class Fold:
    k: int  # 1 = nearest the test
    val_origin: int
    train_origins: np.ndarray


@dataclass(frozen=True)
class Plan:
    folds: tuple[Fold, ...]
    test_origin: int
    refit_origins: np.ndarray  # fold 1's layout, one horizon later

    @property
    def val_origin(self) -> int:
        return self.folds[0].val_origin

    @property
    def train_origins(self) -> np.ndarray:
        return self.folds[0].train_origins

    @property
    def origins(self) -> np.ndarray:
        """Every origin the plan uses (all folds, the refit, the test), sorted."""
        every = [self.refit_origins, [self.test_origin]]
        for fold in self.folds:
            every += [fold.train_origins, [fold.val_origin]]
        return np.unique(np.concatenate(every).astype(np.int64))

    def forecast_origins(self, refit: bool) -> np.ndarray:
        """The origins whose rows `forecast_test` builds: the refit's and the test's, sorted."""
        every = np.append(self.refit_origins, self.test_origin) if refit else [self.test_origin]
        return np.sort(np.asarray(every, dtype=np.int64))


def make_plan(last_train: int, n_origins: int, stride: int, n_folds: int = 1) -> Plan:
    # first training origin: the latest one, on the stride grid, whose targets end by val_origin
    gap = stride * -(-HORIZON // stride)
    folds = []
    for k in range(1, n_folds + 1):
        val_origin = last_train - HORIZON * k
        folds.append(Fold(k, val_origin, val_origin - gap - stride * np.arange(n_origins)))
    if folds[-1].train_origins.min() < 0:
        need = HORIZON * n_folds + gap + stride * (n_origins - 1)
        raise ConfigError(
            f"n_folds={n_folds}, n_origins={n_origins} x origin_stride={stride} need {need} "
            f"days of history before the last train day; the data has {last_train}. "
            "Lower n_folds, n_origins or origin_stride."
        )
    return Plan(
        folds=tuple(folds),
        test_origin=last_train,
        refit_origins=folds[0].train_origins + HORIZON,
    )


def to_sales(log_pred: np.ndarray) -> np.ndarray:
    """log1p forecasts as sales: clipped at 0 (sales are never negative), expm1."""
    return np.expm1(np.clip(np.asarray(log_pred, dtype=np.float64), 0, None))


def predict_sales(
    adapter: ModelAdapter, model, rows: pd.DataFrame, features: Sequence[str]
) -> np.ndarray:
    """Sales forecast per row. The zero rule: series that sold nothing in the `zero_window`
    days up to the origin (`alive` False) get 0 and never reach the model."""
    out = np.zeros(len(rows), dtype=np.float64)
    alive = rows["alive"].to_numpy()
    if alive.any():
        out[alive] = to_sales(adapter.predict(model, rows[alive], features))
    return out


@dataclass
class FoldResult:
    fold: Fold
    fit: FitResult
    rows: pd.DataFrame  # VAL_COLUMNS; `pred` in sales units
    rmsle: float
    rmsle_alive: float  # on series the model forecasts (not the zero rule)
    n_train_rows: int
    # a few validation rows (whole: the model may read more than its features): a tracker's model
    # signature and input example (`Tracker.model_example`)
    example: pd.DataFrame | None = None


EXAMPLE_ROWS = 5


@dataclass
class Validation:
    folds: list[FoldResult]  # in the order fitted: fold 1 first
    n_folds: int  # asked for; fewer ran when a sweep stopped fold 1
    # the rows of cross_validate's `then` origins, built while the last fold trained
    upcoming: _Rows | None = None

    @property
    def first(self) -> FoldResult:
        return self.folds[0]

    @property
    def rmsle(self) -> float:
        return self.first.rmsle

    @property
    def fit(self) -> FitResult:
        return self.first.fit

    @property
    def rows(self) -> pd.DataFrame:
        return self.first.rows

    @property
    def scores(self) -> np.ndarray:
        return np.array([f.rmsle for f in self.folds])

    @property
    def refit_steps(self) -> int:
        """The step count the folds agree on: the median of their best steps (one fold: its
        own). A median, not a mean: one fold that stops very early or late does not move it."""
        return round(float(np.median([f.fit.best_step for f in self.folds])))


def _full_rmsle_hook(val: pd.DataFrame) -> StepHook:
    """Adds `val_rmsle` to each step: the step's `val_rmse` (on the rows the model forecasts)
    with the zero-rule rows' fixed error added back, i.e. the fold's RMSLE at that step before
    clipping at 0 (clipping can only lower it)."""
    alive = val["alive"].to_numpy()
    target = val["target"].to_numpy().astype(np.float64)
    n_alive, n_total = int(alive.sum()), len(val)
    dead_sq = float(np.square(target[~alive]).sum())  # forecast 0: error = log1p(actual)

    def hook(event: StepEvent) -> None:
        if event.scope == "step" and "val_rmse" in event.values:
            mse = (event.values["val_rmse"] ** 2 * n_alive + dead_sq) / n_total
            event.values["val_rmsle"] = float(np.sqrt(mse))

    return hook


def _train_rows(rows: pd.DataFrame, origins) -> pd.DataFrame:
    mask = rows["origin"].isin(origins).to_numpy() & rows["alive"].to_numpy()
    return rows[mask & rows["target"].notna().to_numpy()]


def cross_validate(
    panel,
    plan: Plan,
    adapter: ModelAdapter,
    zero_window: int,
    features: Sequence[Feature] | None = None,
    hooks: Callable[[int], Sequence[StepHook]] = lambda k: (),
    callbacks: Callable[[int], Sequence] = lambda k: (),
    timer: Callable[[str], AbstractContextManager] = lambda name: nullcontext(),
    then: Sequence[int] | None = None,
) -> Validation:
    """Fit each fold on its training origins, early-stop and score on its validation origin.

    `features`: what the rows carry (default: the built-ins); `hooks(k)` / `callbacks(k)` give
    fold k's step hooks and the library's own callbacks;
    `timer(name)` times the feature builds and the fits ("train"). A
    fit that a hook stopped (hyperband) ends the CV: the sweep has judged the trial already.
    While a fold trains, the next fold's rows are built in the background (background.py),
    and after the last fold those of the origins `then` (`Plan.forecast_origins`: what
    `forecast_test` needs), handed over in `Validation.upcoming`.
    """
    chosen = select() if features is None else list(features)
    features = feature_names(chosen)
    queue = [np.sort(np.append(f.train_origins, f.val_origin)) for f in plan.folds]
    if then is not None:
        queue.append(np.sort(np.asarray(then, dtype=np.int64)))
    results = []
    pending = None
    for i, fold in enumerate(plan.folds):
        with timer("features"):  # what is left of the build: the wait for the background
            if pending is None:
                rows = build_features(panel, queue[i], zero_window, chosen)
            else:
                rows = pending.rows()
            pending = (
                _Rows(panel, queue[i + 1], zero_window, chosen) if i + 1 < len(queue) else None
            )
            train = _train_rows(rows, fold.train_origins)
            val = rows[rows["origin"].to_numpy() == fold.val_origin]
        # asked before the fit's clock starts: a tracker still opening waits here (pipeline)
        fold_hooks, fold_callbacks = [_full_rmsle_hook(val), *hooks(fold.k)], callbacks(fold.k)
        with timer("train"):
            fit = adapter.fit(
                train,
                val[val["alive"].to_numpy()],
                features,
                fold=fold.k,
                hooks=fold_hooks,
                callbacks=fold_callbacks,
            )
        n_train = len(train)
        del train, rows
        # whole rows: an adapter may read more than the features (PyTorch's horizon day `h`)
        example = val[val["alive"].to_numpy()].head(EXAMPLE_ROWS)
        val = val.assign(pred=predict_sales(adapter, fit.model, val, features))[VAL_COLUMNS]
        actual = np.expm1(val["target"].to_numpy())
        pred = val["pred"].to_numpy()
        alive = val["alive"].to_numpy()
        results.append(
            FoldResult(
                fold=fold,
                fit=fit,
                rows=val.reset_index(drop=True),
                rmsle=rmsle(actual, pred),
                rmsle_alive=rmsle(actual[alive], pred[alive]),
                n_train_rows=n_train,
                example=example.reset_index(drop=True),
            )
        )
        if len(plan.folds) > 1:
            print(f"fold {fold.k}: RMSLE {results[-1].rmsle:.5f} (best step {fit.best_step})")
        if fit.stopped:
            break
    upcoming = None if fit.stopped else pending  # after the last fold: `then`'s rows, if any
    return Validation(folds=results, n_folds=len(plan.folds), upcoming=upcoming)


class _Rows:
    """`build_features` of some origins, in the background; `rows()` waits for them."""

    def __init__(self, panel, origins: np.ndarray, zero_window: int, chosen):
        self.key = _rows_key(panel, origins, zero_window, chosen)
        self._work = Background("next-rows", build_features, panel, origins, zero_window, chosen)

    def rows(self) -> pd.DataFrame:
        return self._work.result()


def _rows_key(panel, origins, zero_window: int, chosen) -> tuple:
    return id(panel), tuple(np.asarray(origins).tolist()), zero_window, tuple(chosen)


@dataclass
class Forecast:
    ids: np.ndarray
    sales: np.ndarray
    s: np.ndarray  # series of each forecast row
    day: np.ndarray  # panel day of each forecast row
    model: object  # the model that made the forecast
    steps: int  # its training steps
    refit: bool | str  # "skipped-sweep-trial": no test forecast made (pipeline.forecast)
    submission: pd.DataFrame | None = None  # as written to submission.csv


def check_refit(adapter: ModelAdapter, fitted, refitted, steps: int) -> None:
    """One training path: the refit holds exactly the validated step count and was trained
    with the validated fit's settings (TrainingPathError, one line, before any submission)."""
    held = adapter.steps(refitted)
    if held is not None and int(held) != int(steps):
        raise TrainingPathError(
            f"the refit trained {held} {adapter.step_unit}s, not the validated {steps}: the "
            "model cell's training call must train the step count it is given, with no early "
            "stopping of its own"
        )
    a, b = adapter.settings(fitted), adapter.settings(refitted)
    if a is None or b is None or a == b:
        return
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k, "(unset)") != b.get(k, "(unset)"))
    shown = ", ".join(
        f"{k}: {a.get(k, '(unset)')!r} -> {b.get(k, '(unset)')!r}" for k in differ[:3]
    )
    more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
    raise TrainingPathError(
        f"the refit was trained with other settings than the validated fit ({shown}{more}): "
        "fit and refit must run the same training code (the adapter's `train`)"
    )


def forecast_test(
    panel,
    plan: Plan,
    adapter: ModelAdapter,
    validation: Validation,
    zero_window: int,
    refit: bool,
    features: Sequence[Feature] | None = None,
    timer: Callable[[str], AbstractContextManager] = lambda name: nullcontext(),
) -> Forecast:
    """Forecast the test days from the last train day, with the rows `cross_validate` used.
    `timer` times the feature build, the refit ("refit") and the test forecast ("predict")."""
    chosen = select() if features is None else list(features)
    features = feature_names(chosen)
    steps = validation.refit_steps if refit else validation.fit.best_step
    origins = plan.forecast_origins(refit)
    ready, validation.upcoming = validation.upcoming, None
    key = _rows_key(panel, origins, zero_window, chosen)
    with timer("features"):
        # built while the last fold trained; rows for other origins are waited for all the
        # same, so no feature function ever runs on two threads at once
        rows = ready.rows() if ready is not None else None
        if ready is None or ready.key != key:
            rows = build_features(panel, origins, zero_window, chosen)
    if refit:
        with timer("refit"):
            model = adapter.refit(_train_rows(rows, plan.refit_origins), features, steps)
        check_refit(adapter, validation.fit.model, model, steps)
        rows = rows[rows["origin"].to_numpy() == plan.test_origin]
    else:
        model = validation.fit.model
    s, day = rows["s"].to_numpy(), rows["day"].to_numpy()
    ids = panel.test_id[s, day]
    keep = ids >= 0  # the test file may omit series; forecast only what it asks for
    with timer("predict"):
        sales = predict_sales(adapter, model, rows[keep], features)
    return Forecast(ids[keep], sales, s[keep], day[keep], model, steps, refit)
