"""Tests of the synthetic data generator, at small scale only (full scale is benchmarked)."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from store_sales import synth

N_STORES, START = 3, "2015-12-01"  # spans a Dec 25, 2016-01-01 and 2016-01-03
FILES = {
    "train.csv": ["id", "date", "store_nbr", "family", "sales", "onpromotion"],
    "test.csv": ["id", "date", "store_nbr", "family", "onpromotion"],
    "sample_submission.csv": ["id", "sales"],
    "stores.csv": ["store_nbr", "city", "state", "type", "cluster"],
    "oil.csv": ["date", "dcoilwtico"],
    "holidays_events.csv": ["date", "type", "locale", "locale_name", "description", "transferred"],
    "transactions.csv": ["date", "store_nbr", "transactions"],
    "hidden/solution.csv": ["id", "sales", "floor"],
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    synth.generate(out, seed=0, n_stores=N_STORES, start=START)
    return out


@pytest.fixture(scope="module")
def frames(data_dir):
    return {name: pd.read_csv(data_dir / name) for name in FILES}


def test_schema_and_column_order(data_dir, frames):
    for name, cols in FILES.items():
        assert list(frames[name].columns) == cols, name
        header = (data_dir / name).read_text().split("\n", 1)[0]
        assert header == ",".join(cols), name  # unquoted header, like the real files
    train = frames["train.csv"]
    assert train["sales"].dtype == np.float64
    assert train["onpromotion"].dtype == np.int64
    assert frames["transactions.csv"]["transactions"].dtype == np.int64
    assert frames["holidays_events.csv"]["transferred"].dtype == bool


def test_row_counts_and_ids(frames):
    train, test = frames["train.csv"], frames["test.csv"]
    days = pd.date_range(START, "2017-08-15")
    days = days[~((days.month == 12) & (days.day == 25))]
    assert len(train) == len(days) * N_STORES * 33
    assert set(pd.to_datetime(train["date"].unique())) == set(days)
    assert len(test) == N_STORES * 33 * 16
    assert test["date"].min() == "2017-08-16"
    assert test["date"].max() == "2017-08-31"
    assert (train["id"].to_numpy() == np.arange(len(train))).all()
    assert (test["id"].to_numpy() == np.arange(len(train), len(train) + len(test))).all()
    sub = frames["sample_submission.csv"]
    assert (sub["id"].to_numpy() == test["id"].to_numpy()).all()
    assert (sub["sales"] == 0.0).all()
    assert list(frames["stores.csv"]["store_nbr"]) == list(range(1, N_STORES + 1))


def test_row_order_like_real_file(frames):
    first = frames["train.csv"].query("date == @START")
    stores = sorted(range(1, N_STORES + 1), key=str)
    expected = [(s, f) for s in stores for f in sorted(synth.FAMILY_NAMES)]
    assert list(zip(first["store_nbr"], first["family"], strict=True)) == expected
    assert len(synth.FAMILY_NAMES) == 33
    assert frames["train.csv"]["date"].is_monotonic_increasing


def test_store_numbers_sort_as_text(tmp_path):
    synth.generate(tmp_path, n_stores=12, start="2017-06-01", hidden=False)
    first = pd.read_csv(tmp_path / "test.csv").query("date == '2017-08-16'")
    assert list(dict.fromkeys(first["store_nbr"]))[:4] == [1, 10, 11, 12]


def test_quoted_family_parses_back(data_dir, frames):
    assert "LIQUOR,WINE,BEER" in set(frames["train.csv"]["family"])
    assert frames["train.csv"]["family"].nunique() == 33
    assert '1,"LIQUOR,WINE,BEER",' in (data_dir / "test.csv").read_text()


def test_deterministic(tmp_path):
    for sub in ("a", "b"):
        synth.generate(tmp_path / sub, seed=3, n_stores=2, start="2017-03-01")
    names = [*FILES, "hidden/synth.json"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, False)
    assert sorted(match) == sorted(names), (mismatch, errors)
    synth.generate(tmp_path / "c", seed=4, n_stores=2, start="2017-03-01")
    assert not filecmp.cmp(tmp_path / "a/train.csv", tmp_path / "c/train.csv", shallow=False)


def test_smaller_config_is_sub_block(data_dir, frames, tmp_path):
    synth.generate(tmp_path, n_stores=2, start="2017-01-01")
    small = pd.read_csv(tmp_path / "train.csv").drop(columns="id")
    big = frames["train.csv"].query("store_nbr <= 2 and date >= '2017-01-01'").drop(columns="id")
    pd.testing.assert_frame_equal(small, big.reset_index(drop=True))


def test_promotions_start_2014_04(tmp_path):
    synth.generate(tmp_path, n_stores=2, start="2014-02-01", hidden=False)
    train = pd.read_csv(tmp_path / "train.csv")
    before = train["date"] < "2014-04-01"
    assert before.any()
    assert (train.loc[before, "onpromotion"] == 0).all()
    after = train.loc[~before & (train["family"] == "GROCERY I"), "onpromotion"]
    assert (after > 0).mean() > 0.5
    test = pd.read_csv(tmp_path / "test.csv")
    assert test["onpromotion"].max() > 10


def test_dead_series_and_books(frames):
    train, sol = frames["train.csv"], frames["hidden/solution.csv"]
    test = frames["test.csv"].merge(sol, on="id")
    total = train.groupby(["store_nbr", "family"])["sales"].sum()
    dead = set(total[total == 0].index)
    assert (1, "BABY CARE") in dead and (3, "BOOKS") in dead
    assert len(dead) < 15
    dead_test = test[[k in dead for k in zip(test["store_nbr"], test["family"], strict=True)]]
    assert len(dead_test) == 16 * len(dead)
    assert (dead_test["sales"] == 0).all() and (dead_test["floor"] == 0).all()
    books = train[(train["family"] == "BOOKS") & ~train["store_nbr"].eq(3)]
    assert (books.loc[books["date"] < "2016-10-01", "sales"] == 0).all()
    assert books.loc[books["date"] >= "2016-10-01", "sales"].sum() > 0


def test_sales_format(data_dir, frames):
    train = frames["train.csv"]
    assert (train["sales"] >= 0).all()
    fractional = train.loc[train["sales"] % 1 != 0, "family"].unique()
    assert set(fractional) <= {"PRODUCE", "MEATS", "POULTRY", "SEAFOOD", "DELI"}
    assert "PRODUCE" in set(fractional)
    text = (data_dir / "train.csv").read_text()
    assert ",0.0," in text and ",0," not in text.split("\n", 2)[1]


def test_new_years_day_closed(frames):
    jan1 = frames["train.csv"].query("date == '2016-01-01'")
    assert len(jan1) == N_STORES * 33
    assert (jan1["sales"] == 0).all()


def test_late_opening_store(tmp_path):
    synth.generate(tmp_path, n_stores=54, start="2017-03-15", hidden=False)
    train = pd.read_csv(tmp_path / "train.csv").query("store_nbr == 52")
    opened = train["date"] >= "2017-04-20"
    assert (train.loc[~opened, "sales"] == 0).all()
    assert train.loc[opened, "sales"].sum() > 0
    trans = pd.read_csv(tmp_path / "transactions.csv").query("store_nbr == 52")
    assert trans["date"].min() >= "2017-04-20"


def test_holidays(frames):
    hol = frames["holidays_events.csv"]
    assert len(hol) == 350
    assert hol["date"].min() == "2012-03-02" and hol["date"].max() == "2017-12-26"
    assert set(hol["type"]) == {"Holiday", "Event", "Additional", "Transfer", "Bridge", "Work Day"}
    moved = hol[hol["transferred"]]
    assert len(moved) == 12
    transfers = hol[hol["type"] == "Transfer"]
    assert len(transfers) == 12
    for row in moved.itertuples():
        match = transfers[transfers["description"] == f"Traslado {row.description}"]
        assert (match["date"] != row.date).any(), row.description
        assert (match["locale_name"] == row.locale_name).all()
    window = hol[(hol["date"] >= "2017-08-16") & (hol["date"] <= "2017-08-31")]
    assert window[["date", "type", "locale", "locale_name"]].values.tolist() == [
        ["2017-08-24", "Holiday", "Local", "Ambato"]
    ]
    cities = {v[0] for v in synth.STORES.values()}
    states = {v[1] for v in synth.STORES.values()}
    assert set(hol.loc[hol["locale"] == "Local", "locale_name"]) <= cities
    assert set(hol.loc[hol["locale"] == "Regional", "locale_name"]) <= states
    assert set(hol.loc[hol["locale"] == "National", "locale_name"]) == {"Ecuador"}
    assert hol["date"].duplicated().any()
    quake = hol[hol["description"].str.startswith("Terremoto Manabi")]
    assert len(quake) == 31 and quake["date"].min() == "2016-04-16"


def test_oil(frames):
    oil = frames["oil.csv"]
    dates = pd.to_datetime(oil["date"])
    assert len(oil) == 1218
    assert (dates.dt.day_of_week < 5).all()
    assert dates.min() == pd.Timestamp("2013-01-01")
    assert dates.max() == pd.Timestamp("2017-08-31")
    assert np.isnan(oil["dcoilwtico"].iloc[0])
    assert oil["dcoilwtico"].isna().sum() == 43
    assert oil["dcoilwtico"].dropna().between(20, 130).all()
    assert oil.loc[dates.dt.year == 2013, "dcoilwtico"].mean() > 85
    assert oil.loc[dates.dt.year == 2016, "dcoilwtico"].mean() < 55


def test_transactions(frames):
    trans, train = frames["transactions.csv"], frames["train.csv"]
    assert trans["date"].max() == "2017-08-15"
    dates = set(trans["date"])
    assert not {"2015-12-25", "2016-01-01", "2016-01-03"} & dates
    assert "2016-01-02" in dates
    store_days = train.groupby(["date", "store_nbr"])["sales"].sum()
    open_days = set(store_days[store_days > 0].index)
    have = set(zip(trans["date"], trans["store_nbr"], strict=True))
    assert have < open_days  # only store-days with sales, and a few of those missing
    assert len(open_days) - len(have) > 2 * N_STORES
    assert trans["transactions"].min() > 0
    # transactions follow the store's total sales
    both = trans.join(store_days.rename("total"), on=["date", "store_nbr"])
    assert np.corrcoef(np.log(both["transactions"]), np.log(both["total"]))[0, 1] > 0.8


def test_solution_and_meta(data_dir, frames):
    sol, test = frames["hidden/solution.csv"], frames["test.csv"]
    assert (sol["id"].to_numpy() == test["id"].to_numpy()).all()
    assert (sol["floor"] >= 0).all() and (sol["sales"] >= 0).all()
    assert (sol["floor"] > 0).mean() > 0.5
    # the floor must be a sensible forecast: far better than predicting zero
    err = np.log1p(sol["sales"]) - np.log1p(sol["floor"])
    assert np.sqrt((err**2).mean()) < 0.6 * np.sqrt((np.log1p(sol["sales"]) ** 2).mean())
    meta = json.loads((data_dir / "hidden/synth.json").read_text())
    assert meta["version"] == synth.VERSION
    assert (meta["seed"], meta["n_stores"], meta["start"]) == (0, N_STORES, START)
    assert meta["rows"]["train"] == len(frames["train.csv"])
    loaded = synth.load_solution(data_dir)
    pd.testing.assert_frame_equal(loaded, sol)


def test_no_hidden_and_missing_solution(tmp_path):
    summary = synth.generate(tmp_path, n_stores=1, start="2017-06-01", hidden=False)
    assert not (tmp_path / "hidden").exists()
    assert summary["rows"]["test"] == 33 * 16
    with pytest.raises(FileNotFoundError, match="only for synthetic data"):
        synth.load_solution(tmp_path)


@pytest.mark.parametrize(
    "kwargs", [{"n_stores": 0}, {"n_stores": 55}, {"start": "2012-12-31"}, {"start": "2017-08-01"}]
)
def test_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        synth.generate(tmp_path, **kwargs)
