"""Every registered template: its notebook's parameters are its config's fields, and its
adapter is the model the config names. The blend notebook's parameters are checked too."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import store_sales
from store_sales import runner, templates
from store_sales.config import cell_parameters, parameters_source
from store_sales.models.base import ModelAdapter
from store_sales.templates import NOTEBOOKS, TEMPLATES

NAMES = sorted(TEMPLATES)
ALL = sorted(NOTEBOOKS)


def test_the_registry_is_not_empty():
    assert "exp001" in NAMES


@pytest.mark.parametrize("name", ALL)
def test_registry_key_is_the_template_name(name):
    template = NOTEBOOKS[name]
    assert template.name == name
    assert template.config.TEMPLATE == name
    assert template.notebook.stem == name


@pytest.mark.parametrize("name", ALL)
def test_notebook_parameters_are_the_config_fields_with_their_defaults(name):
    config = NOTEBOOKS[name].config
    notebook = runner.resolve_notebook(name)
    assert notebook.name == f"{name}.ipynb" and notebook.parent.name == "notebooks"
    declared = runner.notebook_parameters(notebook)
    defaults = dataclasses.asdict(config())
    assert sorted(set(declared) - set(defaults)) == [], "in the notebook, not in the config"
    assert sorted(set(defaults) - set(declared)) == [], "in the config, not in the notebook"
    assert declared == defaults


@pytest.mark.parametrize("name", ALL)
def test_the_parameters_cell_is_generated_from_the_config(name):
    """A package field is declared once, in its dataclass; the cell is its text, then the
    parameters the notebook alone declares (exp005's model fields)."""
    template = NOTEBOOKS[name]
    (cell,) = templates.cells(template.notebook, "parameters")
    spec = template.notebook and templates._metadata(template.notebook)["config"]
    source = parameters_source(templates.config_class(spec).for_template(name))
    assert cell == source or cell.startswith(source + "\n"), "regenerate: config.parameters_source"
    assert cell_parameters(cell) is not None  # plain `name = literal` lines: the schema


@pytest.mark.parametrize("name", NAMES)
def test_the_notebooks_model_cell_builds_the_configs_model(name):
    template = TEMPLATES[name]
    adapter = templates.adapter(name, template.config())
    assert isinstance(adapter, ModelAdapter)
    # the name the runner gives the run folder (read from the cell) is the adapter's own
    assert adapter.name == template.model and template.model not in ("", "model")


@pytest.mark.parametrize("name", NAMES)
def test_a_model_template_shows_its_features_and_model_in_cells_of_their_own(name):
    notebook = TEMPLATES[name].notebook
    assert templates.cells(notebook, "features") and templates.cells(notebook, "model")
    setup = "".join(templates.cells(notebook, "model"))
    assert "adapter = " in setup


def test_catboost_is_imported_nowhere_in_the_package():
    """exp004's model is its notebook's: the package knows no CatBoost."""
    package = Path(store_sales.__file__).parent
    imports = re.compile(r"^\s*(import catboost|from catboost\b)", re.M)
    hits = [p for p in package.rglob("*.py") if imports.search(p.read_text())]
    assert hits == []
    assert "from catboost import" in "".join(templates.cells(TEMPLATES["exp004"].notebook, "model"))


def test_templates_are_discovered_from_the_notebooks_metadata(tmp_path, monkeypatch):
    """A notebook whose metadata names a config is a template; others (sweep) are not."""
    assert "sweep" not in NOTEBOOKS and "blend" in NOTEBOOKS and "blend" not in TEMPLATES
    source = runner.resolve_notebook("exp001")
    folder = tmp_path / "notebooks"
    folder.mkdir()
    monkeypatch.setattr(templates, "notebooks_dir", lambda: folder)
    assert "exp001" not in templates.TEMPLATES
    (folder / "mine.ipynb").write_text(source.read_text())
    mine = templates.TEMPLATES["mine"]
    assert mine.model == "lightgbm" and mine.config.TEMPLATE == "mine"
    assert mine.config().exp_name == "mine"
    assert mine.config.__mro__[1].__name__ == "Exp001Config"


def test_a_renamed_config_is_one_class_per_template():
    from store_sales.templates.exp001 import Exp001Config

    a, b = Exp001Config.for_template("exp777"), Exp001Config.for_template("exp777")
    assert a is b and a.TEMPLATE == "exp777" and Exp001Config.TEMPLATE == "exp001"
    cfg = Exp001Config.from_params({"learning_rate": 0.1}, template="exp777")
    assert type(cfg) is a and cfg.changed() == {"learning_rate": 0.1}
