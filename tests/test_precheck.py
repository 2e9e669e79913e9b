"""Bad data before any run: `store-sales run/batch/tune/sweep local` check the data the kernel
would read (`runner.check_data`) and refuse it in one line, exit 2, before a run folder, a
tracker run or a kernel exists; inside a kernel, `pipeline.load` ends a run whose data failed
without opening a tracker run (its metrics.json is the record)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import papermill
import pytest
from helpers import LabelAdapter, run_notebook_calls

from store_sales import cli, data, datacache, runner
from store_sales.data import DataError, check_data
from store_sales.paths import REPO_ROOT


def _duplicate_store(folder: Path) -> None:
    lines = (folder / "stores.csv").read_text().splitlines(keepends=True)
    (folder / "stores.csv").write_text("".join([*lines[:2], lines[1], *lines[2:]]))


def _latin1_byte(folder: Path) -> None:
    path = folder / "holidays_events.csv"
    raw = path.read_bytes()
    at = raw.rindex(b"\n", 0, len(raw) - 1) + 3  # inside the last line
    path.write_bytes(raw[:at] + b"\xe9" + raw[at + 1 :])


def _empty_oil(folder: Path) -> None:
    (folder / "oil.csv").write_bytes(b"")


def _no_transactions(folder: Path) -> None:
    (folder / "transactions.csv").unlink()


# damage -> (what the line says is wrong, what it says to do)
DAMAGE = {
    "duplicate-store": (_duplicate_store, "stores.csv: line 3 repeats line 2", "Remove the dupl"),
    "non-utf8": (_latin1_byte, "has byte 0xe9, which is not UTF-8", "iconv -f latin1"),
    "empty-oil": (_empty_oil, "oil.csv: is empty (0 bytes", "Re-download oil.csv"),
    "missing-file": (_no_transactions, "transactions.csv not found", "kaggle competitions down"),
}
COMMANDS = {
    "run": ["run", "exp001"],
    "batch": ["batch", "exp001", "--grid", "seed=1,2"],
    "tune": ["tune", "exp001", "--trials", "2"],
    "sweep local": ["sweep", "local", str(REPO_ROOT / "configs" / "sweep.yaml"), "--count", "2"],
}


@pytest.fixture
def no_kernel(monkeypatch):
    """Fails the test if a notebook is executed (every command ends in papermill)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)


def _left_behind() -> list[Path]:
    """Anything written under the test's outputs/ and W&B's folders (conftest isolates both)."""
    roots = {Path(os.environ["STORE_SALES_OUTPUTS"]), Path(os.environ["WANDB_DIR"])}
    return [p for root in roots if root.exists() for p in root.rglob("*")]


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_data_is_one_line_and_exit_2_before_anything_starts(
    data_copy, damage, command, no_kernel, capsys
):
    spoil, problem, fix = DAMAGE[damage]
    spoil(data_copy)
    code = cli.main([*COMMANDS[command], "-p", "data_dir", str(data_copy)])
    out, err = capsys.readouterr()
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and str(data_copy) in line
    assert problem in line and fix in line
    assert out == ""
    assert _left_behind() == []  # no run, sweep or study folder, no offline W&B run


def test_the_check_reads_what_the_kernel_would_and_only_once_while_unchanged(
    data_copy, monkeypatch
):
    reads = []
    read_table = data.read_table
    monkeypatch.setattr(data, "read_table", lambda p, n: reads.append(n) or read_table(p, n))
    assert check_data(data_copy) == data_copy.resolve()
    assert len(reads) == len(data.SCHEMAS)
    check_data(data_copy)  # a batch's second run, a sweep's next trial
    assert len(reads) == len(data.SCHEMAS)
    _duplicate_store(data_copy)  # changed files are read again
    with pytest.raises(DataError, match="repeats line 2"):
        check_data(data_copy)


def test_a_folder_that_passed_is_remembered_by_the_next_process_too(data_copy, monkeypatch):
    reads = []
    read_table = data.read_table
    monkeypatch.setattr(data, "read_table", lambda p, n: reads.append(n) or read_table(p, n))
    check_data(data_copy)
    monkeypatch.setattr(datacache, "_PASSED", {})  # the next `store-sales run`: a new process
    check_data(data_copy)
    assert len(reads) == len(data.SCHEMAS)
    monkeypatch.setenv(datacache.CACHE_ENV, "off")  # no memo file: each process reads again
    monkeypatch.setattr(datacache, "_PASSED", {})
    check_data(data_copy)
    assert len(reads) == 2 * len(data.SCHEMAS)
    monkeypatch.delenv(datacache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(data_copy.parent / "xdg"))
    monkeypatch.setattr(datacache, "_PASSED", {})
    check_data(data_copy)
    assert (data_copy.parent / "xdg" / "store-sales" / "data_checks.json").is_file()


def test_no_data_dir_is_resolved_as_the_kernel_resolves_it(data_copy, tmp_path, monkeypatch):
    real, synthetic = tmp_path / "raw", tmp_path / "synthetic"
    monkeypatch.setattr(data, "real_data_dir", lambda: real)
    monkeypatch.setattr(data, "synthetic_data_dir", lambda: synthetic)
    # no real data, no synthetic data yet: the kernel writes it; nothing is generated here
    assert check_data("") is None and not synthetic.exists()
    shutil.copytree(data_copy, synthetic)  # synthetic data written by an earlier run
    assert check_data("") == synthetic
    shutil.copytree(data_copy, real)  # real data, preferred
    _empty_oil(real)
    with pytest.raises(DataError, match=r"raw/oil.csv: is empty"):
        check_data("")
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")  # on Kaggle: its input, or an error
    monkeypatch.setattr(data, "real_data_dir", lambda: tmp_path / "no-input")
    with pytest.raises(DataError, match="add the competition data to the notebook"):
        check_data("")


def test_a_batch_whose_runs_read_different_folders_refuses_only_the_bad_ones(
    small_data_dir, data_copy, tmp_path, monkeypatch, capsys
):
    _duplicate_store(data_copy)
    started = []

    def fake_run(notebook, params, log_output=True):
        started.append(params["data_dir"])
        raise DataError("stop here")

    monkeypatch.setattr(runner, "run", fake_run)
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(f"data_dir: {small_data_dir}\n")
    bad.write_text(f"data_dir: {data_copy}\n")
    assert cli.main(["batch", "exp001", "-f", str(good), "-f", str(bad)]) == 1
    out = capsys.readouterr().out
    assert started == [str(small_data_dir)]
    assert "[2/2] bad.yaml: not started: " in out and "stores.csv: line 3 repeats line 2" in out


def test_a_template_without_data_has_nothing_to_check(monkeypatch):
    monkeypatch.setattr(data, "check_data", lambda *a: pytest.fail("data checked"))
    runner.check_data(runner.resolve_notebook("blend"), {})


@pytest.mark.e2e
def test_a_run_whose_data_fails_in_its_kernel_ends_failed_without_a_tracker_run(
    data_copy, tmp_path
):
    """The notebook's calls in this process (Jupyter, papermill) on a duplicated store: the
    run folder's metrics.json says failed and why; no W&B run, no MLflow run."""
    from mlflow.tracking import MlflowClient

    from store_sales.templates.exp001 import Exp001Config

    _duplicate_store(data_copy)
    db = tmp_path / "mlflow.db"
    cfg = Exp001Config(
        data_dir=str(data_copy),
        output_dir=str(tmp_path / "run"),
        tracker="both",
        wandb_mode="offline",
        mlflow_uri=f"sqlite:///{db}",
    )
    with pytest.raises(DataError, match="repeats line 2") as raised:
        run_notebook_calls(cfg, LabelAdapter())
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert metrics["error"] == f"DataError: {raised.value}"
    assert "stores.csv: line 3 repeats line 2" in metrics["error"]
    assert metrics["wandb"]["run_id"] is None and metrics["mlflow"]["run_id"] is None
    assert not (tmp_path / "run" / "wandb").exists()
    assert _left_behind() == []  # nothing in W&B's folders either
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments) == []
