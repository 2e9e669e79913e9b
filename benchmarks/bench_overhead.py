"""A run's time outside training and prediction, this code against another checkout, paired.

    .venv/bin/python benchmarks/bench_overhead.py --base-src /path/to/old/src [--data DIR]
        [--pairs 3] [--threads 2] [--template exp001]

Runs `store-sales run TEMPLATE -q -p data_dir D -p wandb_mode offline -p num_threads N` as a
user does, A (this checkout) and B (the package at `--base-src`, put first on PYTHONPATH: the
kernel imports it too) in turn, one warm-up of each first; each side has its own data cache
(two versions of the data checks would take turns invalidating one). Prints, per run and as
medians: the whole process's wall, the training and prediction inside it (metrics.json
`train + refit + predict`), the rest and its share, and the kernel's phases; then A/B of the
wall and of the rest. `--data` defaults to full-scale synthetic data generated (seed 0) into a
temporary folder. Make B with `git worktree add --detach /tmp/base <commit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_peer import model_seconds  # this folder: the same split as the peer benchmark's

from store_sales.synth import generate


def one_run(side: str, env: dict, data: Path, work: Path, template: str, threads: int) -> dict:
    out = Path(tempfile.mkdtemp(dir=work)) / "run"
    cmd = [sys.executable, "-m", "store_sales", "run", template, "-q"]
    for name, value in (
        ("data_dir", data),
        ("output_dir", out),
        ("wandb_mode", "offline"),
        ("num_threads", threads),
    ):
        cmd += ["-p", name, str(value)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    timings, model = metrics["timings"], model_seconds(metrics)
    shutil.rmtree(out.parent, ignore_errors=True)
    return {"wall": wall, "model": model, "rest": wall - model, "timings": timings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", type=Path, required=True, help="B: the other src/ folder")
    parser.add_argument("--data", type=Path, help="competition files (default: synthetic, seed 0)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--template", default="exp001")
    args = parser.parse_args()
    if not (args.base_src / "store_sales" / "__init__.py").is_file():
        raise SystemExit(f"--base-src {args.base_src}: no store_sales package there")

    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    data = args.data or work / "data"
    if args.data is None:
        generate(data, seed=0)
    base = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    envs = {
        "A": {**base, "STORE_SALES_CACHE_DIR": str(work / "cache-a")},
        "B": {
            **base,
            "STORE_SALES_CACHE_DIR": str(work / "cache-b"),
            "PYTHONPATH": os.pathsep.join(
                [str(args.base_src.resolve()), base.get("PYTHONPATH", "")]
            ),
        },
    }
    print(f"{os.cpu_count()} cores; load (1-min) before: {os.getloadavg()[0]:.2f}")
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    try:
        for side in "AB":  # warm-up: each side's data cache written, the files in the page cache
            one_run(side, envs[side], data, work, args.template, args.threads)
        for i in range(args.pairs):
            for side in "AB":
                r = one_run(side, envs[side], data, work, args.template, args.threads)
                runs[side].append(r)
                phases = ", ".join(f"{k} {v:.2f}" for k, v in r["timings"].items() if k != "total")
                print(
                    f"{side} {i + 1}: wall {r['wall']:.2f} s, training + prediction "
                    f"{r['model']:.2f} s, rest {r['rest']:.2f} s ({r['rest'] / r['wall']:.1%}); "
                    f"{phases}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load (1-min) after: {os.getloadavg()[0]:.2f}\n")
    med = {
        s: {k: statistics.median(r[k] for r in runs[s]) for k in ("wall", "model", "rest")}
        for s in "AB"
    }
    print(f"{'median':<8} {'wall s':>8} {'train+predict s':>16} {'rest s':>7} {'rest share':>10}")
    for side, name in (("A", "A (this)"), ("B", "B (base)")):
        m = med[side]
        share = m["rest"] / m["wall"]
        print(f"{name:<8} {m['wall']:>8.2f} {m['model']:>16.2f} {m['rest']:>7.2f} {share:>10.1%}")
    pairs = list(zip(runs["A"], runs["B"], strict=True))
    wall = statistics.median(a["wall"] / b["wall"] for a, b in pairs)
    rest = statistics.median(a["rest"] / b["rest"] for a, b in pairs)
    print(f"A/B (median of pairs): wall {wall:.3f}x, rest {rest:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
