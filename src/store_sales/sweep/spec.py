"""The sweep YAML as W&B's engine reads it: its guards (the search layer's checklist plus the
engine's schema, methods and dry run), a grid's size, and the engine's suggestions as template
parameters."""

from __future__ import annotations

from typing import Any

from ..search.checklist import Checklist, check_data
from ..search.template import (
    DEFAULT_TEMPLATE,
    MAX_GRID,
    METRICS,
    PER_STEP_METRICS,
    SearchError,
    check_every_default,
    typed_params,
)
from ..search.template import (
    load_config as load_search_config,
)
from .engine import import_sweeps

__all__ = [
    "DEFAULT_PROJECT",
    "DEFAULT_TEMPLATE",
    "MAX_GRID",
    "METHODS",
    "METRICS",
    "SweepError",
    "check_config",
    "check_data",
    "check_every_default",
    "grid_size",
    "load_config",
    "suggested_params",
]

DEFAULT_PROJECT = "store-sales"
METHODS = ("grid", "random", "bayes")  # the engine's; "custom" needs a W&B-side controller


class SweepError(SearchError):
    """A sweep that cannot start: bad YAML, guard, or missing W&B access. One readable message."""


def load_config(source) -> dict:
    """A sweep config from a YAML file (or a dict, copied)."""
    return load_search_config(source, SweepError)


def fill(name: str, spec: Any) -> dict | None:
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


def grid_size(config: dict) -> int:
    """Number of grid points; raises if a parameter is continuous (grid cannot enumerate it)."""
    import numpy as np

    size = 1
    for name, spec in (config.get("parameters") or {}).items():
        filled = fill(name, spec) or {}
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


def _schema_problems(config: dict) -> list[str]:
    """What the engine's schema says of the config."""
    try:
        return list(import_sweeps().schema_violations_from_proposed_config(config))
    except (ValueError, TypeError) as err:  # TypeError: min/max of different types
        return [f"the sweep schema check failed: {err}"]


def _method_problems(config: dict) -> list[str]:
    method = config.get("method")
    return [] if method in METHODS else [f"method {method!r}: use one of {', '.join(METHODS)}"]


def _hyperband_problems(config: dict, metric: str) -> list[str]:
    """Hyperband on a metric known only once every fold has finished."""
    problems = []
    if metric in METRICS and metric not in PER_STEP_METRICS and "early_terminate" in config:
        problems.append(
            f"early_terminate needs a per-step metric ({', '.join(PER_STEP_METRICS)}); "
            f"{metric!r} exists only once every fold has finished"
        )
    return problems


def _dry_run(config: dict) -> list[str]:
    """The engine's own dry run: anything it would only say at trial time."""
    sweeps = import_sweeps()
    try:
        sweeps.next_run(config, [])
        if "early_terminate" in config:
            sweeps.stop_runs(config, [])
    except (ValueError, KeyError, TypeError) as err:
        return [f"the sweep engine refuses this config: {err}"]
    return []


def check_config(
    config: dict,
    template: str = DEFAULT_TEMPLATE,
    fixed: dict | None = None,
    allow_large_grid: bool = False,
) -> dict:
    """Refuse a sweep that would fail or mislead, before any training; returns the template's
    declared parameters with their defaults. All problems are reported in one error."""
    check = Checklist(template, fixed, engine="sweep", who="sweep")
    check.problems += _schema_problems(config)
    params = check.parameters(config)
    check.problems += _method_problems(config)
    check.problems += _hyperband_problems(config, check.metric(config))
    for name, spec in params.items():
        filled = check.parameter(name, spec, fill)
        if filled is not None:
            check.values(name, filled)
    if config.get("method") == "grid" and params and not check.problems:
        check.grid(lambda: grid_size(config), allow_large_grid, "random or bayes")
    check.check_fixed()
    if not check.problems:
        check.problems += _dry_run(config)
    check.raise_if_any(SweepError, "invalid sweep config")
    return check.declared


def suggested_params(suggestion_config: dict, declared: dict) -> dict:
    """The engine's `{name: {"value": v}}` as plain values typed like the template's defaults."""
    return typed_params(suggestion_config, declared)
