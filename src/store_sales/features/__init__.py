"""Features: the contract (`feature`, `Known`, `select`), the built-in groups and the rows.

    from store_sales.features import feature

    @feature("mean_7_again")
    def mean_7_again(known):
        return np.nanmean(known.y[:, -7:], axis=1)

See `contract` for what a feature may read, `builtin` for the default groups, `rows` for how
they become one row per (origin, series, horizon day).
"""

from ..panel import Panel, build_panel
from . import builtin
from .builtin import CATEGORICAL, WINDOWS
from .contract import (
    ALL,
    DEFAULT,
    REGISTRY,
    Feature,
    FeatureError,
    Known,
    feature,
    feature_names,
    groups,
    resolve,
    select,
)
from .rows import META, build_features

__all__ = [
    "ALL",
    "CATEGORICAL",
    "DEFAULT",
    "META",
    "REGISTRY",
    "WINDOWS",
    "Feature",
    "FeatureError",
    "Known",
    "Panel",
    "build_features",
    "build_panel",
    "builtin",
    "feature",
    "feature_names",
    "groups",
    "resolve",
    "select",
]
