"""exp001: one global LightGBM on log1p(sales), one row per (origin, series, horizon day)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import BoostingFields, TemplateConfig, at_least_one, unit_interval

DEVICES = ("cpu", "gpu", "cuda", "auto")  # LightGBM's device_type, and auto


@dataclass
class Exp001Config(BoostingFields, TemplateConfig, template="exp001"):
    # patience 50, not BoostingFields' 100: the same best round on full-scale seeds 0, 1 and 2
    # (173, 191, 213), 50 fewer rounds per fold fit (docs/benchmarks.md)
    early_stopping_rounds: int = 50  # rounds without a better validation score before stopping
    # LightGBM
    learning_rate: float = 0.05  # shrinkage of each tree
    num_leaves: int = 127  # leaves per tree (trees grow leaf by leaf)
    min_data_in_leaf: int = 100  # rows a leaf needs at least
    feature_fraction: float = 0.8  # share of the features each tree may split on
    bagging_fraction: float = 0.8  # share of the rows each tree is grown on
    bagging_freq: int = 1  # draw those rows again every k trees (0: no bagging)
    lambda_l2: float = 1.0  # L2 penalty on leaf values
    num_boost_round: int = 3000  # the most trees; early stopping keeps the best count
    device: str = "cpu"  # cpu | gpu (OpenCL, in LightGBM's wheels) | cuda (a CUDA build) | auto

    def problems(self) -> list[str]:
        return [
            *super().problems(),
            *at_least_one(self, "num_leaves", "num_boost_round"),
            *unit_interval(self, "learning_rate", "feature_fraction", "bagging_fraction"),
            *(
                [f"device={self.device!r} is not one of {DEVICES}"]
                if self.device not in DEVICES
                else []
            ),
        ]

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "regression",
            "metric": "rmse",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "num_threads": self.num_threads,
            "device_type": self.device,  # auto: resolved by the adapter (devices.py)
            "seed": self.seed,
            "verbose": -1,
        }
