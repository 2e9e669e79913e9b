"""The files: `generate` (the model's arrays written as the seven competition CSVs and
``hidden/``), the writers, `describe` (what `store-sales synth` prints) and `load_solution`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import model
from .holidays import make_holidays
from .tables import (
    FAMILY_NAMES,
    FIRST_DAY,
    LAST_TRAIN,
    N_OIL_NAN,
    NO_TRANSACTION_DAYS,
    STORES,
    VERSION,
)


def _str_col(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _sales_str(y: np.ndarray) -> pa.Array:
    """Floats as in the real file: shortest repr, integers as '12.0'."""
    s = _str_col(y)
    whole = pa.array(y == np.floor(y))
    return pc.if_else(whole, pc.binary_join_element_wise(s, pa.scalar(".0"), pa.scalar("")), s)


def _write_lines(fh, cols: list[pa.Array]) -> None:
    """Write rows of already-formatted string columns; arrow joins them without Python loops."""
    line = pc.binary_join_element_wise(*cols, pa.scalar(","))
    line = pc.binary_join_element_wise(line, pa.scalar(""), pa.scalar("\n"))
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32, count=len(line) + 1)
    data = line.buffers()[2]
    fh.write(memoryview(data)[offsets[line.offset] : offsets[line.offset + len(line)]])


def describe(info: dict) -> str:
    """What `store-sales synth` prints: where the files went, their rows, how to use them."""
    out = Path(info["out_dir"]).resolve()
    lines = [f"synthetic data written to {out} in {info['seconds']:.1f} s"]
    lines += [f"  {name + '.csv':<24}{n:>10,} rows" for name, n in info["rows"].items()]
    if "solution" in info["paths"]:
        lines.append(
            "  hidden/                 the true test sales, for scoring (Kaggle keeps them)"
        )
    lines.append(f"run a template on it: store-sales run exp001 -p data_dir {out}")
    return "\n".join(lines)


def generate(
    out_dir,
    *,
    seed: int = 0,
    n_stores: int = 54,
    start: str = "2013-01-01",
    hidden: bool = True,
) -> dict:
    """Write a synthetic copy of the competition files into ``out_dir``.

    Full scale (54 stores from 2013-01-01) matches the real row counts. Fewer stores keep
    stores 1..n_stores; a later ``start`` shortens train. The last train day is always
    2017-08-15 and the test covers 2017-08-16..31. With ``hidden`` the true test sales and
    the noise-floor forecast go to ``hidden/solution.csv`` (never read by the pipeline).
    """
    t0 = time.perf_counter()
    lay = model.layout(n_stores, start)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    fam = model.family_params(seed)
    stp = model.store_params(seed)
    oil_all = model.oil(seed, lay.all_days)  # always from 2013-01-01, like the real file
    hol = make_holidays()
    mu = model.expected_level(lay, fam, stp, hol, oil_all)
    eps, promo, innov = model.store_draws(seed, lay, fam, stp)
    latent = model.latent(lay, fam, innov)
    del innov
    y, sells, is_open = model.sales(seed, lay, fam, mu, latent, eps, promo)
    del eps

    # train drops Christmas Day
    cal = lay.cal
    train_t = np.flatnonzero(
        (np.arange(len(lay.days)) < lay.n_train_cal) & ~((cal["month"] == 12) & (cal["dom"] == 25))
    )
    test_t = np.arange(lay.n_train_cal, len(lay.days))
    test_ids = _write_sales(out, lay, y, promo, train_t, test_t)
    n_oil = _write_stores_oil_holidays(out, seed, lay, oil_all, hol)
    n_trans = _write_transactions(out, seed, lay, stp, y, is_open, train_t)

    n_test = len(test_ids)
    counts = {
        "train": len(train_t) * len(lay.si) * len(FAMILY_NAMES),
        "test": n_test,
        "sample_submission": n_test,
        "stores": n_stores,
        "oil": n_oil,
        "holidays_events": len(hol),
        "transactions": n_trans,
    }
    paths = {k: str(out / f"{k}.csv") for k in counts}
    if hidden:
        floor = model.noise_floor(
            mu[test_t], latent[lay.n_train_cal - 1], fam, model.SD_LATENT, sells[test_t], y.dtype
        )
        paths.update(_write_hidden(out, seed, lay, counts, test_ids, y[test_t], floor))
    return {
        "out_dir": str(out),
        "paths": paths,
        "rows": counts,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _write_sales(out: Path, lay: model.Layout, y, promo, train_t, test_t) -> np.ndarray:
    """train.csv, test.csv and sample_submission.csv, written in chunks; returns the test ids."""
    S = len(lay.si) * len(FAMILY_NAMES)
    n_train, n_test = len(train_t) * S, len(test_t) * S
    date_str = np.datetime_as_string(lay.days)
    fam_csv = [f'"{f}"' if "," in f else f for f in FAMILY_NAMES]
    series_key = pa.array([f"{s},{f}" for s in lay.store_order for f in fam_csv])
    series_idx = np.arange(S)

    chunk_days = max(1, 300_000 // S)
    with open(out / "train.csv", "wb") as fh:
        fh.write(b"id,date,store_nbr,family,sales,onpromotion\n")
        for c0 in range(0, len(train_t), chunk_days):
            tt = train_t[c0 : c0 + chunk_days]
            ids = np.arange(c0 * S, (c0 + len(tt)) * S)
            _write_lines(
                fh,
                [
                    _str_col(ids),
                    pa.array(np.repeat(date_str[tt], S)),
                    pc.take(series_key, pa.array(np.tile(series_idx, len(tt)))),
                    _sales_str(y[tt].reshape(-1)),
                    _str_col(promo[tt].reshape(-1)),
                ],
            )
    test_ids = np.arange(n_train, n_train + n_test)
    test_dates = np.repeat(date_str[test_t], S)
    test_keys = pc.take(series_key, pa.array(np.tile(series_idx, len(test_t))))
    with open(out / "test.csv", "wb") as fh:
        fh.write(b"id,date,store_nbr,family,onpromotion\n")
        _write_lines(
            fh,
            [
                _str_col(test_ids),
                pa.array(test_dates),
                test_keys,
                _str_col(promo[test_t].reshape(-1)),
            ],
        )
    with open(out / "sample_submission.csv", "wb") as fh:
        fh.write(b"id,sales\n")
        _write_lines(fh, [_str_col(test_ids), pa.array(np.full(n_test, "0.0"))])
    return test_ids


def _write_stores_oil_holidays(out: Path, seed: int, lay: model.Layout, oil_all, hol) -> int:
    """stores.csv, oil.csv (weekdays, some NaN) and holidays_events.csv; returns oil's rows."""
    stores_df = pd.DataFrame(
        [(s, *STORES[s]) for s in range(1, lay.n_stores + 1)],
        columns=["store_nbr", "city", "state", "type", "cluster"],
    )
    stores_df.to_csv(out / "stores.csv", index=False, lineterminator="\n")
    wk = lay.cal_all["dow"] < 5
    oil_days, oil_vals = lay.all_days[wk], oil_all[wk]
    nan_rng = model.rng_stream(seed, 7)
    n_oil_train = int((oil_days <= LAST_TRAIN).sum())
    nan_at = np.concatenate(
        [[0], 1 + nan_rng.choice(n_oil_train - 1, size=N_OIL_NAN - 1, replace=False)]
    )
    oil_vals = oil_vals.copy()
    oil_vals[nan_at] = np.nan
    pd.DataFrame({"date": np.datetime_as_string(oil_days), "dcoilwtico": oil_vals}).to_csv(
        out / "oil.csv", index=False, lineterminator="\n"
    )
    hol.to_csv(out / "holidays_events.csv", index=False, lineterminator="\n")
    return len(oil_days)


def _write_transactions(out: Path, seed: int, lay: model.Layout, stp, y, is_open, train_t) -> int:
    """transactions.csv: open store-days, minus whole missing days and a random few; returns
    its rows."""
    si, i0 = lay.si, lay.i0
    tr_days = lay.days[train_t]
    total = y[train_t].sum(axis=2)  # (days, stores)
    has = is_open[train_t] & (total > 0)
    has &= ~np.isin(tr_days, np.array(NO_TRANSACTION_DAYS, dtype="datetime64[D]"))[:, None]
    drop = model.transaction_drop(seed)[(tr_days - FIRST_DAY).astype(int)][:, si]
    has &= ~drop
    tr_rng = model.rng_stream(seed, 9)
    tr_noise = tr_rng.normal(0, 0.06, (len(lay.all_days), 54))[i0:][train_t][:, si]
    log_tr = (
        np.log(1600.0) + 0.75 * (np.log1p(total) - np.log(12000.0)) + stp["trans"][si] + tr_noise
    )
    tt, ss = np.nonzero(has)
    trans = pd.DataFrame(
        {
            "date": np.datetime_as_string(lay.days)[train_t][tt],
            "store_nbr": lay.store_order[ss],
            "transactions": np.rint(np.exp(log_tr[tt, ss])).astype(np.int64),
        }
    ).sort_values(["date", "store_nbr"], kind="stable")
    trans.to_csv(out / "transactions.csv", index=False, lineterminator="\n")
    return len(trans)


def _write_hidden(out: Path, seed: int, lay: model.Layout, counts, test_ids, y_test, floor) -> dict:
    """hidden/solution.csv (true test sales and the noise floor) and hidden/synth.json."""
    hid = out / "hidden"
    hid.mkdir(exist_ok=True)
    pd.DataFrame(
        {
            "id": test_ids,
            "sales": y_test.reshape(-1),
            "floor": np.round(floor.reshape(-1), 4),
        }
    ).to_csv(hid / "solution.csv", index=False, lineterminator="\n")
    meta = {"version": VERSION, "seed": seed, "n_stores": lay.n_stores, "start": str(lay.start_day)}
    meta["rows"] = counts
    (hid / "synth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {"solution": str(hid / "solution.csv"), "synth": str(hid / "synth.json")}


def load_solution(data_dir) -> pd.DataFrame:
    """Hidden test labels and floor forecast (id, sales, floor) of a synthetic data set."""
    path = Path(data_dir) / "hidden" / "solution.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: hidden test labels exist only for synthetic data made by "
            "store_sales.synth.generate(..., hidden=True), never for the real Kaggle files."
        )
    return pd.read_csv(path)
