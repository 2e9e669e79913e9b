"""A forked notebook's edits are what runs and what is recorded: the parameters cell is the
schema (a variable added there is a parameter: checked, recorded, listed, tuned, copied), the
refit runs the validated fit's training code, and a model is named by what its cell builds."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
from helpers import QUICK, by_type, leet_records

from store_sales import leaderboard, runner, scaffold, templates
from store_sales.cli import main
from store_sales.config import Param, cell_parameters, notebook_parameters
from store_sales.errors import ConfigError, TrainingPathError
from store_sales.models.base import FitResult, ModelAdapter
from store_sales.paths import REPO_ROOT
from store_sales.templates.exp001 import Exp001Config
from store_sales.validation import check_refit

REPO_NOTEBOOKS = REPO_ROOT / "notebooks"
MY_WINDOW = "my_window = 21  # days of the extra sales mean"
MEAN_MY_WINDOW = '''

@feature("mean_my_window")
def mean_my_window(known):
    """mean log1p(sales) over the last my_window days"""
    return known.mean(cfg.my_window)
'''
TWEEDIE = (
    "        return lgb.train(",
    '        params = {**params, "objective": "tweedie", "num_leaves": 31}\n'
    "        return lgb.train(",
)


def _edit(path: Path, **edits) -> Path:
    """Edit a notebook's tagged cells as a user would: tag -> function of the cell's source."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        for tag, edit in edits.items():
            if tag in cell.metadata.get("tags", []):
                cell.source = edit(cell.source)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def notebooks(tmp_path, monkeypatch) -> Path:
    """A notebooks/ folder with exp001 in it, standing in for the repo's."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "exp001.ipynb").write_text(runner.resolve_notebook("exp001").read_text())
    for module in (templates, scaffold, runner):
        monkeypatch.setattr(module, "notebooks_dir", lambda: folder)
    return folder


@pytest.fixture
def exp901(notebooks) -> Path:
    """`store-sales new exp901 --from exp001`, then a parameter, a feature using it and a
    tweedie objective in the model cell's training call."""
    assert main(["new", "exp901", "--from", "exp001"]) == 0
    return _edit(
        notebooks / "exp901.ipynb",
        parameters=lambda s: s + "\n" + MY_WINDOW,
        features=lambda s: s + MEAN_MY_WINDOW,
        model=lambda s: s.replace(*TWEEDIE),
    )


# ---- the parameters cell is the schema ----------------------------------------------------------


def test_a_parameters_cell_gives_names_defaults_types_and_help():
    params = cell_parameters('# header\nwindow = 21  # days\nname = "a"\nrate = 0.5\nflag = True\n')
    assert params == [
        Param("window", 21, "days"),
        Param("name", "a", ""),
        Param("rate", 0.5, ""),
        Param("flag", True, ""),
    ]
    assert [p.kind for p in params] == [int, str, float, bool]
    assert cell_parameters("import numpy as np\nx = 1\n") is None  # code, not parameters
    assert cell_parameters("x = np.arange(3)\n") is None


def test_a_variable_added_to_the_parameters_cell_is_a_parameter(exp901, capsys):
    config = templates.TEMPLATES["exp901"].config
    assert config().my_window == 21 and config(my_window=14).my_window == 14
    assert config.__dataclass_fields__["my_window"].type is int
    # checked before any kernel: a wrong type is one line
    with pytest.raises(ConfigError, match=r"^exp901: my_window='abc' must be an integer$"):
        runner.check_config(exp901, {"my_window": "abc"})
    runner.check_config(exp901, {"my_window": 14})
    # listed, with its type and help
    assert main(["run", "exp901", "--list-params"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("my_window"))
    assert line.split() == [
        "my_window",
        "=",
        "21",
        "int",
        "days",
        "of",
        "the",
        "extra",
        "sales",
        "mean",
    ]
    # a run's notes and `runs` list it when it differs from the cell's default
    assert leaderboard.changed_settings("exp901", {"my_window": 14}) == {"my_window": 14}


def test_the_cells_default_of_a_config_field_is_the_default(notebooks):
    _edit(notebooks / "exp001.ipynb", parameters=lambda s: s.replace("seed = 42", "seed = 7"))
    assert templates.TEMPLATES["exp001"].config().seed == 7


def test_in_a_kernel_the_config_reads_the_parameters_cell_it_ran(monkeypatch):
    import IPython

    (cell,) = templates.cells(runner.resolve_notebook("exp001"), "parameters")
    cell = cell.replace('exp_name = "exp001"', 'exp_name = "exp901"') + "\n" + MY_WINDOW
    injected = "# Parameters\nmy_window = 14\nlearning_rate = 0.1\n"
    setup = 'cfg = Exp001Config.from_params(globals(), template="exp901")'
    namespace = {"In": ["", cell, injected, setup]}
    exec(cell, namespace)
    exec(injected, namespace)
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(user_ns=namespace))
    assert [p.name for p in notebook_parameters(namespace)][-1] == "my_window"
    cfg = Exp001Config.from_params(namespace, template="exp901")
    assert (cfg.my_window, cfg.learning_rate, cfg.exp_name) == (14, 0.1, "exp901")
    # the cell's value is the default: the override is what the run changed
    assert cfg.changed() == {"my_window": 14, "learning_rate": 0.1}
    # a re-run, edited parameters cell is the schema (Jupyter)
    namespace["In"].insert(3, cell.replace("my_window = 21", "my_window = 30"))
    assert type(Exp001Config.from_params(namespace, template="exp901"))().my_window == 30
    # outside a kernel a dict gives the class's own fields only
    assert not hasattr(Exp001Config.from_params({"my_window": 3}), "my_window")


def test_new_from_a_fork_keeps_its_parameters_cell(exp901, notebooks):
    assert main(["new", "exp902", "--from", "exp901"]) == 0
    path = notebooks / "exp902.ipynb"
    (params,) = templates.cells(path, "parameters")
    assert MY_WINDOW in params and 'exp_name = "exp902"' in params
    assert templates.TEMPLATES["exp902"].config().my_window == 21
    nb = nbformat.read(str(path), as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "exp901" not in text.replace("(from exp901)", "")  # it names itself
    assert "store-sales run exp902" in text


def test_new_copies_only_model_templates(notebooks, capsys):
    (notebooks / "blend.ipynb").write_text((REPO_NOTEBOOKS / "blend.ipynb").read_text())
    assert main(["new", "exp903", "--from", "blend"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: blend is not a model template; copy one of: exp001"


def test_tune_and_sweep_accept_a_parameter_of_the_cell(exp901, tmp_path):
    from store_sales.tune.space import check

    spec = {
        "method": "random",
        "metric": {"name": "val/rmsle", "goal": "minimize"},
        "parameters": {"my_window": {"values": [7, 14, 28]}},
    }
    space = check(spec, "exp901", {"features": "default,+mean_my_window"})
    assert "my_window" in space.distributions
    with pytest.raises(Exception, match="my_window"):
        check({**spec, "parameters": {"my_window": {"values": ["a", "b"]}}}, "exp901", {})


# ---- the model's name is the model cell's -------------------------------------------------------


def test_a_model_is_named_by_its_cell_not_by_its_source_template(notebooks):
    source = (REPO_NOTEBOOKS / "exp004.ipynb").read_text()
    (notebooks / "exp004.ipynb").write_text(source)
    assert main(["new", "exp906", "--from", "exp004"]) == 0
    path = _edit(
        notebooks / "exp906.ipynb",
        model=lambda s: s.replace('name = "catboost"', 'name = "mycat"'),
    )
    assert templates.TEMPLATES["exp906"].model == "mycat"
    assert templates.adapter("exp906").name == "mycat"
    _edit(path, model=lambda s: "from sklearn.linear_model import Ridge\n\nadapter = Ridge()\n")
    assert templates.TEMPLATES["exp906"].model == ""  # not an adapter: no label to give


# ---- one training path: the refit is checked against the validated fit --------------------------


class _Fixed(ModelAdapter):
    """A model whose fit and refit settings and step counts are given."""

    name = "fixed"

    def __init__(self, refit_steps=None, refit_settings=None):
        self.refit_steps, self.refit_settings = refit_steps, refit_settings

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()):
        return FitResult({"settings": {"objective": "tweedie"}, "steps": 5}, 5, {})

    def refit(self, train, features, steps):
        return {
            "settings": self.refit_settings or {"objective": "tweedie"},
            "steps": self.refit_steps or steps,
        }

    def predict(self, model, rows, features):
        return np.zeros(len(rows))

    def save(self, model, path):
        return path

    def load(self, path):
        return {}

    def steps(self, model):
        return model["steps"]

    def settings(self, model):
        return model["settings"]


def test_a_refit_with_the_validated_settings_and_steps_passes():
    adapter = _Fixed()
    fit = adapter.fit(None, None, [])
    check_refit(adapter, fit.model, adapter.refit(None, [], 5), 5)


def test_a_refit_that_trains_other_steps_stops_the_run():
    adapter = _Fixed(refit_steps=3000)
    with pytest.raises(
        TrainingPathError, match=r"^the refit trained 3000 rounds, not the validated 5"
    ):
        check_refit(adapter, adapter.fit(None, None, []).model, adapter.refit(None, [], 5), 5)


def test_a_refit_with_other_settings_stops_the_run_naming_them():
    adapter = _Fixed(refit_settings={"objective": "regression"})
    with pytest.raises(TrainingPathError, match=r"objective: 'tweedie' -> 'regression'"):
        check_refit(adapter, adapter.fit(None, None, []).model, adapter.refit(None, [], 5), 5)


def test_a_lightgbm_train_that_ignores_its_rounds_is_caught(data, panel):
    """A model cell that trains `cfg.num_boost_round` itself (the old exp001 cell) instead of
    the rounds it is given: the refit would not be the validated model."""
    from store_sales.models.lightgbm import LightGBMAdapter
    from store_sales.validation import cross_validate, forecast_test, make_plan

    class Model(LightGBMAdapter):
        def train(self, params, train_set, rounds, callbacks, **evals):
            import lightgbm as lgb

            return lgb.train(params, train_set, num_boost_round=40, callbacks=callbacks, **evals)

    cfg = Exp001Config(num_threads=1, learning_rate=0.3)
    adapter = Model(cfg.lgb_params(), 40, 5, 0)
    plan = make_plan(panel.last_train, 4, 14)
    cv = cross_validate(panel, plan, adapter, 56)
    with pytest.raises(TrainingPathError, match="the refit trained 40 boosting rounds"):
        forecast_test(panel, plan, adapter, cv, 56, True)


# ---- end to end: the user's fork, run, recorded, compared, tuned --------------------------------


@pytest.mark.e2e
def test_a_forks_edits_are_what_runs_and_what_is_recorded(exp901, small_data_dir, tmp_path):
    common = {
        **QUICK["exp001"],
        "data_dir": str(small_data_dir),
        "features": "default,+mean_my_window",
        "wandb_mode": "offline",
    }
    # a cell of its own logs to the tracker right after the load, while the tracker's run
    # is still opening beside fold 1's rows (trackers.Opening): the call waits for it
    nb = nbformat.read(str(exp901), as_version=4)
    (load,) = [c for c in nb.cells if c.source.startswith("data, panel = pipeline.load(run)")]
    load.source += '\nrun.tracker.log({"data/train_rows": float(len(data.train))})'
    nbformat.write(nb, str(exp901))
    runs = {}
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for window, tracker in ((14, "wandb"), (56, "mlflow")):
        out = tmp_path / f"runs/w{window}"
        params = {"my_window": window, "output_dir": str(out), "tracker": tracker}
        params["mlflow_uri"] = mlflow_uri
        runs[window] = runner.run("exp901", {**common, **params}, log_output=False)
    a, b = runs[14], runs[56]
    import mlflow

    run_id = json.loads((b / "metrics.json").read_text())["mlflow"]["run_id"]
    logged = mlflow.MlflowClient(mlflow_uri).get_run(run_id).data
    assert logged.params["my_window"] == "56" and logged.metrics["data/train_rows"] > 0
    # recorded: config.json, the W&B config
    assert json.loads((a / "config.json").read_text())["my_window"] == 14
    records = leet_records(a)
    config = {}
    for run in by_type(records, "run"):
        config.update(run["config"]["update"])
    assert config["my_window"] == 14
    for update in by_type(records, "config"):  # later updates: fold 1's training parameters
        config.update(update["update"])
    assert config["num_leaves"] == 31  # what the model cell trained with, not the parameter
    history = [r["item"] for r in by_type(records, "history")]
    assert any("data/train_rows" in item for item in history)
    # the submitted model is the validated one: tweedie both
    assert "objective=tweedie" in (a / "model.txt").read_text()
    assert "objective=tweedie" in (a / "model_validation.txt").read_text()
    metrics = json.loads((a / "metrics.json").read_text())
    assert metrics["model"] == "lightgbm" and metrics["refit_steps"] == metrics["best_step"]
    # compared
    lines = leaderboard.compare(leaderboard.load(a), leaderboard.load(b)).splitlines()
    assert any(line.split()[:3] == ["my_window", "14", "56"] for line in lines), lines
