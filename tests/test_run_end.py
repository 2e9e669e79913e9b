"""Every way a run ends is recorded: errors, SIGINT/SIGTERM/SIGHUP in a cell, and a SIGKILL that
leaves a "running" metrics.json behind (runstate)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from store_sales import cli
from store_sales.errors import TRACEBACK_OUTPUT
from store_sales.run import Run
from store_sales.runstate import forward_signals, run_state
from store_sales.templates.exp001 import Exp001Config
from store_sales.trackers import Tracker


class RecordingTracker(Tracker):
    def finish(self, exit_code: int) -> dict:
        self.exit_code = exit_code
        return {"exit_code": exit_code}


@pytest.fixture
def python_signal_dispositions():
    """Python's own start-up dispositions for the signals a run handles, whatever the suite
    inherited (`nohup`, a background job or some CI runners start it with SIGINT ignored, and
    an ignored signal never reaches the run); put back afterwards."""
    wanted = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = signal.SIG_DFL
    old = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    yield
    for signum, handler in old.items():
        signal.signal(signum, handler)


@pytest.fixture
def shell():
    """An in-process IPython shell: the run's error hook needs one, as in a kernel."""
    return InteractiveShell.instance()


def read_metrics(run: Run) -> dict:
    return json.loads((run.dir / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("name", "exit_code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)]
)
@pytest.mark.usefixtures("python_signal_dispositions")
def test_a_signal_in_a_cell_ends_the_run_as_failed_naming_it(tmp_path, shell, name, exit_code):
    before = signal.getsignal(getattr(signal, name))
    tracker = RecordingTracker()
    run = Run(Exp001Config(output_dir=str(tmp_path / "run"), wandb_mode="disabled"), tracker)
    assert run_state(run.dir) == "running"  # written at the start, with this pid and host
    shell.run_cell(f"import os, signal; os.kill(os.getpid(), signal.{name})")
    metrics = read_metrics(run)
    assert (metrics["status"], metrics["signal"], tracker.exit_code) == ("failed", name, exit_code)
    assert run_state(run.dir) == "failed"
    assert signal.getsignal(getattr(signal, name)) == before  # handlers put back at the end


@pytest.mark.usefixtures("python_signal_dispositions")
def test_a_finished_run_restores_the_signal_handlers(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    run = Run(Exp001Config(output_dir=str(tmp_path / "run"), wandb_mode="disabled"), Tracker())
    assert signal.getsignal(signal.SIGTERM) != before
    run.finish()
    assert signal.getsignal(signal.SIGTERM) == before
    assert run_state(run.dir) == "finished"


def test_a_run_that_cannot_start_says_failed(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE")  # online without a key: the tracker refuses
    with pytest.raises(Exception, match="wandb_mode='online' but no W&B API key"):
        Run(Exp001Config(output_dir=str(tmp_path / "run"), wandb_mode="online"))
    assert run_state(tmp_path / "run") == "failed"


def write_running(folder, **who) -> None:
    folder.mkdir()
    metrics = {"status": "running", "pid": os.getpid(), "host": socket.gethostname(), **who}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_a_running_file_whose_process_is_gone_reads_killed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_running(tmp_path / "dead", pid=dead.pid)
    write_running(tmp_path / "elsewhere", host="another-host")
    write_running(tmp_path / "reused", process_start="1")  # same pid, another process
    assert run_state(tmp_path / "dead") == "killed"
    assert run_state(tmp_path / "elsewhere") == "killed"
    assert run_state(tmp_path / "reused") == "killed"


def test_a_folder_without_metrics_never_got_going(tmp_path):
    assert run_state(tmp_path) == "failed"


def test_the_caller_hands_sigterm_on_to_the_kernel(tmp_path):
    """The kernel runs in its own session: `kill <cli>` reaches it only through the caller."""
    kernel = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(7)); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    kernel.stdout.readline()
    write_running(tmp_path / "run", pid=kernel.pid)
    before = signal.getsignal(signal.SIGTERM)
    with forward_signals(tmp_path / "run") as received:
        os.kill(os.getpid(), signal.SIGTERM)
        assert kernel.wait(timeout=10) == 7
    assert received == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.e2e
def test_sigterm_to_store_sales_run_ends_the_run_as_failed(small_data_dir, tmp_path):
    """`timeout`/`kill` hit the CLI, not the kernel (its own session): the runner passes the
    signal on, so metrics.json says failed with the signal, and the CLI exits non-zero."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "store_sales", "run", "exp001", "-q"]
    for name, value in {
        "data_dir": small_data_dir,
        "output_dir": out,
        "tracker": "none",
        "num_threads": 1,
        "learning_rate": 0.001,  # slow to converge: still training when the signal comes
    }.items():
        cmd += ["-p", name, str(value)]
    cli = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # A condition, not a delay: the executed notebook (papermill saves it as each cell starts)
    # shows the validation cell running, so the run is open and its handlers are in place
    # however slow the machine is; training at this learning rate lasts well beyond.
    deadline = time.monotonic() + 300
    while _cell_status(out / "exp001.ipynb", "pipeline.validate(") != "running":
        assert time.monotonic() < deadline and cli.poll() is None, cli.stderr.read()[-2000:]
        time.sleep(0.2)
    cli.send_signal(signal.SIGTERM)
    _, err = cli.communicate(timeout=300)
    metrics = json.loads((out / "metrics.json").read_text())
    assert cli.returncode != 0
    assert metrics["status"] == "failed" and metrics["signal"] == "SIGTERM"
    assert run_state(out) == "failed"
    assert "SIGTERM" in err and "Traceback" not in err


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _cell_status(notebook: Path, source: str) -> str | None:
    """papermill's status ("pending", "running", "completed") of the first cell whose source
    contains `source`, in the notebook as last saved; None while it cannot be read yet."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None  # not written yet, or caught mid-write
    for cell in cells:
        if source in "".join(cell.get("source", "")):
            return cell.get("metadata", {}).get("papermill", {}).get("status")
    return None


# ---- a user error in a cell: one line as the cell's error, the traceback kept beside it -------
BAD_STORES = (
    "from store_sales.data import DataError\n"
    "def load():\n"
    "    raise DataError('stores.csv: line 3 repeats line 2. Remove the duplicate.')\n"
    "load()"
)


@pytest.fixture
def cell_outputs(shell, monkeypatch):
    """What a kernel would send for a cell: its error output's traceback lines (`error`) and
    its display outputs (`displays`), recorded at the shell's own hand-over points."""
    seen = {"error": None, "displays": []}
    monkeypatch.setattr(shell, "_showtraceback", lambda etype, value, stb: seen.update(error=stb))
    monkeypatch.setattr(
        shell.display_pub,
        "publish",
        lambda data, metadata=None, **kw: seen["displays"].append({**data, **(metadata or {})}),
    )
    return seen


def test_a_user_error_in_a_cell_is_one_line_with_the_traceback_kept(tmp_path, shell, cell_outputs):
    """papermill prints (and raises) the error output's traceback: for bad input that is the
    one line naming the problem and the fix, as `store-sales run` prints; the full traceback
    is a plain output of the same cell."""
    run = Run(Exp001Config(output_dir=str(tmp_path / "run"), wandb_mode="disabled"), Tracker())
    shell.run_cell(BAD_STORES)
    (line,) = cell_outputs["error"]
    assert (
        _plain(line).strip()
        == "DataError: stores.csv: line 3 repeats line 2. Remove the duplicate."
    )
    (full,) = [d["text/plain"] for d in cell_outputs["displays"] if d.get(TRACEBACK_OUTPUT)]
    assert "Traceback" in _plain(full) and "in load()" in _plain(full)
    assert read_metrics(run)["status"] == "failed"


class StartRefused(RecordingTracker):
    def start(self, info):
        raise AssertionError("a tracker run was started")


def test_bad_data_in_the_load_cell_is_one_line_and_no_tracker_run(
    tmp_path, shell, cell_outputs, data_copy
):
    """`pipeline.load` on a duplicated store, as a kernel runs it: the run ends failed before
    its tracker's run would open; the cell's error is the one line; the hook then steps aside."""
    lines = (data_copy / "stores.csv").read_text().splitlines(keepends=True)
    (data_copy / "stores.csv").write_text("".join([*lines[:2], lines[1], *lines[2:]]))
    cfg = Exp001Config(data_dir=str(data_copy), output_dir=str(tmp_path / "run"), tracker="none")
    shell.user_ns["run"] = run = Run(cfg, tracker := StartRefused())
    shell.run_cell("from store_sales import pipeline\npipeline.load(run)")
    (line,) = cell_outputs["error"]
    assert _plain(line).startswith("DataError: ") and "line 3 repeats line 2" in line
    metrics = read_metrics(run)
    assert metrics["status"] == "failed" and "line 3 repeats line 2" in metrics["error"]
    assert tracker.exit_code == 1
    assert not shell.custom_exceptions  # a later cell's error is IPython's own again


def test_a_bug_in_a_cell_keeps_its_full_traceback(tmp_path, shell, cell_outputs):
    Run(Exp001Config(output_dir=str(tmp_path / "run"), wandb_mode="disabled"), Tracker())
    shell.run_cell("def load():\n    return {}['x']\nload()")
    text = _plain("\n".join(cell_outputs["error"]))
    assert "Traceback" in text and "in load()" in text and "KeyError" in text
    assert cell_outputs["displays"] == []


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.e2e
def test_plain_papermill_prints_a_user_error_as_one_line(small_data_dir, tmp_path, capsys):
    """`papermill exp001.ipynb out.ipynb` on data with a duplicated store: after papermill's
    own frames, its report of the cell is the one line; the executed notebook keeps the
    traceback."""
    data = tmp_path / "data"
    shutil.copytree(small_data_dir, data)
    lines = (data / "stores.csv").read_text().splitlines(keepends=True)
    (data / "stores.csv").write_text("".join([*lines[:2], lines[1], *lines[2:]]))
    executed = tmp_path / "out.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    notebook = Path(__file__).parents[1] / "notebooks" / "exp001.ipynb"
    cmd = [str(papermill), str(notebook), str(executed), "--no-progress-bar"]
    for name, value in {
        "data_dir": data,
        "output_dir": tmp_path / "run",
        "tracker": "none",
    }.items():
        cmd += ["-p", name, str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    report = _plain(done.stderr).split('Exception encountered at "In [')[-1]
    cell_lines = [x for x in report.splitlines()[1:] if x.strip()]
    assert len(cell_lines) == 1, report
    assert cell_lines[0].startswith("DataError: ") and "line 3 repeats line 2" in cell_lines[0]
    outputs = [o for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])]
    kept = "".join(
        "".join(o["data"]["text/plain"]) for o in outputs if o["output_type"] == "display_data"
    )
    assert "Traceback" in _plain(kept) and "_check_unique" in _plain(kept)
    # `store-sales run`: the same line before any kernel starts (runner.check_data), exit 2
    args = ["run", "exp001", "-q", "-p", "data_dir", str(data), "-p", "tracker", "none"]
    assert cli.main([*args, "-p", "output_dir", str(tmp_path / "cli")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: {cell_lines[0].removeprefix('DataError: ')}"
    assert not (tmp_path / "cli").exists()
