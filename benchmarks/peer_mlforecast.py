"""The peer: Store Sales forecast with mlforecast, written as a strong user would.

    .venv-bench/bin/python benchmarks/peer_mlforecast.py DATA_DIR OUT_DIR [--threads N]
        [--rounds 1000] [--days 400]

Recursive global LightGBM (mlforecast) on log1p(sales): lags 1-7, 14, 21, 28; rolling means of
lag 1 (7, 14, 28 days) and lag 7 (28 days), a rolling std, seasonal (weekday) rolling means;
calendar date features; the promotions as an exogenous, known-in-advance column; store and
family as static categoricals; the zero rule (a series with no sales in its last 56 days
forecasts 0). It trains on the last 400 days (`--days`; 0: all 4.6 years): about as many
training rows as exp001's year of origins (0.66M against 0.69M), as strong entries to the
competition trained on the recent past. Its own validation: fit on the days up to T-16 (T the
last train day, the same origin as exp001's fold 1), forecast T-15..T recursively, score
RMSLE; then a refit on all those days and the 16-day test forecast, written to
OUT_DIR/submission.csv. OUT_DIR/peer.json holds its validation RMSLE and its time per phase.

Only pandas, numpy, lightgbm and mlforecast: mlforecast 1.1 needs pandas<3, so it runs in an
environment of its own (`python -m venv .venv-bench && .venv-bench/bin/pip install -r
requirements-bench.txt`), never in the package's.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlforecast import MLForecast
from mlforecast.lag_transforms import RollingMean, RollingStd, SeasonalRollingMean

H = 16
ZERO_WINDOW = 56

timings: dict[str, float] = {}


@contextmanager
def phase(name: str):
    t0 = time.perf_counter()
    yield
    timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)


def model(threads: int, rounds: int, seed: int) -> lgb.LGBMRegressor:
    # exp001's LightGBM settings, so the two differ in their features and forecasting scheme
    return lgb.LGBMRegressor(
        n_estimators=rounds,
        learning_rate=0.05,
        num_leaves=127,
        min_child_samples=100,
        colsample_bytree=0.8,
        subsample=0.8,
        subsample_freq=1,
        reg_lambda=1.0,
        n_jobs=threads,
        random_state=seed,
        verbose=-1,
    )


def forecaster(threads: int, rounds: int, seed: int) -> MLForecast:
    return MLForecast(
        models={"lgb": model(threads, rounds, seed)},
        freq="D",
        lags=[1, 2, 3, 4, 5, 6, 7, 14, 21, 28],
        lag_transforms={
            1: [RollingMean(7), RollingMean(14), RollingMean(28), RollingStd(28)],
            7: [
                RollingMean(28),
                SeasonalRollingMean(season_length=7, window_size=4),
                SeasonalRollingMean(season_length=7, window_size=8),
            ],
        },
        date_features=["dayofweek", "day", "month", "dayofyear"],
        num_threads=threads,
    )


def fit_predict(train: pd.DataFrame, future: pd.DataFrame, args, name: str) -> pd.DataFrame:
    """Fit on `train` (unique_id, ds, y, onpromotion, store, family), forecast 16 days."""
    with phase(f"{name}_fit"):
        mlf = forecaster(args.threads, args.rounds, args.seed)
        mlf.fit(train, static_features=["store", "family"])
    with phase(f"{name}_predict"):
        pred = mlf.predict(H, X_df=future[["unique_id", "ds", "onpromotion"]])
    # the zero rule: series without a sale in the last ZERO_WINDOW days stay at 0
    last = train["ds"].max()
    recent = train[train["ds"] > last - pd.Timedelta(days=ZERO_WINDOW)]
    dead = recent.groupby("unique_id", observed=True)["y"].max() <= 0
    pred["sales"] = np.expm1(np.clip(pred["lgb"].to_numpy(), 0, None))
    pred.loc[pred["unique_id"].map(dead).fillna(False).to_numpy(), "sales"] = 0.0
    return pred


def rmsle(actual, pred) -> float:
    return float(np.sqrt(np.mean(np.square(np.log1p(pred) - np.log1p(actual)))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--days", type=int, default=400, help="train on the last DAYS days (0: all the data)"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    with phase("load"):
        df = pd.read_csv(args.data_dir / "train.csv", parse_dates=["date"])
        test = pd.read_csv(args.data_dir / "test.csv", parse_dates=["date"])
    with phase("prepare"):
        both = pd.concat([df, test], ignore_index=True)
        both["unique_id"] = both["store_nbr"].astype(str) + "_" + both["family"]
        both["store"] = both["store_nbr"].astype("category")
        both["family"] = both["family"].astype("category")
        both = both.rename(columns={"date": "ds"})
        both["y"] = np.log1p(both["sales"])
        both["onpromotion"] = both["onpromotion"].astype(np.float32)
        cols = ["unique_id", "ds", "y", "onpromotion", "store", "family"]
        train = both[both["sales"].notna()][cols]
        # the shops close on Christmas: the missing days as days without sales (mlforecast
        # needs every day of each series)
        days = pd.date_range(train["ds"].min(), train["ds"].max(), freq="D")
        grid = pd.MultiIndex.from_product([train["unique_id"].unique(), days], names=cols[:2])
        train = train.set_index(cols[:2]).reindex(grid).reset_index()
        train[["y", "onpromotion"]] = train[["y", "onpromotion"]].fillna(0.0)
        train[["store", "family"]] = train.groupby("unique_id")[["store", "family"]].transform(
            "first"
        )
        train = train.sort_values(["unique_id", "ds"], ignore_index=True)
        future = both[both["sales"].isna()][[*cols, "id"]]
        last = train["ds"].max()
        if args.days:  # about exp001's training rows: a year of origins, ~0.68M rows
            train = train[train["ds"] > last - pd.Timedelta(days=args.days)]
        val_origin = last - pd.Timedelta(days=H)  # exp001's fold 1: the last train day - 16

    # validation: fit up to val_origin, forecast the 16 days after it recursively
    fit_rows = train[train["ds"] <= val_origin]
    val_rows = train[train["ds"] > val_origin]
    val = fit_predict(fit_rows, val_rows, args, "val")
    val = val_rows.merge(val[["unique_id", "ds", "sales"]], on=["unique_id", "ds"], how="left")
    val_rmsle = rmsle(np.expm1(val["y"].to_numpy()), val["sales"].fillna(0).to_numpy())
    print(f"peer validation RMSLE {val_rmsle:.5f} ({len(val):,} rows)", flush=True)

    # refit on everything, forecast the test
    pred = fit_predict(train, future, args, "refit")
    sub = future.merge(pred[["unique_id", "ds", "sales"]], on=["unique_id", "ds"], how="left")
    with phase("write"):
        sub[["id", "sales"]].fillna({"sales": 0.0}).sort_values("id").to_csv(
            args.out_dir / "submission.csv", index=False
        )
    timings["total"] = round(time.perf_counter() - t0, 3)
    (args.out_dir / "peer.json").write_text(
        json.dumps(
            {
                "val_rmsle": val_rmsle,
                "threads": args.threads,
                "rounds": args.rounds,
                "n_train_rows": len(train),
                "timings": timings,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
