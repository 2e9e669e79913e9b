"""What the pipeline writes, checked against the data and the model that made it, without a
notebook: the template's calls in-process with `LabelAdapter` (helpers), whose every model
forecasts one known constant, so each output row tells which model made it.

- `refit=False` forecasts the test with fold 1's model and never refits;
- `oof.parquet` holds every fold, each on its 16 validation days, `actual` the sales in
  train.csv and `pred` the forecast of that fold's model;
- `metrics.json`'s fold scores and `rmsle_by_horizon` (keyed by horizon day 1..16) are the
  RMSLE of those rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import LabelAdapter

from store_sales.paths import HORIZON

N_FOLDS = 3


@pytest.fixture(scope="module")
def cv_run(run_pipeline):
    return run_pipeline(n_folds=N_FOLDS)


@pytest.fixture(scope="module")
def train_csv(small_data_dir) -> pd.DataFrame:
    train = pd.read_csv(small_data_dir / "train.csv", parse_dates=["date"])
    return train[["date", "store_nbr", "family", "sales"]]


def _rmsle(actual, pred) -> float:
    return float(np.sqrt(np.mean(np.square(np.log1p(pred) - np.log1p(actual)))))


def _forecast_values(frame: pd.DataFrame, column: str) -> set[float]:
    return set(np.round(frame[column].to_numpy(), 6).tolist())


def test_refit_false_forecasts_the_test_with_fold_one_model(run_pipeline):
    run = run_pipeline(n_folds=2, refit=False)
    assert run.adapter.refits == []  # no refit at all
    assert run.metrics["refit"] is False
    assert run.metrics["refit_steps"] == 10  # fold 1's best step, not the folds' median
    fold_1 = LabelAdapter.FOLD_SALES + 1
    submission = pd.read_csv(run.dir / "submission.csv")
    # fold 1's constant where the model forecasts, 0 where the zero rule does
    assert _forecast_values(submission, "sales") == {0.0, fold_1}
    test_pred = pd.read_parquet(run.dir / "test_pred.parquet")
    assert _forecast_values(test_pred, "pred") == {0.0, fold_1}


def test_refit_true_refits_on_the_median_step_and_forecasts_with_the_refit(cv_run):
    assert cv_run.adapter.refits == [20]  # median of 10, 20, 30
    assert cv_run.metrics["refit"] is True and cv_run.metrics["refit_steps"] == 20
    submission = pd.read_csv(cv_run.dir / "submission.csv")
    assert _forecast_values(submission, "sales") == {0.0, LabelAdapter.REFIT_SALES}


def test_oof_holds_every_fold_with_actual_from_train_and_pred_from_its_model(cv_run, train_csv):
    oof = pd.read_parquet(cv_run.dir / "oof.parquet")
    assert sorted(oof["fold"].unique().tolist()) == list(range(1, N_FOLDS + 1))
    last_train = train_csv["date"].max()
    n_series = train_csv[["store_nbr", "family"]].drop_duplicates().shape[0]
    for k in range(1, N_FOLDS + 1):
        rows = oof[oof["fold"] == k]
        origin = last_train - pd.Timedelta(days=HORIZON * k)
        assert (rows["origin_date"] == origin).all()
        days = (rows["date"] - origin).dt.days
        assert sorted(days.unique().tolist()) == list(range(1, HORIZON + 1))
        assert len(rows) == n_series * HORIZON
        # pred: this fold's model where it forecasts, the zero rule's 0 elsewhere
        assert _forecast_values(rows, "pred") <= {0.0, LabelAdapter.FOLD_SALES + k}
        assert (rows["pred"] > 0).any()
    # actual: the sales train.csv has for that day and series
    sales = oof.assign(family=oof["family"].astype(str)).merge(
        train_csv, on=["date", "store_nbr", "family"], how="left", validate="one_to_one"
    )
    np.testing.assert_allclose(sales["actual"], sales["sales"], rtol=1e-6)


def test_fold_scores_and_rmsle_by_horizon_are_those_of_the_oof_rows(cv_run):
    oof = pd.read_parquet(cv_run.dir / "oof.parquet")
    metrics = cv_run.metrics
    for k in range(1, N_FOLDS + 1):
        rows = oof[oof["fold"] == k]
        assert metrics[f"cv_rmsle_fold_{k}"] == pytest.approx(
            _rmsle(rows["actual"], rows["pred"]), abs=2e-6
        )
    # the horizon day from the dates themselves, not from oof's own `h` column
    h = (oof["date"] - oof["origin_date"]).dt.days.to_numpy()
    expected = {
        str(day): _rmsle(oof["actual"][h == day], oof["pred"][h == day])
        for day in range(1, HORIZON + 1)
    }
    by_horizon = metrics["rmsle_by_horizon"]  # JSON keys are strings
    assert list(by_horizon) == list(expected)
    assert by_horizon == pytest.approx(expected, abs=2e-6)
    assert len(set(by_horizon.values())) > 1  # the days differ: a shifted key would show
