"""exp004: CatBoost on the same rows as exp001; its model is written in the notebook.

The package imports no catboost: the adapter (fit with early stopping, exact refit, predict,
save/load, importance, the step hook) is the notebook's `model` cell, the worked example of
adding a model without touching the package. This module holds only its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import BoostingFields, TemplateConfig, at_least_one, unit_interval


@dataclass
class Exp004Config(BoostingFields, TemplateConfig):
    """Field names are the notebook's papermill parameters; `asdict` of this is the W&B config."""

    TEMPLATE: ClassVar[str] = "exp004"
    MODEL: ClassVar[str] = "catboost"

    exp_name: str = "exp004"
    # CatBoost
    learning_rate: float = 0.1
    depth: int = 8
    l2_leaf_reg: float = 3.0
    border_count: int = 254  # bins per numeric feature
    iterations: int = 3000

    def problems(self) -> list[str]:
        return [
            *super().problems(),
            *at_least_one(self, "depth", "iterations", "border_count"),
            *unit_interval(self, "learning_rate"),
        ]

    def catboost_params(self) -> dict[str, Any]:
        return {
            "loss_function": "RMSE",
            "learning_rate": self.learning_rate,
            "depth": self.depth,
            "l2_leaf_reg": self.l2_leaf_reg,
            "border_count": self.border_count,
            "random_seed": self.seed,
            "allow_writing_files": False,  # no catboost_info/ in the working dir
        }
