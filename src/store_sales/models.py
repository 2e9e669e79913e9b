"""LightGBM on log1p(sales): fit with early stopping, refit, predict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd


@dataclass
class FitResult:
    booster: lgb.Booster
    best_iteration: int
    evals: dict = field(
        default_factory=dict
    )  # lgb.record_evaluation: {"train"|"val": {"rmse": [...]}}


def fit(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: Sequence[str],
    params: dict,
    num_boost_round: int,
    early_stopping_rounds: int,
    log_period: int = 100,
    callbacks: Sequence = (),
) -> FitResult:
    """Train on `train`, stop early on `valid`; both need a `target` column (log1p sales)."""
    dtrain = lgb.Dataset(train[list(features)], label=train["target"], free_raw_data=True)
    dvalid = lgb.Dataset(valid[list(features)], label=valid["target"], reference=dtrain)
    evals: dict = {}
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=num_boost_round,
        valid_sets=[dtrain, dvalid],
        valid_names=["train", "val"],
        callbacks=[
            lgb.early_stopping(early_stopping_rounds, verbose=True),
            lgb.log_evaluation(log_period),
            lgb.record_evaluation(evals),
            *callbacks,
        ],
    )
    best = booster.best_iteration or booster.current_iteration()
    return FitResult(booster=booster, best_iteration=int(best), evals=evals)


def refit(train: pd.DataFrame, features: Sequence[str], params: dict, num_boost_round: int):
    """Train for a fixed number of rounds (the validated best) on later data; no early stop."""
    dtrain = lgb.Dataset(train[list(features)], label=train["target"], free_raw_data=True)
    return lgb.train(params, dtrain, num_boost_round=num_boost_round)


def predict_sales(booster: lgb.Booster, rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Sales-scale forecast; series that sold nothing lately (`alive` False) get 0."""
    out = np.zeros(len(rows), dtype=np.float64)
    alive = rows["alive"].to_numpy()
    if alive.any():
        num_iteration = booster.best_iteration or None
        log_pred = booster.predict(rows.loc[alive, list(features)], num_iteration=num_iteration)
        out[alive] = np.expm1(np.clip(log_pred, 0, None))
    return out
