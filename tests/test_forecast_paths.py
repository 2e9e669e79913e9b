"""The zero rule and the training origins as `cross_validate` and `forecast_test` apply them.

Series that go quiet exactly `zero_window` days before an origin and revive after it are forecast
0 there, while a series whose last sale is one day later is forecast by the model; the same
series flip when `zero_window` changes by one day. And each fit trains on exactly its plan's
origins: the folds on theirs, the test refit on fold 1's layout moved one horizon later.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from store_sales.data import load_data
from store_sales.features import build_panel
from store_sales.models.base import FitResult, ModelAdapter
from store_sales.paths import HORIZON
from store_sales.validation import cross_validate, forecast_test, make_plan

ZW = 21  # not the default (56): a pipeline that drops the parameter is caught
FORECAST = 10.0  # sales the model forecasts for every row it is asked about
SALE = np.float32(np.log1p(7.0))


class ConstantAdapter(ModelAdapter):
    """Forecasts FORECAST sales everywhere; records the origins it trains on and the series it
    is asked about."""

    name = "constant"

    def __init__(self):
        self.fit_origins: list[set[int]] = []
        self.refit_origins: set[int] | None = None
        self.asked: set[int] = set()

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()):
        self.fit_origins.append(set(train["origin"].unique().tolist()))
        return FitResult(model="fold", best_step=3, curves={})

    def refit(self, train, features, steps):
        self.refit_origins = set(train["origin"].unique().tolist())
        return "refit"

    def predict(self, model, rows, features):
        self.asked |= set(rows["s"].unique().tolist())
        return np.full(len(rows), np.log1p(FORECAST))

    def save(self, model, path):
        return path

    def load(self, path):
        return None


@pytest.fixture(scope="module")
def base_panel(small_data_dir):
    return build_panel(load_data(small_data_dir))


@pytest.fixture
def panel(base_panel):
    """A private copy whose series 0..3 go quiet right at the zero-window boundary."""
    p = dataclasses.replace(base_panel, y=base_panel.y.copy())
    plan = make_plan(p.last_train, n_origins=2, stride=7)
    v, t = plan.val_origin, plan.test_origin
    for s, origin, last_sale in (
        (0, v, v - ZW),  # quiet for exactly the window: dead at the validation origin
        (1, v, v - ZW + 1),  # its last sale is the window's first day: alive
        (2, t, t - ZW),  # the same two at the test origin
        (3, t, t - ZW + 1),
    ):
        p.y[s, last_sale - 30 : last_sale + 1] = SALE
        p.y[s, last_sale + 1 : origin + 1] = 0.0  # quiet up to the origin ...
        p.y[s, origin + 1 : p.last_train + 1] = SALE  # ... then it sells again
    return p, plan


def _val_pred(cv, s: int) -> np.ndarray:
    rows = cv.rows
    return rows.loc[rows["s"] == s, "pred"].to_numpy()


def _test_pred(forecast, s: int) -> np.ndarray:
    return forecast.sales[forecast.s == s]


def test_validation_and_test_forecast_apply_the_zero_rule_at_its_boundary(panel):
    panel, plan = panel
    adapter = ConstantAdapter()
    cv = cross_validate(panel, plan, adapter, ZW)
    np.testing.assert_array_equal(_val_pred(cv, 0), np.zeros(HORIZON))
    np.testing.assert_allclose(_val_pred(cv, 1), FORECAST)
    # series 0 revives in the validation window: the rule, not the data, made its forecast 0
    assert (cv.rows.loc[cv.rows["s"] == 0, "target"] > 0).all()

    adapter.asked.clear()
    forecast = forecast_test(panel, plan, adapter, cv, ZW, refit=True)
    np.testing.assert_array_equal(_test_pred(forecast, 2), np.zeros(HORIZON))
    np.testing.assert_allclose(_test_pred(forecast, 3), FORECAST)
    np.testing.assert_allclose(_test_pred(forecast, 0), FORECAST)  # revived by the test origin
    assert 2 not in adapter.asked and {0, 3} <= adapter.asked  # dead rows never reach the model


def test_zero_window_decides_which_series_are_forecast_zero(panel):
    """One day longer and the quiet series are alive; one day shorter and the others die."""
    panel, plan = panel
    adapter = ConstantAdapter()
    longer = cross_validate(panel, plan, adapter, ZW + 1)
    np.testing.assert_allclose(_val_pred(longer, 0), FORECAST)
    forecast = forecast_test(panel, plan, adapter, longer, ZW + 1, refit=True)
    np.testing.assert_allclose(_test_pred(forecast, 2), FORECAST)

    shorter = cross_validate(panel, plan, adapter, ZW - 1)
    np.testing.assert_array_equal(_val_pred(shorter, 1), np.zeros(HORIZON))
    forecast = forecast_test(panel, plan, adapter, shorter, ZW - 1, refit=False)
    np.testing.assert_array_equal(_test_pred(forecast, 3), np.zeros(HORIZON))


def test_each_fit_trains_on_exactly_its_plans_origins(base_panel):
    plan = make_plan(base_panel.last_train, n_origins=3, stride=7, n_folds=2)
    adapter = ConstantAdapter()
    cv = cross_validate(base_panel, plan, adapter, 56)
    assert adapter.fit_origins == [set(f.train_origins.tolist()) for f in plan.folds]

    forecast = forecast_test(base_panel, plan, adapter, cv, 56, refit=True)
    expected = set((plan.folds[0].train_origins + HORIZON).tolist())
    assert adapter.refit_origins == expected  # fold 1's layout, one horizon later
    # its latest targets end at the test origin, as close to it as the stride (7) allows
    assert plan.test_origin - 7 < max(expected) + HORIZON <= plan.test_origin
    assert forecast.model == "refit" and set(forecast.day - plan.test_origin) == set(
        range(1, HORIZON + 1)
    )

    adapter.refit_origins = None
    kept = forecast_test(base_panel, plan, adapter, cv, 56, refit=False)
    assert adapter.refit_origins is None and kept.model == "fold"  # fold 1's model, as is
