"""One worker pool for every engine: a controller in this process asks the engine for each
trial (no two workers race for a suggestion), `workers` trials run at a time (inline for one,
else each in a spawned process), and each outcome goes back to the engine as it comes.

The engine's side is a `TrialSource`: `launch` (the next trial's folder and parameters, why
there is no next one, or None: none now, ask again in a moment), `finish` (a trial's outcome;
returns why to stop, or ""), `abandon` (a trial that will never finish: its worker died, or the
user interrupted).
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Protocol

from . import trials
from .template import SearchError

POLL_S = 1.0  # how often a source that had no trial to give (launch() -> None) is asked again


class TrialSource(Protocol):
    def launch(self) -> tuple[Path, dict] | str | None: ...

    def finish(self, trial_dir: Path, outcome: dict) -> str: ...

    def abandon(self, trial_dir: Path, error: str) -> None: ...


class InlineExecutor:
    """workers=1: run each trial in this process when submitted (no pool to start)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def spawn_context():
    import multiprocessing

    # fork would copy the controller's threads and the engine's state; spawn starts clean. (It
    # re-imports the main script, so a script piped through stdin cannot use workers > 1.)
    return multiprocessing.get_context("spawn")


def executor(workers: int):
    if workers == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(workers, mp_context=spawn_context())


def run_trials(
    source: TrialSource,
    template: str,
    count: int,
    workers: int,
    error: type[SearchError] = SearchError,
) -> str:
    """Run up to `count` trials of `template`, `workers` at a time; returns why it stopped
    early ("" when all `count` ran). A worker that dies ends the search with `error`."""
    pool = executor(workers)
    pending: dict[Future, Path] = {}
    launched, stop = 0, ""
    try:
        while True:
            idle = False  # the source had no trial now, but may have one later
            while not stop and launched < count and len(pending) < workers:
                launch = source.launch()
                if launch is None:
                    idle = True
                    break
                if isinstance(launch, str):
                    stop = launch
                    break
                key, params = launch
                launched += 1
                pending[pool.submit(trials.run_trial, template, params)] = key
            if not pending:
                if idle:
                    time.sleep(POLL_S)
                    continue
                break
            timeout = POLL_S if idle else None
            done, _ = wait(list(pending), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                key = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as err:  # a worker died (killed, out of memory)
                    for other in [key, *pending.values()]:
                        source.abandon(other, f"worker process died: {err}")
                    raise error(f"a worker process died ({err}); see {key}") from err
                stop = source.finish(key, outcome) or stop
    except KeyboardInterrupt:
        for key in pending.values():
            source.abandon(key, "interrupted")
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return stop
