"""exp004: CatBoost on the same rows as exp001; its model is written in the notebook.

The package imports no catboost: the adapter (fit with early stopping, exact refit, predict,
save/load, importance, the step hook) is the notebook's `model` cell, the worked example of
adding a model without touching the package. This module holds only its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import BoostingFields, TemplateConfig, at_least_one, unit_interval


@dataclass
class Exp004Config(BoostingFields, TemplateConfig, template="exp004"):
    # CatBoost
    learning_rate: float = 0.1  # shrinkage of each tree
    depth: int = 8  # depth of the symmetric (oblivious) trees
    l2_leaf_reg: float = 3.0  # L2 penalty on leaf values
    border_count: int = 254  # bins per numeric feature
    iterations: int = 3000  # the most trees; early stopping keeps the best count

    def problems(self) -> list[str]:
        return [
            *super().problems(),
            *at_least_one(self, "depth", "iterations", "border_count"),
            *unit_interval(self, "learning_rate"),
        ]

    def catboost_params(self) -> dict[str, Any]:
        """The model's fields carry CatBoost's own names."""
        own = ("learning_rate", "depth", "l2_leaf_reg", "border_count")
        return {
            "loss_function": "RMSE",
            **{name: getattr(self, name) for name in own},
            "random_seed": self.seed,
            "allow_writing_files": False,  # no catboost_info/ in the working dir
        }
