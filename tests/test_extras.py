"""Lean installs: core is what exp001 needs; every other library is an extra that says its name."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from store_sales import extras, runner
from store_sales.errors import UserError
from store_sales.templates import NOTEBOOKS, for_notebook

HEAVY = {"torch", "xgboost", "catboost", "scikit-learn", "mlflow", "sweeps", "optuna"}
DISTS = {"sklearn": "scikit-learn"}  # import name -> distribution, where they differ
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def _requires() -> list[Requirement]:
    """The installed package's own metadata (what `pip install .` resolves), not pyproject."""
    return [Requirement(r) for r in metadata.requires(extras.DIST) or []]


def test_core_install_has_no_heavy_library():
    core = {r.name.lower() for r in _requires() if r.marker is None}
    assert {"lightgbm", "wandb", "papermill", "tqdm"} <= core
    assert not core & HEAVY


def test_each_extra_brings_its_library_and_all_brings_every_one():
    by_extra: dict[str, set[str]] = {}
    for r in _requires():
        if r.marker is None:
            continue
        for extra in metadata.metadata(extras.DIST).get_all("Provides-Extra"):
            if r.marker.evaluate({"extra": extra}):
                by_extra.setdefault(extra, set()).add(r.name.lower())
    for name, (module, extra) in extras.EXTRAS.items():
        if extra:
            dist = DISTS.get(module, module)
            assert dist in by_extra[extra], name
    # `all` names the others through the package itself (store-sales-templates[...])
    assert set(metadata.metadata(extras.DIST).get_all("Provides-Extra")) >= {
        *(e for _, e in extras.EXTRAS.values() if e),
        "all",
    }


def test_every_template_models_library_is_in_the_table():
    # the extras check reads what the notebook's cells import, not the template's name
    libraries = {
        "exp001": "lightgbm",
        "exp002": "xgboost",
        "exp003": "torch",
        "exp004": "catboost",
        "exp005": "sklearn",
    }
    for stem, library in libraries.items():
        assert library in NOTEBOOKS[stem].imports and library in extras.EXTRAS, stem


def test_the_extras_check_follows_the_model_cell_not_the_source_template(without, tmp_path):
    # exp004's copy whose model cell imports scikit-learn instead of catboost
    import json

    nb = json.loads((NOTEBOOKS_DIR / "exp004.ipynb").read_text())
    for cell in nb["cells"]:
        if "model" in cell["metadata"].get("tags", []):
            cell["source"] = "from sklearn.linear_model import Ridge\nadapter = Ridge()\n"
    path = tmp_path / "exp906.ipynb"
    path.write_text(json.dumps(nb))
    without.add("catboost")
    extras.require_for("exp906", for_notebook(path).imports, {})  # no catboost: not needed
    without.add("sklearn")
    with pytest.raises(UserError, match=r'exp906 needs sklearn: .*\[sklearn\]"$'):
        runner.check_config(path, {})


@pytest.fixture
def without(monkeypatch):
    """Pretend some modules are not installed (find_spec returns None for them)."""
    gone: set[str] = set()
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name.split(".")[0] in gone else real(name, *args, **kwargs)

    monkeypatch.setattr(extras, "find_spec", find_spec)
    return gone


def test_missing_library_names_the_extra_in_one_line(without):
    without.add("xgboost")
    with pytest.raises(UserError) as err:
        extras.require("xgboost", "exp002")
    assert str(err.value) == 'exp002 needs xgboost: pip install "store-sales-templates[xgboost]"'
    extras.require("lightgbm", "exp001")  # installed: nothing raised


def test_pytorch_template_names_the_torch_extra(without):
    without.add("torch")
    with pytest.raises(UserError, match=r'exp003 needs torch: .*\[torch\]"$'):
        extras.require("pytorch", "exp003")


def test_run_stops_before_the_kernel_when_the_model_library_is_missing(without, tmp_path):
    without.add("xgboost")
    with pytest.raises(UserError, match=r"exp002 needs xgboost: .*\[xgboost\]"):
        runner.run(NOTEBOOKS_DIR / "exp002.ipynb", {"output_dir": str(tmp_path / "runs")})
    assert not (tmp_path / "runs").exists()  # no run folder, no kernel


def test_tracker_mlflow_needs_the_mlflow_extra(without):
    without.add("mlflow")
    nb = NOTEBOOKS_DIR / "exp001.ipynb"
    runner.check_config(nb, {})  # default tracker: mlflow not needed
    with pytest.raises(UserError, match=r"tracker=mlflow needs mlflow: .*\[mlflow\]"):
        runner.check_config(nb, {"tracker": "mlflow"})


def test_sweep_local_needs_the_sweeps_extra(without, tmp_path, capsys):
    from store_sales.cli import main

    without.add("sweeps")
    spec = tmp_path / "s.yaml"
    spec.write_text("method: grid\nparameters:\n  seed: {values: [1]}\n")
    code = main(["sweep", "local", str(spec), "--count", "1", "--sweep-dir", str(tmp_path / "sw")])
    assert code == 2
    assert 'sweep local needs sweeps: pip install "store-sales-templates[sweeps]"' in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "sw").exists()


def test_the_kaggle_cli_is_an_extra_not_core():
    """`bundle` and `submit` need the kaggle package (and six, which it imports without
    declaring it): the `kaggle` extra, in `all`, not in core (read from pyproject.toml: the
    installed metadata may be an older build's)."""
    import tomllib

    project = tomllib.loads((NOTEBOOKS_DIR.parent / "pyproject.toml").read_text())["project"]
    core = {Requirement(r).name for r in project["dependencies"]}
    kaggle = {Requirement(r).name for r in project["optional-dependencies"]["kaggle"]}
    assert kaggle == {"kaggle", "six"} and not core & kaggle
    assert "kaggle" in Requirement(project["optional-dependencies"]["all"][0]).extras
    assert project["requires-python"].startswith(">=3.11")


@pytest.mark.parametrize("command", [["bundle", "exp001"], ["submit", "--dry-run", "nope"]])
def test_a_missing_kaggle_cli_is_one_line_naming_the_extra(command, monkeypatch, capsys):
    from store_sales import cli

    for name in [m for m in sys.modules if m == "kaggle" or m.startswith("kaggle.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kaggle", None)  # as in a core install
    assert cli.main(command) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.endswith('pip install "store-sales-templates[kaggle]"'), err
