"""W&B's terminal lines without colour codes where nobody sees colours.

wandb prints through click, which keeps ANSI colour codes whenever it writes to a Jupyter
kernel's stream. Under `store-sales run` or papermill the kernel's output is copied to the
caller's stderr; when that is a file or a pipe (a log, CI), the codes land there as `^[[34m`
noise. The kernel cannot see the caller's stream (ipykernel swaps its own fds for pipes), but
on Linux it can look at the caller's: jupyter_client names it in JPY_PARENT_PID.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def caller_has_terminal() -> bool | None:
    """Whether the process that started this kernel writes stderr to a terminal (None: unknown)."""
    pid = os.environ.get("JPY_PARENT_PID")
    if not pid:
        return None
    try:
        target = os.readlink(f"/proc/{pid}/fd/2")
    except (OSError, ValueError):
        return None
    return target.startswith(("/dev/pts/", "/dev/tty"))


class _PlainStream:
    """The kernel's stream under another name: click, seeing neither a Jupyter stream nor a
    terminal, strips the colour codes of what it writes."""

    def __init__(self, stream):
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


def plain_stderr() -> Callable[[], None]:
    """In a kernel whose output goes to no terminal (or with NO_COLOR set), route sys.stderr
    through `_PlainStream`; returns the undo (a no-op where nothing changed)."""
    stream = sys.stderr
    in_kernel = type(stream).__module__.startswith("ipykernel")
    if not in_kernel or (caller_has_terminal() is not False and not os.environ.get("NO_COLOR")):
        return lambda: None
    sys.stderr = _PlainStream(stream)

    def undo() -> None:
        if isinstance(sys.stderr, _PlainStream):
            sys.stderr = stream

    return undo
