"""How fast `store-sales runs` reads run folders: N copies of a real run's records (with a W&B
offline folder each, as real runs have), then the leaderboard timed end to end.

    python benchmarks/bench_runs.py RUN_DIR [--n 200 500 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from store_sales import leaderboard


def make_runs(template_run: Path, root: Path, n: int) -> None:
    metrics = json.loads((template_run / "metrics.json").read_text())
    config = json.loads((template_run / "config.json").read_text())
    wandb_dir = next((template_run / "wandb").glob("*run-*"), None)
    for i in range(n):
        folder = root / metrics["template"] / f"{metrics['run_name']}-{i}"
        folder.mkdir(parents=True)
        m = {
            **metrics,
            "run_name": folder.name,
            "cv_rmsle_mean": metrics["cv_rmsle_mean"] + i * 1e-6,
        }
        (folder / "metrics.json").write_text(json.dumps(m))
        (folder / "config.json").write_text(json.dumps({**config, "seed": i}))
        if wandb_dir is not None:  # what the walk must step over
            shutil.copytree(wandb_dir, folder / "wandb" / wandb_dir.name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path, help="a finished run folder to copy")
    parser.add_argument("--n", type=int, nargs="+", default=[100, 500, 1000])
    args = parser.parse_args()
    print(f"{'runs':>6} {'scan s':>8} {'rank+render s':>14} {'runs/s':>8}")
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            make_runs(args.run_dir, Path(tmp), n)
            t0 = time.perf_counter()
            records = leaderboard.scan(Path(tmp))
            t1 = time.perf_counter()
            leaderboard.render(leaderboard.ranked(records))
            t2 = time.perf_counter()
            assert len(records) == n
            print(f"{n:>6} {t1 - t0:>8.3f} {t2 - t1:>14.3f} {n / (t2 - t0):>8.0f}")


if __name__ == "__main__":
    main()
