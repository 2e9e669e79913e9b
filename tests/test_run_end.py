"""Every way a run ends is recorded: errors, SIGINT/SIGTERM/SIGHUP in a cell, and a SIGKILL that
leaves a "running" metrics.json behind (runstate)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from store_sales.run import Run
from store_sales.runstate import forward_signals, run_state
from store_sales.templates.exp001 import Exp001Config
from store_sales.trackers import Tracker


class RecordingTracker(Tracker):
    def finish(self, exit_code: int) -> dict:
        self.exit_code = exit_code
        return {"exit_code": exit_code}


@pytest.fixture
def shell():
    """An in-process IPython shell: the run's error hook needs one, as in a kernel."""
    return InteractiveShell.instance()


def read_metrics(run: Run) -> dict:
    return json.loads((run.dir / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("name", "exit_code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)]
)
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
    deadline = time.monotonic() + 120
    while json.loads(_text(out / "metrics.json") or "{}").get("status") != "running":
        assert time.monotonic() < deadline and cli.poll() is None, cli.stderr.read()[-2000:]
        time.sleep(0.2)
    time.sleep(2)  # into the data and training cells
    cli.send_signal(signal.SIGTERM)
    _, err = cli.communicate(timeout=120)
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
