"""The template a search tunes, as every engine sees it: the metrics it logs, the parameters a
search sets itself, its defaults and config fields; and the search YAML, loaded."""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..jsonio import to_jsonable
from ..paths import REPO_ROOT, outputs_root
from ..templates import TEMPLATES, Template

DEFAULT_TEMPLATE = "exp001"
# What a template reports in its W&B summary, and the metrics.json key holding the same value.
METRICS = {
    "val/rmsle": "val_rmsle",
    "val/rmsle_alive": "val_rmsle_alive",
    "cv/rmsle_mean": "cv_rmsle_mean",
}
# Metrics with a per-step curve (fold 1's validation RMSE tracks them while training); only
# these can feed hyperband, a pruner and the per-step history the engine reads.
PER_STEP_METRICS = ("val/rmsle", "val/rmsle_alive")
# Set per trial by the search itself; a search that tuned them would break its own bookkeeping.
RESERVED = ("output_dir", "sweep_dir", "wandb_mode", "wandb_group")
NOT_TUNABLE = (*RESERVED, "exp_name", "wandb_project", "wandb_entity")
MAX_GRID = 50  # seed 002: more than a few dozen grid points is days of training; ask explicitly
MAX_CONSECUTIVE_FAILURES = 3  # a broken data_dir would otherwise fail `count` times


class SearchError(UserError):
    """A search that cannot start; each engine raises its own kind (SweepError, TuneError)."""


def template_entry(template: str | Path) -> Template | None:
    """The registry's entry for a template (by name or notebook path); None for a notebook the
    registry does not know (it then runs without the config's value checks)."""
    return TEMPLATES.get(Path(str(template)).stem)


def check_every_default(template: str | Path) -> int:
    """Steps between two judgements of a trial (hyperband, a pruner), as the template sets it."""
    entry = template_entry(template)
    return entry.hyperband_check_every if entry else 10


def template_fields(template: str | Path, declared: dict) -> set[str]:
    """The template config's field names (the notebook's parameters for an unregistered one)."""
    entry = template_entry(template)
    return {f.name for f in fields(entry.config)} if entry else set(declared)


def config_path(source: str | Path) -> Path:
    """A search file as given, else relative to the repo (`configs/sweep.yaml` from anywhere)."""
    path = Path(source).expanduser()
    if not path.is_file() and not path.is_absolute() and (REPO_ROOT / path).is_file():
        return REPO_ROOT / path
    return path


def config_source(config: Any) -> str:
    """The search file's text as given ("" for a dict), kept in the search folder."""
    return config_path(config).read_text() if isinstance(config, (str, Path)) else ""


def load_config(source: str | Path | dict, error: type[SearchError] = SearchError) -> dict:
    """A search config from a YAML file (or a dict, copied)."""
    if isinstance(source, dict):
        return json.loads(json.dumps(source))
    path = config_path(source)
    if not path.is_file():
        raise error(f"sweep file {path} not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise error(f"{path} is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise error(f"{path}: a sweep config is a mapping (method, metric, parameters)")
    return config


def check_count(count: Any, error: type[SearchError], message: str) -> None:
    """`count` trials: a whole number from 1 (a bool is no count)."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise error(message)


def search_folder(
    kind: str, name: str, given: str | Path, error: type[SearchError], what: str
) -> tuple[str, Path]:
    """The search's name and folder: `given` (its name by default), else outputs/<kind>/<name>."""
    if given:
        folder = Path(given).expanduser().resolve()
        name = name or folder.name
    else:
        folder = outputs_root() / kind / name
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise error(f"{what} name {name!r}: use letters, digits, '_', '-', '.'")
    return name, folder


def stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def default_threads(fixed: dict, config: dict, workers: int, fields: set[str]) -> dict:
    """Parallel trials each get their share of the cores (0 would give each all of them), for a
    template with a `num_threads` parameter. The value is kept in best.yaml: the rerun then uses
    the same threads, hence the same model."""
    if (
        workers > 1
        and "num_threads" in fields
        and "num_threads" not in fixed
        and "num_threads" not in config["parameters"]
    ):
        return {**fixed, "num_threads": max(1, (os.cpu_count() or 1) // workers)}
    return fixed


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def typed_params(suggestion: dict, declared: dict) -> dict:
    """An engine's `{name: {"value": v}}` (or `{name: v}`) as plain values typed like the
    template's defaults."""
    out = {}
    for name, entry in suggestion.items():
        value = to_jsonable(
            entry["value"] if isinstance(entry, dict) and "value" in entry else entry
        )
        if is_int(declared.get(name)) and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out


def fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def shown(params: dict) -> str:
    """`a=1, b=0.1` for a trial's line."""
    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items())
