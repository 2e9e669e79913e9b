"""`store-sales` in-process: what each subcommand prints and returns, without running a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from store_sales import paths
from store_sales.cli import main
from store_sales.data import SCHEMAS

REPO = Path(__file__).resolve().parents[1]
SEVEN = {f"{name}.csv" for name in SCHEMAS}


@pytest.fixture
def project_root(tmp_path, monkeypatch) -> Path:
    """data/ and outputs/ under tmp_path, so a test sees anything a command writes there."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setattr(paths, "project_root", lambda: root)
    return root


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    return lines[0]


def test_synth_writes_the_seven_files(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", str(out), "--stores", "2", "--start", "2017-01-01"]) == 0
    assert {p.name for p in out.glob("*.csv")} == SEVEN
    assert all((out / name).stat().st_size > 0 for name in SEVEN)
    printed = capsys.readouterr().out
    assert printed.startswith(f"synthetic data written to {out.resolve()} in ")
    assert "  stores.csv                       2 rows\n" in printed  # a summary, not a dict
    assert "{" not in printed


def test_list_params_prints_name_equals_default(capsys, project_root):
    assert main(["run", "exp001", "--list-params"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header == f"exp001: {len(lines)} parameters (-p NAME VALUE)"
    rows = {line.split()[0]: line.split(maxsplit=4)[2:] for line in lines}  # value, type, help
    assert rows["n_folds"] == [
        "1",
        "int",
        "time-series CV folds, each 16 days earlier than the last",
    ]
    assert rows["learning_rate"] == ["0.05", "float", "shrinkage of each tree"]
    assert rows["exp_name"] == ["'exp001'", "str"]
    assert all(" = " in line for line in lines) and len(lines) > 10
    assert not any(project_root.iterdir())  # listing runs nothing, makes no folder


def test_a_misspelt_parameter_is_one_line_naming_it_and_the_valid_ones(
    tmp_path, capsys, project_root
):
    run_dir = tmp_path / "run"
    argv = ["run", "exp001", "-p", "learning_rte", "0.1", "-p", "output_dir", str(run_dir)]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "learning_rte" in line
    assert "learning_rate" in line and "num_leaves" in line  # the valid names are listed
    assert not run_dir.exists()
    assert not any(project_root.iterdir())  # no automatic run folder either


def test_list_shows_every_registered_template_on_one_line(capsys, project_root):
    from store_sales.templates import NOTEBOOKS

    assert main(["run", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(NOTEBOOKS)
    assert "blend" in NOTEBOOKS
    for line, template in zip(lines, NOTEBOOKS.values(), strict=True):
        assert line.split()[1] == template.model and len(line.split()) > 3
    assert main(["run"]) == 2  # neither a template nor --list
    assert "--list" in _one_error_line(capsys)


def test_an_unknown_template_is_one_line(capsys, project_root):
    assert main(["run", "nosuch"]) == 2
    assert "nosuch" in _one_error_line(capsys)
    assert not any(project_root.iterdir())


def test_bundle_without_notebooks_or_all_is_one_line(tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["bundle", "--owner", "tester", "--out", str(out)]) == 2
    assert "--all" in _one_error_line(capsys)
    assert not out.exists() or not any(out.iterdir())


def test_sweep_local_needs_count(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "local", str(REPO / "configs" / "sweep.yaml")])
    assert exit_.value.code == 2
    assert "--count" in capsys.readouterr().err


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    assert "usage: store-sales" in capsys.readouterr().err


def test_every_user_error_class_is_known_by_name():
    """A kernel reports its exception by class name only: the runner prints a UserError's
    message alone, so every subclass in the package must be in USER_ERROR_NAMES."""
    import importlib
    import pkgutil

    import store_sales
    from store_sales.errors import USER_ERROR_NAMES, UserError

    for module in pkgutil.walk_packages(store_sales.__path__, "store_sales."):
        if not module.name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(module.name)
    found, todo = set(), [UserError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo += cls.__subclasses__()
    assert {"DataError", "WandbLoginError", "SweepError"} <= found  # the walk reached them
    assert found <= USER_ERROR_NAMES | {"RunFailed"}  # RunFailed is the runner's own


def test_call_with_args_passes_the_options_named_as_the_parameters():
    import argparse

    from store_sales.cliutil import call_with_args

    def job(config, count, *, workers=1, fixed=None, log_output=False):
        return config, count, workers, fixed, log_output

    args = argparse.Namespace(
        config="s.yaml", count=3, workers=2, func=print, parameter=[["seed", "7"]], quiet=True
    )
    got = call_with_args(job, args, log_output=not args.quiet)
    assert got == ("s.yaml", 3, 2, {"seed": 7}, False)  # func, quiet: not job's parameters


def test_version_prints_the_installed_packages_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"store-sales {metadata.version('store-sales-templates')}\n"


def test_output_cut_short_by_its_reader_is_no_error():
    """`store-sales runs ... | head`: the reader leaves early; no traceback, exit 0."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "store_sales", "run", "--list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first line
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()
