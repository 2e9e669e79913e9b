"""Progress people can see: a bar per fold for the training steps, and one for N runs.

How progress shows depends on where the output goes (`mode`):
- a terminal: a tqdm bar (carriage returns redraw it in place);
- a Jupyter kernel with ipywidgets: tqdm's widget bar (`tqdm.auto`), except in Kaggle's
  headless "Save Version" run (`KAGGLE_KERNEL_RUN_TYPE=Batch`);
- anything else (a pipe, a CI log, a kernel run headless by papermill): plain lines, each
  ended by a newline, at most one every `LINE_INTERVAL_S` seconds plus the last, so logs stay
  readable.
`STORE_SALES_PROGRESS=bar|widget|lines|off` overrides the choice. `runner.run` sets `lines`
for the kernels it starts (papermill has no screen: a widget there would only be saved state).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from tqdm import tqdm

ENV = "STORE_SALES_PROGRESS"
MODES = ("bar", "widget", "lines", "off")
LINE_INTERVAL_S = 30.0  # plain lines: at most one per this many seconds (and the last)


def _in_kernel() -> bool:
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def mode(stream: IO | None = None) -> str:
    """bar | widget | lines | off, for output written to `stream` (default stderr)."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in MODES:
        return forced
    if _in_kernel():
        # Kaggle's "Save Version" runs the notebook headless (papermill): no one sees a widget
        batch = os.environ.get("KAGGLE_KERNEL_RUN_TYPE", "").lower() == "batch"
        return "widget" if _has_widgets() and not batch else "lines"
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


@contextlib.contextmanager
def headless() -> Iterator[None]:
    """Plain lines for the kernels started inside (papermill), unless the user chose a mode."""
    if os.environ.get(ENV):
        yield
        return
    os.environ[ENV] = "lines"
    try:
        yield
    finally:
        os.environ.pop(ENV, None)


def _bar(kind: str, stream: IO | None, **kwargs) -> tqdm:
    if kind == "widget":
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(**kwargs)
    return tqdm(file=stream, dynamic_ncols=True, **kwargs)


class _AboveBar(io.TextIOBase):
    """sys.stdout while a terminal bar is shown: whole lines go through tqdm.write, above the
    bar, so the library's own printout (every `log_period` rounds) does not tear it."""

    def __init__(self, bar: tqdm, stream: IO):
        super().__init__()
        self.bar, self.stream, self.pending = bar, stream, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._write(line)
        return len(text)

    def _write(self, line: str) -> None:
        # tqdm clears the bar before a write only to a stream it knows as sys.stdout/stderr
        ours, sys.stdout = sys.stdout, self.stream
        try:
            self.bar.write(line, file=self.stream)
        finally:
            sys.stdout = ours

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def release(self) -> None:
        if self.pending:
            self._write(self.pending)
        if sys.stdout is self:
            sys.stdout = self.stream


class Progress:
    """One bar (or its plain lines): `update(n, **postfix)`, `write(text)`, `close()`."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str,
        *,
        stream: IO | None = None,
        interval: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        above: bool = False,
    ):
        self.kind = mode(stream)
        self.stream, self.total, self.desc, self.unit = stream, total, desc, unit
        self.interval, self.clock = interval, clock
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self._t0 = clock()
        # plain lines: the first after `interval` (a short fit shows only its last state)
        self._last_line: float | None = self._t0 if interval > 0 else None
        self._printed = 0  # the step count of the last plain line
        self._bar = None
        if self.kind in ("bar", "widget"):
            self._bar = _bar(self.kind, stream, total=total, desc=desc, unit=unit, leave=True)
        self._above = None  # `above`: prints while a terminal bar is shown go above it
        if above and self.kind == "bar":
            self._above = sys.stdout = _AboveBar(self._bar, sys.stdout)

    def update(self, n: int = 1, **postfix) -> None:
        self.n += n
        self.postfix.update(postfix)
        if self._bar is not None:
            self._bar.set_postfix(self.postfix, refresh=False)
            self._bar.update(n)
        elif self.kind == "lines":
            now = self.clock()
            if self._last_line is None or now - self._last_line >= self.interval:
                self._line(now)

    def write(self, text: str) -> None:
        """A line of its own that leaves the bar intact."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream or sys.stdout, flush=True)

    def _line(self, now: float) -> None:
        self._last_line, self._printed = now, self.n
        text = tqdm.format_meter(
            self.n,
            self.total,
            now - self._t0,
            ncols=0,  # stats only: no bar characters in a log
            prefix=self.desc,
            unit=self.unit,
            postfix=", ".join(f"{k}={v}" for k, v in self.postfix.items()) or None,
        )
        print(text, file=self.stream or sys.stdout, flush=True)

    def close(self) -> None:
        if self._above is not None:
            self._above.release()
            self._above = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.kind == "lines" and self.n != self._printed:
            self._line(self.clock())  # the last state is always on record
        self.kind = "closed"


class StepProgress:
    """A step hook: one bar per fold over its training steps (rounds, epochs) showing the
    current validation score and the best so far. Works for every adapter alike, since all of
    them call the step hooks (models/base.py)."""

    def __init__(self, total: int | None, unit: str = "round", stream: IO | None = None, **kw):
        self.total, self.unit, self.stream, self.kw = total, unit, stream, kw
        self.bar: Progress | None = None
        self.fold: int | None = None
        self.best = math.inf
        self.best_step = 0

    def __call__(self, event) -> None:
        if event.scope != "step":
            return
        if event.fold != self.fold:
            self.close()
            self.fold, self.best, self.best_step = event.fold, math.inf, 0
            self.bar = Progress(
                self.total,
                f"fold {event.fold}",
                self.unit,
                stream=self.stream,
                above=True,  # the library's printout above the bar
                **self.kw,
            )
        score = event.values.get("val_rmsle", event.values.get("val_rmse"))
        postfix = {}
        if score is not None:
            if score < self.best:
                self.best, self.best_step = float(score), event.step
            name = "val_rmsle" if "val_rmsle" in event.values else "val_rmse"
            postfix = {name: f"{score:.5f}", "best": f"{self.best:.5f}@{self.best_step}"}
        self.bar.update(max(event.step - self.bar.n, 0), **postfix)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def steps(run) -> StepProgress:
    """The pipeline's progress hook for `run`'s adapter (close it after the folds); the bar's
    total is the most steps the adapter says a fit may run (`max_steps`)."""
    adapter = run.adapter
    total = getattr(adapter, "max_steps", None)
    total = (
        int(total) if isinstance(total, int) and not isinstance(total, bool) and total > 0 else None
    )
    unit = getattr(adapter, "step_unit", "round").split()[-1]  # "boosting round" -> "round"
    return StepProgress(total, unit)


def runs(total: int, desc: str = "runs", **kw) -> Progress:
    """A bar over N runs (batch, sweep and tune trials) with an ETA; `write` their lines.
    Plain lines: one per finished run (runs are long, so every one is worth a line)."""
    return Progress(total, desc, "run", interval=0.0, **kw)
