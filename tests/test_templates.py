"""Every registered template: its notebook's parameters are its config's fields, and its
adapter is the model the config names. The blend notebook's parameters are checked too."""

from __future__ import annotations

import dataclasses

import pytest

from store_sales import runner
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


@pytest.mark.parametrize("name", NAMES)
def test_make_adapter_gives_the_configs_model(name):
    template = TEMPLATES[name]
    config = template.config
    assert config.MODEL, "a template's config names its model"
    adapter = template.make_adapter(config())
    assert isinstance(adapter, ModelAdapter)
    assert adapter.name == config.MODEL == template.model
