"""What the competition publishes for the future, on a hand-made data set: holiday flags per
store and day (national, regional by state, local by city; transferred holidays on their
Transfer day; Bridge and Work Day) and oil interpolated over its gaps.

Six stores in five cities and four states, so that matching a holiday on the wrong place (state
for city, city for state) or on the wrong day flags a different set of (store, day) cells.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from store_sales.data import CompetitionData
from store_sales.features import build_features, build_panel
from store_sales.paths import HORIZON

START, LAST = pd.Timestamp("2017-06-01"), pd.Timestamp("2017-08-15")  # a Thursday, a Tuesday
STORES = pd.DataFrame(
    [
        (1, "Quito", "Pichincha", "A", 1),
        (2, "Cayambe", "Pichincha", "B", 2),
        (3, "Guayaquil", "Guayas", "A", 3),
        (4, "Daule", "Guayas", "C", 4),
        (5, "Ambato", "Tungurahua", "D", 5),
        (6, "Latacunga", "Cotopaxi", "E", 6),
    ],
    columns=["store_nbr", "city", "state", "type", "cluster"],
)
FAMILIES = ["BREAD/BAKERY", "GROCERY I"]

# (date, type, locale, locale_name, transferred): all inside the 16 test days but the first
HOLIDAYS = [
    ("2017-01-01", "Holiday", "National", "Ecuador", False),  # before the data: ignored
    ("2017-08-17", "Holiday", "National", "Ecuador", False),
    ("2017-08-18", "Holiday", "National", "Ecuador", True),  # moved to 08-21 ...
    ("2017-08-21", "Transfer", "National", "Ecuador", False),  # ... observed here
    ("2017-08-19", "Holiday", "Regional", "Guayas", False),  # stores 3 and 4
    ("2017-08-20", "Holiday", "Local", "Cayambe", False),  # store 2, not Quito (same state)
    ("2017-08-22", "Holiday", "Local", "Guayaquil", True),  # moved to 08-23 ...
    ("2017-08-23", "Transfer", "Local", "Guayaquil", False),  # ... store 3 only
    ("2017-08-24", "Bridge", "National", "Ecuador", False),  # a day off ...
    ("2017-08-26", "Work Day", "National", "Ecuador", False),  # ... paid back on a Saturday
    ("2017-08-25", "Event", "National", "Ecuador", False),
    ("2017-08-27", "Additional", "National", "Ecuador", False),
    ("2017-08-28", "Holiday", "Local", "Ambato", False),  # two rows on one date
    ("2017-08-28", "Event", "National", "Ecuador", False),
    ("2017-08-29", "Holiday", "Regional", "Pichincha", False),  # stores 1 and 2
    ("2017-08-29", "Additional", "Local", "Latacunga", False),  # store 6
    ("2017-08-30", "Event", "Local", "Quito", False),  # not a day off: no local flag
]
NAT_HOLIDAY = {"2017-08-17", "2017-08-21", "2017-08-24", "2017-08-27"}
NAT_EVENT = {"2017-08-25", "2017-08-28"}
WORKDAY = {"2017-08-26"}
LOCAL = {  # store -> days with its own regional/local day off
    1: {"2017-08-29"},
    2: {"2017-08-20", "2017-08-29"},
    3: {"2017-08-19", "2017-08-23"},
    4: {"2017-08-19"},
    5: {"2017-08-28"},
    6: {"2017-08-29"},
}


def _oil_ramp(day: pd.Timestamp) -> float:
    return 40.0 + 0.5 * (day - START).days  # linear in calendar days


OIL_END = pd.Timestamp("2017-08-25")  # the file stops before the test does
OIL_MISSING = {START, pd.Timestamp("2017-08-21")}  # the first row, and a Monday


def _oil() -> pd.DataFrame:
    days = pd.bdate_range(START, OIL_END)
    values = [np.nan if d in OIL_MISSING else _oil_ramp(d) for d in days]
    return pd.DataFrame({"date": days, "dcoilwtico": np.array(values, dtype="float32")})


def tiny_data() -> CompetitionData:
    train_days = pd.date_range(START, LAST)
    test_days = pd.date_range(LAST + pd.Timedelta(days=1), periods=HORIZON)
    keys = pd.MultiIndex.from_product(
        [STORES["store_nbr"], FAMILIES], names=["store_nbr", "family"]
    ).to_frame(index=False)

    def panel_rows(days):
        rows = pd.merge(pd.DataFrame({"date": days}), keys, how="cross")
        rows["store_nbr"] = rows["store_nbr"].astype("int16")
        rows["family"] = rows["family"].astype("category")
        return rows

    train = panel_rows(train_days)
    train.insert(0, "id", np.arange(len(train), dtype="int32"))
    train["sales"] = np.float32(3.0)
    train["onpromotion"] = np.int16(0)
    test = panel_rows(test_days)
    test.insert(0, "id", np.arange(len(train), len(train) + len(test), dtype="int32"))
    test["onpromotion"] = np.int16(0)
    holidays = pd.DataFrame(
        HOLIDAYS, columns=["date", "type", "locale", "locale_name", "transferred"]
    )
    holidays["date"] = pd.to_datetime(holidays["date"])
    holidays.insert(4, "description", "x")
    holidays = holidays.sort_values("date", kind="stable", ignore_index=True)
    trans = pd.merge(pd.DataFrame({"date": train_days}), STORES[["store_nbr"]], how="cross")
    trans["transactions"] = np.int32(100)
    return CompetitionData(
        train=train,
        test=test,
        stores=STORES.astype({"store_nbr": "int16", "cluster": "int16"}),
        oil=_oil(),
        holidays_events=holidays,
        transactions=trans,
        sample_submission=pd.DataFrame({"id": test["id"], "sales": 0.0}),
        source=Path("."),
    )


@pytest.fixture(scope="module")
def panel():
    return build_panel(tiny_data())


@pytest.fixture(scope="module")
def test_rows(panel):
    rows = build_features(panel, [panel.last_train])
    rows["date"] = panel.start + pd.to_timedelta(rows["day"], unit="D")
    rows["store"] = rows["store_nbr"].astype(int)
    return rows


def test_national_flags_per_day(test_rows):
    assert len(test_rows) == len(STORES) * len(FAMILIES) * HORIZON  # no row per holiday row
    per_day = test_rows.groupby("date")[["nat_holiday", "nat_event", "workday"]].agg(["min", "max"])
    for name, days in (
        ("nat_holiday", NAT_HOLIDAY),
        ("nat_event", NAT_EVENT),
        ("workday", WORKDAY),
    ):
        assert (per_day[(name, "min")] == per_day[(name, "max")]).all(), name  # every store
        flagged = {str(d.date()) for d in per_day.index[per_day[(name, "max")] == 1]}
        assert flagged == days, name


def test_regional_and_local_holidays_per_store_and_day(test_rows):
    flagged = test_rows[test_rows["local_holiday"] == 1]
    got = {s: set() for s in STORES["store_nbr"]}
    for store, date in flagged[["store", "date"]].drop_duplicates().itertuples(index=False):
        got[store].add(str(date.date()))
    assert got == LOCAL
    # every family of a store carries its store's flag
    per_store_day = test_rows.groupby(["store", "date"])["local_holiday"].nunique()
    assert (per_store_day == 1).all()


def test_oil_is_interpolated_over_gaps_and_filled_at_both_ends(panel):
    days = pd.date_range(START, periods=panel.n_days)
    first, last = START + pd.Timedelta(days=1), OIL_END  # first and last known values
    expected = [_oil_ramp(min(max(d, first), last)) for d in days]
    np.testing.assert_allclose(panel.calendar["oil"], expected, rtol=1e-6)
    # the 28-day mean is over calendar days up to the target day
    ma = pd.Series(expected).rolling(28, min_periods=1).mean()
    np.testing.assert_allclose(panel.calendar["oil_ma28"], ma, rtol=1e-6)


def test_oil_reaches_the_rows_of_its_target_day(panel, test_rows):
    weekend = test_rows[test_rows["date"] == pd.Timestamp("2017-08-20")]  # a Sunday
    assert (weekend["oil"] == np.float32(_oil_ramp(pd.Timestamp("2017-08-20")))).all()
