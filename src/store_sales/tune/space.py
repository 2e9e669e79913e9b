"""The sweep YAML's `parameters` as Optuna distributions, with the sweep's own guards.

One file serves W&B agents online and Optuna offline: the YAML is loaded and its values checked
by `sweep.spec` (template parameters, integer types, the template config's ranges); only the
distribution mapping is ours. W&B infers a missing `distribution` (`values` -> categorical,
`value` -> constant, int min/max -> int_uniform, else uniform); so do we, without `sweeps`
(not on Kaggle's image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import runner
from ..errors import UserError
from ..sweep import spec
from .quiet import import_optuna


class TuneError(UserError):
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
            ints = spec.is_int(filled["min"]) and spec.is_int(filled["max"])
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


def check(
    config: dict,
    template: str,
    fixed: dict | None = None,
    allow_large_grid: bool = False,
    grid: bool = False,
) -> Space:
    """Refuse a search space that would fail or mislead, before any training (every problem in
    one error), else the space as Optuna distributions. Long as a checklist is: one rule after
    another, each adding its problem, so all of them are said at once."""
    fixed = dict(fixed or {})
    nb = runner.resolve_notebook(template)
    declared = runner.notebook_parameters(nb)
    problems: list[str] = []
    params = config.get("parameters")
    if not isinstance(params, dict) or not params:
        problems.append(f"parameters: give at least one {nb.stem} parameter to tune")
        params = {}
    metric = config.get("metric")
    name = ""
    if not isinstance(metric, dict) or "name" not in metric:
        problems.append("metric: give `metric: {name: val/rmsle, goal: minimize}`")
    else:
        name = metric["name"]
        if name not in spec.METRICS:
            problems.append(
                f"metric {name!r} is never logged by {nb.stem}: use {', '.join(spec.METRICS)}"
            )
        if metric.get("goal", "minimize") != "minimize":
            problems.append(f"metric {name!r} is an error: goal must be minimize")
    entry = spec.template_entry(nb)
    config_cls = entry.config if entry else None
    distributions, constants = {}, {}
    for pname, pspec in params.items():
        if pname not in declared:
            problems.append(f"{nb.stem} has no parameter {pname!r}; valid: {', '.join(declared)}")
            continue
        if pname in spec.NOT_TUNABLE:
            problems.append(f"parameter {pname!r} is set by the study itself, not tunable")
            continue
        if pname in fixed:
            problems.append(f"parameter {pname!r} is both tuned and fixed (-p/-f); pick one")
        if isinstance(pspec, dict):
            for key in ("min", "max", "value", "q"):
                if isinstance(pspec.get(key), str) and spec._looks_numeric(pspec[key]):
                    problems.append(
                        f"{pname}.{key}: {pspec[key]!r} is read as text by YAML; write it with "
                        "a dot and a signed exponent, e.g. 1.0e-6"
                    )
        filled = infer(pspec)
        if filled is None:
            problems.append(f"{pname}: give a distribution with min/max, values: [...] or value:")
            continue
        declared_int = spec.is_int(declared[pname])
        try:
            dist = distribution(pname, filled, declared_int)
        except TuneError as err:
            problems.append(str(err))
            continue
        except (TypeError, ValueError, KeyError) as err:  # Optuna's own range checks
            problems.append(f"{pname}: {err}")
            continue
        if declared_int and not spec._gives_ints(filled):
            problems.append(
                f"{pname} is an integer parameter but {filled['distribution']} draws floats: use "
                "int_uniform, values: [...], or a q_* distribution with an integer q"
            )
        if dist is None:
            constants[pname] = filled["value"]
        else:
            distributions[pname] = dist
        if config_cls is not None:
            base = spec._fixed_for_config(fixed, declared)
            for value in spec._extremes(filled):
                try:
                    config_cls(**{**base, pname: value})
                except (ValueError, TypeError) as err:  # ConfigError is a ValueError
                    problems.append(f"{pname}={value!r}: {err}")
    if params and not distributions and not problems:
        problems.append("parameters: every parameter is a constant; nothing to tune")
    problems += spec._check_fixed(fixed, declared, config_cls, engine="tune")
    space = Space(distributions, constants, declared, name)
    if grid and not problems:
        try:
            size = math.prod(len(v) for v in space.grid().values())
        except TuneError as err:
            problems.append(str(err))
        else:
            if size > spec.MAX_GRID and not allow_large_grid:
                problems.append(
                    f"the grid has {size} combinations (more than {spec.MAX_GRID}); use "
                    "--sampler tpe/random, shrink the grid, or pass --allow-large-grid"
                )
    if problems:
        raise TuneError("invalid search space:\n  - " + "\n  - ".join(dict.fromkeys(problems)))
    return space


def typed(params: dict, declared: dict) -> dict:
    """Optuna's values as plain Python typed like the template's defaults."""
    return spec.suggested_params(params, declared)
