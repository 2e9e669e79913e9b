"""Feature build time: the per-origin feature functions (`features.build_features`) against the
one-function implementation they replaced (read from git, commit BEFORE), side by side, with the
largest difference in any value.

    .venv/bin/python benchmarks/bench_features.py [--data DIR] [--repeat 3]

Default data: the full-scale synthetic set (`store-sales synth data/synthetic/full-seed0`).
One fold of exp001's layout: 26 training origins and the validation origin.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from store_sales.data import load_data
from store_sales.features import build_features, build_panel
from store_sales.paths import REPO_ROOT, synthetic_data_dir
from store_sales.validation import make_plan

BEFORE = "5bd16d5"  # the last commit with the single build_features function


def _before_module():
    source = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "show", f"{BEFORE}:src/store_sales/features.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "features_before.py"
    path.write_text(
        source.replace("from .data import", "from store_sales.data import").replace(
            "from .paths import", "from store_sales.paths import"
        )
    )
    spec = importlib.util.spec_from_file_location("features_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _best(fns, repeat: int) -> list[float]:
    """Best time of each function, run in turns (a load that comes and goes hits both)."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return [min(t) for t in times]


def _max_rel_diff(a: pd.DataFrame, b: pd.DataFrame) -> tuple[str, float]:
    worst = ("", 0.0)
    for col in a.columns:
        if isinstance(a[col].dtype, pd.CategoricalDtype):
            assert (a[col].astype(str) == b[col].astype(str)).all(), col
            continue
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        assert (np.isnan(x) == np.isnan(y)).all(), col
        ok = ~np.isnan(x)
        d = float(np.max(np.abs(x[ok] - y[ok]) / np.maximum(1, np.abs(x[ok])))) if ok.any() else 0
        worst = max(worst, (col, d), key=lambda t: t[1])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(synthetic_data_dir(0)))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = load_data(args.data)
    before = _before_module()
    panel, old_panel = build_panel(data), before.build_panel(data)
    plan = make_plan(panel.last_train, 26, 14, 1)
    origins = np.sort(np.append(plan.folds[0].train_origins, plan.folds[0].val_origin))
    old = before.build_features(old_panel, origins, 56)
    new = build_features(panel, origins, 56)
    assert list(old.columns) == list(new.columns)
    col, diff = _max_rel_diff(old, new)
    t_old, t_new = _best(
        [
            lambda: before.build_features(old_panel, origins, 56),
            lambda: build_features(panel, origins, 56),
        ],
        args.repeat,
    )
    print(
        f"{len(origins)} origins x {panel.y.shape[0]} series x 16 days = {len(new):,} rows, "
        f"{new.shape[1] - 6} features (best of {args.repeat})"
    )
    print(f"{'before (' + BEFORE + ')':<24} {t_old:6.2f} s")
    print(f"{'now (per-origin Known)':<24} {t_new:6.2f} s   ({t_new / t_old:.2f}x)")
    print(f"largest relative difference in any value: {diff:.1e} ({col})")


if __name__ == "__main__":
    main()
