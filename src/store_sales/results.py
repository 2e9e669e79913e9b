"""What every run that forecasts writes, whatever made it (a template or the blend): its scores
per fold and per horizon day, its predictions and submission, and the same to its tracker.

`pipeline.report` and `blend.report` both go through here, so a template's and a blend's run
folders hold the same files under the same names, checked the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics as m
from . import predictions
from .data import write_submission

HORIZON_FILE = "val_by_horizon.csv"
SUBMISSION_FILE = "submission.csv"


def submission(run, sample_ids, ids, sales) -> pd.DataFrame:
    """submission.csv in the sample's order, refused when a forecast is missing or negative."""
    return write_submission(run.dir / SUBMISSION_FILE, sample_ids, ids, sales)


def fold_scores(run, scores: np.ndarray) -> dict[str, float]:
    """metrics.json's val_rmsle (fold 1), cv_rmsle_mean/std/fold_<k> and n_folds; the tracker
    scalars of the same names (val/rmsle, cv/...)."""
    scores = np.asarray(scores, dtype=float)
    cv = m.cv_summary(scores)
    run.metrics.update(
        val_rmsle=round(float(scores[0]), 6),
        **{k: round(v, 6) for k, v in cv.items()},
        n_folds=len(scores),
    )
    return {
        "val/rmsle": float(scores[0]),
        **{f"cv/{k.removeprefix('cv_')}": v for k, v in cv.items()},
    }


def horizon_scores(run, oof: pd.DataFrame) -> pd.DataFrame:
    """RMSLE per horizon day h = 1..16 over every validated row: val_by_horizon.csv,
    metrics.json's rmsle_by_horizon (keyed by h) and the tracker's table and line chart."""
    horizon = m.by_horizon(oof)
    horizon.to_csv(run.dir / HORIZON_FILE, index=False)
    run.metrics["rmsle_by_horizon"] = {
        int(h): round(float(v), 6) for h, v in zip(horizon["h"], horizon["rmsle"], strict=True)
    }
    run.tracker.table("val/by_horizon", horizon, line=("h", "rmsle"))
    return horizon


def prediction_files(run, oof: pd.DataFrame, test_pred: pd.DataFrame | None) -> list[Path]:
    """oof.parquet (every validated row) and test_pred.parquet (None: no test forecast)."""
    files = [predictions.write(oof, run.dir / predictions.OOF_FILE)]
    if test_pred is not None:
        files.append(predictions.write(test_pred, run.dir / predictions.TEST_PRED_FILE))
    return files


def artifacts(run, metadata: dict, tested: bool) -> None:
    """The tracker's submission (when there is one) and predictions artifacts."""
    exp = run.cfg.exp_name
    info = {"run_name": run.name, **metadata}
    if tested:
        run.tracker.artifact(f"{exp}-submission", "submission", [run.dir / SUBMISSION_FILE], info)
    files = [run.dir / predictions.OOF_FILE]
    if (run.dir / predictions.TEST_PRED_FILE).is_file():
        files.append(run.dir / predictions.TEST_PRED_FILE)
    run.tracker.artifact(f"{exp}-predictions", "predictions", files, info)
