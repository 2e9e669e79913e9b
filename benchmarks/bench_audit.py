"""Leak audit time at full scale (`features.audit`, run by `pipeline.validate` before training):
exp001's own feature, every built-in audited as if a notebook's, and a leaking feature (which
also pays for finding what it read), each the best of --repeat; checks the data is restored.

    .venv/bin/python benchmarks/bench_audit.py [--data DIR] [--repeat 5]

Default data: the full-scale synthetic set (`store-sales synth data/synthetic/full-seed0`).
Target: at most 2 s for a typical notebook feature.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import time

import numpy as np

from store_sales.data import load_data
from store_sales.features import Feature, FeatureError, build_panel, select
from store_sales.features.audit import audit
from store_sales.paths import synthetic_data_dir
from store_sales.validation import make_plan


def _best(fn, repeat: int) -> float:
    spent = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the audit's own line, each time
            fn()
        spent.append(time.perf_counter() - t0)
    return min(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(synthetic_data_dir(0)))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = load_data(args.data)
    panel = build_panel(data)
    origin = make_plan(panel.last_train, 26, 14).val_origin
    y_before, train_before = panel.y.tobytes(), data.train.copy()

    def promo_days_16(known):  # exp001's notebook feature
        return (known.promo[:, -16:] > 0).sum(axis=1).astype(np.float32)

    typical = [Feature("promo_days_16", promo_days_16, "notebook", "", False)]
    builtins = [dataclasses.replace(f, name=f"nb_{f.name}", builtin=False) for f in select()]
    leak = [Feature("peek_future", lambda k: panel.y[:, k.target_days], "notebook", "", False)]

    def leaking():
        try:
            audit(leak, origin, panel, data)
        except FeatureError:
            return
        raise AssertionError("the leak was not caught")

    rows = [
        ("exp001's promo_days_16", lambda: audit(typical, origin, panel, data)),
        (
            f"{len(builtins)} built-ins as notebook features",
            lambda: audit(builtins, origin, panel, data),
        ),
        ("a leaking feature (caught, named)", leaking),
    ]
    print(f"{panel.y.shape[0]} series x {panel.n_days} days, origin {panel.day(origin).date()}")
    for label, fn in rows:
        print(f"{label:<36} {_best(fn, args.repeat):6.3f} s (best of {args.repeat})")
    assert panel.y.tobytes() == y_before and data.train.equals(train_before)
    print("data restored exactly")


if __name__ == "__main__":
    main()
