"""Work done on a thread of its own while a model trains.

LightGBM, XGBoost, CatBoost and PyTorch train in native code with Python's GIL released, so
Python work started just before a fit (the next rows' features) runs beside it: at little
wall time when the fit leaves a core free (one thread on two cores), at about its CPU cost
otherwise. Not everything gains: the report's figures drawn beside the refit slowed the refit
by about what they saved (measured, docs/speed.md), so they are drawn after it. Such work
must only read what the fit does not change and print nothing; what it raises is raised
again by `result()`, in the caller's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Background:
    """`fn(*args)` started now on a daemon thread (a kernel that stops never waits for it)."""

    def __init__(self, name: str, fn: Callable[..., Any], *args: Any):
        self._fn, self._args = fn, args
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            self._value = self._fn(*self._args)
        except BaseException as err:
            self._error = err
        finally:
            self._fn = self._args = None  # the inputs can be freed before `result` is asked

    def result(self) -> Any:
        """Its return value, once done; what it raised, raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
