"""One search-space checklist for every engine: a search that would fail or mislead is refused
before any training, with every problem in one error.

What it checks: the metric (logged by the template, an error to minimize), each parameter's name
against the template's config fields, the parameters a search sets itself, a parameter both tuned
and fixed, numbers YAML reads as text, integer parameters drawn as floats, the values a
parameter reaches at its ends through the template config's own checks, the fixed parameters,
and a grid's size. An engine adds what only it knows (its schema, its distributions) to the same
`problems` list.

Specs reach it "filled": the distribution explicit, as W&B's engine infers it (`fill`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import runner
from .template import (
    MAX_GRID,
    METRICS,
    NOT_TUNABLE,
    RESERVED,
    SearchError,
    is_int,
    template_entry,
    template_fields,
)

# what the sweep or tune sets for every trial instead of a reserved parameter
SET_FOR_EACH_TRIAL = {
    "output_dir": "each trial gets its own folder in the {engine}'s folder",
    "sweep_dir": "it points each trial at the {engine}'s folder (pruning, results)",
    "wandb_mode": "every trial logs to W&B offline (`wandb sync` the runs later); "
    "`store-sales sweep create/agent` runs trials online",
    "wandb_group": "the trials are grouped by the {engine}'s name",
}
# how each engine words a metric the template never logs
GIVE_METRIC = {"sweep": " ({stem} logs {logs})", "tune": ""}
NEVER_LOGGED = {"sweep": "; it logs {logs} to the W&B summary", "tune": ": use {logs}"}
TEXT_KEYS = ("min", "max", "value", "mu", "sigma", "q")  # numbers a spec may hold


# ---------------------------------------------------------------------------------------------
# one parameter spec (filled: its distribution explicit)


def extremes(spec: dict) -> list:
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


def gives_ints(spec: dict) -> bool:
    """Whether every value the spec draws is a whole number."""
    dist = spec["distribution"]
    if dist == "constant":
        return is_int(spec["value"])
    if dist.startswith("categorical"):
        return all(is_int(v) for v in spec["values"])
    if dist == "int_uniform":
        return True
    q = spec.get("q", 1)  # round(x / q) * q: whole numbers for a whole q
    return dist.startswith("q_") and isinstance(q, (int, float)) and float(q).is_integer()


def is_constant(spec: Any) -> bool:
    """A parameter the YAML fixes (`value:`) rather than tunes."""
    return isinstance(spec, dict) and "value" in spec and "values" not in spec


def looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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


# ---------------------------------------------------------------------------------------------
# the checklist


class Checklist:
    """The problems of one search space for one template, gathered in `problems`.

    `engine` ("sweep" or "tune") is who sets the reserved parameters; `who` ("sweep" or
    "study") is the search that sets a parameter instead of tuning it."""

    def __init__(self, template: str | Path, fixed: dict | None, engine: str, who: str):
        self.fixed = dict(fixed or {})
        self.nb = runner.resolve_notebook(template)
        self.declared = runner.notebook_parameters(self.nb)
        entry = template_entry(self.nb)
        self.config_cls = entry.config if entry else None
        names = template_fields(self.nb, self.declared)
        self.names = [n for n in self.declared if n in names]
        self.engine, self.who = engine, who
        self.problems: list[str] = []

    def parameters(self, config: dict) -> dict:
        """The YAML's parameters ({} with a problem when there are none)."""
        params = config.get("parameters")
        if not isinstance(params, dict) or not params:
            self.problems.append(f"parameters: give at least one {self.nb.stem} parameter to tune")
            return {}
        return params

    def metric(self, config: dict) -> str:
        """The metric's name ("" when none is given); a metric never logged or to maximize is
        a problem."""
        metric = config.get("metric")
        logs = ", ".join(METRICS)
        if not isinstance(metric, dict) or "name" not in metric:
            hint = GIVE_METRIC[self.engine].format(stem=self.nb.stem, logs=logs)
            self.problems.append(
                f"metric: give `metric: {{name: val/rmsle, goal: minimize}}`{hint}"
            )
            return ""
        name = metric["name"]
        if name not in METRICS:
            rest = NEVER_LOGGED[self.engine].format(logs=logs)
            self.problems.append(f"metric {name!r} is never logged by {self.nb.stem}{rest}")
        if metric.get("goal", "minimize") != "minimize":
            self.problems.append(f"metric {name!r} is an error: goal must be minimize")
        return name

    def parameter(
        self, name: str, spec: Any, fill: Callable[[str, Any], dict | None], unfilled: str = ""
    ) -> dict | None:
        """The filled spec of a parameter that may be tuned, else None (its problems noted;
        `unfilled`, when given, is the problem of a spec `fill` cannot read)."""
        if name not in self.names:
            valid = ", ".join(self.names)
            self.problems.append(f"{self.nb.stem} has no parameter {name!r}; valid: {valid}")
            return None
        if name in NOT_TUNABLE:
            self.problems.append(f"parameter {name!r} is set by the {self.who} itself, not tunable")
            return None
        if name in self.fixed:
            self.problems.append(f"parameter {name!r} is both tuned and fixed (-p/-f); pick one")
        if isinstance(spec, dict):
            for key in TEXT_KEYS:
                if isinstance(spec.get(key), str) and looks_numeric(spec[key]):
                    self.problems.append(
                        f"{name}.{key}: {spec[key]!r} is read as text by YAML; write it with a "
                        "dot and a signed exponent, e.g. 1.0e-6"
                    )
        filled = fill(name, spec)
        if filled is None and unfilled:
            self.problems.append(unfilled.format(name=name))
        return filled

    def values(self, name: str, filled: dict) -> None:
        """An integer parameter drawn as floats, and the values at the spec's ends through the
        template config's own checks."""
        if is_int(self.declared[name]) and not gives_ints(filled):
            self.problems.append(
                f"{name} is an integer parameter but {filled['distribution']} draws floats: use "
                "int_uniform, values: [...], or a q_* distribution with an integer q"
            )
        if self.config_cls is None:
            return
        base = {k: v for k, v in self.fixed.items() if k in self.declared and k not in RESERVED}
        for value in extremes(filled):
            try:
                self.config_cls(**{**base, name: value})
            except (ValueError, TypeError) as err:  # ConfigError is a ValueError
                self.problems.append(f"{name}={value!r}: {err}")

    def check_fixed(self) -> None:
        """Fixed parameters the template lacks or the search sets, then all of them through the
        template config."""
        problems = []
        for name in self.fixed:
            if name not in self.declared:
                problems.append(f"fixed parameter {name!r} is not a template parameter")
            elif name in RESERVED:
                instead = SET_FOR_EACH_TRIAL[name].format(engine=self.engine)
                problems.append(f"{name!r} cannot be fixed: the {self.engine} sets it ({instead})")
        if self.config_cls is not None and not problems:
            try:
                self.config_cls(**self.fixed)
            except (ValueError, TypeError) as err:
                problems.append(f"fixed parameters: {err}")
        self.problems += problems

    def grid(self, size: Callable[[], int], allow_large: bool, instead: str) -> None:
        """A grid larger than MAX_GRID without `allow_large`; `size` raises SearchError for a
        parameter a grid cannot enumerate."""
        try:
            n = size()
        except SearchError as err:
            self.problems.append(str(err))
            return
        if n > MAX_GRID and not allow_large:
            self.problems.append(
                f"the grid has {n} combinations (more than {MAX_GRID}); use {instead}, shrink "
                "the grid, or pass --allow-large-grid"
                + (" (allow_large_grid=True)" if self.engine == "sweep" else "")
            )

    def raise_if_any(self, error: type[SearchError], head: str) -> None:
        """One error listing every problem (each once), as `head:` and a bullet each."""
        if self.problems:
            raise error(f"{head}:\n  - " + "\n  - ".join(dict.fromkeys(self.problems)))
