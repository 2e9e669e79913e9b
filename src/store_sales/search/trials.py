"""The trial-folder convention every engine follows, and running one trial.

    <folder>/                the search's folder (a sweep's or a study's)
    <folder>/trials/<trial>/ one trial: the template's run folder (output_dir), plus the
                             engine's state file (a sweep's trial.json, a study's tune.json)

A trial is the template run through papermill with the search's parameters; errors come back
as text (a papermill exception does not always survive pickling between processes).
"""

from __future__ import annotations

from pathlib import Path

from .. import runner

TRIALS = "trials"


def trials_root(folder: str | Path) -> Path:
    return Path(folder) / TRIALS


def trial_dirs(folder: str | Path, state_file: str) -> list[Path]:
    """The folder's trials, by name: the subfolders of trials/ holding `state_file`."""
    root = trials_root(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / state_file).is_file())


def numbered_trial(folder: str | Path, number: int, digits: int) -> Path:
    """`trial-<number>` (made if missing), for an engine that numbers its trials itself."""
    path = trials_root(folder) / f"trial-{number:0{digits}d}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def next_trial(folder: str | Path, digits: int) -> Path:
    """The next free `trial-<n>` folder; mkdir is the lock, so two controllers never share one."""
    root = trials_root(folder)
    root.mkdir(parents=True, exist_ok=True)
    number = len(list(root.iterdir())) + 1
    while True:
        path = root / f"trial-{number:0{digits}d}"
        try:
            path.mkdir()
        except FileExistsError:
            number += 1
            continue
        return path


def run_trial(template: str, params: dict, log_output: bool = False) -> dict:
    """One trial (in a worker process with workers > 1): {"dir", "error"}, error "" if none."""
    try:
        out = runner.run(template, params, log_output=log_output)
    except Exception as err:
        name = type(err).__name__
        return {"dir": params["output_dir"], "error": f"{name}: {str(err).strip()[-2000:]}"}
    return {"dir": str(out), "error": ""}
