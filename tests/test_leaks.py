"""Horizon honesty from every side: truncate-and-compare.

The data is cut at the validation origin (train ends there, the next 16 days become the test),
and every feature column and the zero-rule flag at the cut data's *test* origin must equal the
full data's at the *validation* origin, while in the full data everything dated after the
origin that a forecast may not know is scrambled: sales and transactions after the origin,
promotions, oil and holidays after the horizon. This catches a leak through any input, and any
skew that exists only on the test path (the cut data's origin is its last train day). All
templates build their rows with the same `build_features`, and the comparison runs over every
registered feature (`features="all"`): the built-ins and features registered the way a notebook
cell registers them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _helpers_data import cut_at, replace_frames

from store_sales.data import load_data
from store_sales.features import REGISTRY, build_features, build_panel, feature, feature_names
from store_sales.paths import HORIZON
from store_sales.validation import make_plan

NOTEBOOK_FEATURES = """
@feature("nb_mean_7")
def nb_mean_7(known):
    return np.nanmean(known.y[:, -7:], axis=1)

@feature("nb_promo_trend")
def nb_promo_trend(known):  # per horizon day: the promotions ahead against the trailing ones
    return known.promo[:, -16:] - known.promo[:, -44:-16].mean(axis=1, keepdims=True)

@feature("nb_trans_last")
def nb_trans_last(known):
    return known.transactions[:, -1][known.store_of]
"""


@pytest.fixture(scope="module", autouse=True)
def notebook_features():
    namespace = {"__name__": "__main__", "feature": feature, "np": np}
    exec(NOTEBOOK_FEATURES, namespace)  # as a notebook cell registers them
    yield
    for name in ("nb_mean_7", "nb_promo_trend", "nb_trans_last"):
        REGISTRY.pop(name)


def _compared() -> list[str]:
    names = feature_names("all")
    assert {"nb_mean_7", "nb_promo_trend", "nb_trans_last", "year_ago"} <= set(names)
    return ["s", "h", "day", "alive", *names]


OIL_SLACK = 7  # oil days just past the horizon may fill a weekend gap inside it (interpolation)


@pytest.fixture(scope="module")
def data(small_data_dir):
    return load_data(small_data_dir)


def _scramble_after(data, origin_day: pd.Timestamp, seed: int = 0):
    """Full data in which nothing a forecast at `origin_day` may know is left intact."""
    rng = np.random.default_rng(seed)
    horizon_end = origin_day + pd.Timedelta(days=HORIZON)

    train = data.train.copy()
    after = (train["date"] > origin_day).to_numpy()
    train.loc[after, "sales"] = rng.uniform(1, 5000, after.sum()).astype("float32")
    late = (train["date"] > horizon_end).to_numpy()
    train.loc[late, "onpromotion"] = rng.integers(0, 90, late.sum()).astype("int16")

    test = data.test.copy()  # the test lies after the horizon: its promotions too
    test["onpromotion"] = rng.integers(0, 90, len(test)).astype("int16")

    trans = data.transactions.copy()
    after = (trans["date"] > origin_day).to_numpy()
    trans.loc[after, "transactions"] = rng.integers(1, 10_000, after.sum()).astype("int32")

    oil = data.oil.copy()
    late = (oil["date"] > horizon_end + pd.Timedelta(days=OIL_SLACK)).to_numpy()
    oil.loc[late, "dcoilwtico"] = rng.uniform(5, 500, late.sum()).astype("float32")

    stores = data.stores
    days = pd.date_range(horizon_end + pd.Timedelta(days=1), periods=10, freq="D")
    extra = pd.DataFrame(
        [
            (day, "Holiday", locale, name, "scrambled", False)
            for day in days
            for locale, name in [
                ("National", "Ecuador"),
                ("Regional", stores["state"].iloc[0]),
                ("Local", stores["city"].iloc[0]),
            ]
        ],
        columns=data.holidays_events.columns,
    )
    holidays = pd.concat([data.holidays_events, extra], ignore_index=True)
    holidays = holidays.sort_values("date", kind="stable", ignore_index=True)
    return replace_frames(
        data, train=train, test=test, transactions=trans, oil=oil, holidays_events=holidays
    )


@pytest.mark.parametrize("zero_window", [56, 21])
def test_test_origin_of_the_cut_data_equals_the_full_datas_validation_origin(data, zero_window):
    full = build_panel(data)
    val_origin = make_plan(full.last_train, n_origins=2, stride=7).val_origin
    origin_day = full.day(val_origin)

    cut = build_panel(cut_at(data, origin_day))
    assert cut.last_train == val_origin and cut.start == full.start
    scrambled = build_panel(_scramble_after(data, origin_day))

    expected = build_features(cut, [cut.last_train], zero_window, "all")  # the test path
    got = build_features(scrambled, [val_origin], zero_window, "all")  # the validation path
    assert len(expected) == len(got) == full.y.shape[0] * HORIZON
    compared = _compared()
    pd.testing.assert_frame_equal(got[compared], expected[compared])

    # the scramble is real: unscrambled, the same targets differ, and dead series exist
    clean = build_features(full, [val_origin], zero_window)
    assert not np.allclose(clean["target"], got["target"], equal_nan=True)
    assert (~got["alive"]).any() and got["alive"].any()


def test_scrambling_up_to_the_origin_moves_features(data):
    """The comparison above can fail: the same scramble one day earlier moves the features
    that read sales/transactions at the origin, and the alive flag of dead series."""
    full = build_panel(data)
    val_origin = make_plan(full.last_train, n_origins=2, stride=7).val_origin
    early = build_panel(_scramble_after(data, full.day(val_origin - 1)))
    got = build_features(early, [val_origin], features="all")
    clean = build_features(full, [val_origin], features="all")
    for col in ("last", "trans_mean_7", "alive", "mean_3", "dow_mean_4w", "nb_trans_last"):
        assert not got[col].equals(clean[col]), col
