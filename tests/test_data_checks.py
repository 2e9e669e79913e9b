"""The cross-file data checks, each fed the bad input it exists for (written as CSV, read back
with `load_data`, as a user's files would be)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from store_sales.data import DataError, load_data
from store_sales.features import build_panel


def _rewrite(path, change) -> None:
    frame = pd.read_csv(path)
    change(frame).to_csv(path, index=False)


def test_a_test_series_absent_from_train_is_refused(data_copy):
    def drop_series(train):
        return train[~((train["store_nbr"] == 2) & (train["family"] == "BEVERAGES"))]

    _rewrite(data_copy / "train.csv", drop_series)
    with pytest.raises(DataError, match=r"test.csv: 1 \(store_nbr, family\) series never appear"):
        load_data(data_copy)


def test_sample_submission_ids_must_be_the_test_ids(data_copy):
    _rewrite(data_copy / "sample_submission.csv", lambda s: s.assign(id=s["id"] + 1))
    with pytest.raises(DataError, match=r"sample_submission\.csv: ids do not match test\.csv"):
        load_data(data_copy)


def test_sample_submission_missing_a_row_is_refused(data_copy):
    _rewrite(data_copy / "sample_submission.csv", lambda s: s.iloc[:-1])
    with pytest.raises(DataError, match=r"sample_submission\.csv: ids do not match"):
        load_data(data_copy)


def test_duplicate_train_rows_are_refused(data_copy):
    _rewrite(data_copy / "train.csv", lambda t: pd.concat([t, t.iloc[[5]]], ignore_index=True))
    says = r"train.csv: line \d+ repeats line \d+ .*each \(date, store_nbr, family\) must appear"
    with pytest.raises(DataError, match=says):
        load_data(data_copy)


def test_a_store_without_metadata_is_refused(data_copy):
    _rewrite(data_copy / "stores.csv", lambda s: s[s["store_nbr"] != 3])
    with pytest.raises(DataError, match=r"stores\.csv: stores .*3.* are in train\.csv but not"):
        load_data(data_copy)


def test_the_missing_store_is_named_as_the_user_wrote_it(data_copy):
    _rewrite(data_copy / "stores.csv", lambda s: s[s["store_nbr"] != 3])
    with pytest.raises(DataError, match=r"stores \[3\] are in train\.csv"):
        load_data(data_copy)


def test_unsorted_train_is_sorted_by_date_and_builds_the_same_panel(small_data_dir, data_copy):
    _rewrite(data_copy / "train.csv", lambda t: t.sample(frac=1.0, random_state=0))
    shuffled = load_data(data_copy)
    assert shuffled.train["date"].is_monotonic_increasing
    clean = load_data(small_data_dir)
    assert shuffled.last_train_day == clean.last_train_day
    a, b = build_panel(shuffled), build_panel(clean)
    assert (a.start, a.last_train) == (b.start, b.last_train)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.promo, b.promo)
