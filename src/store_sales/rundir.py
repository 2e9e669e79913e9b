"""The run folder: its file names, claiming it (atomically, once), its records (metrics.json,
config.json) and how its run ended. Every other module reads and writes a run's records here.

A run writes metrics.json with `status: running`, its pid and host when it starts, and rewrites it
as finished or failed at the end (errors and SIGINT/SIGTERM/SIGHUP included, see `signals`).
Only a SIGKILL (or a power cut) leaves "running" behind: such a run is `killed` once its process
is gone. A folder without a readable metrics.json never got going: `failed`.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from .jsonio import read_json, write_json
from .paths import KAGGLE_WORKING, on_kaggle, outputs_root

METRICS_FILE = "metrics.json"  # the run's record: status, scores, timings, trackers' entries
CONFIG_FILE = "config.json"  # its parameters, written first: a failed run still says what it was
SUBMISSION_FILE = "submission.csv"
RESULT_FILES = (METRICS_FILE, SUBMISSION_FILE)  # a folder holding one of these is a run's
CLAIM_FILE = ".claimed"  # created exclusively by the process that owns the folder; holds its pid
# the folder the runner claimed for the notebook kernel it starts: the kernel's, not claimed again
HANDOVER_ENV = "STORE_SALES_RUN_DIR"


class RunMetrics(TypedDict, total=False):
    """metrics.json, the run's record: what every reader (leaderboard, summary, sweep and tune
    trials, blend, submit) may rely on. Written by `run.Run` at the start and the end (the
    pipeline fills the scores in between); besides these keys it holds `cv_rmsle_fold_<k>` per
    fold and one entry per tracker, under the tracker's name (ids, mode, URI)."""

    # who and how it ended: written at the start, rewritten at the end
    status: str  # running | finished | failed (`state`: killed, when its process is gone)
    run_name: str
    template: str
    model: str  # the adapter's name
    tracker: str
    pid: int
    host: str
    process_start: str | None
    started: str  # ISO time
    git_commit: str | None
    code: dict  # notebook_sha256, notebook_cells, package_sha256 (codeinfo)
    error: str  # "Type: message" of a failed run
    signal: str  # SIGTERM | SIGHUP | SIGINT that ended it
    # the scores (pipeline.report, results)
    data: str  # synthetic | real
    val_rmsle: float  # fold 1, every validation row
    val_rmsle_alive: float
    cv_rmsle_mean: float
    cv_rmsle_std: float
    n_folds: int
    rmsle_by_horizon: dict  # h -> RMSLE
    best_step: int
    fold_best_steps: list
    fold_steps_run: list
    refit_steps: int
    refit: bool | str  # "skipped-sweep-trial": no test forecast
    n_features: int
    n_train_rows: int
    stopped: dict  # a hook's StopTraining info (hyperband, pruning)
    # the end
    timings: dict  # phase -> seconds
    peak_rss_mb: float
    threads: dict  # fit stage -> thread counts
    # after the run (`store-sales submit`)
    kaggle_submission: dict
    public_lb: float


def read_metrics(run_dir) -> RunMetrics:
    """The run's metrics.json ({} when missing or unreadable)."""
    return read_json(Path(run_dir) / METRICS_FILE)


def write_metrics(run_dir, metrics: RunMetrics) -> Path:
    return write_json(Path(run_dir) / METRICS_FILE, metrics)


def read_config(run_dir) -> dict:
    return read_json(Path(run_dir) / CONFIG_FILE)


def write_config(run_dir, config: dict) -> Path:
    return write_json(Path(run_dir) / CONFIG_FILE, config)


def is_run_folder(path) -> bool:
    """A folder a run has written its records to."""
    path = Path(path)
    return (path / METRICS_FILE).is_file() or (path / CONFIG_FILE).is_file()


def new_run_dir(exp_name: str, output_dir: str = "", model: str = "") -> tuple[Path, str]:
    """Create the run's own folder and return it with the run's name.

    The name is `<exp_name>-<model>-<timestamp>` (the tracker's run name; the group is
    exp_name). An explicit folder may exist but must not hold another run's results; an
    automatic one is `outputs/<exp_name>/<name>`, with a suffix if that second is taken.
    """
    model = "" if model == exp_name else model  # blend-<time>, not blend-blend-<time>
    stamp = "-".join(filter(None, [model, datetime.now().strftime("%Y%m%d-%H%M%S")]))
    if output_dir:
        path = Path(output_dir).expanduser().resolve()
        taken = [n for n in RESULT_FILES if (path / n).exists()]
        path.mkdir(parents=True, exist_ok=True)
        if taken or not claim(path):
            what = ", ".join(taken) or "another process claimed it"
            raise FileExistsError(
                f"output_dir {path} already holds a run ({what}). "
                "Pass a new folder, or output_dir='' for an automatic one."
            )
        # a folder the runner named for this run keeps its name, so folder and W&B run agree
        return path, path.name if path.name.startswith(f"{exp_name}-") else f"{exp_name}-{stamp}"
    parent = outputs_root() / exp_name
    parent.mkdir(parents=True, exist_ok=True)
    for i in range(100):
        name = f"{exp_name}-{stamp}" + (f"-{i}" if i else "")
        try:
            (parent / name).mkdir()
        except FileExistsError:
            continue
        claim(parent / name)
        return parent / name, name
    raise FileExistsError(f"could not create a new run folder under {parent}")


def claim(path: Path) -> bool:
    """Make `path` this process's run folder; False if another run owns it. Creating the claim
    file is atomic (O_EXCL), so of two processes only one wins. A folder is claimed once, by
    whichever side creates it: the notebook kernel the runner starts finds its folder handed
    over (`handing_over`) and claims nothing."""
    file = Path(path) / CLAIM_FILE
    try:
        fd = os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return os.environ.get(HANDOVER_ENV) == str(Path(path).resolve())
    with os.fdopen(fd, "w") as out:
        out.write(str(os.getpid()))
    return True


@contextmanager
def handing_over(path: Path) -> Iterator[None]:
    """While the block runs (the runner's papermill call), the kernels it starts take `path`,
    which the runner claimed, as their own run folder."""
    old = os.environ.get(HANDOVER_ENV)
    os.environ[HANDOVER_ENV] = str(Path(path).resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(HANDOVER_ENV, None)
        else:
            os.environ[HANDOVER_ENV] = old


def copy_submission_for_kaggle(run_dir: Path, explicit_output_dir: str) -> Path | None:
    """Kaggle's "Submit" offers the kernel's output files; the root copy is the usual one. An
    explicit output_dir is the user's choice of place: no copy then."""
    submission = Path(run_dir) / SUBMISSION_FILE
    if on_kaggle() and not explicit_output_dir and submission.is_file():
        return Path(shutil.copy(submission, KAGGLE_WORKING / SUBMISSION_FILE))
    return None


# ---- how the run ended ------------------------------------------------------------------------


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
    return state(read_metrics(run_dir))


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
