"""exp002: one global XGBoost on log1p(sales), one row per (origin, series, horizon day).

Same rows, features, folds and zero rule as exp001; the model is XGBoost (`hist`, depth-wise
trees, categorical splits on the category columns).

Defaults were chosen by fold-1 validation RMSLE on full-scale synthetic data (seed 0), one
change at a time at eta 0.1 or 0.05: depth 8 beat 6, 7, 9 and 10; 100 rows per leaf beat 50 and
300; eta 0.05 beat 0.1 and 0.03; 256 bins beat 64; partition splits (one-hot only up to 4
categories) beat one-hot splits for every category; column sampling 0.8 beat 0.5. Depth-wise
growth: XGBoost's loss-guided growth (LightGBM-like leaves) is ~30x slower per round on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import BoostingFields, TemplateConfig, at_least_one, unit_interval

GROW_POLICIES = ("depthwise", "lossguide")
DEVICES = ("cpu", "cuda", "auto")  # XGBoost's device, and auto


@dataclass
class Exp002Config(BoostingFields, TemplateConfig, template="exp002"):
    # patience 50, not BoostingFields' 100: the same best round on full-scale seeds 0, 1 and 2
    # (190, 302, 206), 50 fewer rounds per fold fit (docs/templates.md)
    early_stopping_rounds: int = 50  # rounds without a better validation score before stopping
    # XGBoost
    learning_rate: float = 0.05  # eta
    grow_policy: str = "depthwise"  # depthwise | lossguide (lossguide is ~30x slower on CPU)
    max_depth: int = 8  # 0: no limit (lossguide only)
    max_leaves: int = 0  # 0: no limit; with lossguide the tree size
    min_child_weight: float = 100.0  # about the rows per leaf (squared error: hessian 1 per row)
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    reg_alpha: float = 0.0
    max_bin: int = 256
    max_cat_to_onehot: int = 4  # categories up to this many: one-hot splits; more: partitions
    num_boost_round: int = 3000
    device: str = "cpu"  # cpu | cuda | auto (cuda when there is a GPU)

    def problems(self) -> list[str]:
        out = [
            *super().problems(),
            *at_least_one(self, "num_boost_round", "max_cat_to_onehot"),
            *unit_interval(self, "learning_rate", "subsample", "colsample_bytree"),
        ]
        if self.grow_policy not in GROW_POLICIES:
            out.append(f"grow_policy={self.grow_policy!r} is not one of {GROW_POLICIES}")
        if self.max_depth < 0 or self.max_leaves < 0:
            out.append(
                f"max_depth={self.max_depth!r}, max_leaves={self.max_leaves!r} must be >= 0 "
                "(0 = no limit)"
            )
        elif self.max_depth == 0 and (self.grow_policy == "depthwise" or self.max_leaves == 0):
            out.append("max_depth=0 (no limit) needs grow_policy='lossguide' and max_leaves >= 2")
        if self.max_leaves == 1:
            out.append("max_leaves=1 is a tree without a split: use 0 (no limit) or >= 2")
        if self.device not in DEVICES:
            out.append(f"device={self.device!r} is not one of {DEVICES}")
        if self.max_bin < 2:
            out.append(f"max_bin={self.max_bin!r} must be >= 2")
        for name in ("min_child_weight", "reg_lambda", "reg_alpha"):
            if getattr(self, name) < 0:
                out.append(f"{name}={getattr(self, name)!r} must be >= 0")
        return out

    def xgb_params(self) -> dict[str, Any]:
        return {
            "objective": "reg:squarederror",
            "eta": self.learning_rate,
            "grow_policy": self.grow_policy,
            "max_depth": self.max_depth,
            "max_leaves": self.max_leaves,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "alpha": self.reg_alpha,
            "max_bin": self.max_bin,
            "max_cat_to_onehot": self.max_cat_to_onehot,
            "nthread": self.num_threads,
            "device": self.device,  # auto: resolved by the adapter (devices.py)
            "seed": self.seed,
            "verbosity": 1,  # warnings only
        }
