"""A tune study as one W&B run: job type `tune`, in the trials' group, its summary the best
trial, and a `trials` table (one row per trial: number, state, value, parameters, steps), ready
for a parallel-coordinates panel."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import wandb


def study_run_id(project: str, study: str) -> str:
    """A W&B run id (letters and digits) that is the same wherever the study is tuned."""
    return "tune-" + hashlib.sha1(f"{project}/{study}".encode()).hexdigest()[:16]


def log_study(
    *,
    project: str,
    entity: str,
    group: str,
    mode: str,
    folder: Path,
    config: dict[str, Any],
    table,  # pandas.DataFrame: results.csv's rows
    summary: dict[str, Any],
) -> dict[str, Any]:
    """One run of job type `tune` summarising the study; returns its mode, id and folder. Its id
    is the study's, so every process and machine working on the study (and a later resume)
    updates the same W&B run (offline ones sync into it)."""
    run = wandb.init(
        project=project,
        entity=entity or None,
        id=study_run_id(project, group),
        resume="allow",
        name=f"tune-{group}",
        group=group,
        job_type="tune",
        config=config,
        dir=str(folder),
        mode=mode,
        settings=wandb.Settings(init_timeout=60, console="off"),
    )
    try:
        frame = table.astype(object).where(table.notna(), None)
        run.log({"trials": wandb.Table(dataframe=frame)})
        run.summary.update(summary)
        info = {"mode": mode, "run_id": run.id, "dir": str(Path(run.dir).parent)}
        if mode == "online":
            info["url"] = run.url
    finally:
        run.finish()
    return info
