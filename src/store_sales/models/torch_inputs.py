"""The tabular MLP's inputs: a feature frame -> float32 numeric and int64 categorical arrays,
with the state learned from the training rows only (no torch here: the arrays become tensors in
`torch_net` and `pytorch`).

- every categorical input (the feature frame's `category` columns: store_nbr, family, city,
  state, type, cluster; the target day's weekday `dow`; and the horizon day `h`, a meta column
  the adapter adds as an input: how far ahead a row looks decides how much its recent level
  and its same-weekday history are worth) gets an embedding of `ceil(1.6 * n ** 0.56)`
  dimensions, at most `emb_max_dim`, over the values seen in training; index 0 is "unseen",
  a zero vector that is never trained (a store opened after training predicts as "no store");
- numeric features are standardized with means and standard deviations of the training rows
  only, clipped at ±`clip_z`, and missing values become 0 (the mean) plus a 0/1 indicator for
  every column that has missing values in training;
- the target log1p(sales) is standardized with the training mean/std; with a `base` (a numeric
  feature such as `ewm_14`, the series' recent level) the network learns the standardized
  difference target - base instead, and the base is added back to its output (a missing base
  counts as the training target's mean).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def embedding_dim(n_values: int, max_dim: int) -> int:
    """fastai's rule of thumb, capped: 7 weekdays -> 5, 33 families -> 12, 54 stores -> 15."""
    return int(max(1, min(max_dim, math.ceil(1.6 * n_values**0.56))))


@dataclass
class Preprocessing:
    """Frame -> input arrays; its state (means, vocabularies, target scale) is learned from
    training rows only and saved with the model."""

    numeric: list[str]  # in input order
    mean: list[float]
    std: list[float]
    indicators: list[str]  # numeric columns with a missing indicator (NaN in training)
    categorical: list[str]  # in input order (`h` included when it is an input)
    vocab: dict[str, list]  # values seen in training; input index = position + 1, 0 = unseen
    clip_z: float
    target_mean: float
    target_std: float
    base: str = ""  # a numeric feature the target is learned relative to ("" -> none)
    base_fill: float = 0.0  # the base where it is missing: the training target's mean

    @classmethod
    def learn(
        cls,
        train: pd.DataFrame,
        features: Sequence[str],
        categorical_extra: Sequence[str],
        clip_z: float,
        base: str = "",
    ) -> Preprocessing:
        features = list(features)
        if base and base not in features:
            raise ValueError(
                f"target_base={base!r} is not one of the features: select it "
                f"(features='default,+{base}') or set target_base='' (learn the target itself)"
            )
        categorical = [c for c in features if isinstance(train[c].dtype, pd.CategoricalDtype)]
        categorical += [c for c in categorical_extra if c not in categorical]
        numeric = [c for c in features if c not in categorical]
        mean, std, indicators = [], [], []
        for col in numeric:
            values = train[col].to_numpy(dtype=np.float64, na_value=np.nan)
            finite = np.isfinite(values)
            if not finite.all():
                indicators.append(col)
            mu = float(values[finite].mean()) if finite.any() else 0.0
            sd = float(values[finite].std()) if finite.any() else 1.0
            mean.append(mu)
            std.append(sd if sd > 1e-12 else 1.0)
        vocab = {col: _seen_values(train[col]) for col in categorical}
        target = train["target"].to_numpy(dtype=np.float64)
        fill = float(target.mean())
        if base:
            if base in categorical:
                raise ValueError(f"target_base={base!r} is categorical: give a numeric feature")
            target = target - _filled(train[base], fill)
        sd = float(target.std())
        return cls(
            numeric=numeric,
            mean=mean,
            std=std,
            indicators=indicators,
            categorical=categorical,
            vocab=vocab,
            clip_z=float(clip_z),
            target_mean=float(target.mean()),
            target_std=sd if sd > 1e-12 else 1.0,
            base=base,
            base_fill=fill if base else 0.0,
        )

    @property
    def n_numeric_inputs(self) -> int:
        return len(self.numeric) + len(self.indicators)

    @property
    def cardinalities(self) -> list[int]:
        return [len(self.vocab[c]) + 1 for c in self.categorical]  # + the unseen index 0

    def numeric_inputs(self, rows: pd.DataFrame) -> np.ndarray:
        """(n, numeric + indicators) float32: standardized, clipped, NaN -> 0, indicators."""
        n = len(rows)
        out = np.empty((n, self.n_numeric_inputs), dtype=np.float32)
        position = {c: j for j, c in enumerate(self.numeric)}
        for j, col in enumerate(self.numeric):
            column = out[:, j]
            column[:] = rows[col].to_numpy(dtype=np.float32, na_value=np.nan)
            column -= np.float32(self.mean[j])
            column /= np.float32(self.std[j])
        missing = ~np.isfinite(out[:, : len(self.numeric)])
        for k, col in enumerate(self.indicators):
            out[:, len(self.numeric) + k] = missing[:, position[col]]
        block = out[:, : len(self.numeric)]
        block[missing] = 0.0
        if self.clip_z > 0:
            np.clip(block, -self.clip_z, self.clip_z, out=block)
        return out

    def categorical_inputs(self, rows: pd.DataFrame) -> np.ndarray:
        """(n, categorical) int64 indices into each embedding; 0 for a value not seen in
        training (a new store, a new family), so an unseen category never fails."""
        out = np.zeros((len(rows), len(self.categorical)), dtype=np.int64)
        for j, col in enumerate(self.categorical):
            if col not in rows:
                raise KeyError(f"column {col!r} (an input of this model) is missing from the rows")
            known = pd.Index(self.vocab[col])
            column = rows[col]
            if isinstance(column.dtype, pd.CategoricalDtype):
                # map the few categories, then gather by code: no hashing of every row
                lookup = known.get_indexer(column.cat.categories) + 1
                codes = column.cat.codes.to_numpy()
                out[:, j] = np.where(codes >= 0, lookup[np.maximum(codes, 0)], 0)
            else:
                out[:, j] = known.get_indexer(column.to_numpy()) + 1
        return out

    def offset(self, rows: pd.DataFrame) -> np.ndarray:
        """(n,) float64: what the network's de-standardized output is added to (0: no base)."""
        if not self.base:
            return np.zeros(len(rows), dtype=np.float64)
        return _filled(rows[self.base], self.base_fill)

    def target(self, rows: pd.DataFrame) -> np.ndarray:
        y = rows["target"].to_numpy(dtype=np.float64) - self.offset(rows)
        return ((y - self.target_mean) / self.target_std).astype(np.float32)

    def log1p_sales(self, standardized: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
        """The network's output for `rows` as log1p(sales), float64."""
        out = np.asarray(standardized, dtype=np.float64) * self.target_std + self.target_mean
        return out + self.offset(rows)


def _filled(column: pd.Series, fill: float) -> np.ndarray:
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(values), values, fill)


def _seen_values(column: pd.Series) -> list:
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.unique(column.cat.codes.to_numpy())
        values = column.cat.categories[codes[codes >= 0]]
    else:
        values = pd.unique(column.dropna().to_numpy())
    return sorted(_plain(v) for v in values)


def _plain(value):
    """A value torch.load(weights_only=True) can read back: int, float or str."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def inputs(prep: Preprocessing, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The network's (numeric, categorical) input arrays for `rows`."""
    return prep.numeric_inputs(rows), prep.categorical_inputs(rows)
