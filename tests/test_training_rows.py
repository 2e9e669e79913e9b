"""The zero rule on the training side: series it declares dead at an origin (`alive` False: no
sale in `zero_window` days) are forecast 0, so they are no training rows either, in any fold's
fit nor in the test refit; `n_train_rows` (metrics.json) counts what the model got."""

from __future__ import annotations

from helpers import LabelAdapter

from store_sales.features import build_features
from store_sales.validation import cross_validate, forecast_test, make_plan

ZERO_WINDOW = 56


class RowsAdapter(LabelAdapter):
    """A LabelAdapter keeping the (origin, series) pairs of every training frame it is given."""

    def __init__(self):
        super().__init__()
        self.trained: list = []  # one frame per fit, then the refit's

    def fit(self, train, valid, features, **kw):
        self.trained.append(train[["origin", "s", "alive"]])
        return super().fit(train, valid, features, **kw)

    def refit(self, train, features, steps):
        self.trained.append(train[["origin", "s", "alive"]])
        return super().refit(train, features, steps)


def test_dead_series_are_left_out_of_every_fit_and_the_refit(panel):
    plan = make_plan(panel.last_train, n_origins=2, stride=7, n_folds=2)
    adapter = RowsAdapter()
    cv = cross_validate(panel, plan, adapter, ZERO_WINDOW)
    forecast_test(panel, plan, adapter, cv, ZERO_WINDOW, refit=True)
    layouts = [f.train_origins for f in plan.folds] + [plan.refit_origins]
    assert len(adapter.trained) == len(layouts) == 3
    for origins, train, fold in zip(layouts, adapter.trained, [*cv.folds, None], strict=True):
        rows = build_features(panel, origins, ZERO_WINDOW, "ids")
        known = rows[rows["target"].notna()]
        dead = known[~known["alive"]]
        assert len(dead) > 0, "the small data must have dead series at these origins"
        assert train["alive"].all()
        got = set(zip(train["origin"], train["s"], strict=True))
        assert not got & set(zip(dead["origin"], dead["s"], strict=True))
        assert len(train) == int(known["alive"].sum())  # every live row, each once
        if fold is not None:
            assert fold.n_train_rows == len(train)
