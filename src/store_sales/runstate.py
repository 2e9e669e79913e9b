"""How a run ended, read from its folder: finished | failed | running | killed.

A run writes metrics.json with `status: running`, its pid and host when it starts, and rewrites it
as finished or failed at the end (errors and SIGINT/SIGTERM/SIGHUP included, see `run`). Only a
SIGKILL (or a power cut) leaves "running" behind: such a run is `killed` once its process is
gone. A folder without a readable metrics.json never got going: `failed`.

`forward_signals` is for the process that runs the notebook (the CLI, around papermill): the
kernel lives in its own session (jupyter_client starts it so), so a SIGTERM sent to the CLI
(`kill`, `timeout`) never reaches it, and ipykernel exits without a word once its parent is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .jsonio import read_json


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    now = process_start(pid)
    if now is None:  # no /proc (macOS): the pid exists, trust it
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":  # a zombie has ended
                return False
    except OSError:
        return False
    return started is None or now == started  # a different start time: the pid was reused


def run_state(run_dir) -> str:
    """finished | failed | running | killed; running only while its process lives on this host."""
    return state(read_json(Path(run_dir) / "metrics.json"))


def state(metrics: dict) -> str:
    """`run_state` of a metrics.json already read ({} when there is none)."""
    status = metrics.get("status")
    if status in ("finished", "failed"):
        return status
    if status != "running":
        return "failed"
    pid = metrics.get("pid")
    if metrics.get("host") == socket.gethostname() and isinstance(pid, int) and pid > 0:
        if _alive(pid, metrics.get("process_start")):
            return "running"
    return "killed"


@contextmanager
def forward_signals(run_dir) -> Iterator[list[int]]:
    """While the block runs, SIGTERM and SIGHUP go on to the run's kernel (the pid its
    metrics.json names), whose `Run` then ends the run as failed with the signal; the notebook
    fails and the block's papermill call raises as for any error. Yields the signals received.
    Before the kernel has written its pid, or at a second signal, the default action applies."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    received: list[int] = []
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]

    def forward(signum, frame):
        received.append(signum)
        metrics = read_json(Path(run_dir) / "metrics.json")
        pid = metrics.get("pid")
        if len(received) == 1 and metrics.get("status") == "running" and isinstance(pid, int):
            try:
                os.kill(pid, signum)
                return
            except OSError:
                pass
        signal.signal(signum, signal.SIG_DFL)  # nothing to hand it to: end as the signal says
        os.kill(os.getpid(), signum)

    old = {getattr(signal, n): signal.signal(getattr(signal, n), forward) for n in names}
    try:
        yield received
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
