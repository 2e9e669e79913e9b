"""`store-sales runs` (the leaderboard read from run folders), `store-sales batch`, and the checks
that refuse bad parameters before any kernel starts or folder is made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import BATCH_FILES

from store_sales import cli, leaderboard, rundir
from store_sales.batch import expand, parse_grid
from store_sales.errors import UserError

# ---- the leaderboard on hand-written run folders (fast) ----------------------------------------


def _run(root: Path, name: str, template="exp001", config=None, **metrics) -> Path:
    folder = root / template / name
    folder.mkdir(parents=True)
    metrics = {"status": "finished", "run_name": name, "template": template, **metrics}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.json").write_text(json.dumps({"template": template, **(config or {})}))
    return folder


@pytest.fixture
def runs(tmp_path) -> Path:
    root = tmp_path / "outputs"
    _run(root, "a-run", cv_rmsle_mean=0.40, val_rmsle=0.41, config={"num_leaves": 63})
    _run(root, "b-run", cv_rmsle_mean=0.38, val_rmsle=0.37, public_lb=0.45)
    _run(root, "c-run", "exp002", cv_rmsle_mean=0.39, val_rmsle=0.36, config={"max_depth": 6})
    _run(root, "d-run", status="failed", error="DataError: stores.csv not found")
    # a tracker's own folders are not runs, whatever they hold
    wandb_file = root / "exp001" / "a-run" / "wandb" / "offline-run-x" / "files"
    wandb_file.mkdir(parents=True)
    (wandb_file / "config.json").write_text("{}")
    return root


def test_all_runs_ranked_by_cv_with_runs_lacking_it_last(runs):
    ranked = leaderboard.ranked(leaderboard.scan(runs))
    assert [r.name for r in ranked] == ["b-run", "c-run", "a-run", "d-run"]
    by_val = leaderboard.ranked(leaderboard.scan(runs), "val_rmsle", descending=True)
    assert [r.name for r in by_val] == ["a-run", "b-run", "c-run", "d-run"]


def test_changed_parameters_are_the_differences_from_the_template_defaults(runs):
    records = {r.name: r for r in leaderboard.scan(runs)}
    assert records["a-run"].changed == {"num_leaves": 63}
    assert records["c-run"].changed == {"max_depth": 6}
    assert records["b-run"].changed == {}  # a config that repeats defaults changed nothing
    folder = _run(runs, "e-run", config={"learning_rate": 0.05, "tracker": "mlflow"})
    assert leaderboard.load(folder).changed == {}  # the default, and where it was recorded


def test_filters_by_template_status_and_conditions(runs):
    records = leaderboard.scan(runs)
    names = lambda rs: sorted(r.name for r in rs)  # noqa: E731
    assert names(leaderboard.select(records, template="exp002")) == ["c-run"]
    assert names(leaderboard.select(records, status="failed")) == ["d-run"]
    assert names(leaderboard.select(records, where=["num_leaves=63"])) == ["a-run"]
    assert names(leaderboard.select(records, where=["cv_rmsle_mean<0.395"])) == ["b-run", "c-run"]
    with pytest.raises(UserError, match="NAME=VALUE"):
        leaderboard.select(records, where=["num_leaves"])


def test_a_running_run_whose_process_is_gone_shows_as_killed(runs):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_OUT)
    pid = int(dead.stdout)
    folder = _run(runs, "k-run", status="running", pid=pid, host=os.uname().nodename)
    assert leaderboard.load(folder).status == "killed"
    alive = _run(runs, "r-run", status="running", pid=os.getpid(), host=os.uname().nodename)
    assert leaderboard.load(alive).status == "running"


_OUT = {"capture_output": True, "text": True, "check": True}


def test_cli_table_csv_json_and_best(runs, capsys):
    assert cli.main(["runs", str(runs)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["#", "run", "template", "status"]
    assert "public_lb" in table[0]  # shown once a run has a leaderboard score
    assert [line.split()[1] for line in table[1:]] == ["b-run", "c-run", "a-run", "d-run"]

    assert cli.main(["runs", str(runs), "--format", "json", "--template", "exp001"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in rows] == ["b-run", "a-run", "d-run"]

    assert cli.main(["runs", str(runs), "--format", "csv", "--sort", "val_rmsle"]) == 0
    csv = capsys.readouterr().out.splitlines()
    assert csv[0].startswith("run,template,status,val_rmsle") and csv[1].startswith("c-run,")

    assert cli.main(["runs", "best", str(runs), "--metric", "val_rmsle"]) == 0
    name, folder, submission = capsys.readouterr().out.splitlines()
    assert name.startswith("c-run") and folder == str(runs / "exp002" / "c-run")
    assert submission == str(runs / "exp002" / "c-run" / "submission.csv")


def test_cli_compare_and_show_by_name(runs, capsys):
    assert cli.main(["runs", "compare", "a-run", "b-run", "--dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "num_leaves" in out and "(B - A = -0.02)" in out
    assert cli.main(["runs", "show", "d-run", "--dir", str(runs)]) == 0
    assert "failed: DataError: stores.csv not found" in capsys.readouterr().out
    assert cli.main(["runs", "show", "run", "--dir", str(runs)]) == 2  # names four runs
    assert "names 4 runs" in capsys.readouterr().err
    assert cli.main(["runs", "best", str(runs), "--status", "failed"]) == 2
    assert "no finished run" in capsys.readouterr().err


def test_batch_items_are_files_times_grid_with_common_values(tmp_path):
    (tmp_path / "a.yaml").write_text("num_leaves: 31\nseed: 1\n")
    (tmp_path / "b.yaml").write_text("num_leaves: 63\n")
    items = expand(
        [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")], ["seed=1,2"], {"n_folds": 3}
    )
    assert [i.label for i in items] == [
        "a.yaml seed=1",
        "a.yaml seed=2",
        "b.yaml seed=1",
        "b.yaml seed=2",
    ]
    assert items[1].params == {"num_leaves": 31, "seed": 2, "n_folds": 3}
    assert parse_grid(["refit=true,false", "learning_rate=0.1"]) == [
        {"refit": True, "learning_rate": 0.1},
        {"refit": False, "learning_rate": 0.1},
    ]
    with pytest.raises(UserError, match="NAME=VALUE1"):
        parse_grid(["num_leaves"])
    with pytest.raises(UserError, match="needs parameter files"):
        expand([], [], {})


# ---- bad parameters: one line, exit 2, no folder, no kernel ------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("num_leaves", "abc", "num_leaves='abc' must be an integer"),
        ("refit", "no", "refit='no' must be true or false"),
        ("learning_rate", "0", "learning_rate=0 must be in (0, 1]"),
        ("tracker", "mlfow", "tracker='mlfow' is not one of"),
        ("wandb_mode", "onlin", "wandb_mode='onlin' is not one of"),
        ("num_leafs", "63", "unknown parameter(s) ['num_leafs']"),
    ],
)
def test_bad_values_are_refused_before_anything_starts(name, value, says, capsys):
    outputs = Path(os.environ["STORE_SALES_OUTPUTS"])
    assert cli.main(["run", "exp001", "-p", name, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err
    assert not outputs.exists() or not any(outputs.rglob("*.ipynb"))


# ---- run folders are claimed once -------------------------------------------------------------


def test_a_folder_is_claimed_by_one_process_only(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    assert rundir.claim(folder) is True
    assert rundir.claim(folder) is False  # the same process again: it is a run already
    with pytest.raises(FileExistsError, match="already holds a run"):
        rundir.new_run_dir("exp001", str(folder), "lightgbm")
    # the runner's claim is its notebook kernel's: a process the folder is handed to (the
    # kernel the runner starts) takes it; any other process is refused
    child = f"from store_sales import rundir; print(rundir.claim({str(folder)!r}))"
    assert subprocess.run([sys.executable, "-c", child], **_OUT).stdout.strip() == "False"
    with rundir.handing_over(folder):
        assert subprocess.run([sys.executable, "-c", child], **_OUT).stdout.strip() == "True"
    assert rundir.HANDOVER_ENV not in os.environ
    other = tmp_path / "other"
    other.mkdir()
    (other / rundir.CLAIM_FILE).write_text("1")  # claimed by a process that is not our parent
    assert rundir.claim(other) is False


def test_two_runs_into_one_explicit_folder_one_is_refused(tmp_path):
    """A second `store-sales run -p output_dir X` (another process) must fail, not write into
    the first run's X."""
    folder = tmp_path / "X"
    code = f"from store_sales import rundir; rundir.new_run_dir('exp001', {str(folder)!r}, 'x')"
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert first.returncode == 0 and second.returncode != 0
    assert "already holds a run (another process claimed it)" in second.stderr


# ---- the real batch (e2e): every tracker, a bad value, a run failing in its kernel -------------


def test_batch_goes_on_past_failures_and_ends_with_its_leaderboard(tracked_batch):
    out = tracked_batch.output
    n = len(BATCH_FILES)
    assert tracked_batch.exit_code == 1
    assert f"[5/{n}] bad.yaml: not started: exp001: num_leaves='abc' must be an integer" in out
    broken_line = next(
        line for line in out.splitlines() if line.startswith(f"[6/{n}] broken.yaml:")
    )
    assert "failed after" in broken_line and "LightGBMError" in broken_line
    notebook = tracked_batch.runs["broken"] / "exp001.ipynb"
    assert f"(notebook: {notebook})" in broken_line and notebook.is_file()
    assert "lambda_l2" in notebook.read_text()  # the traceback stays in the notebook
    nodata_line = next(line for line in out.splitlines() if line.startswith(f"[7/{n}] nodata"))
    assert "not started: stores.csv not found in" in nodata_line  # bad data: no kernel either
    assert f"4 of {n} runs finished, 3 failed:" in out
    assert set(tracked_batch.runs) == set(BATCH_FILES) - {"bad", "nodata"}


def test_runs_lists_every_tracker_together_and_best_is_the_lowest_cv(tracked_batch, capsys):
    assert cli.main(["runs", str(tracked_batch.outputs), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_dir = {r["dir"]: r for r in rows}
    trackers = {stem: by_dir[str(folder)]["tracker"] for stem, folder in tracked_batch.runs.items()}
    assert trackers == {
        "mlflow": "mlflow",
        "both": "both",
        "wandb": "wandb",
        "none": "none",
        "broken": "mlflow",
    }
    scores = [r["cv_rmsle_mean"] for r in rows if r["status"] == "finished"]
    assert len(scores) == 4 and scores == sorted(scores)
    assert rows[-1]["status"] == "failed" and rows[-1]["cv_rmsle_mean"] is None
    assert cli.main(["runs", "best", str(tracked_batch.outputs)]) == 0
    best_dir = capsys.readouterr().out.splitlines()[1]
    assert by_dir[best_dir]["cv_rmsle_mean"] == min(scores)


@pytest.mark.e2e
def test_the_readmes_papermill_command_run_twice_keeps_both_runs(small_data_dir, tmp_path):
    """The documented plain-papermill line (docs/usage.md), run twice from the same folder: two
    run folders, each with its own executed notebook; neither run overwrites the other's."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "usage.md").read_text()
    line = next(x.strip() for x in readme.splitlines() if "mktemp -d outputs/run-" in x)
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    command = line.replace("notebooks/", f"{notebooks}/") + (
        f" -p data_dir {small_data_dir} -p tracker none -p n_origins 6 -p num_threads 1"
        " -p num_boost_round 50 && echo $out"
    )
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    folders = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        folders.append(tmp_path / done.stdout.strip().splitlines()[-1])
    assert folders[0] != folders[1]
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["status"] == "finished" and (folder / "exp001.ipynb").is_file()
        executed = json.loads((folder / "exp001.ipynb").read_text())
        assert any(cell.get("outputs") for cell in executed["cells"])  # this run's, executed


def test_an_explicit_folder_holding_results_is_refused_even_unclaimed(tmp_path):
    """A folder with another run's results but no claim file (copied, or from before claims)
    is still that run's: refused, and its files untouched."""
    for name in rundir.RESULT_FILES:
        folder = tmp_path / name.replace(".", "-")
        folder.mkdir()
        (folder / name).write_text("another run's")
        with pytest.raises(FileExistsError, match=rf"already holds a run \({name}\)"):
            rundir.new_run_dir("exp001", str(folder), "lightgbm")
        assert (folder / name).read_text() == "another run's"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert rundir.new_run_dir("exp001", str(empty), "lightgbm")[0] == empty  # fine: no results


def test_an_automatic_folder_whose_name_is_taken_gets_a_new_one(tmp_path, monkeypatch):
    """Two runs started in the same second (frozen here) get two folders; a folder already
    there under the name is left alone."""
    import datetime as dt

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(rundir, "datetime", Frozen)
    taken = Path(os.environ["STORE_SALES_OUTPUTS"]) / "exp001" / "exp001-lightgbm-20260102-030405"
    taken.mkdir(parents=True)
    (taken / "notes.txt").write_text("mine")
    first, name = rundir.new_run_dir("exp001", "", "lightgbm")
    second, _ = rundir.new_run_dir("exp001", "", "lightgbm")
    assert name == "exp001-lightgbm-20260102-030405-1"
    assert len({taken, first, second}) == 3
    assert second.name == "exp001-lightgbm-20260102-030405-2"
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]
