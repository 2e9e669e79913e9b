"""`write_submission`: `id,sales` in sample_submission order, or nothing at all."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from store_sales.data import load_data, write_submission


@pytest.fixture(scope="module")
def data(small_data_dir):
    return load_data(small_data_dir)


@pytest.fixture
def forecast(data) -> tuple[np.ndarray, np.ndarray]:
    """A complete forecast with ids in a shuffled order; sales tell the id they belong to."""
    ids = np.random.default_rng(0).permutation(data.sample_submission["id"].to_numpy())
    assert not np.array_equal(ids, data.sample_submission["id"].to_numpy())
    return ids, ids * 0.5 + 1.0


def test_writes_id_sales_in_sample_submission_order(data, forecast, tmp_path):
    ids, sales = forecast
    path = tmp_path / "submission.csv"
    returned = write_submission(path, data, ids, sales)
    written = pd.read_csv(path)
    assert list(written.columns) == ["id", "sales"]
    assert written["id"].tolist() == data.sample_submission["id"].tolist()
    # each id kept its own forecast through the reordering
    np.testing.assert_allclose(written["sales"], written["id"] * 0.5 + 1.0)
    pd.testing.assert_frame_equal(
        returned.reset_index(drop=True), written, check_dtype=False, check_exact=False
    )


def test_the_order_is_sample_submissions_not_sorted_ids(data, forecast, tmp_path):
    reversed_sample = data.sample_submission.iloc[::-1].reset_index(drop=True)
    reordered = dataclasses.replace(data, sample_submission=reversed_sample)
    path = tmp_path / "submission.csv"
    write_submission(path, reordered, *forecast)
    assert pd.read_csv(path)["id"].tolist() == reversed_sample["id"].tolist()


def test_zero_forecasts_are_allowed(data, forecast, tmp_path):
    ids, _ = forecast
    path = tmp_path / "submission.csv"
    write_submission(path, data, ids, np.zeros(len(ids)))
    assert (pd.read_csv(path)["sales"] == 0).all()


def _missing_id(ids, sales):
    return ids[1:], sales[1:]


def _nan(ids, sales):
    sales = sales.copy()
    sales[len(sales) // 2] = np.nan
    return ids, sales


def _negative(ids, sales):
    sales = sales.copy()
    sales[-1] = -0.01
    return ids, sales


@pytest.mark.parametrize("damage", [_missing_id, _nan, _negative])
def test_refuses_an_incomplete_or_negative_forecast_and_writes_nothing(
    data, forecast, tmp_path, damage
):
    ids, sales = damage(*forecast)
    path = tmp_path / "submission.csv"
    with pytest.raises(ValueError):
        write_submission(path, data, ids, sales)
    assert not path.exists()
