"""The sweep YAML: load it, refuse one that would fail or mislead (guards), count a grid, and
turn the engine's suggestions into template parameters."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from .. import runner
from ..errors import UserError
from ..jsonio import to_jsonable
from ..paths import REPO_ROOT
from ..templates import TEMPLATES, Template
from .engine import import_sweeps

DEFAULT_TEMPLATE = "exp001"
DEFAULT_PROJECT = "store-sales"
# What a template reports in its W&B summary, and the metrics.json key holding the same value.
METRICS = {
    "val/rmsle": "val_rmsle",
    "val/rmsle_alive": "val_rmsle_alive",
    "cv/rmsle_mean": "cv_rmsle_mean",
}
# Metrics with a per-step curve (fold 1's validation RMSE tracks them while training); only
# these can feed hyperband and the per-step history the engine reads.
PER_STEP_METRICS = ("val/rmsle", "val/rmsle_alive")
METHODS = ("grid", "random", "bayes")  # the engine's; "custom" needs a W&B-side controller
# Set per trial by the sweep itself; a sweep that tuned them would break its own bookkeeping.
RESERVED = ("output_dir", "sweep_dir", "wandb_mode", "wandb_group")
NOT_TUNABLE = (*RESERVED, "exp_name", "wandb_project", "wandb_entity")
MAX_GRID = 50  # seed 002: more than a few dozen grid points is days of training; ask explicitly


class SweepError(UserError):
    """A sweep that cannot start: bad YAML, guard, or missing W&B access. One readable message."""


# ---------------------------------------------------------------------------------------------
# the template being tuned


def template_entry(template: str | Path) -> Template | None:
    """The registry's entry for a template (by name or notebook path); None for a notebook the
    registry does not know (it then runs without the config's value checks)."""
    return TEMPLATES.get(Path(str(template)).stem)


def check_every_default(template: str | Path) -> int:
    """Steps between two hyperband checks of a local trial, as the template sets it."""
    entry = template_entry(template)
    return entry.hyperband_check_every if entry else 10


def template_fields(template: str | Path, declared: dict) -> set[str]:
    """The template config's field names (the notebook's parameters for an unregistered one)."""
    entry = template_entry(template)
    return {f.name for f in fields(entry.config)} if entry else set(declared)


# ---------------------------------------------------------------------------------------------
# load


def config_path(source: str | Path) -> Path:
    """A sweep file as given, else relative to the repo (`configs/sweep.yaml` from anywhere)."""
    path = Path(source).expanduser()
    if not path.is_file() and not path.is_absolute() and (REPO_ROOT / path).is_file():
        return REPO_ROOT / path
    return path


def load_config(source: str | Path | dict) -> dict:
    """A sweep config from a YAML file (or a dict, copied)."""
    if isinstance(source, dict):
        return json.loads(json.dumps(source))
    path = config_path(source)
    if not path.is_file():
        raise SweepError(f"sweep file {path} not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SweepError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise SweepError(f"{path}: a sweep config is a mapping (method, metric, parameters)")
    return config


# ---------------------------------------------------------------------------------------------
# parameter specs, as the engine reads them


def _fill(name: str, spec: Any) -> dict | None:
    """The parameter spec with its distribution made explicit (the engine's own inference)."""
    import_sweeps()  # imports sweeps quietly first
    from sweeps.config import fill_parameter

    if not isinstance(spec, dict):
        return None
    try:
        filled = fill_parameter(name, spec)
    except ValueError:  # includes ParamValidationError (nested parameters)
        return None
    return filled[1] if filled else None


def _extremes(spec: dict) -> list:
    """Values a parameter can reach at its ends, to check them against the template's config."""
    dist = spec["distribution"]
    if dist == "constant":
        return [spec["value"]]
    if dist.startswith("categorical"):
        return list(spec["values"])
    if dist in ("log_uniform", "q_log_uniform"):  # bounds are natural logs of the values
        return [math.exp(spec["min"]), math.exp(spec["max"])]
    if dist == "inv_log_uniform":
        return [math.exp(-spec["max"]), math.exp(-spec["min"])]
    if "min" in spec and "max" in spec:
        return [spec["min"], spec["max"]]
    return []  # normal, beta: unbounded or not checkable here


def _gives_ints(spec: dict) -> bool:
    dist = spec["distribution"]
    if dist == "constant":
        return is_int(spec["value"])
    if dist.startswith("categorical"):
        return all(is_int(v) for v in spec["values"])
    if dist == "int_uniform":
        return True
    q = spec.get("q", 1)  # round(x / q) * q: whole numbers for a whole q
    return dist.startswith("q_") and isinstance(q, (int, float)) and float(q).is_integer()


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_constant(spec: Any) -> bool:
    """A parameter the YAML fixes (`value:`) rather than tunes."""
    return isinstance(spec, dict) and "value" in spec and "values" not in spec


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# guards


def grid_size(config: dict) -> int:
    """Number of grid points; raises if a parameter is continuous (grid cannot enumerate it)."""
    import numpy as np

    size = 1
    for name, spec in (config.get("parameters") or {}).items():
        filled = _fill(name, spec) or {}
        dist = filled.get("distribution")
        if dist == "constant":
            n = 1
        elif dist == "categorical":
            n = len(filled["values"])
        elif dist == "int_uniform":
            n = filled["max"] - filled["min"] + 1
        elif dist == "q_uniform":
            n = len(np.arange(filled["min"], filled["max"], filled["q"]))
        else:
            raise SweepError(
                f"grid sweeps need discrete parameters; {name} is {dist or spec!r}: "
                "use values: [...], int_uniform or q_uniform, or method random/bayes"
            )
        size *= n
    return size


def check_config(
    config: dict,
    template: str = DEFAULT_TEMPLATE,
    fixed: dict | None = None,
    allow_large_grid: bool = False,
) -> dict:
    """Refuse a sweep that would fail or mislead, before any training; returns the template's
    declared parameters with their defaults. All problems are reported in one error.

    It stays long on purpose: a flat list of independent checks of a few lines each, all adding
    to one `problems` list so a user sees every problem in one go.
    """
    sweeps = import_sweeps()
    fixed = dict(fixed or {})
    nb = runner.resolve_notebook(template)
    declared = runner.notebook_parameters(nb)
    problems: list[str] = []
    try:
        problems += sweeps.schema_violations_from_proposed_config(config)
    except (ValueError, TypeError) as err:  # TypeError: min/max of different types
        problems.append(f"the sweep schema check failed: {err}")
    params = config.get("parameters")
    if not isinstance(params, dict) or not params:
        problems.append(f"parameters: give at least one {nb.stem} parameter to tune")
        params = {}
    method = config.get("method")
    if method not in METHODS:
        problems.append(f"method {method!r}: use one of {', '.join(METHODS)}")
    metric = config.get("metric")
    if not isinstance(metric, dict) or "name" not in metric:
        problems.append(
            "metric: give `metric: {name: val/rmsle, goal: minimize}` "
            f"({nb.stem} logs {', '.join(METRICS)})"
        )
    else:
        if metric["name"] not in METRICS:
            problems.append(
                f"metric {metric['name']!r} is never logged by {nb.stem}; it logs "
                f"{', '.join(METRICS)} to the W&B summary"
            )
        if metric.get("goal", "minimize") != "minimize":
            problems.append(f"metric {metric['name']!r} is an error: goal must be minimize")
        if (
            metric["name"] in METRICS
            and metric["name"] not in PER_STEP_METRICS
            and ("early_terminate" in config)
        ):
            problems.append(
                f"early_terminate needs a per-step metric ({', '.join(PER_STEP_METRICS)}); "
                f"{metric['name']!r} exists only once every fold has finished"
            )

    entry = template_entry(nb)
    config_cls = entry.config if entry else None
    for name, spec in params.items():
        if name not in declared:
            problems.append(f"{nb.stem} has no parameter {name!r}; valid: {', '.join(declared)}")
            continue
        if name in NOT_TUNABLE:
            problems.append(f"parameter {name!r} is set by the sweep itself, not tunable")
            continue
        if name in fixed:
            problems.append(f"parameter {name!r} is both tuned and fixed (-p/-f); pick one")
        if isinstance(spec, dict):
            for key in ("min", "max", "value", "mu", "sigma", "q"):
                if isinstance(spec.get(key), str) and _looks_numeric(spec[key]):
                    problems.append(
                        f"{name}.{key}: {spec[key]!r} is read as text by YAML; write it with a "
                        "dot and a signed exponent, e.g. 1.0e-6"
                    )
        filled = _fill(name, spec)
        if filled is None:
            continue  # the schema check above has already said what is wrong
        default = declared[name]
        if is_int(default) and not _gives_ints(filled):
            problems.append(
                f"{name} is an integer parameter but {filled['distribution']} draws floats: use "
                "int_uniform, values: [...], or a q_* distribution with an integer q"
            )
        if config_cls is not None:
            for value in _extremes(filled):
                try:
                    config_cls(**{**_fixed_for_config(fixed, declared), name: value})
                except (ValueError, TypeError) as err:  # ConfigError is a ValueError
                    problems.append(f"{name}={value!r}: {err}")
    if method == "grid" and params and not problems:
        try:
            size = grid_size(config)
        except SweepError as err:
            problems.append(str(err))
        else:
            if size > MAX_GRID and not allow_large_grid:
                problems.append(
                    f"the grid has {size} combinations (more than {MAX_GRID}); use random or "
                    "bayes, shrink the grid, or pass --allow-large-grid (allow_large_grid=True)"
                )
    problems += _check_fixed(fixed, declared, config_cls)
    if not problems:  # the engine's own dry run: anything it would only say at trial time
        try:
            sweeps.next_run(config, [])
            if "early_terminate" in config:
                sweeps.stop_runs(config, [])
        except (ValueError, KeyError, TypeError) as err:
            problems.append(f"the sweep engine refuses this config: {err}")
    if problems:
        raise SweepError("invalid sweep config:\n  - " + "\n  - ".join(dict.fromkeys(problems)))
    return declared


def check_data(
    config: dict, template: str | Path, fixed: dict | None, declared: dict | None = None
) -> None:
    """The data the trials will read, checked before the sweep's (or study's) folder, a trial
    or a kernel exists (`runner.check_data`: one DataError line): the data_dir of `fixed` (or
    the template's default), or each one the YAML gives it (`value`, `values`)."""
    fixed = dict(fixed or {})
    given = (config.get("parameters") or {}).get("data_dir")
    choices = []
    if isinstance(given, dict):
        choices = [given["value"]] if "value" in given else list(given.get("values") or [])
    notebook = runner.resolve_notebook(template)
    for params in [{**fixed, "data_dir": c} for c in choices] or [fixed]:
        runner.check_data(notebook, params, declared)


def _fixed_for_config(fixed: dict, declared: dict) -> dict:
    return {k: v for k, v in fixed.items() if k in declared and k not in RESERVED}


# what the sweep or tune sets for every trial instead of a reserved parameter
SET_FOR_EACH_TRIAL = {
    "output_dir": "each trial gets its own folder in the {engine}'s folder",
    "sweep_dir": "it points each trial at the {engine}'s folder (pruning, results)",
    "wandb_mode": "every trial logs to W&B offline (`wandb sync` the runs later); "
    "`store-sales sweep create/agent` runs trials online",
    "wandb_group": "the trials are grouped by the {engine}'s name",
}


def _check_fixed(fixed: dict, declared: dict, config_cls, engine: str = "sweep") -> list[str]:
    problems = []
    for name in fixed:
        if name not in declared:
            problems.append(f"fixed parameter {name!r} is not a template parameter")
        elif name in RESERVED:
            instead = SET_FOR_EACH_TRIAL[name].format(engine=engine)
            problems.append(f"{name!r} cannot be fixed: the {engine} sets it ({instead})")
    if config_cls is not None and not problems:
        try:
            config_cls(**fixed)
        except (ValueError, TypeError) as err:
            problems.append(f"fixed parameters: {err}")
    return problems


def suggested_params(suggestion_config: dict, declared: dict) -> dict:
    """The engine's `{name: {"value": v}}` as plain values typed like the template's defaults."""
    out = {}
    for name, entry in suggestion_config.items():
        value = to_jsonable(
            entry["value"] if isinstance(entry, dict) and "value" in entry else entry
        )
        if is_int(declared.get(name)) and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out
