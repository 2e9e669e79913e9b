"""A search's results, whatever the engine: the trials table (results.csv, best first), the best
trial's parameters (best.yaml, rerunnable) and the printed outcome."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..jsonio import to_jsonable
from .template import RESERVED

RESULTS_FILE = "results.csv"
BEST_FILE = "best.yaml"
COLUMNS = ("trial", "state", "best_step", "steps", "seconds")  # the metric after "state"


@dataclass
class SearchSummary:
    """A sweep's or study's results: its folder, the table (best first), the best finished
    trial's row and the files written."""

    dir: Path
    table: Any  # pandas.DataFrame, best first
    best: dict | None
    files: dict[str, Path] = field(default_factory=dict)


def columns(metric: str, tuned: list[str]) -> list[str]:
    """The table's columns: trial, state, the metric, best_step, steps, seconds, the tuned."""
    return [*COLUMNS[:2], metric, *COLUMNS[2:], *tuned]


def best_params(params: dict, declared: dict) -> dict:
    """A trial's parameters that differ from the template defaults, minus the run-specific
    ones: what `store-sales run TEMPLATE -f best.yaml` needs to train the same model."""
    return {
        k: params[k]
        for k in declared
        if k in params and k not in RESERVED and params[k] != declared[k]
    }


def best_row(table, metric: str, done: str) -> dict | None:
    """The table's first trial in state `done` with a metric (the table is best first)."""
    ended = table[(table["state"] == done) & table[metric].notna()]
    return to_jsonable(ended.iloc[0].to_dict()) if len(ended) else None


def write_table(table, folder: str | Path) -> Path:
    """results.csv, replaced whole (several processes may write it)."""
    path = Path(folder) / RESULTS_FILE
    tmp = path.with_name(f".results.{os.getpid()}.csv")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def write_best(folder: str | Path, header: list[str], params: dict) -> Path:
    """best.yaml: `header` as comments, then the parameters."""
    path = Path(folder) / BEST_FILE
    comments = "".join(f"# {line}\n" for line in header)
    path.write_text(comments + yaml.safe_dump(params, sort_keys=False))
    return path


def print_outcome(table, files: dict, best: dict | None, metric: str, template: str, name: str):
    """A finished search's table (a DataFrame), where it is, and its best trial (`name`) with
    the command that reruns it."""
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    print(f"table   {files['results']}")
    if best is None:
        print("no finished trial yet: no best.yaml")
        return
    print(f"best    {name}: {metric} {best[metric]:.5f} -> {files['best']}")
    print(f"rerun   store-sales run {template} -f {files['best']}")
