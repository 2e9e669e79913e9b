"""Saved predictions, the input of blends and error analysis: `oof.parquet`, `test_pred.parquet`.

oof: one row per validated (fold, origin_date, date, store_nbr, family, h) with `actual` and
`pred` in sales units. test_pred: one row per test id (id, date, store_nbr, family, pred), in
submission order, with the values written to submission.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OOF_FILE = "oof.parquet"
TEST_PRED_FILE = "test_pred.parquet"


def _series_columns(panel, s: np.ndarray) -> dict[str, np.ndarray]:
    meta = panel.series
    return {
        "store_nbr": meta["store_nbr"].astype(int).to_numpy()[s].astype(np.int16),
        "family": pd.Categorical.from_codes(
            meta["family"].array.codes[s], dtype=meta["family"].dtype
        ),
    }


def _dates(panel, days: np.ndarray) -> np.ndarray:
    return (panel.start + pd.to_timedelta(days, unit="D")).to_numpy()


def oof_frame(panel, validation) -> pd.DataFrame:
    parts = []
    for result in validation.folds:
        rows = result.rows
        s = rows["s"].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "fold": np.full(len(rows), result.fold.k, dtype=np.int8),
                    "origin_date": _dates(panel, rows["origin"].to_numpy()),
                    "date": _dates(panel, rows["day"].to_numpy()),
                    **_series_columns(panel, s),
                    "h": rows["h"].to_numpy().astype(np.int8),
                    "actual": np.expm1(rows["target"].to_numpy().astype(np.float64)),
                    "pred": rows["pred"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_pred_frame(panel, forecast, submission: pd.DataFrame) -> pd.DataFrame:
    """The forecast rows in submission order; refuses a forecast that differs from the file."""
    frame = pd.DataFrame(
        {
            "id": forecast.ids.astype(np.int64),
            "date": _dates(panel, forecast.day),
            **_series_columns(panel, forecast.s),
            "pred": forecast.sales,
        }
    ).set_index("id")
    frame = frame.loc[submission["id"].to_numpy()].reset_index()
    if not np.allclose(frame["pred"].to_numpy(), submission["sales"].to_numpy()):
        raise AssertionError("test predictions and submission.csv disagree")
    return frame


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return Path(path)
