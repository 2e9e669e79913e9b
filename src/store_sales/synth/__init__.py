"""Deterministic synthetic stand-in for the Kaggle "Store Sales" (Favorita) data.

Why: the pipeline must run and be scored offline without the real data, so this writes the
seven competition CSVs (exact schema, row order and, at full scale, row counts) plus the
hidden test labels and the best achievable forecast ("noise floor") in ``hidden/``.

    tables    the competition's stores, families, cities, fixed dates and counts
    holidays  `make_holidays`: the holidays_events table
    model     the generative model: layout, expected level, draws, latent, sales, floor
    writers   `generate`, the CSV writers, `describe`, `load_solution`
"""

from .holidays import N_HOLIDAYS, make_holidays
from .model import FLOOR_NODES, SD_LATENT
from .tables import (
    FAMILIES,
    FAMILY_NAMES,
    FIRST_DAY,
    LAST_TRAIN,
    N_TEST_DAYS,
    STORES,
    TEST_END,
    VERSION,
)
from .writers import describe, generate, load_solution

__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "FIRST_DAY",
    "FLOOR_NODES",
    "LAST_TRAIN",
    "N_HOLIDAYS",
    "N_TEST_DAYS",
    "SD_LATENT",
    "STORES",
    "TEST_END",
    "VERSION",
    "describe",
    "generate",
    "load_solution",
    "make_holidays",
]
