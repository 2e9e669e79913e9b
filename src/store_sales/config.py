"""Paths, environment detection and the experiment config dataclasses.

Every path is derived from one root so that a fork, a Jupyter session, a papermill batch and a
Kaggle kernel all agree on where data and outputs live.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

COMPETITION = "store-sales-time-series-forecasting"
HORIZON = 16  # the competition forecasts 2017-08-16..08-31 from data ending 2017-08-15

PACKAGE_DIR = Path(__file__).resolve().parent
# src/store_sales/config.py -> repo root; only meaningful for a source checkout.
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
    return project_root() / "outputs"


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def real_data_dir() -> Path:
    """Where the runner looks for real data: Kaggle's mount, or `data/raw/<competition>`."""
    return KAGGLE_INPUT if on_kaggle() else data_root() / "raw" / COMPETITION


def synthetic_data_dir(seed: int = 0) -> Path:
    return data_root() / "synthetic" / f"full-seed{seed}"


WANDB_MODES = ("auto", "online", "offline", "disabled")


@dataclass
class Exp001Config:
    """exp001: one global LightGBM on log1p(sales), one row per (origin, series, horizon day).

    Field names are the notebook's papermill parameters; `asdict` of this is the W&B config.
    """

    MODEL: ClassVar[str] = "lightgbm"  # part of the run name; not a parameter

    # run identity and I/O
    exp_name: str = "exp001"
    data_dir: str = ""  # "" -> Kaggle input, else data/raw/<competition>, else synthetic data
    output_dir: str = ""  # "" -> outputs/<exp_name>/<run name>; must not hold another run
    wandb_mode: str = "auto"  # auto | online | offline | disabled
    wandb_project: str = "store-sales"
    wandb_entity: str = ""
    wandb_group: str = ""  # "" -> exp_name; a sweep puts its trials in one group
    sweep_dir: str = ""  # set by the local sweep runner: lets hyperband stop this trial early
    seed: int = 42
    # validation: the validation origin is 16 days before the last train day
    n_origins: int = 26  # training origins per fit (26 x 14 days: a year of seasons)
    origin_stride: int = 14  # days between training origins (multiples of 7 keep the weekday)
    zero_window: int = 56  # series with no sales in these many days before the origin -> 0
    refit: bool = True  # refit on origins moved 16 days later with the best iteration count
    # LightGBM
    learning_rate: float = 0.05
    num_leaves: int = 127
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    num_boost_round: int = 3000
    early_stopping_rounds: int = 100
    log_period: int = 100
    num_threads: int = 0  # 0 = LightGBM's default (all cores)

    def __post_init__(self) -> None:
        problems = []
        if self.wandb_mode not in WANDB_MODES:
            problems.append(f"wandb_mode={self.wandb_mode!r} is not one of {WANDB_MODES}")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.exp_name or ""):
            problems.append(f"exp_name={self.exp_name!r}: use letters, digits, '_', '-', '.'")
        for name in ("n_origins", "origin_stride", "zero_window", "num_leaves", "num_boost_round"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)!r} must be >= 1")
        if not 0 < self.learning_rate <= 1:
            problems.append(f"learning_rate={self.learning_rate!r} must be in (0, 1]")
        for name in ("feature_fraction", "bagging_fraction"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"{name}={getattr(self, name)!r} must be in (0, 1]")
        if problems:
            raise ValueError("Invalid config: " + "; ".join(problems))

    @classmethod
    def from_params(cls, namespace: dict[str, Any]):
        """Build from a notebook's globals: picks exactly this template's fields."""
        values = {f.name: namespace[f.name] for f in fields(cls) if f.name in namespace}
        return cls(**values)

    def changed(self) -> dict[str, Any]:
        """Parameters that differ from the template's defaults (the run's notes)."""
        default = type(self)()
        return {k: v for k, v in asdict(self).items() if getattr(default, k) != v}

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
            "seed": self.seed,
            "verbose": -1,
        }


# notebook stem -> its config class, so the runner can name a run before the notebook starts
TEMPLATES: dict[str, type] = {"exp001": Exp001Config}


def new_run_dir(exp_name: str, output_dir: str = "", model: str = "") -> tuple[Path, str]:
    """Create the run's own folder and return it with the run's name.

    The name is `<exp_name>-<model>-<timestamp>` (W&B run name; the group is exp_name). An
    explicit folder may exist but must not hold another run's results; an automatic one is
    `outputs/<exp_name>/<name>`, with a suffix if that second is taken.
    """
    stamp = "-".join(filter(None, [model, datetime.now().strftime("%Y%m%d-%H%M%S")]))
    if output_dir:
        path = Path(output_dir).expanduser().resolve()
        taken = [n for n in ("metrics.json", "submission.csv") if (path / n).exists()]
        if taken:
            raise FileExistsError(
                f"output_dir {path} already holds a run ({', '.join(taken)}). "
                "Pass a new folder, or output_dir='' for an automatic one."
            )
        path.mkdir(parents=True, exist_ok=True)
        # a folder the runner named for this run keeps its name, so folder and W&B run agree
        return path, path.name if path.name.startswith(f"{exp_name}-") else f"{exp_name}-{stamp}"
    parent = outputs_root() / exp_name
    parent.mkdir(parents=True, exist_ok=True)
    for i in range(100):
        name = f"{exp_name}-{stamp}" + (f"-{i}" if i else "")
        try:
            (parent / name).mkdir()
        except FileExistsError:
            continue
        return parent / name, name
    raise FileExistsError(f"could not create a new run folder under {parent}")


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, paths and numpy scalars as plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    return obj


def write_json(path: Path, obj: Any) -> Path:
    """Atomic replace: a sweep's trials read such files while another process writes them."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")
    tmp.replace(path)
    return path
