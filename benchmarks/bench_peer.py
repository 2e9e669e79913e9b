"""exp001 against a peer (mlforecast, recursive LightGBM) on the same full-scale data, side by side.

    .venv/bin/python benchmarks/bench_peer.py [--data DIR] [--threads N] [--peer-python PY]
        [--rounds 1000] [--days 400] [-p NAME VALUE ...]

One invocation runs exp001 as a user runs it (`store-sales run exp001 -q -p data_dir D
-p wandb_mode offline`), then the peer (benchmarks/peer_mlforecast.py: lags, rolling and
seasonal means, calendar features, promotions as exogenous, its own 16-day validation from
exp001's fold-1 origin, then a refit on all the data; 1,000 rounds each) with the same thread
count, and prints for each: wall seconds, peak RSS (the process tree's largest, from
getrusage), validation and hidden-test RMSLE (against hidden/solution.csv), test / floor; then
exp001's time per phase from its metrics.json (`timings`) and the share of its wall that is
not training or prediction (kernel start, imports, data load, features, reports, trackers).

mlforecast 1.1 needs pandas<3 and this package runs on pandas 3, so the peer runs in its own
environment: `python -m venv .venv-bench && .venv-bench/bin/pip install -r
requirements-bench.txt` (`--peer-python`, default .venv-bench/bin/python). `--threads 0`
(default) gives exp001 its own choice (the free cores) and the peer the count exp001 took.
`--data` must be full-scale synthetic data with its hidden/ folder (`store-sales synth DIR`);
without it the data is generated (seed 0) into a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from store_sales import data, datacache
from store_sales.metrics import rmsle
from store_sales.synth import generate, load_solution

ROOT = Path(__file__).resolve().parents[1]
MODEL_PHASES = ("train", "refit")  # exp001's LightGBM work: the fold fits and the refit


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall s, peak RSS MB of the largest child process) of one command, run to its end."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's tree: the kernel too
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"{cmd[:4]} failed:\n{err.read().decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def test_rmsle(data_dir: Path, submission: Path) -> tuple[float, float]:
    """(hidden-test RMSLE, noise floor RMSLE) of a submission."""
    sub = pd.read_csv(submission)
    sol = load_solution(data_dir).set_index("id").loc[sub["id"]]
    actual = sol["sales"].to_numpy()
    return rmsle(actual, sub["sales"].to_numpy()), rmsle(actual, sol["floor"].to_numpy())


def run_exp001(data_dir: Path, out: Path, threads: int, extra: list, cache: Path | None) -> dict:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    if cache is not None:  # --cold: an empty data cache, as on the first run on these files
        env[datacache.CACHE_ENV] = str(cache)
    cmd = [sys.executable, "-m", "store_sales", "run", "exp001", "-q"]
    params = [("data_dir", data_dir), ("output_dir", out), ("wandb_mode", "offline")]
    if threads:
        params.append(("num_threads", threads))
    for name, value in [*params, *extra]:
        cmd += ["-p", name, str(value)]
    wall, peak = timed(cmd, env)
    m = json.loads((out / "metrics.json").read_text())
    test, floor = test_rmsle(data_dir, out / "submission.csv")
    fit_threads = (m.get("threads") or {}).get("fit_1") or [threads or 1]
    return {
        "wall": wall,
        "peak": peak,
        "val": m["val_rmsle"],
        "test": test,
        "floor": floor,
        "m": m,
        "threads": int(fit_threads[0]),
    }


def run_peer(python: str, data_dir: Path, out: Path, threads: int, rounds: int, days: int) -> dict:
    cmd = [python, str(ROOT / "benchmarks" / "peer_mlforecast.py"), str(data_dir), str(out)]
    cmd += ["--threads", str(threads), "--rounds", str(rounds), "--days", str(days)]
    wall, peak = timed(cmd)
    p = json.loads((out / "peer.json").read_text())
    test, floor = test_rmsle(data_dir, out / "submission.csv")
    return {
        "wall": wall,
        "peak": peak,
        "val": p["val_rmsle"],
        "test": test,
        "floor": floor,
        "p": p,
        "threads": threads,
    }


def model_seconds(m: dict) -> float:
    """exp001's training and prediction: the fold fits and the refit's fit and test forecast
    (metrics.json `train` and `refit`, or `forecast` less its feature build where the run
    folder predates the split)."""
    t = m["timings"]
    if "refit" in t:
        return t["train"] + t["refit"] + t.get("predict", 0.0)
    return t["train"] + t.get("forecast", 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="full-scale synthetic data (with hidden/)")
    parser.add_argument("--threads", type=int, default=0, help="0: exp001 picks, the peer follows")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    parser.add_argument("--rounds", type=int, default=1000, help="the peer's boosting rounds")
    parser.add_argument("--days", type=int, default=400, help="the peer's days of history")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    parser.add_argument(
        "--cold", action="store_true", help="exp001 without the data cache (a first run)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    data_dir = args.data or work / "data"
    if not (data_dir / "hidden" / "solution.csv").is_file():
        generate(data_dir, seed=0)
    print(f"{os.cpu_count()} cores; load (1-min) before: {os.getloadavg()[0]:.2f}", flush=True)
    cache = work / "empty-cache" if args.cold else None
    folder = data_dir.resolve()
    # warm: the checked tables are kept (the newest three folders' are: an older folder's
    # CSVs are parsed and checked again, by `store-sales run` before the kernel loads them)
    warm = not args.cold and datacache.tables(folder, data.stamp(folder), data.SCHEMAS) is not None
    print(f"exp001's data cache: {'warm' if warm else 'cold (parses and checks the CSVs)'}")
    ours = run_exp001(data_dir, work / "exp001", args.threads, args.p, cache)
    print(
        f"exp001: {ours['wall']:.0f} s, {ours['threads']} thread(s); load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    peer = run_peer(
        args.peer_python,
        data_dir,
        work / "peer",
        args.threads or ours["threads"],
        args.rounds,
        args.days,
    )
    print(f"peer: {peer['wall']:.0f} s; load (1-min) after: {os.getloadavg()[0]:.2f}\n")

    p, m = peer["p"], ours["m"]
    print(
        f"{'':<38}  {'wall s':>7}  {'peak RSS MB':>11}  {'val RMSLE':>9}  {'test RMSLE':>10}  "
        f"{'test/floor':>10}  threads"
    )
    for name, r in (
        (f"exp001 ({m['best_step']} + {m['refit_steps']} rounds)", ours),
        (f"mlforecast peer ({p['rounds']} + {p['rounds']} rounds)", peer),
    ):
        print(
            f"{name:<38}  {r['wall']:>7.1f}  {r['peak']:>11.0f}  {r['val']:>9.5f}  "
            f"{r['test']:>10.5f}  {r['test'] / r['floor']:>10.4f}  {r['threads']:>7}"
        )
    print(f"exp001 / peer wall: {ours['wall'] / peer['wall']:.2f}x; floor {ours['floor']:.5f}")

    t = m["timings"]
    fold = m.get("fold_seconds") or []
    phases = ", ".join(f"{k} {v:.1f}" for k, v in t.items() if k != "total")
    folds = f" (per fold: {', '.join(f'{s:.1f}' for s in fold)})" if fold else ""
    print(
        f"\nexp001 phases, s: {phases}{folds}; kernel total {t['total']:.1f}, "
        f"outside the kernel (papermill, kernel start) {ours['wall'] - t['total']:.1f}"
    )
    model = model_seconds(m)
    print(
        f"exp001 training + prediction {model:.1f} s; the rest (kernel start, imports, load, "
        f"features, reports, trackers) {ours['wall'] - model:.1f} s = "
        f"{(ours['wall'] - model) / ours['wall']:.1%} of the wall"
    )
    print(f"peer phases, s: {', '.join(f'{k} {v:.1f}' for k, v in p['timings'].items())}")
    if args.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if np.isfinite([ours["test"], peer["test"]]).all() else 1


if __name__ == "__main__":
    sys.exit(main())
