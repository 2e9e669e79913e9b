"""One folder per run, claimed atomically and never reused."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from .paths import KAGGLE_WORKING, on_kaggle, outputs_root

RESULT_FILES = ("metrics.json", "submission.csv")  # a folder holding one of these is a run's
CLAIM_FILE = ".claimed"  # created exclusively by the process that owns the folder; holds its pid


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
    file is atomic (O_EXCL), so of two processes only one wins. The one exception: a folder
    that this process's parent claimed (the runner, which made it for the notebook it runs)."""
    file = Path(path) / CLAIM_FILE
    try:
        fd = os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            owner = int(file.read_text().strip() or 0)
        except (OSError, ValueError):
            return False
        return owner == os.getppid()
    with os.fdopen(fd, "w") as out:
        out.write(str(os.getpid()))
    return True


def copy_submission_for_kaggle(run_dir: Path, explicit_output_dir: str) -> Path | None:
    """Kaggle's "Submit" offers the kernel's output files; the root copy is the usual one. An
    explicit output_dir is the user's choice of place: no copy then."""
    submission = Path(run_dir) / "submission.csv"
    if on_kaggle() and not explicit_output_dir and submission.is_file():
        return Path(shutil.copy(submission, KAGGLE_WORKING / "submission.csv"))
    return None
