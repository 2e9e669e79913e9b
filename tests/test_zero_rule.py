"""The zero rule: a series with no sale in the `zero_window` days up to and including the origin
is forecast 0 and never reaches the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from store_sales.data import load_data
from store_sales.features import build_features, build_panel
from store_sales.models.base import FitResult, ModelAdapter

WINDOW = 28
SALE = np.float32(np.log1p(5.0))  # panel.y is log1p(sales)


@pytest.fixture
def panel(data_copy):
    return build_panel(load_data(data_copy))


def _alive_by_series(panel, origin: int, zero_window: int) -> dict[int, bool]:
    rows = build_features(panel, [origin], zero_window=zero_window)
    alive = rows.groupby("s")["alive"].agg(["all", "any"])
    assert (alive["all"] == alive["any"]).all(), "alive must not vary with the horizon day"
    return {int(s): bool(v) for s, v in alive["all"].items()}


def _only_sale_at(panel, s: int, *days: int) -> None:
    """Series `s` known to sell nothing on every train day except `days`."""
    panel.y[s, : panel.last_train + 1] = 0.0
    for day in days:
        panel.y[s, day] = SALE


def test_alive_is_a_sale_within_zero_window_days_up_to_the_origin(panel):
    origin = panel.last_train - 40  # leaves days after the origin with known sales
    assert origin - WINDOW - 1 >= 0
    edge, outside, at_origin, after_only = 0, 1, 2, 3
    _only_sale_at(panel, edge, origin - (WINDOW - 1))  # first day of the window
    _only_sale_at(panel, outside, origin - WINDOW, origin + 1)  # day before it; then the future
    _only_sale_at(panel, at_origin, origin)  # the origin itself counts
    _only_sale_at(panel, after_only, origin + 1, origin + 16)  # sales after it do not

    alive = _alive_by_series(panel, origin, WINDOW)
    assert alive[edge] is True
    assert alive[outside] is False
    assert alive[at_origin] is True
    assert alive[after_only] is False

    # one day longer and the sale outside comes in; one day shorter and the edge drops out
    longer = _alive_by_series(panel, origin, WINDOW + 1)
    assert longer[edge] is True and longer[outside] is True
    shorter = _alive_by_series(panel, origin, WINDOW - 1)
    assert shorter[edge] is False and shorter[outside] is False
    assert shorter[at_origin] is True


def test_unknown_days_are_not_sales(panel):
    """NaN (a closed day, Dec 25) inside the window is no sale; it does not keep a series alive."""
    origin = panel.last_train - 40
    panel.y[0, : panel.last_train + 1] = 0.0
    panel.y[0, origin - WINDOW + 1 : origin + 1] = np.nan
    panel.y[0, origin - WINDOW] = SALE
    assert _alive_by_series(panel, origin, WINDOW)[0] is False


def test_the_window_moves_with_each_origin(panel):
    origin = panel.last_train - 40
    _only_sale_at(panel, 0, origin - (WINDOW - 1))
    rows = build_features(panel, [origin, origin + 1], zero_window=WINDOW)
    first = rows[rows["s"] == 0].groupby("origin")["alive"].all()
    assert first.to_dict() == {origin: True, origin + 1: False}


# ---- predict_sales ------------------------------------------------------------------------------


class RecordingAdapter(ModelAdapter):
    """Predicts the `f` column as log1p(sales) and records every call."""

    name = "recording"

    def __init__(self):
        self.calls: list[tuple[object, pd.DataFrame, list[str]]] = []

    def predict(self, model, rows, features):
        self.calls.append((model, rows.copy(), list(features)))
        return rows["f"].to_numpy(dtype=np.float64)

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()) -> FitResult:
        raise NotImplementedError

    def refit(self, train, features, steps):
        raise NotImplementedError

    def save(self, model, path):
        raise NotImplementedError

    def load(self, path):
        raise NotImplementedError


def test_predict_sales_zeroes_dead_rows_and_never_asks_the_model_about_them():
    from store_sales.validation import predict_sales  # lazily: the rest runs without it

    rows = pd.DataFrame(
        {
            "alive": [True, False, True, False, True, True],
            "f": [np.log1p(3.0), 9.0, -0.7, -2.0, 0.0, np.log1p(120.5)],
            "tag": ["a", "dead1", "c", "dead2", "e", "f"],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    adapter, model = RecordingAdapter(), object()
    out = np.asarray(predict_sales(adapter, model, rows, ["f"]), dtype=np.float64)

    # alive: expm1 of the clipped log forecast; dead: 0 whatever the model would say
    np.testing.assert_allclose(out, [3.0, 0.0, 0.0, 0.0, 0.0, 120.5], rtol=1e-6, atol=1e-9)
    asked = pd.concat([call[1] for call in adapter.calls])
    assert asked["alive"].all()
    assert sorted(asked["tag"]) == ["a", "c", "e", "f"]
    assert all(m is model and feats == ["f"] for m, _, feats in adapter.calls)


def test_predict_sales_with_every_row_dead_is_all_zeros():
    from store_sales.validation import predict_sales

    rows = pd.DataFrame({"alive": [False, False], "f": [4.0, 5.0]})
    adapter = RecordingAdapter()
    out = np.asarray(predict_sales(adapter, object(), rows, ["f"]), dtype=np.float64)
    np.testing.assert_array_equal(out, [0.0, 0.0])
    assert sum(len(call[1]) for call in adapter.calls) == 0
