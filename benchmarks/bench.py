"""Benchmark every template at full scale, side by side: speed, memory, honesty of validation.

    .venv/bin/python benchmarks/bench.py [--templates exp001,exp002,exp003]
        [--folds 1] [--seeds 0] [--data DIR] [--small] [-p NAME VALUE ...]
    .venv/bin/python benchmarks/bench.py --templates exp001 --neighbour [--small]
        [--threads old,spin,new]
    .venv/bin/python benchmarks/bench.py --templates exp001 --sweep-trial [--small]

For each seed it generates full-scale synthetic data (54 stores x 33 families x 1,684 days)
unless --data points at a folder that has it, runs each template through papermill exactly as a
user would (`store-sales run <template> -q -p data_dir D -p wandb_mode offline -p n_folds K`),
and prints one row per run: wall time, the kernel's peak RSS, seconds per training step
(boosting round or epoch), validation (fold 1) and CV RMSLE, hidden-test RMSLE, the noise floor
(the best forecast the generating process allows), test / floor, and how far each estimate lands
from the test. `-p` parameters go to every run (e.g. `-p num_threads 1`). It also times the usual
pandas way of building rolling features (`groupby().transform(lambda s: s.rolling(w)...)`)
against this package's feature build on the same data.

`--neighbour` times each template idle and next to two CPU-bound neighbours (busy-loop
processes, as other work on a shared machine), with each thread setting of `--threads`: `old`
(the default until issue 18: the free cores but never all, libgomp's long spin), `spin` (the
one before: all cores, long spin; it collapses next to neighbours), `new` (today's
`num_threads=0`: the free cores up to all, with store_sales' short OpenMP spin, see
`store_sales.threads`), `short` (all cores forced, short spin: a neighbour that arrives
mid-fit); each line records the 1-minute load average it started with. `--small` uses 3
stores from 2016-06-01 (the tests' data) instead of full scale. `--sweep-trial` times a full
run against one trial of a local sweep with the same parameters (a trial skips the refit and
the test forecast).
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
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from store_sales.data import load_data
from store_sales.features import WINDOWS, build_features, build_panel, feature_names
from store_sales.metrics import rmsle
from store_sales.synth import generate, load_solution
from store_sales.templates import TEMPLATES
from store_sales.templates.exp001 import Exp001Config
from store_sales.threads import cores
from store_sales.validation import make_plan


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


@contextmanager
def neighbour(on: bool):
    """Two busy-loop processes while the block runs (nothing when `on` is False): on 2 cores,
    as many CPU-bound neighbours as cores (the guarantee: a run takes at most 2x its idle time)."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if on else 0)
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def thread_cases(which: str) -> list[tuple[str, list, dict]]:
    """(name, -p parameters, environment) of each thread setting --neighbour compares."""
    spin = {"GOMP_SPINCOUNT": "300000"}  # libgomp's own default, which store_sales now lowers
    cases = {
        # the default until now: the free cores, never more than all but one (2 cores: 1)
        "old": ("old (cores-1, long spin)", [("num_threads", max(1, cores() - 1))], spin),
        # the default before that: one thread per core, libgomp's spin
        "spin": ("all cores, long spin", [("num_threads", cores())], spin),
        # today's: num_threads=0 (the free cores, up to all) and store_sales' short spin
        "new": ("new (free cores, short spin)", [], {}),
        # forcing one thread per core with the short spin (how a neighbour mid-fit fares)
        "short": ("all cores, short spin", [("num_threads", cores())], {}),
    }
    return [cases[c] for c in which.split(",")]


def busy_table(templates: list[str], data_dir: Path, work: Path, extra: list, which: str) -> None:
    """Wall time idle vs next to two CPU-bound neighbours, for each thread setting, one table;
    each figure with the machine's 1-minute load average when it started (other work)."""
    cases = [(busy, *case) for busy in (False, True) for case in thread_cases(which)]
    print(f"{cores()} cores; load (1-min) at start: {os.getloadavg()[0]:.2f}", flush=True)
    times: dict = {}
    for template in templates:
        for busy, name, p, env in cases:
            out = work / f"{template}-{'busy' if busy else 'idle'}-{len(times)}"
            load = os.getloadavg()[0]
            with neighbour(busy):
                r = run_template(template, data_dir, out, 1, [*extra, *p], env)
            times[template, busy, name] = r
            print(
                f"{template} {'neighbours' if busy else 'idle'} {name}: {r['wall']:.0f} s "
                f"(train {r['m']['timings']['train']:.1f} s, threads {r['m'].get('threads')}), "
                f"test {r['test']:.4f}, load before {load:.2f}",
                flush=True,
            )
    print(f"load (1-min) at end: {os.getloadavg()[0]:.2f}")
    print(
        f"\n{'template':<8}  {'setting':<28}  wall s: idle  neighbours  ratio"
        "   train+forecast s: idle  neighbours  ratio"
    )
    for template in templates:
        for _, name, _, _ in cases[: len(cases) // 2]:
            idle, busy = times[template, False, name], times[template, True, name]
            wi, wb = idle["wall"], busy["wall"]
            fi, fb = _fit_s(idle), _fit_s(busy)
            print(
                f"{template:<8}  {name:<28}  {wi:>12.0f}  {wb:>10.0f}  {wb / wi:>4.1f}x"
                f"  {fi:>22.1f}  {fb:>10.1f}  {fb / fi:>4.1f}x"
            )


def _fit_s(r: dict) -> float:
    """Seconds of the kernel's model work: training (folds) and forecast (refit + test)."""
    t = r["m"]["timings"]
    return t["train"] + t.get("forecast", 0.0)


def trial_table(templates: list[str], data_dir: Path, work: Path, extra: list) -> None:
    """A full run against one local-sweep trial of the same parameters (a one-point grid)."""
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {cores()} cores", flush=True)
    rows = []
    for template in templates:
        full = run_template(template, data_dir, work / f"{template}-full", 1, extra)
        spec = work / f"{template}-sweep.yaml"
        spec.write_text(
            f"name: bench-{template}\nmethod: grid\nmetric: {{name: val/rmsle, goal: minimize}}\n"
            f"parameters:\n  seed: {{values: [42]}}\n"
        )
        folder = work / f"{template}-sweep"
        cmd = [sys.executable, "-m", "store_sales", "sweep", "local", str(spec), "--count", "1"]
        cmd += ["--template", template, "--sweep-dir", str(folder)]
        params = {"data_dir": data_dir, "num_threads": 0}  # a local sweep sets wandb_mode
        for name, value in [*params.items(), *extra]:
            cmd += ["-p", name, str(value)]
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        if done.returncode:
            raise SystemExit(f"sweep failed:\n{done.stderr.decode()[-3000:]}")
        m = json.loads(next(folder.glob("trials/*/metrics.json")).read_text())
        rows.append((template, full, wall, m))
        print(f"{template}: full {full['wall']:.0f} s, sweep trial {wall:.0f} s", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f} (1-min)")
    print(
        "\ntemplate  full run: wall s  kernel s  val RMSLE   sweep trial: wall s  kernel s  "
        "val RMSLE  refit                trial/full (kernel)"
    )
    for template, full, wall, m in rows:
        total, trial_total = full["m"]["timings"]["total"], m["timings"]["total"]
        print(
            f"{template:<8}  {full['wall']:>15.0f}  {total:>8.1f}  {full['m']['val_rmsle']:.5f}  "
            f"{wall:>19.0f}  {trial_total:>8.1f}  {m['val_rmsle']:.5f}  {m['refit']:<19}  "
            f"{trial_total / total:>19.2f}"
        )


def run_template(
    template: str, data_dir: Path, out: Path, n_folds: int, extra: list, env: dict | None = None
) -> dict:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    params = {"data_dir": data_dir, "output_dir": out, "wandb_mode": "offline", "n_folds": n_folds}
    cmd = [sys.executable, "-m", "store_sales", "run", template, "-q"]
    for name, value in [*params.items(), *extra]:
        cmd += ["-p", name, str(value)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{template} failed:\n{done.stderr.decode()[-3000:]}")
    m = json.loads((out / "metrics.json").read_text())
    sub = pd.read_csv(out / "submission.csv")
    sol = load_solution(data_dir).set_index("id").loc[sub["id"]]
    test = rmsle(sol["sales"].to_numpy(), sub["sales"].to_numpy())
    floor = rmsle(sol["sales"].to_numpy(), sol["floor"].to_numpy())
    steps = sum(m.get("fold_steps_run") or [m["best_step"]])
    return {
        "wall": wall,
        "m": m,
        "test": test,
        "floor": floor,
        "s_per_step": m["timings"]["train"] / max(steps, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", default=",".join(TEMPLATES))
    parser.add_argument("--folds", default="1", help="fold counts, e.g. 1,2,3")
    parser.add_argument("--seeds", default="0", help="synthetic data seeds, e.g. 0,1,2")
    parser.add_argument("--data", help="folder with full-scale synthetic data (one seed)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--keep", action="store_true", help="keep the data and run folders")
    parser.add_argument("--small", action="store_true", help="3 stores from 2016-06-01")
    parser.add_argument(
        "--neighbour", action="store_true", help="idle vs a CPU-bound neighbour, before/after"
    )
    parser.add_argument(
        "--threads", default="old,spin,new", help="--neighbour's settings: old,spin,new,short"
    )
    parser.add_argument("--sweep-trial", action="store_true", help="a full run vs a sweep trial")
    args = parser.parse_args()
    templates = args.templates.split(",")
    folds = [int(k) for k in args.folds.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-templates-"))
    rows = []
    for seed in seeds if not args.data else seeds[:1]:
        data_dir = Path(args.data) if args.data else work / f"data-seed{seed}"
        if not (data_dir / "hidden" / "synth.json").is_file():
            size = {"n_stores": 3, "start": "2016-06-01"} if args.small else {}
            generate(data_dir, seed=seed, **size)
        if args.neighbour or args.sweep_trial:
            if args.neighbour:
                busy_table(templates, data_dir, work, args.p, args.threads)
            if args.sweep_trial:
                trial_table(templates, data_dir, work, args.p)
            continue
        for template in templates:
            for k in folds:
                out = work / f"{template}-seed{seed}-folds{k}"
                r = run_template(template, data_dir, out, k, args.p)
                rows.append({"template": template, "seed": seed, "n_folds": k, **r})
                m = r["m"]
                print(
                    f"{template} seed {seed} n_folds {k}: {r['wall']:.0f} s, val "
                    f"{m['val_rmsle']:.4f}, CV {m['cv_rmsle_mean']:.4f}, test {r['test']:.4f}",
                    flush=True,
                )

    if args.neighbour or args.sweep_trial:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    print(
        "\ntemplate  seed  folds  wall_s  peak_MB  s/step  steps  val     CV mean ± std     "
        "test    floor   test/floor  |val-test|  |CV-test|"
    )
    for r in rows:
        m = r["m"]
        steps = "+".join(str(s) for s in m.get("fold_steps_run") or [m["best_step"]])
        print(
            f"{r['template']:<8}  {r['seed']:>4}  {r['n_folds']:>5}  {r['wall']:>6.0f}  "
            f"{m['peak_rss_mb']:>7.0f}  {r['s_per_step']:>6.2f}  {steps:>5}  "
            f"{m['val_rmsle']:.4f}  {m['cv_rmsle_mean']:.4f} ± {m['cv_rmsle_std']:.4f}  "
            f"{r['test']:.4f}  {r['floor']:.4f}  {r['test'] / r['floor']:>10.3f}  "
            f"{abs(m['val_rmsle'] - r['test']):>10.4f}  {abs(m['cv_rmsle_mean'] - r['test']):>9.4f}"
        )
    if len(rows) > 1:
        print()
        frame = pd.DataFrame(
            {
                "template": [r["template"] for r in rows],
                "n_folds": [r["n_folds"] for r in rows],
                "wall": [r["wall"] for r in rows],
                "ratio": [r["test"] / r["floor"] for r in rows],
                "gap": [abs(r["m"]["cv_rmsle_mean"] - r["test"]) for r in rows],
            }
        )
        for (template, k), group in frame.groupby(["template", "n_folds"], sort=False):
            print(
                f"{template} n_folds {k}: mean wall {group['wall'].mean():.0f} s, mean test/floor "
                f"{group['ratio'].mean():.3f}, mean |CV - test| {group['gap'].mean():.4f} "
                f"({len(group)} seed(s))"
            )
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
    return 0 if np.isfinite([r["test"] for r in rows]).all() else 1


if __name__ == "__main__":
    sys.exit(main())
