"""One folder per run, claimed atomically and never reused."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from .paths import KAGGLE_WORKING, on_kaggle, outputs_root

RESULT_FILES = ("metrics.json", "submission.csv")  # a folder holding one of these is a run's


def new_run_dir(exp_name: str, output_dir: str = "", model: str = "") -> tuple[Path, str]:
    """Create the run's own folder and return it with the run's name.

    The name is `<exp_name>-<model>-<timestamp>` (the tracker's run name; the group is
    exp_name). An explicit folder may exist but must not hold another run's results; an
    automatic one is `outputs/<exp_name>/<name>`, with a suffix if that second is taken.
    """
    stamp = "-".join(filter(None, [model, datetime.now().strftime("%Y%m%d-%H%M%S")]))
    if output_dir:
        path = Path(output_dir).expanduser().resolve()
        taken = [n for n in RESULT_FILES if (path / n).exists()]
        if taken:
            raise FileExistsError(
                f"output_dir {path} already holds a run ({', '.join(taken)}). "
                "Pass a new folder, or output_dir='' for an automatic one."
            )
        path.mkdir(parents=True, exist_ok=True)
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
        return parent / name, name
    raise FileExistsError(f"could not create a new run folder under {parent}")


def copy_submission_for_kaggle(run_dir: Path, explicit_output_dir: str) -> Path | None:
    """Kaggle's "Submit" offers the kernel's output files; the root copy is the usual one. An
    explicit output_dir is the user's choice of place: no copy then."""
    submission = Path(run_dir) / "submission.csv"
    if on_kaggle() and not explicit_output_dir and submission.is_file():
        return Path(shutil.copy(submission, KAGGLE_WORKING / "submission.csv"))
    return None
