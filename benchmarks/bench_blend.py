"""Does blending help? Member runs and their blend on full-scale synthetic data, side by side:
CV (what the blend optimises) and the hidden-test RMSLE (what it is for, never used to tune).

    .venv/bin/python benchmarks/bench_blend.py [--members exp001,exp003] [--folds 2]
        [--data DIR] [--seed 0] [-p NAME VALUE ...]

Each member runs as a user would (`store-sales run <template> -q ...`), then
`store-sales run blend -p members <their folders>`; the table has every run's CV mean ± std,
validation fold 1, hidden-test RMSLE and test / noise floor.
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

import pandas as pd

from store_sales.metrics import rmsle
from store_sales.synth import generate, load_solution


def run(template: str, out: Path, params: dict) -> float:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    cmd = [sys.executable, "-m", "store_sales", "run", template, "-q"]
    for name, value in {**params, "output_dir": out, "tracker": "none"}.items():
        cmd += ["-p", name, str(value)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        raise SystemExit(f"{template} failed:\n{done.stderr.decode()[-3000:]}")
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="exp001,exp003")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="folder with full-scale synthetic data")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-blend-"))
    data = Path(args.data) if args.data else work / f"data-seed{args.seed}"
    if not (data / "hidden" / "solution.csv").is_file():
        generate(data, seed=args.seed)
    solution = load_solution(data).set_index("id")
    common = {"data_dir": data, "n_folds": args.folds, **dict(args.p)}
    folders, walls = [], {}
    for template in args.members.split(","):
        out = work / template
        walls[template] = run(template, out, common)
        folders.append(out)
        print(f"{template}: {walls[template]:.0f} s", flush=True)
    out = work / "blend"
    walls["blend"] = run("blend", out, {"members": ",".join(map(str, folders))})
    rows = []
    for folder in [*folders, out]:
        m = json.loads((folder / "metrics.json").read_text())
        sub = pd.read_csv(folder / "submission.csv")
        truth = solution.loc[sub["id"]]
        test = rmsle(truth["sales"].to_numpy(), sub["sales"].to_numpy())
        floor = rmsle(truth["sales"].to_numpy(), truth["floor"].to_numpy())
        rows.append((m["template"], m, test, floor, walls[m["template"]]))
    print(f"\nseed {args.seed}, {args.folds} fold(s), {data}")
    print("run       wall_s  val     CV mean ± std     test    test/floor  weight")
    weights = rows[-1][1]["weights"]
    for template, m, test, floor, wall in rows:
        weight = weights.get(m["run_name"], "")
        print(
            f"{template:<8}  {wall:>6.0f}  {m['val_rmsle']:.4f}  {m['cv_rmsle_mean']:.4f} ± "
            f"{m['cv_rmsle_std']:.4f}  {test:.4f}  {test / floor:>10.3f}  "
            + (f"{weight:.3f}" if weight != "" else "")
        )
    b = rows[-1][1]
    if "cv_rmsle_mean_oos" in b:
        print(f"blend CV with weights fit on the other folds: {b['cv_rmsle_mean_oos']:.4f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
