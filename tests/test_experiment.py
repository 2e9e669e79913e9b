"""The notebook is the experiment: a new template in one command, a feature added in a cell and
selected by `features`, every run's code on record, the same edit bundled for Kaggle; exp004
(CatBoost, its adapter written in the notebook) through CV and a blend."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from helpers import QUICK
from test_bundle import _run_like_kaggle, kaggle_python  # noqa: F401 (a fixture)

from store_sales import runner, scaffold, templates
from store_sales.cli import main
from store_sales.errors import ConfigError

MEAN_7_AGAIN = '''\
from store_sales.features import feature


@feature("mean_7_again")
def mean_7_again(known):  # known: the data as of one origin
    """mean log1p(sales) of the last 7 days, again"""
    return np.nanmean(known.y[:, -7:], axis=1)  # (S,) per series
'''
SPEC = "default,-year_ago,+mean_7_again"


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    return lines[0]


# ---- quick: the new command, the checks before a kernel, the feature list ----------------------


@pytest.fixture
def notebooks(tmp_path, monkeypatch) -> Path:
    """A notebooks/ folder with exp001 in it, standing in for the repo's."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "exp001.ipynb").write_text(runner.resolve_notebook("exp001").read_text())
    for module in (templates, scaffold):
        monkeypatch.setattr(module, "notebooks_dir", lambda: folder)
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    return folder


def test_new_writes_a_template_that_is_one_at_once(notebooks, capsys):
    assert main(["new", "exp005", "--from", "exp001"]) == 0
    assert "store-sales run exp005" in capsys.readouterr().out
    path = notebooks / "exp005.ipynb"
    nb = nbformat.read(path, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'exp_name = "exp005"' in params.source
    assert any('template="exp005"' in c.source for c in nb.cells if c.cell_type == "code")
    assert nb.cells[0].source.startswith("# exp005 ·") and "(from exp001)" in nb.cells[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # the cells that make the experiment came along unchanged
    source = runner.resolve_notebook("exp001")
    assert templates.cells(path, "model") == templates.cells(source, "model")
    # discovered: a template with exp001's config, renamed, and its parameters check out
    template = templates.TEMPLATES["exp005"]
    assert template.model == "lightgbm" and template.config().exp_name == "exp005"
    runner.check_config(path, {"learning_rate": 0.1})


def test_new_refuses_a_taken_name_and_a_non_template(notebooks, capsys):
    assert main(["new", "exp001", "--from", "exp001"]) == 2
    assert "exists" in _one_error_line(capsys)
    (notebooks / "plain.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    assert main(["new", "exp006", "--from", "plain"]) == 2
    assert "plain is not a model template; copy one of: exp001" in _one_error_line(capsys)
    assert main(["new", "6 bad", "--from", "exp001"]) == 2
    assert not (notebooks / "exp006.ipynb").exists()


def test_an_unknown_feature_is_one_line_before_any_kernel_or_folder(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "run",
        "exp001",
        "-p",
        "features",
        "default,+mean_7_agian",
        "-p",
        "output_dir",
        str(out),
    ]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "unknown feature or group 'mean_7_agian'" in line and "--list-features" in line
    assert not out.exists()


def test_a_feature_the_notebook_registers_passes_the_check(tmp_path):
    """promo_days_16 exists only in exp001's features cell: the runner reads the cell."""
    runner.check_config(runner.resolve_notebook("exp001"), {"features": "default,+promo_days_16"})
    with pytest.raises(ConfigError, match="promo_days_17"):
        runner.check_config(runner.resolve_notebook("exp001"), {"features": "promo_days_17"})


def test_list_features_names_each_group_and_feature_on_one_line(capsys):
    assert main(["run", "exp001", "--list-features", "-p", "features", "default,-yearly"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("exp001: features='default,-yearly' (40 of 43")
    by_name = {line[2:].split()[1]: line for line in lines[1:]}  # "* group name  description"
    assert by_name["mean_7"].startswith("* level")
    assert by_name["year_ago"].startswith("  yearly")
    assert (
        by_name["promo_days_16"].startswith("  notebook")
        and "promotion" in by_name["promo_days_16"]
    )
    assert len(lines) == 1 + 43


# ---- end to end: exp900 from exp001, edited, run, compared, bundled -----------------------------


@pytest.fixture(scope="module")
def exp900(small_data_dir, tmp_path_factory):
    """`store-sales new exp900 --from exp001` in the repo's notebooks/, with a cell added that
    registers mean_7_again; removed afterwards."""
    path = templates.notebooks_dir() / "exp900.ipynb"
    path.unlink(missing_ok=True)
    assert main(["new", "exp900", "--from", "exp001"]) == 0
    try:
        nb = nbformat.read(path, as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if "features" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(MEAN_7_AGAIN))
        nbformat.write(nb, path)
        yield path
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def exp900_run(exp900, small_data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exp900") / "run"
    params = {**QUICK["exp001"], "data_dir": str(small_data_dir), "tracker": "none"}
    runner.run("exp900", {**params, "features": SPEC, "output_dir": str(out)}, log_output=False)
    return out


@pytest.mark.e2e
def test_the_edited_template_runs_with_its_feature_selected(exp900_run):
    features = (exp900_run / "features.txt").read_text().split()
    assert "mean_7_again" in features and "year_ago" not in features
    assert "year_ago_mean_7" in features and len(features) == 42
    metrics = json.loads((exp900_run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["template"] == "exp900"
    assert metrics["n_features"] == 42
    config = json.loads((exp900_run / "config.json").read_text())
    assert config["features"] == SPEC and config["exp_name"] == "exp900"
    # the run's code is on record: the cell as it ran, hashed
    code = (exp900_run / "code.py").read_text()
    assert "def mean_7_again" in code and "class Model(LightGBMAdapter)" in code
    assert "learning_rate = " not in code  # parameter cells are the config, not the code
    assert len(metrics["code"]["notebook_sha256"]) == 64
    assert len(metrics["code"]["package_sha256"]) == 64


@pytest.mark.e2e
def test_runs_show_and_compare_name_the_code(exp900_run, exp001_run, capsys):
    assert main(["runs", "show", str(exp900_run)]) == 0
    shown = capsys.readouterr().out
    sha = json.loads((exp900_run / "metrics.json").read_text())["code"]["notebook_sha256"]
    assert f"notebook_sha256  {sha}" in shown
    assert main(["runs", "compare", str(exp001_run), str(exp900_run)]) == 0
    compared = capsys.readouterr().out
    assert "features" in compared and SPEC in compared  # the parameter difference
    assert "notebook_sha256" in compared  # the code differs ...
    diff = compared[compared.index("+++ ") :]
    assert '+@feature("mean_7_again")' in diff  # ... and this is how
    assert "package_sha256" not in compared.split("code:")[1].split("---")[0]  # same package


@pytest.mark.e2e
def test_the_edited_template_bundled_runs_like_on_kaggle(
    exp900,
    kaggle_python,  # noqa: F811 (test_bundle's fixture)
    small_data_dir,
    tmp_path,
):
    params = {**QUICK["exp001"], "data_dir": str(small_data_dir), "features": SPEC}
    params["output_dir"] = str(tmp_path / "working")
    working = _run_like_kaggle(exp900, params, kaggle_python, tmp_path)
    features = (working / "features.txt").read_text().split()
    assert "mean_7_again" in features and "year_ago" not in features
    bundled = nbformat.read(tmp_path / "build" / "exp900" / "exp900.ipynb", as_version=4)
    # its own cells stay plain and editable beside the embedded package
    assert any(
        c.source == MEAN_7_AGAIN.strip() or "mean_7_again" in c.source for c in bundled.cells
    )
    assert "def mean_7_again" in (working / "code.py").read_text()


# ---- exp004: a model written in the notebook, through CV and a blend ----------------------------


@pytest.mark.e2e
def test_exp004_runs_cv_and_blends(small_data_dir, tmp_path):
    base = {"data_dir": str(small_data_dir), "tracker": "none", "n_folds": 2}
    cat = runner.run(
        "exp004", {**base, **QUICK["exp004"], "output_dir": str(tmp_path / "cat")}, log_output=False
    )
    lgb = runner.run(
        "exp001", {**base, **QUICK["exp001"], "output_dir": str(tmp_path / "lgb")}, log_output=False
    )
    m = json.loads((cat / "metrics.json").read_text())
    assert m["status"] == "finished" and m["model"] == "catboost" and m["n_folds"] == 2
    assert 1 <= m["best_step"] <= 300 and len(m["fold_best_steps"]) == 2
    assert (cat / "model.cbm").is_file() and (cat / "oof.parquet").is_file()
    assert (cat / "feature_importance.png").is_file()
    blend = runner.run(
        "blend",
        {"members": f"{cat},{lgb}", "tracker": "none", "output_dir": str(tmp_path / "blend")},
        log_output=False,
    )
    b = json.loads((blend / "metrics.json").read_text())
    best = min(json.loads((d / "metrics.json").read_text())["cv_rmsle_mean"] for d in (cat, lgb))
    assert b["status"] == "finished" and b["cv_rmsle_mean"] <= best + 1e-6


def test_exp004s_sweep_file_is_accepted_by_the_checks():
    from store_sales.sweep import spec

    config = spec.load_config("configs/sweep_exp004.yaml")
    declared = spec.check_config(config, template="exp004")
    assert set(config["parameters"]) <= set(declared)


@pytest.mark.e2e
def test_exp004_takes_part_in_a_local_sweep(small_data_dir, tmp_path):
    folder = tmp_path / "sweep"
    argv = ["sweep", "local", "configs/sweep_exp004.yaml", "--template", "exp004", "--count", "2"]
    argv += ["--sweep-dir", str(folder), "-p", "data_dir", str(small_data_dir)]
    for name, value in {**QUICK["exp004"], "iterations": 150}.items():
        argv += ["-p", name, str(value)]
    assert main(argv) == 0
    trials = sorted((folder / "trials").iterdir())
    assert len(trials) == 2
    for trial in trials:
        m = json.loads((trial / "metrics.json").read_text())
        assert m["status"] == "finished" and m["model"] == "catboost" and m["val_rmsle"] > 0
    assert (folder / "best.yaml").is_file()
