"""The competition metric and the breakdowns of validation error a run reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .paths import HORIZON


def rmsle(y_true, y_pred) -> float:
    """Root mean squared log error, the competition metric; inputs must be >= 0."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} vs {y_pred.shape}")
    if (y_true < 0).any() or (y_pred < 0).any():
        raise ValueError("RMSLE needs non-negative values (clip forecasts at 0)")
    return float(np.sqrt(np.mean(np.square(np.log1p(y_pred) - np.log1p(y_true)))))


def cv_summary(scores) -> dict[str, float]:
    """`cv_rmsle_mean`, `cv_rmsle_std` (population std, as numpy/sklearn report it) and one
    `cv_rmsle_fold_<k>` per fold, k = 1 nearest the test."""
    scores = np.asarray(scores, dtype=np.float64)
    out = {"cv_rmsle_mean": float(scores.mean()), "cv_rmsle_std": float(scores.std())}
    out.update({f"cv_rmsle_fold_{k}": float(v) for k, v in enumerate(scores, start=1)})
    return out


def by_horizon(oof: pd.DataFrame) -> pd.DataFrame:
    """RMSLE per horizon day 1..16: over all folds (`rmsle`) and per fold (`fold_<k>`)."""
    sq = np.square(np.log1p(oof["pred"].to_numpy()) - np.log1p(oof["actual"].to_numpy()))
    frame = pd.DataFrame({"h": oof["h"].to_numpy(), "fold": oof["fold"].to_numpy(), "sq": sq})
    table = pd.DataFrame({"h": np.arange(1, HORIZON + 1)})
    table["rmsle"] = np.sqrt(frame.groupby("h")["sq"].mean()).reindex(table["h"]).to_numpy()
    per_fold = np.sqrt(frame.pivot_table(index="h", columns="fold", values="sq", aggfunc="mean"))
    for k in per_fold.columns:
        table[f"fold_{k}"] = per_fold[k].reindex(table["h"]).to_numpy()
    return table


def validation_tables(panel, val_rows: pd.DataFrame, worst: int = 20):
    """Per-series and per-family validation errors of one fold, worst first.

    Validation rows come ordered (series, h), 16 per series, so per-series figures are row
    reductions of a (series, 16) reshape.
    """
    actual = np.expm1(val_rows["target"].to_numpy()).reshape(-1, HORIZON)
    pred = val_rows["pred"].to_numpy().reshape(-1, HORIZON)
    s = val_rows["s"].to_numpy()[::HORIZON]
    sq = np.square(np.log1p(pred) - np.log1p(actual))
    meta = panel.series.iloc[s]
    series = pd.DataFrame(
        {
            "store_nbr": meta["store_nbr"].astype(int).to_numpy(),
            "family": meta["family"].astype(str).to_numpy(),
            "rmsle": np.sqrt(sq.mean(axis=1)),
            "sq": sq.mean(axis=1),
            "actual_total": actual.sum(axis=1),
            "forecast_total": pred.sum(axis=1),
        }
    )
    families = series.groupby("family")
    per_family = pd.DataFrame(
        {
            "rmsle": np.sqrt(families["sq"].mean()),
            "n_series": families.size(),
            "actual_mean": families["actual_total"].mean() / HORIZON,
            "forecast_mean": families["forecast_total"].mean() / HORIZON,
        }
    ).sort_values("rmsle", ascending=False)
    top = np.argsort(-series["rmsle"].to_numpy(), kind="stable")[:worst]
    worst_series = series.iloc[top].drop(columns="sq").reset_index(drop=True)
    worst_series["actual_16d"] = [" ".join(f"{x:.0f}" for x in row) for row in actual[top]]
    worst_series["forecast_16d"] = [" ".join(f"{x:.0f}" for x in row) for row in pred[top]]
    return worst_series, per_family.reset_index()
