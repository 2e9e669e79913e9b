"""The rows every template trains and forecasts on: one per (origin, series, horizon day).

Each origin's features are computed from that origin's `Known` alone; the rows also carry what
the pipeline needs around them (META): the series `s`, `origin`, `h`, the target `day`, its
`target` log1p(sales) (NaN on the test) and `alive` (the zero rule's flag).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..paths import HORIZON
from .contract import DEFAULT, Feature, Known, frame_columns, select

META = ("s", "origin", "h", "day", "target", "alive")


def build_features(
    panel, origins, zero_window: int = 56, features: str | Sequence[Feature] = DEFAULT
) -> pd.DataFrame:
    """Rows for every (origin, series, h in 1..16), ordered by origin, series, h: META, then the
    selected features (a `features` string or a `select()` result) in registry order.

    `alive` says whether the series sold anything in the `zero_window` days up to the origin.
    """
    chosen = select(features) if isinstance(features, str) else list(features)
    origins = np.asarray(origins, dtype=np.int64)
    if origins.min() < 0 or origins.max() > panel.last_train:
        raise ValueError(f"origins must lie in 0..{panel.last_train} (days with known sales)")
    hs = np.arange(1, HORIZON + 1)
    target_day = origins[:, None] + hs[None, :]  # (K, H)
    if target_day.max() >= panel.n_days:
        raise ValueError("an origin is too late: its 16 target days run past the data")
    n_series = panel.y.shape[0]
    shape = (len(origins), n_series, HORIZON)

    def per_day(a: np.ndarray) -> np.ndarray:  # (K, H) -> rows
        return np.broadcast_to(a[:, None, :], shape).ravel()

    target = panel.y[:, target_day]  # (S, K, H); days past the last train day are NaN
    cols: dict[str, object] = {
        "s": np.broadcast_to(np.arange(n_series)[None, :, None], shape).ravel(),
        "origin": per_day(np.broadcast_to(origins[:, None], target_day.shape)),
        "h": per_day(np.broadcast_to(hs[None, :], target_day.shape)).astype(np.int8),
        "day": per_day(target_day),
        "target": np.ascontiguousarray(target.transpose(1, 0, 2)).ravel(),
    }
    alive = np.empty(shape, dtype=bool)
    values: dict[str, np.ndarray] = {}
    dtypes: dict[str, pd.CategoricalDtype] = {}
    frames = frame_columns(panel.calendar), frame_columns(panel.series)
    for k, origin in enumerate(origins):
        known = Known(panel, origin, frames)
        alive[k] = known.sold[:, -zero_window:].any(axis=1)[:, None]
        for f in chosen:
            value = f.compute(known)
            if isinstance(value, pd.Categorical):
                dtypes.setdefault(f.name, value.dtype)
                value = np.broadcast_to(value.codes[:, None], (n_series, HORIZON))
            if f.name not in values:
                values[f.name] = np.empty(shape, dtype=value.dtype)
            values[f.name][k] = value
    cols["alive"] = alive.ravel()
    for name, array in values.items():
        flat = array.ravel()
        cols[name] = pd.Categorical.from_codes(flat, dtype=dtypes[name]) if name in dtypes else flat
    return pd.DataFrame(cols, copy=False)
