"""Figures for a run, drawn without pyplot's global state so they never pile up in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def learning_curve(evals: dict, best_iteration: int) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for name, style in (("train", "-"), ("val", "-")):
        if name in evals:
            ax.plot(evals[name]["rmse"], style, label=f"{name} RMSE (log1p sales)")
    if best_iteration:
        ax.axvline(
            best_iteration - 1, color="grey", ls="--", lw=1, label=f"best = {best_iteration}"
        )
    ax.set(xlabel="boosting round", ylabel="RMSE on log1p(sales)", title="Learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def feature_importance(booster, top: int = 30) -> Figure:
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).sort_values()
    gain = gain.iloc[-top:] / max(gain.sum(), 1e-12)
    fig = Figure(figsize=(7, max(3, 0.25 * len(gain))))
    ax = fig.subplots()
    ax.barh(gain.index, gain.to_numpy())
    ax.set(xlabel="share of total gain", title="Feature importance (gain)")
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
