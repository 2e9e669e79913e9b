"""Run one template over several parameter sets through papermill: each a normal run in its own
folder. Every set is checked before the first kernel starts; a run that fails is reported (one
line) and the batch goes on; the end is the batch's leaderboard, and exit 1 if any run failed.

    store-sales batch exp001 -f a.yaml -f b.yaml          # one run per file
    store-sales batch exp001 --grid num_leaves=31,63 --grid learning_rate=0.03,0.05
    store-sales batch exp001 -f a.yaml --grid seed=1,2 -p n_folds 3   # files x grid, -p for all
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import leaderboard, progress, runner
from .cliutil import load_parameters_file, typed_value
from .data import DataError
from .errors import ConfigError, RunFailed, UserError


@dataclass
class Item:
    label: str  # what the user asked for: a file name and/or grid values
    params: dict[str, Any]
    status: str = "pending"  # pending | finished | failed | invalid
    reason: str = ""
    run_dir: Path | None = None
    notebook: Path | None = None
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)


def parse_grid(specs: list[str]) -> list[dict[str, Any]]:
    """`name=v1,v2` per spec -> every combination, values typed like `-p` values."""
    axes = []
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise UserError(f"--grid {spec!r}: write NAME=VALUE1,VALUE2,...")
        axes.append([(name.strip(), typed_value(v.strip())) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)]


def expand(files: list[str], grid: list[str], common: dict[str, Any]) -> list[Item]:
    """Files x grid combinations (either may be absent), each with the common `-p` values."""
    sets = [(Path(f).name, load_parameters_file(f)) for f in files] or [("", {})]
    combos = parse_grid(grid) if grid else [{}]
    items = []
    for (name, from_file), combo in itertools.product(sets, combos):
        label = " ".join(filter(None, [name, *(f"{k}={v}" for k, v in combo.items())]))
        items.append(Item(label or "defaults", {**from_file, **combo, **common}))
    if not (files or grid):
        raise UserError("a batch needs parameter files (-f) or a grid (--grid NAME=V1,V2)")
    return items


def run_batch(template: str, items: list[Item], stream: bool = False) -> list[Item]:
    """Check every item, then run the valid ones one after another; prints a line per run.

    Bad data shared by every run is one DataError (exit 2) before any run starts; a data
    folder only some runs read makes those runs invalid, as a bad parameter does."""
    notebook = runner.resolve_notebook(template)
    for item in items:
        try:
            runner.check_config(notebook, item.params)
        except ConfigError as err:
            item.status, item.reason = "invalid", str(err)
    _check_data(notebook, [item for item in items if item.status != "invalid"])
    n = len(items)
    bar = progress.runs(sum(i.status != "invalid" for i in items))  # ETA over the runs
    for i, item in enumerate(items, start=1):
        head = f"[{i}/{n}] {item.label}"
        if item.status == "invalid":
            bar.write(f"{head}: not started: {item.reason}")
            continue
        bar.write(f"{head} ...")
        t0 = time.perf_counter()
        try:
            item.run_dir = runner.run(notebook, item.params, log_output=stream)
            item.status = "finished"
        except RunFailed as err:
            item.status, item.reason, item.notebook = "failed", str(err).strip(), err.notebook
            item.run_dir = Path(err.notebook).parent
        except (UserError, FileExistsError) as err:
            item.status, item.reason = "failed", str(err)
        except KeyboardInterrupt:  # Ctrl-C ends the batch, not only this run
            item.status, item.reason = "failed", "interrupted"
            for rest in items[i:]:
                rest.status, rest.reason = "failed", "not run (batch interrupted)"
        item.seconds = time.perf_counter() - t0
        bar.write(_result(head, item))
        bar.update()
        if item.reason == "interrupted":
            break
    bar.close()
    return items


def _check_data(notebook: Path, items: list[Item]) -> None:
    declared = runner.notebook_parameters(notebook)
    folders = {str({**declared, **item.params}.get("data_dir") or "") for item in items}
    if len(folders) == 1:  # the one folder of every run: its DataError ends the batch
        runner.check_data(notebook, items[0].params, declared)
        return
    for item in items:  # each folder is read once (data.check_data remembers those that pass)
        try:
            runner.check_data(notebook, item.params, declared)
        except DataError as err:
            item.status, item.reason = "invalid", str(err)


def _result(head: str, item: Item) -> str:
    took = f"{item.seconds:.0f} s"
    if item.status == "finished":
        metrics = runner.read_metrics(item.run_dir)
        score = metrics.get("cv_rmsle_mean", metrics.get("val_rmsle"))
        text = f"finished in {took}, CV RMSLE {score:.5f}" if score is not None else "finished"
        return f"{head}: {text}  {item.run_dir}"
    where = f"  (notebook: {item.notebook})" if item.notebook else ""
    return f"{head}: failed after {took}: {item.reason}{where}"


def report(items: list[Item], metric: str = leaderboard.DEFAULT_METRIC) -> int:
    """The batch's leaderboard and a closing line; returns the exit code (1 if any failed)."""
    records = [leaderboard.load(item.run_dir) for item in items if item.run_dir is not None]
    print()
    print(leaderboard.render(leaderboard.ranked(records, metric), metric=metric))
    failed = [item for item in items if item.status != "finished"]
    done = len(items) - len(failed)
    tail = f", {len(failed)} failed:" if failed else ""
    print(f"\n{done} of {len(items)} runs finished{tail}")
    for item in failed:
        print(f"  {item.label}: {item.reason}")
    return 1 if failed else 0
