"""The template registry: a template is a notebook, a config class and a model adapter.

Adding one (say exp002) is three files and one line here: `notebooks/exp002.ipynb` (a
`parameters` cell whose names and defaults are the config's fields, then calls into
`store_sales.pipeline`), `templates/exp002.py` (the config dataclass and `make_adapter`), and a
`models/<library>.py` adapter when the library is new. `tests/test_templates.py` checks every
registered template's notebook against its config.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Checked
from ..errors import ConfigError
from ..models.base import ModelAdapter
from . import blend, exp001, exp002, exp003


@dataclass(frozen=True)
class Template:
    name: str  # the notebook's stem
    config: type[Checked]
    make_adapter: Callable[[Checked], ModelAdapter] | None  # None: not a model (the blend)
    hyperband_check_every: int = 10  # steps between two hyperband checks in a local sweep
    gpu: bool = False  # its Kaggle bundle asks for a GPU session

    @property
    def description(self) -> str:
        """The first line of the template module's docstring (`store-sales run --list`)."""
        doc = (sys.modules[self.config.__module__].__doc__ or "").strip()
        line = doc.splitlines()[0] if doc else ""
        return line.removeprefix(f"{self.name}:").strip() or self.name

    @property
    def model(self) -> str:
        return self.config.MODEL


TEMPLATES: dict[str, Template] = {
    t.name: t  # the model templates: sweeps, Kaggle bundles and benchmarks run these
    for t in (
        Template("exp001", exp001.Exp001Config, exp001.make_adapter),
        Template("exp002", exp002.Exp002Config, exp002.make_adapter),
        Template("exp003", exp003.Exp003Config, exp003.make_adapter, 1, gpu=True),
    )
}


# every notebook that makes a run: the model templates, and the blend of their runs
NOTEBOOKS: dict[str, Template] = {
    **TEMPLATES,
    "blend": Template("blend", blend.BlendConfig, None),
}


def get(name: str) -> Template:
    try:
        return NOTEBOOKS[name]
    except KeyError:
        raise ConfigError(f"unknown template {name!r}; templates: {', '.join(NOTEBOOKS)}") from None


def for_config(cfg: Checked) -> Template:
    return get(type(cfg).TEMPLATE)
