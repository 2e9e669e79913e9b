"""Signals, on both sides of a run: the kernel's and the parent's.

In the kernel (`Run`, run.py), SIGTERM and SIGHUP (`timeout`, `kill`, a scheduler, a closed
terminal) become a `RunSignal` exception while the run is open (`catch` / `restore`), so they end
it as any error does: metrics.json says failed, with the signal. In the parent that runs the
notebook (the CLI, around papermill, runner.py), `forward` passes them on to the kernel: it lives
in its own session (jupyter_client starts it so), so a SIGTERM sent to the CLI never reaches it,
and ipykernel exits without a word once its parent is gone.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .rundir import read_metrics

HANDLED_SIGNALS = ("SIGTERM", "SIGHUP")  # SIGINT is already KeyboardInterrupt


class RunSignal(BaseException):
    """A termination signal, raised in the main thread. A BaseException, as KeyboardInterrupt:
    an `except Exception` in a cell must not swallow it."""

    def __init__(self, signum: int):
        self.signum = signum
        self.signal = signal.Signals(signum).name
        super().__init__(f"{self.signal} received: the run was stopped")


def _raise_signal(signum, frame):
    raise RunSignal(signum)


def catch() -> dict:
    """Turn SIGTERM/SIGHUP into RunSignal while the run is open; returns the old handlers.
    Only the main thread may set handlers (a run built in another thread keeps the defaults)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {}
    for name in HANDLED_SIGNALS:
        signum = getattr(signal, name, None)  # Windows has no SIGHUP
        if signum is not None:
            old[signum] = signal.signal(signum, _raise_signal)
    return old


def restore(old: dict) -> None:
    for signum, handler in old.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def forward(run_dir) -> Iterator[list[int]]:
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
        metrics = read_metrics(run_dir)
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
