from dataclasses import fields

import pytest

from store_sales import runner
from store_sales.config import RunFields, TemplateConfig, ValidationFields
from store_sales.errors import ConfigError
from store_sales.rundir import new_run_dir
from store_sales.templates import TEMPLATES
from store_sales.templates.exp001 import Exp001Config


def test_unknown_parameter_lists_the_valid_ones():
    nb = runner.resolve_notebook("exp001")
    with pytest.raises(ConfigError) as err:
        runner.check_parameters(nb, {"learning_rte": 0.1})
    assert "learning_rte" in str(err.value)
    assert "learning_rate" in str(err.value)


def test_bad_values_are_refused_together():
    with pytest.raises(ConfigError) as err:
        Exp001Config(wandb_mode="cloud", learning_rate=0, n_folds=0)
    message = str(err.value)
    assert "wandb_mode" in message and "learning_rate" in message and "n_folds" in message


def test_shared_fields_are_declared_once_and_every_template_has_them():
    shared = {f.name for f in fields(RunFields)} | {f.name for f in fields(ValidationFields)}
    assert {"output_dir", "wandb_mode", "n_folds", "zero_window", "refit"} <= shared
    for template in TEMPLATES.values():
        assert issubclass(template.config, TemplateConfig)
        assert shared <= {f.name for f in fields(template.config)}


def test_changed_lists_only_non_defaults():
    assert Exp001Config(num_leaves=31, n_folds=3).changed() == {"num_leaves": 31, "n_folds": 3}


def test_changed_leaves_out_where_the_run_went_and_who_tracked_it():
    cfg = Exp001Config(seed=7, output_dir="/tmp/x", tracker="mlflow", wandb_mode="offline")
    assert cfg.changed() == {"seed": 7}


def test_a_run_folder_is_never_reused(tmp_path):
    first, _ = new_run_dir("exp001", str(tmp_path / "run"))
    (first / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already holds a run"):
        new_run_dir("exp001", str(first))
    assert (first / "metrics.json").read_text() == "{}"
