"""Validation that mirrors the test, then the test forecast.

The test asks for days T+1..T+16 knowing sales up to T (the last train day). Validation asks
the same question one horizon earlier: origin T-16, days T-15..T. Training rows come from
origins whose 16 target days all end on or before the validation origin, so no validation
target is ever a training target. The test forecast refits on the same layout moved 16 days
later (or reuses the validation model with `refit=False`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import models
from .config import HORIZON
from .features import feature_names


def rmsle(y_true, y_pred) -> float:
    """Root mean squared log error, the competition metric; inputs must be >= 0."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} vs {y_pred.shape}")
    if (y_true < 0).any() or (y_pred < 0).any():
        raise ValueError("RMSLE needs non-negative values (clip forecasts at 0)")
    return float(np.sqrt(np.mean(np.square(np.log1p(y_pred) - np.log1p(y_true)))))


@dataclass(frozen=True)
class Plan:
    val_origin: int
    train_origins: np.ndarray  # for the validation fit
    test_origin: int
    refit_origins: np.ndarray  # the same layout, one horizon later

    @property
    def origins(self) -> np.ndarray:
        every = [self.train_origins, [self.val_origin], self.refit_origins, [self.test_origin]]
        return np.unique(np.concatenate(every).astype(np.int64))


def make_plan(last_train: int, n_origins: int, stride: int) -> Plan:
    val_origin = last_train - HORIZON
    # first training origin: the latest one, on the stride grid, whose targets end by val_origin
    gap = stride * -(-HORIZON // stride)
    train_origins = val_origin - gap - stride * np.arange(n_origins)
    if train_origins.min() < 0:
        raise ValueError(
            f"n_origins={n_origins} x origin_stride={stride} needs "
            f"{gap + stride * (n_origins - 1) + HORIZON} days of history before the last train "
            f"day; the data has {last_train}. Lower n_origins or origin_stride."
        )
    return Plan(
        val_origin=val_origin,
        train_origins=train_origins,
        test_origin=last_train,
        refit_origins=train_origins + HORIZON,
    )


@dataclass
class Validation:
    fit: models.FitResult
    rows: pd.DataFrame  # validation rows with `pred` (sales scale)
    rmsle: float
    rmsle_alive: float  # on series the model forecasts (not the zero rule)
    n_train_rows: int


def _train_rows(rows: pd.DataFrame, origins) -> pd.DataFrame:
    mask = rows["origin"].isin(origins).to_numpy() & rows["alive"].to_numpy()
    return rows[mask & rows["target"].notna().to_numpy()]


def validate(rows: pd.DataFrame, plan: Plan, cfg, callbacks=()) -> Validation:
    """Fit on the training origins, early-stop and score on the validation origin."""
    features = feature_names()
    train = _train_rows(rows, plan.train_origins)
    val = rows[rows["origin"].to_numpy() == plan.val_origin].copy()
    result = models.fit(
        train,
        val[val["alive"].to_numpy()],
        features,
        cfg.lgb_params(),
        num_boost_round=cfg.num_boost_round,
        early_stopping_rounds=cfg.early_stopping_rounds,
        log_period=cfg.log_period,
        callbacks=callbacks,
    )
    val["pred"] = models.predict_sales(result.booster, val, features)
    actual = np.expm1(val["target"].to_numpy())
    alive = val["alive"].to_numpy()
    return Validation(
        fit=result,
        rows=val,
        rmsle=rmsle(actual, val["pred"].to_numpy()),
        rmsle_alive=rmsle(actual[alive], val["pred"].to_numpy()[alive]),
        n_train_rows=len(train),
    )


@dataclass
class Forecast:
    ids: np.ndarray
    sales: np.ndarray
    booster: object  # the model that made the forecast
    num_boost_round: int


def forecast_test(rows: pd.DataFrame, plan: Plan, cfg, validation: Validation, panel) -> Forecast:
    """Forecast the test days from the last train day."""
    features = feature_names()
    rounds = validation.fit.best_iteration
    if cfg.refit:
        booster = models.refit(
            _train_rows(rows, plan.refit_origins), features, cfg.lgb_params(), rounds
        )
    else:
        booster = validation.fit.booster
    test = rows[rows["origin"].to_numpy() == plan.test_origin]
    ids = panel.test_id[test["s"].to_numpy(), test["day"].to_numpy()]
    keep = ids >= 0  # the test file may omit series; forecast only what it asks for
    sales = models.predict_sales(booster, test[keep], features)
    return Forecast(ids=ids[keep], sales=sales, booster=booster, num_boost_round=rounds)
