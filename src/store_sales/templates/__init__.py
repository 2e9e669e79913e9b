"""The template registry, discovered from the notebooks: a template is a notebook whose metadata
names its config class (`"store_sales": {"config": "store_sales.templates.exp001:Exp001Config"}`).

The notebook is the experiment: its cells hold the features it adds and the model it trains (the
cells tagged `features` and `model`). The config class holds the parameters and their checks;
templates may share one (`store-sales new exp006 --from exp001` makes exp006 with exp001's config
class, renamed). Nothing is listed by hand: a notebook added to `notebooks/` is a template.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Checked, TemplateConfig, cell_parameters
from ..errors import ConfigError
from ..paths import notebooks_dir

META_KEY = "store_sales"  # the notebook metadata key of a template


@dataclass(frozen=True)
class Template:
    name: str  # the notebook's stem
    config: type[Checked]  # TEMPLATE == name
    notebook: Path | None = None  # None: a config without a known notebook (a Kaggle copy)

    @property
    def model(self) -> str:
        """The model's name, as its adapter or estimator gives it (`model_label`), read from
        the notebook's model cells without running them; the blend's is "blend"."""
        if not self.is_model:
            return getattr(self.config, "MODEL", "")
        return model_label(cells(self.notebook, "model")) if self.notebook else ""

    @property
    def imports(self) -> set[str]:
        """The top-level modules its code cells import (the extras check)."""
        if self.notebook is None:
            return set()
        from .labels import imported_modules

        return imported_modules(cells(self.notebook, ""))

    @property
    def is_model(self) -> bool:
        """A model template (not the blend): sweeps, tuning and benchmarks run these."""
        return issubclass(self.config, TemplateConfig)

    @property
    def hyperband_check_every(self) -> int:  # steps between two hyperband checks, local sweep
        return getattr(self.config, "HYPERBAND_CHECK_EVERY", 10)

    @property
    def gpu(self) -> bool:  # its Kaggle bundle asks for a GPU session
        from ..devices import wants_gpu  # GPU = True, or a default device other than cpu

        return wants_gpu(self.config)

    @property
    def description(self) -> str:
        """The first line of the notebook's title cell (`store-sales run --list`)."""
        meta = _metadata(self.notebook) if self.notebook else {}
        return str(meta.get("description") or self.name)


def _read(notebook: Path) -> dict:
    try:
        return json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _metadata(notebook: Path) -> dict:
    return _read(notebook).get("metadata", {}).get(META_KEY) or {}


def config_class(spec: str) -> type[Checked]:
    """`module:Class` -> the class."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"template config {spec!r} cannot be imported ({err})") from None


def for_notebook(notebook: Path) -> Template | None:
    """The template a notebook is (None: not a template, such as sweep.ipynb). Its config class
    has a field for every variable of its parameters cell (the cell is the schema)."""
    notebook = Path(notebook)
    spec = _metadata(notebook).get("config")
    if not spec:
        return None
    params = [p for source in cells(notebook, "parameters") for p in cell_parameters(source) or []]
    return Template(notebook.stem, config_class(spec).for_template(notebook.stem, params), notebook)


class _Registry(Mapping):
    """name -> Template for the notebooks in `notebooks/`, re-read when the folder changes (a
    template made by `store-sales new` is there at once)."""

    def __init__(self, models_only: bool):
        self.models_only = models_only
        self._seen: tuple | None = None
        self._items: dict[str, Template] = {}

    def _current(self) -> dict[str, Template]:
        folder = notebooks_dir()
        paths = sorted(folder.glob("*.ipynb"))
        seen = tuple((p.name, p.stat().st_mtime_ns) for p in paths)
        if seen != self._seen:
            found = (for_notebook(p) for p in paths)
            self._items = {
                t.name: t for t in found if t is not None and (t.is_model or not self.models_only)
            }
            self._seen = seen
        return self._items

    def __getitem__(self, name: str) -> Template:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


TEMPLATES: Mapping[str, Template] = _Registry(models_only=True)  # the model templates
NOTEBOOKS: Mapping[str, Template] = _Registry(models_only=False)  # and the blend


def get(name: str) -> Template:
    try:
        return NOTEBOOKS[name]
    except KeyError:
        raise ConfigError(f"unknown template {name!r}; templates: {', '.join(NOTEBOOKS)}") from None


def for_config(cfg: Checked) -> Template:
    """The config's template; one not in `notebooks/` (a notebook copied on Kaggle) is known by
    its config alone."""
    name = type(cfg).TEMPLATE
    return NOTEBOOKS.get(name) or Template(name, type(cfg))


def cells(notebook: Path, tag: str) -> list[str]:
    """The sources of the notebook's code cells tagged `tag` (`features`, `model`; "": all)."""
    out = []
    for cell in _read(notebook).get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and (not tag or tag in tags):
            source = cell.get("source", "")
            out.append("".join(source) if isinstance(source, list) else source)
    return out


def model_label(sources: list[str]) -> str:
    """The name of the model that model cells build, read without running them: the `name` of
    the class that `adapter = Class(...)` calls (a class of the cells, or one of the package's,
    read from its module's source), its `name="..."` argument, or the label of the estimator it
    wraps (`Estimator(HistGradientBoostingRegressor(...))` -> "histgradientboosting"); "" when
    the cells do not say. The kernel's adapter gives the same name (tests/test_templates.py)."""
    from .labels import label_of_cells

    return label_of_cells(sources)


def notebook_namespace(name: str, cfg: Checked | None = None, tags=("features", "model")) -> dict:
    """Run a template's `features` and `model` cells outside a kernel (tests, benchmarks): the
    namespace they leave, with `adapter` the model the notebook trains."""
    template = get(name)
    cfg = template.config() if cfg is None else cfg
    namespace: dict[str, Any] = {"cfg": cfg, "__name__": "__main__"}
    for tag in tags:
        for source in cells(template.notebook, tag):
            exec(compile(source, f"{template.notebook.name}[{tag}]", "exec"), namespace)
    return namespace


def adapter(name: str, cfg: Checked | None = None):
    """The model adapter a template's notebook builds (its `model` cell) for `cfg`."""
    return notebook_namespace(name, cfg, tags=("model",))["adapter"]


__all__ = [
    "NOTEBOOKS",
    "TEMPLATES",
    "Template",
    "adapter",
    "cells",
    "for_config",
    "for_notebook",
    "get",
    "notebook_namespace",
]
