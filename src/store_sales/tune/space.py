"""The sweep YAML's `parameters` as Optuna distributions, with the sweep's own guards.

One file serves W&B agents online and Optuna offline: its values are checked by the search
layer's checklist (`search.checklist`: template parameters, integer types, the template config's
ranges); only the distribution mapping is ours. W&B infers a missing `distribution` (`values`
-> categorical, `value` -> constant, int min/max -> int_uniform, else uniform); so do we,
without `sweeps` (not on Kaggle's image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..search.checklist import Checklist
from ..search.template import SearchError, is_int, typed_params
from .quiet import import_optuna


class TuneError(SearchError):
    """A study that cannot start: bad YAML, a distribution Optuna cannot take, a guard."""


# W&B distributions with no Optuna counterpart, and what to write instead
UNMAPPED = {
    "normal": "uniform or values: [...]",
    "q_normal": "q_uniform or values: [...]",
    "log_normal": "log_uniform_values",
    "q_log_normal": "q_log_uniform_values with q: 1",
    "beta": "uniform",
    "q_beta": "q_uniform",
    "inv_log_uniform": "log_uniform_values",
    "inv_log_uniform_values": "log_uniform_values",
    "q_log_uniform": "q_log_uniform_values (bounds as values, not logs) with q: 1",
}
CHOICE_TYPES = (type(None), bool, int, float, str)  # what Optuna's categorical stores


@dataclass
class Space:
    """The tuned parameters as Optuna distributions, the YAML's constants, the template's
    declared parameters (name -> default), and the metric."""

    distributions: dict[str, Any]
    constants: dict[str, Any]
    declared: dict[str, Any]
    metric: str

    def size(self) -> int:
        """The grid's number of points (TuneError for a continuous parameter)."""
        return math.prod(len(v) for v in self.grid().values())

    def grid(self) -> dict[str, list]:
        """The grid sampler's search space: every distribution must be finite."""
        import numpy as np
        from optuna.distributions import CategoricalDistribution, IntDistribution

        out = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                out[name] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and not dist.log:
                out[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif getattr(dist, "step", None) and not dist.log:  # FloatDistribution with step
                n = round((dist.high - dist.low) / dist.step)
                out[name] = [
                    float(v) for v in np.round(dist.low + dist.step * np.arange(n + 1), 12)
                ]
            else:
                raise TuneError(
                    f"the grid sampler needs discrete parameters; {name} is continuous: use "
                    "values: [...], int_uniform or q_uniform, or --sampler tpe/random"
                )
        return out


def infer(spec_: Any) -> dict | None:
    """The parameter spec with its distribution made explicit, as W&B infers it."""
    if not isinstance(spec_, dict):
        return None
    filled = dict(spec_)
    if "distribution" not in filled:
        if "values" in filled:
            filled["distribution"] = "categorical"
        elif "value" in filled:
            filled["distribution"] = "constant"
        elif "min" in filled and "max" in filled:
            ints = is_int(filled["min"]) and is_int(filled["max"])
            filled["distribution"] = "int_uniform" if ints else "uniform"
        elif "mu" in filled:
            filled["distribution"] = "normal"
        else:
            return None
    if filled["distribution"].startswith("q_"):
        filled.setdefault("q", 1.0)
    return filled


def distribution(name: str, filled: dict, declared_int: bool):
    """One Optuna distribution for a W&B spec (None for a constant); TuneError if unmappable."""
    import_optuna()
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    dist = filled["distribution"]
    if dist in UNMAPPED:
        raise TuneError(f"{name}: Optuna has no {dist}; use {UNMAPPED[dist]}")
    if dist == "constant":
        return None
    if dist in ("categorical", "categorical_w_probabilities"):
        if "probabilities" in filled:
            raise TuneError(f"{name}: Optuna's categorical takes no probabilities; drop them")
        values = list(filled["values"])
        bad = [v for v in values if not isinstance(v, CHOICE_TYPES)]
        if bad or not values:
            raise TuneError(f"{name}: categorical values must be numbers, text or booleans")
        return CategoricalDistribution(values)
    low, high = filled.get("min"), filled.get("max")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise TuneError(f"{name}: {dist} needs numeric min and max")
    q = filled.get("q")
    if dist == "int_uniform":
        return IntDistribution(int(low), int(high))
    if dist == "uniform":
        return FloatDistribution(float(low), float(high))
    if dist == "log_uniform_values":
        return FloatDistribution(float(low), float(high), log=True)
    if dist == "log_uniform":  # bounds are natural logs of the values
        return FloatDistribution(math.exp(low), math.exp(high), log=True)
    if dist == "q_uniform":
        if declared_int and float(q).is_integer():
            return IntDistribution(int(low), int(high), step=int(q))
        return FloatDistribution(float(low), float(high), step=float(q))
    if dist == "q_log_uniform_values":
        if float(q) == 1.0:  # Optuna's log scale takes no other step
            return IntDistribution(math.ceil(low), math.floor(high), log=True)
        raise TuneError(f"{name}: Optuna's log scale takes q: 1 only; use q: 1 or values: [...]")
    raise TuneError(f"{name}: unknown distribution {dist!r}")


def _mapped(check: Checklist, name: str, filled: dict):
    """The Optuna distribution of a filled spec (None for a constant); False when unmappable
    (the problem noted)."""
    try:
        return distribution(name, filled, is_int(check.declared[name]))
    except TuneError as err:
        check.problems.append(str(err))
    except (TypeError, ValueError, KeyError) as err:  # Optuna's own range checks
        check.problems.append(f"{name}: {err}")
    return False


def check(
    config: dict,
    template: str,
    fixed: dict | None = None,
    allow_large_grid: bool = False,
    grid: bool = False,
) -> Space:
    """Refuse a search space that would fail or mislead, before any training (every problem in
    one error), else the space as Optuna distributions."""
    check = Checklist(template, fixed, engine="tune", who="study")
    params = check.parameters(config)
    metric = check.metric(config)
    unfilled = "{name}: give a distribution with min/max, values: [...] or value:"
    distributions, constants = {}, {}
    for pname, pspec in params.items():
        filled = check.parameter(pname, pspec, lambda _, spec_: infer(spec_), unfilled)
        dist = None if filled is None else _mapped(check, pname, filled)
        if dist is False or filled is None:
            continue
        if dist is None:
            constants[pname] = filled["value"]
        else:
            distributions[pname] = dist
        check.values(pname, filled)
    if params and not distributions and not check.problems:
        check.problems.append("parameters: every parameter is a constant; nothing to tune")
    check.check_fixed()
    space = Space(distributions, constants, check.declared, metric)
    if grid and not check.problems:
        check.grid(space.size, allow_large_grid, "--sampler tpe/random")
    check.raise_if_any(TuneError, "invalid search space")
    return space


def typed(params: dict, declared: dict) -> dict:
    """Optuna's values as plain Python typed like the template's defaults."""
    return typed_params(params, declared)
