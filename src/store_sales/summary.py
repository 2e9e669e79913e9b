"""A finished run at a glance (a template notebook's last cell): scores per fold and per
horizon day, and where its files are. Read from metrics.json's figures, so a run folder on disk
gives the same table as the run in memory."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .rundir import read_metrics


@dataclass
class Summary:
    folder: Path
    folds: pd.DataFrame  # index fold k (1 = nearest the test): rmsle, best_step, steps_run
    horizon: pd.DataFrame  # one row "rmsle", a column per horizon day h = 1..16
    files: pd.DataFrame  # file, kb, path

    @classmethod
    def of(cls, folder: str | Path, metrics: dict | None = None) -> Summary:
        folder = Path(folder)
        metrics = read_metrics(folder) if metrics is None else metrics
        n = int(metrics.get("n_folds", 1 if "val_rmsle" in metrics else 0))
        scores = [metrics.get(f"cv_rmsle_fold_{k}") for k in range(1, n + 1)]
        if n and scores[0] is None:
            scores[0] = metrics.get("val_rmsle")
        folds = pd.DataFrame(
            {
                "rmsle": scores,
                "best_step": _padded(metrics.get("fold_best_steps"), n),
                "steps_run": _padded(metrics.get("fold_steps_run"), n),
            },
            index=pd.Index(range(1, n + 1), name="fold"),
        )
        by_h = metrics.get("rmsle_by_horizon") or {}
        horizon = pd.DataFrame(
            [[by_h[h] for h in sorted(by_h, key=int)]],
            index=["rmsle"],
            columns=pd.Index([int(h) for h in sorted(by_h, key=int)], name="h"),
        )
        paths = sorted(
            p
            for p in (folder.iterdir() if folder.is_dir() else ())
            if p.is_file() and not p.name.startswith(".")  # markers such as .claimed
        )
        files = pd.DataFrame(
            {
                "file": [p.name for p in paths],
                "kb": [round(p.stat().st_size / 1024, 1) for p in paths],
                "path": [str(p) for p in paths],
            }
        )
        return cls(folder, folds, horizon, files)

    def _parts(self):
        mean = self.folds["rmsle"].mean() if len(self.folds) else float("nan")
        return [
            (f"RMSLE per fold (mean {mean:.5f})", self.folds),
            ("RMSLE per horizon day", self.horizon),
            (f"files in {self.folder}", self.files.set_index("file")[["kb"]]),
        ]

    def _repr_html_(self) -> str:
        return "".join(
            f"<h4>{html.escape(title)}</h4>{frame.to_html(float_format='{:.5f}'.format)}"
            for title, frame in self._parts()
        )

    def __repr__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return "\n\n".join(f"{title}\n{frame}" for title, frame in self._parts())


def _padded(values, n: int) -> list:
    values = list(values or [])[:n]
    return values + [None] * (n - len(values))
