import numpy as np
import pytest

from store_sales.config import HORIZON
from store_sales.validation import make_plan, rmsle


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


def test_plan_without_enough_history_says_what_to_lower():
    with pytest.raises(ValueError, match="Lower n_origins or origin_stride"):
        make_plan(last_train=100, n_origins=20, stride=7)
