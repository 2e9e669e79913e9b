"""Where things live: every path is derived from one root.

A fork, a Jupyter session, a papermill batch and a Kaggle kernel all agree on where data and
outputs are.
"""

from __future__ import annotations

import os
from pathlib import Path

COMPETITION = "store-sales-time-series-forecasting"
HORIZON = 16  # the competition forecasts 2017-08-16..08-31 from data ending 2017-08-15

PACKAGE_DIR = Path(__file__).resolve().parent
# src/store_sales/paths.py -> repo root; only meaningful for a source checkout.
REPO_ROOT = PACKAGE_DIR.parents[1]
KAGGLE_INPUT = Path("/kaggle/input") / COMPETITION
KAGGLE_WORKING = Path("/kaggle/working")


def on_kaggle() -> bool:
    """Kaggle sets this variable in every kernel (interactive and batch)."""
    return bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE"))


def project_root() -> Path:
    """Where `data/` and `outputs/` live: the repo checkout, Kaggle's working dir, or the cwd."""
    if on_kaggle():
        return KAGGLE_WORKING
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT
    return Path.cwd()


def data_root() -> Path:
    return project_root() / "data"


def outputs_root() -> Path:
    """`outputs/` of the project, or `$STORE_SALES_OUTPUTS` (a scratch area, a shared disk)."""
    override = os.environ.get("STORE_SALES_OUTPUTS")
    return Path(override).expanduser().resolve() if override else project_root() / "outputs"


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def real_data_dir() -> Path:
    """Where the runner looks for real data: Kaggle's mount, or `data/raw/<competition>`."""
    return KAGGLE_INPUT if on_kaggle() else data_root() / "raw" / COMPETITION


def synthetic_data_dir(seed: int = 0) -> Path:
    return data_root() / "synthetic" / f"full-seed{seed}"
