"""The next rows are built while a fit trains (validation.cross_validate's `then`): fold k+1's
while fold k fits, the forecast's while the last fold fits; the rows are the ones a build in
the foreground makes, and a forecast that asks for other rows builds its own."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from helpers import LabelAdapter

from store_sales.data import load_data
from store_sales.features import build_panel, select
from store_sales.features.contract import Feature
from store_sales.validation import cross_validate, forecast_test, make_plan

ZW = 56


@pytest.fixture(scope="module")
def panel(small_data_dir):
    return build_panel(load_data(small_data_dir))


class Probe:
    """A feature that records, per origin, the thread it ran on."""

    def __init__(self):
        self.threads: dict[int, set[str]] = {}
        self.running = 0  # calls in progress
        self.overlapped = 0  # calls that started while another was in progress
        self._lock = threading.Lock()

    def __call__(self, known):
        with self._lock:
            self.overlapped += self.running > 0
            self.running += 1
        self.threads.setdefault(int(known.origin), set()).add(threading.current_thread().name)
        time.sleep(0.001)  # long enough for another thread's call to meet this one
        with self._lock:
            self.running -= 1
        return np.zeros(known.y.shape[0], dtype=np.float32)

    def feature(self) -> Feature:
        return Feature("probe", self, "notebook", "records its thread", False)


class WaitsForOrigin(LabelAdapter):
    """A fit that lasts until the probe has seen the origin that comes next (at most 60 s)."""

    def __init__(self, probe: Probe, next_origin: dict[int, int]):
        super().__init__()
        self.probe, self.next_origin, self.seen = probe, next_origin, {}

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()):
        wanted = self.next_origin[fold]
        deadline = time.monotonic() + 60
        while wanted not in self.probe.threads and time.monotonic() < deadline:
            time.sleep(0.02)
        self.seen[fold] = set(self.probe.threads.get(wanted, ()))
        return super().fit(train, valid, features, fold=fold, hooks=hooks, callbacks=callbacks)


def test_the_next_rows_are_built_while_a_fold_trains(panel):
    plan = make_plan(panel.last_train, n_origins=3, stride=7, n_folds=2)
    probe = Probe()
    chosen = [*select("default"), probe.feature()]
    then = plan.forecast_origins(refit=True)
    # fold 1 waits for fold 2's validation origin, fold 2 for the test origin
    adapter = WaitsForOrigin(probe, {1: plan.folds[1].val_origin, 2: plan.test_origin})
    cv = cross_validate(panel, plan, adapter, ZW, features=chosen, then=then)
    assert adapter.seen == {1: {"next-rows"}, 2: {"next-rows"}}
    assert probe.threads[plan.val_origin] == {threading.main_thread().name}  # nothing to overlap
    assert probe.overlapped == 0  # one thread at a time

    forecast = forecast_test(panel, plan, adapter, cv, ZW, refit=True, features=chosen)
    assert cv.upcoming is None  # handed over once
    assert probe.threads[plan.test_origin] == {"next-rows"}  # not built a second time

    # the same forecast as rows built in the foreground
    plain = cross_validate(panel, plan, LabelAdapter(), ZW, features=chosen)
    again = forecast_test(panel, plan, LabelAdapter(), plain, ZW, refit=True, features=chosen)
    assert plain.upcoming is None
    np.testing.assert_array_equal(forecast.ids, again.ids)
    np.testing.assert_array_equal(forecast.sales, again.sales)
    for a, b in zip(cv.folds, plain.folds, strict=True):
        assert a.rows.equals(b.rows)


def test_a_forecast_that_needs_other_rows_builds_them(panel):
    plan = make_plan(panel.last_train, n_origins=3, stride=7)
    probe = Probe()
    chosen = [*select("default"), probe.feature()]
    cv = cross_validate(
        panel, plan, LabelAdapter(), ZW, features=chosen, then=plan.forecast_origins(True)
    )
    kept = forecast_test(panel, plan, LabelAdapter(), cv, ZW, refit=False, features=chosen)
    # the background's rows (refit and test origins) do not fit: waited for, then the
    # forecast built its own, never beside them
    assert probe.threads[plan.test_origin] == {"next-rows", threading.main_thread().name}
    assert probe.overlapped == 0
    assert len(kept.ids) > 0 and set(kept.day) == set(
        range(plan.test_origin + 1, plan.test_origin + 17)
    )


def test_a_failing_feature_in_the_background_fails_where_its_rows_are_used(panel):
    plan = make_plan(panel.last_train, n_origins=3, stride=7, n_folds=2)

    def broken(known):
        if known.origin == plan.folds[1].val_origin:
            raise ValueError("no such day")
        return np.zeros(known.y.shape[0], dtype=np.float32)

    chosen = [*select("default"), Feature("broken", broken, "notebook", "", False)]
    adapter = LabelAdapter()
    with pytest.raises(Exception, match="broken"):
        cross_validate(panel, plan, adapter, ZW, features=chosen)
    assert adapter.fits == [1]  # fold 1 trained; fold 2 never started
