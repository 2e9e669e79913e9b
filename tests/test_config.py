from dataclasses import asdict

import pytest

from store_sales import runner
from store_sales.config import Exp001Config, new_run_dir


def test_notebook_parameters_are_the_config_fields_with_the_same_defaults():
    params = runner.notebook_parameters(runner.resolve_notebook("exp001"))
    assert params == asdict(Exp001Config())


def test_unknown_parameter_lists_the_valid_ones():
    nb = runner.resolve_notebook("exp001")
    with pytest.raises(ValueError) as err:
        runner.check_parameters(nb, {"learning_rte": 0.1})
    assert "learning_rte" in str(err.value)
    assert "learning_rate" in str(err.value)


def test_bad_values_are_refused_together():
    with pytest.raises(ValueError) as err:
        Exp001Config(wandb_mode="cloud", learning_rate=0)
    assert "wandb_mode" in str(err.value) and "learning_rate" in str(err.value)


def test_changed_lists_only_non_defaults():
    assert Exp001Config(num_leaves=31).changed() == {"num_leaves": 31}


def test_a_run_folder_is_never_reused(tmp_path):
    first, _ = new_run_dir("exp001", str(tmp_path / "run"))
    (first / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already holds a run"):
        new_run_dir("exp001", str(first))
    assert (first / "metrics.json").read_text() == "{}"
