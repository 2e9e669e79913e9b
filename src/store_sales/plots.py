"""Figures for a run, drawn without pyplot's global state so they never pile up in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def learning_curve(curves: dict[int, dict[str, list]], best: dict[int, int], unit: str) -> Figure:
    """Per-step train/validation RMSE of every fold (fold 1 solid, others fainter)."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for k, fold_curves in sorted(curves.items()):
        alpha = 1.0 if k == 1 else 0.45
        suffix = "" if len(curves) == 1 else f" fold {k}"
        for name, color in (("train_rmse", "tab:blue"), ("val_rmse", "tab:orange")):
            if fold_curves.get(name):
                label = f"{name.split('_')[0]}{suffix}"
                ax.plot(fold_curves[name], color=color, alpha=alpha, label=label)
        if best.get(k):
            ax.axvline(best[k] - 1, color="grey", ls="--", lw=1, alpha=alpha)
    ax.set(xlabel=unit, ylabel="RMSE on log1p(sales)", title="Learning curve (dashed: best)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def feature_importance(share: pd.Series, top: int = 30) -> Figure:
    share = share.sort_values().iloc[-top:]
    fig = Figure(figsize=(7, max(3, 0.25 * len(share))))
    ax = fig.subplots()
    ax.barh(share.index, share.to_numpy())
    ax.set(xlabel="share of total importance", title="Feature importance")
    fig.tight_layout()
    return fig


def by_horizon(table: pd.DataFrame) -> Figure:
    """RMSLE by horizon day: all folds, and each fold when there are several."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    folds = [c for c in table.columns if c.startswith("fold_")]
    if len(folds) > 1:
        for c in folds:
            ax.plot(table["h"], table[c], lw=1, alpha=0.5, label=c.replace("_", " "))
    ax.plot(table["h"], table["rmsle"], color="black", lw=2, marker="o", label="all folds")
    ax.set(xlabel="horizon day", ylabel="RMSLE", title="Validation RMSLE by horizon day")
    ax.set_xticks(table["h"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def actual_vs_forecast(
    panel, val_rows: pd.DataFrame, n_series: int = 4, history: int = 56
) -> Figure:
    """The largest validation series: recent history, the 16 actual days and the forecast."""
    by_series = val_rows.groupby("s", observed=True)["target"].sum().sort_values()
    chosen = by_series.index[-n_series:][::-1]
    fig = Figure(figsize=(10, 2.4 * len(chosen)))
    axes = np.atleast_1d(fig.subplots(len(chosen), 1, sharex=False))
    origin = int(val_rows["origin"].iloc[0])
    days = np.arange(origin - history + 1, origin + 17)
    dates = panel.start + pd.to_timedelta(days, unit="D")
    for ax, s in zip(axes, chosen, strict=True):
        actual = np.expm1(panel.y[s, days])
        rows = val_rows[val_rows["s"].to_numpy() == s]
        ax.plot(dates, actual, color="black", lw=1, label="actual")
        ax.plot(dates[-16:], rows["pred"].to_numpy(), color="tab:orange", lw=2, label="forecast")
        ax.axvline(dates[history - 1], color="grey", ls="--", lw=1)
        meta = panel.series.iloc[s]
        ax.set_title(f"store {meta['store_nbr']} · {meta['family']}", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
