import numpy as np
import pandas as pd
import pytest

from store_sales.data import load_data
from store_sales.errors import ConfigError
from store_sales.features import build_panel, feature_names
from store_sales.metrics import by_horizon, cv_summary, rmsle
from store_sales.models.base import FitResult, ModelAdapter, StepEvent
from store_sales.paths import HORIZON
from store_sales.validation import cross_validate, forecast_test, make_plan


def test_rmsle_known_values():
    assert rmsle([0, 0], [0, 0]) == 0
    assert rmsle([np.e - 1], [0]) == pytest.approx(1.0)
    assert rmsle([1, 3], [3, 1]) == pytest.approx(np.log(2))


def test_rmsle_refuses_negative_forecasts():
    with pytest.raises(ValueError, match="non-negative"):
        rmsle([1.0], [-0.5])


def test_plan_mirrors_the_test_and_keeps_validation_targets_out_of_training():
    plan = make_plan(last_train=1000, n_origins=5, stride=7)
    assert plan.test_origin == 1000
    assert plan.val_origin == 1000 - HORIZON
    assert (plan.train_origins + HORIZON <= plan.val_origin).all()
    assert (plan.refit_origins + HORIZON <= plan.test_origin).all()
    # stride 7 keeps training origins on the validation origin's weekday
    assert ((plan.val_origin - plan.train_origins) % 7 == 0).all()
    np.testing.assert_array_equal(plan.refit_origins, plan.train_origins + HORIZON)


def test_folds_step_back_one_horizon_each_with_their_own_honest_origins():
    plan = make_plan(last_train=1000, n_origins=4, stride=14, n_folds=3)
    assert [f.k for f in plan.folds] == [1, 2, 3]
    assert [f.val_origin for f in plan.folds] == [984, 968, 952]
    for fold in plan.folds:
        assert len(fold.train_origins) == 4
        # every training target (origin + 1..16) lies on or before the fold's origin
        assert (fold.train_origins + HORIZON <= fold.val_origin).all()
        # and as close to it as the stride grid allows
        assert fold.train_origins.max() + HORIZON > fold.val_origin - 14
    # the validation windows tile the 48 days before the last train day without overlap
    windows = [set(range(f.val_origin + 1, f.val_origin + HORIZON + 1)) for f in plan.folds]
    assert set.union(*windows) == set(range(953, 1001))
    assert sum(map(len, windows)) == 48
    # the test refit is fold 1's layout moved one horizon later
    np.testing.assert_array_equal(plan.refit_origins, plan.folds[0].train_origins + HORIZON)


def test_plan_without_enough_history_says_what_to_lower():
    with pytest.raises(ConfigError, match="Lower n_folds, n_origins or origin_stride"):
        make_plan(last_train=100, n_origins=20, stride=7)
    make_plan(last_train=200, n_origins=5, stride=14, n_folds=3)  # fits
    with pytest.raises(ConfigError, match="n_folds=9"):
        make_plan(last_train=200, n_origins=5, stride=14, n_folds=9)


class MeanAdapter(ModelAdapter):
    """Predicts the training mean of log1p(sales); records what each fit saw."""

    name = "mean"

    def __init__(self, best_steps):
        self.best_steps = list(best_steps)
        self.fits: list[dict] = []

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()):
        self.fits.append(
            {
                "fold": fold,
                "train_days": train["day"].max(),
                "valid_origin": valid["origin"].iloc[0],
            }
        )
        for step in (1, 2):
            for hook in hooks:
                hook(StepEvent(fold, step, {"val_rmse": 1.0 / step}))
        best = self.best_steps[fold - 1]
        return FitResult(model=float(train["target"].mean()), best_step=best, curves={})

    def refit(self, train, features, steps):
        self.refit_steps = steps
        self.refit_last_day = int(train["day"].max())
        return float(train["target"].mean())

    def predict(self, model, rows, features):
        return np.full(len(rows), model)

    def save(self, model, path):
        return path

    def load(self, path):
        return 0.0


@pytest.fixture(scope="module")
def panel(small_data_dir):
    return build_panel(load_data(small_data_dir))


def test_cross_validation_fits_each_fold_on_its_past_and_refits_on_the_median_steps(panel):
    plan = make_plan(panel.last_train, n_origins=4, stride=14, n_folds=3)
    adapter = MeanAdapter(best_steps=[10, 40, 20])
    seen = []
    cv = cross_validate(panel, plan, adapter, 56, hooks=lambda k: [seen.append])
    assert [f.fold.k for f in cv.folds] == [1, 2, 3]
    for fit, fold in zip(adapter.fits, plan.folds, strict=True):
        assert fit["fold"] == fold.k and fit["valid_origin"] == fold.val_origin
        assert fit["train_days"] <= fold.val_origin  # no training target after the origin
    assert [(e.fold, e.step) for e in seen] == [(k, s) for k in (1, 2, 3) for s in (1, 2)]
    assert cv.refit_steps == 20  # median of 10, 40, 20 (a mean would give 23)
    assert cv.rmsle == cv.folds[0].rmsle
    for result in cv.folds:
        rows = result.rows
        assert (rows["origin"] == result.fold.val_origin).all()
        assert len(rows) == panel.y.shape[0] * HORIZON
        assert (rows.loc[~rows["alive"], "pred"] == 0).all()  # the zero rule
    forecast = forecast_test(panel, plan, adapter, cv, 56, refit=True)
    assert adapter.refit_steps == 20 and forecast.steps == 20
    assert adapter.refit_last_day <= plan.test_origin
    assert adapter.refit_last_day > plan.val_origin  # the refit saw the latest 16 days


def test_a_hook_stop_on_fold_one_ends_the_cv(panel):
    plan = make_plan(panel.last_train, n_origins=4, stride=14, n_folds=3)

    class Stopped(MeanAdapter):
        def fit(self, *args, **kwargs):
            result = super().fit(*args, **kwargs)
            result.stopped = {"stopped_at_round": 2}
            return result

    cv = cross_validate(panel, plan, Stopped([5, 5, 5]), 56)
    assert len(cv.folds) == 1 and cv.n_folds == 3


def test_cv_summary_and_per_horizon_scores():
    summary = cv_summary([0.3, 0.5])
    assert summary["cv_rmsle_mean"] == pytest.approx(0.4)
    assert summary["cv_rmsle_std"] == pytest.approx(0.1)
    assert summary["cv_rmsle_fold_2"] == 0.5
    h = np.tile(np.arange(1, HORIZON + 1), 2)
    actual = np.ones(2 * HORIZON)
    pred = np.where(h == 3, np.e * 2 - 1, 1.0)  # only day 3 is wrong, by log(e) = 1
    oof = pd.DataFrame({"h": h, "fold": np.repeat([1, 2], HORIZON), "actual": actual, "pred": pred})
    table = by_horizon(oof)
    assert table["h"].tolist() == list(range(1, HORIZON + 1))
    assert table.loc[table["h"] == 3, "rmsle"].item() == pytest.approx(1.0)
    assert table.loc[table["h"] != 3, "rmsle"].abs().max() == 0
    assert {"fold_1", "fold_2"} <= set(table.columns)


def test_feature_names_exclude_the_bookkeeping_columns():
    assert not {"s", "origin", "h", "day", "target", "alive"} & set(feature_names())
