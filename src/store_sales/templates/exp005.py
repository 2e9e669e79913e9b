"""exp005: scikit-learn's HistGradientBoostingRegressor on exp001's rows, its model in ten lines.

The notebook's `model` cell builds the estimator from these fields and hands it to
`store_sales.models.estimator.Estimator`, which gives it the pipeline's early stopping (warm-
started growth, scored on the validation rows), the exact refit, curves, hooks and threads.
This module holds only its parameters; the package imports no scikit-learn for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import BoostingFields, TemplateConfig, at_least_one, unit_interval


@dataclass
class Exp005Config(BoostingFields, TemplateConfig, template="exp005", model="histgradientboosting"):
    # HistGradientBoostingRegressor (scikit-learn's names)
    learning_rate: float = 0.1  # shrinkage of each tree
    max_leaf_nodes: int = 63  # leaves per tree (trees grow leaf by leaf)
    min_samples_leaf: int = 40  # rows a leaf needs at least
    l2_regularization: float = 1.0  # L2 penalty on leaf values
    max_bins: int = 255  # bins per numeric feature (at most 255)
    max_iter: int = 3000  # the most trees; early stopping keeps the best count

    def problems(self) -> list[str]:
        out = [
            *super().problems(),
            *at_least_one(self, "min_samples_leaf", "max_iter"),
            *unit_interval(self, "learning_rate"),
        ]
        if self.max_leaf_nodes < 2:
            out.append(f"max_leaf_nodes={self.max_leaf_nodes!r} must be >= 2")
        if not 2 <= self.max_bins <= 255:
            out.append(f"max_bins={self.max_bins!r} must be in 2..255")
        if self.l2_regularization < 0:
            out.append(f"l2_regularization={self.l2_regularization!r} must be >= 0")
        return out
