"""How a run ended, read from its folder: finished | failed | running | killed.

A run writes metrics.json with `status: running`, its pid and host when it starts, and rewrites it
as finished or failed at the end (errors and SIGINT/SIGTERM/SIGHUP included, see `run`). Only a
SIGKILL (or a power cut) leaves "running" behind: such a run is `killed` once its process is
gone. A folder without a readable metrics.json never got going: `failed`.
"""

from __future__ import annotations

import os
import socket
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
    metrics = read_json(Path(run_dir) / "metrics.json")
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
