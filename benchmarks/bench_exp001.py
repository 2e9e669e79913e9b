"""Benchmark exp001 at full scale: speed, memory, honesty of validation, and CV folds.

    .venv/bin/python benchmarks/bench_exp001.py [--data DIR] [--folds 1,2,3] [--seeds 0]

Generates full-scale synthetic data (54 stores x 33 families x 1,684 days; one folder per
seed) unless --data points at a folder that has it, runs exp001 through papermill exactly as a
user would (`store-sales run exp001 ... -p wandb_mode offline -p n_folds K`) once per seed and
fold count, and prints side by side: wall time, peak RSS, validation (fold 1) and CV RMSLE,
hidden-test RMSLE against the noise floor, and how far each estimate lands from the test. It
also times the usual pandas way of building rolling features
(`groupby().transform(lambda s: s.rolling(w)...)`) against this package's feature build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from store_sales.data import load_data
from store_sales.features import WINDOWS, build_features, build_panel, feature_names
from store_sales.metrics import rmsle
from store_sales.synth import generate, load_solution
from store_sales.templates.exp001 import Exp001Config
from store_sales.validation import make_plan

TARGETS = {"wall_s": 75, "peak_rss_mb": 2560, "features_s": 3, "test_vs_floor": 1.05, "gap": 0.03}


def naive_rolling(data) -> float:
    """The straightforward per-series lambda way, for the same trailing windows."""
    df = data.train[["store_nbr", "family", "sales"]].copy()
    df["y"] = np.log1p(df["sales"])
    groups = df.groupby(["store_nbr", "family"], observed=True)["y"]
    t0 = time.perf_counter()
    for w in WINDOWS:
        df[f"mean_{w}"] = groups.transform(lambda s, w=w: s.shift(16).rolling(w).mean())
    df["std_28"] = groups.transform(lambda s: s.shift(16).rolling(28).std())
    return time.perf_counter() - t0


def ours(data) -> tuple[float, str]:
    t0 = time.perf_counter()
    panel = build_panel(data)
    cfg = Exp001Config()
    plan = make_plan(panel.last_train, cfg.n_origins, cfg.origin_stride)
    origins = np.sort(np.concatenate([plan.train_origins, [plan.val_origin]]))
    rows = build_features(panel, origins, cfg.zero_window)
    what = f"panel + all {len(feature_names())} features of one fold, {len(rows):,} rows"
    return time.perf_counter() - t0, what


def run_exp001(data_dir: Path, out: Path, n_folds: int) -> dict:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    params = {"data_dir": data_dir, "output_dir": out, "wandb_mode": "offline", "n_folds": n_folds}
    cmd = [sys.executable, "-m", "store_sales", "run", "exp001", "-q"]
    for name, value in params.items():
        cmd += ["-p", name, str(value)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    # largest RSS among the finished descendants so far: the papermill process and its kernel
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    metrics = json.loads((out / "metrics.json").read_text())
    sub = pd.read_csv(out / "submission.csv")
    sol = load_solution(data_dir).set_index("id").loc[sub["id"]]
    test = rmsle(sol["sales"].to_numpy(), sub["sales"].to_numpy())
    floor = rmsle(sol["sales"].to_numpy(), sol["floor"].to_numpy())
    return {"wall": wall, "peak": peak, "metrics": metrics, "test": test, "floor": floor}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with full-scale synthetic data (made if absent)")
    parser.add_argument("--folds", default="1", help="fold counts to compare, e.g. 1,2,3")
    parser.add_argument("--seeds", default="0", help="synthetic data seeds, e.g. 0,1,2")
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    args = parser.parse_args()
    folds = [int(k) for k in args.folds.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-exp001-"))
    results = []
    for seed in seeds:
        data_dir = Path(args.data) if args.data else work / f"data-seed{seed}"
        if not (data_dir / "hidden" / "synth.json").is_file():
            t0 = time.perf_counter()
            generate(data_dir, seed=seed)
            print(f"synthetic data (seed {seed}) generated in {time.perf_counter() - t0:.1f} s")
        for k in folds:
            r = run_exp001(data_dir, work / f"run-seed{seed}-folds{k}", k)
            results.append({"seed": seed, "folds": k, **r})
            m = r["metrics"]
            print(
                f"seed {seed}, n_folds {k}: {r['wall']:.0f} s, val {m['val_rmsle']:.4f}, "
                f"CV {m['cv_rmsle_mean']:.4f}, test {r['test']:.4f}",
                flush=True,
            )
        if args.data:
            break

    first = results[0]
    t, floor = first["metrics"]["timings"], first["floor"]
    val, test = first["metrics"]["val_rmsle"], first["test"]
    checks = [
        ("wall time, papermill end to end (s)", f"{first['wall']:.1f}", first["wall"] <= 75),
        ("peak RSS (MB)", f"{first['peak']:.0f}", first["peak"] <= TARGETS["peak_rss_mb"]),
        ("feature build in the run (s)", f"{t['features']:.2f}", t["features"] <= 3),
        ("val RMSLE", f"{val:.4f}", None),
        ("test RMSLE (hidden labels)", f"{test:.4f}", None),
        ("noise-floor RMSLE", f"{floor:.4f}", None),
        ("test / floor", f"{test / floor:.3f}", test / floor <= TARGETS["test_vs_floor"]),
        ("|val - test|", f"{abs(val - test):.4f}", abs(val - test) <= TARGETS["gap"]),
    ]
    print(f"\n== exp001 full-scale benchmark (seed {first['seed']}, n_folds {first['folds']}) ==")
    for name, value, ok in checks:
        mark = "" if ok is None else ("  ok" if ok else "  OVER TARGET")
        print(f"{name:<40}{value:>10}{mark}")
    print("phase timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    print(
        f"kernel peak RSS (MB): {first['metrics']['peak_rss_mb']:.0f}; best step "
        f"{first['metrics']['best_step']}; {first['metrics']['n_train_rows']:,} train rows"
    )

    if len(folds) > 1 or len(seeds) > 1:
        print("\n== CV folds: cost against how well the estimate tracks the hidden test ==")
        print(
            "seed  n_folds  wall_s  train_s  val     CV mean ± std     test    "
            "|val-test|  |CV-test|"
        )
        for r in results:
            m = r["metrics"]
            print(
                f"{r['seed']:>4}  {r['folds']:>7}  {r['wall']:>6.0f}  {m['timings']['train']:>7.0f}"
                f"  {m['val_rmsle']:.4f}  {m['cv_rmsle_mean']:.4f} ± {m['cv_rmsle_std']:.4f}"
                f"  {r['test']:.4f}  {abs(m['val_rmsle'] - r['test']):>10.4f}"
                f"  {abs(m['cv_rmsle_mean'] - r['test']):>9.4f}"
            )
        for k in folds:
            mine = [r for r in results if r["folds"] == k]
            gap = np.mean([abs(r["metrics"]["cv_rmsle_mean"] - r["test"]) for r in mine])
            wall = np.mean([r["wall"] for r in mine])
            print(f"n_folds {k}: mean wall {wall:.0f} s, mean |CV - test| {gap:.4f}")

    data = load_data(Path(args.data) if args.data else work / f"data-seed{seeds[0]}")
    t_naive = naive_rolling(data)
    t_ours, what = ours(data)
    print(
        f"\nrolling features, pandas groupby+lambda ({len(WINDOWS) + 1} statistics, "
        f"{len(data.train):,} rows): {t_naive:.2f} s; this package ({what}): "
        f"{t_ours:.2f} s; ratio {t_naive / t_ours:.1f}x"
    )
    if args.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
