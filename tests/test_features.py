import numpy as np
import pandas as pd
import pytest

from store_sales.features import build_features, build_panel, feature_names
from store_sales.paths import HORIZON
from store_sales.validation import make_plan


def _features_after_changing_sales(data, origin, day_filter):
    """Rebuild the features for `origin` after scrambling train sales on selected days."""
    train = data.train.copy()
    day = (train["date"] - data.train["date"].iloc[0]).dt.days.to_numpy()
    hit = day_filter(day)
    rng = np.random.default_rng(0)
    train.loc[hit, "sales"] = rng.uniform(0, 5000, hit.sum()).astype("float32")
    changed = type(data)(**{**data.__dict__, "train": train})
    return build_features(build_panel(changed), [origin])


def test_sales_after_the_origin_never_reach_a_feature(data, panel):
    """The test days' sales are unknown; a feature that read them would validate too well."""
    plan = make_plan(panel.last_train, n_origins=4, stride=7)
    origin = plan.val_origin
    before = build_features(panel, [origin])
    after = _features_after_changing_sales(data, origin, lambda d: d > origin)
    pd.testing.assert_frame_equal(before[feature_names()], after[feature_names()])
    # the perturbation is real: the targets (days after the origin) did change
    assert not np.allclose(before["target"], after["target"], equal_nan=True)


def test_the_leak_check_can_fail(data, panel):
    """Scrambling sales up to the origin must move features, or the test above proves nothing."""
    origin = make_plan(panel.last_train, n_origins=4, stride=7).val_origin
    before = build_features(panel, [origin])
    after = _features_after_changing_sales(data, origin, lambda d: d <= origin)
    assert not before[feature_names()].equals(after[feature_names()])


def test_every_origin_sees_only_its_past(panel):
    """Features of training origins are identical whether or not later origins exist."""
    plan = make_plan(panel.last_train, n_origins=3, stride=7)
    together = build_features(panel, plan.origins)
    for origin in plan.train_origins:
        alone = build_features(panel, [origin])
        part = together[together["origin"] == origin].reset_index(drop=True)
        pd.testing.assert_frame_equal(part[feature_names()], alone[feature_names()])


def test_window_features_match_a_plain_computation(data, panel):
    origin = panel.last_train - HORIZON
    rows = build_features(panel, [origin])
    train = data.train.assign(y=np.log1p(data.train["sales"].astype("float64")))
    origin_day = panel.day(origin)
    for s in (0, 5, 40):
        meta = panel.series.iloc[s]
        hist = train[
            (train["store_nbr"] == meta["store_nbr"]) & (train["family"] == meta["family"])
        ]
        hist = hist.set_index("date")["y"]
        known = hist[hist.index <= origin_day]
        got = rows[rows["s"] == s].reset_index(drop=True)
        assert got["mean_28"].iloc[0] == pytest.approx(
            known[known.index > origin_day - pd.Timedelta(days=28)].mean(), rel=1e-5, abs=1e-6
        )
        for h in (1, 9, 16):
            target_day = origin_day + pd.Timedelta(days=h)
            same_dow = known[known.index.day_of_week == target_day.day_of_week].iloc[-4:]
            row = got[got["h"] == h].iloc[0]
            assert row["dow_mean_4w"] == pytest.approx(same_dow.mean(), rel=1e-5, abs=1e-6)
            year_ago = target_day - pd.Timedelta(days=364)
            expected = hist.get(year_ago, np.nan)
            if np.isnan(expected):
                assert np.isnan(row["year_ago"])
            else:
                assert row["year_ago"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
            assert row["target"] == pytest.approx(hist[target_day], rel=1e-5, abs=1e-6)


def test_test_rows_have_no_target_and_carry_known_promotions(data, panel):
    rows = build_features(panel, [panel.last_train])
    assert rows["target"].isna().all()
    assert len(rows) == len(data.test)
    ids = panel.test_id[rows["s"].to_numpy(), rows["day"].to_numpy()]
    promo = data.test.set_index("id").loc[ids, "onpromotion"].to_numpy()
    np.testing.assert_allclose(rows["promo"].to_numpy(), np.log1p(promo), rtol=1e-6)


def test_origin_too_late_is_refused(panel):
    with pytest.raises(ValueError, match="origins must lie"):
        build_features(panel, [panel.last_train + 1])
