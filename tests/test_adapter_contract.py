"""The model adapter contract, for every template's model as its notebook builds it (the package's
adapters and the ones written in a notebook: exp004's CatBoost, exp005's Estimator): the best step
kept, a refit of exactly N steps, a save/load round trip, determinism, hooks on every step,
StopTraining.

Per-library behaviour (categories in XGBoost, the network's inputs, ...) stays in the library's
own test file; this one asks only what the pipeline relies on.
"""

from __future__ import annotations

import numpy as np
import pytest

from store_sales import templates
from store_sales.features import build_features, feature_names
from store_sales.models.base import FitResult, StepEvent, StopTraining
from store_sales.templates import TEMPLATES
from store_sales.validation import _train_rows, make_plan

# small, fast settings per template: a few dozen steps on one thread
SMALL = {
    "exp001": {"num_boost_round": 60, "early_stopping_rounds": 5, "learning_rate": 0.3},
    "exp002": {"num_boost_round": 60, "early_stopping_rounds": 5, "learning_rate": 0.3},
    "exp003": {"max_epochs": 4, "patience": 1, "batch_size": 512, "log_every": 0},
    "exp004": {"iterations": 60, "early_stopping_rounds": 5, "learning_rate": 0.3},
    "exp005": {"max_iter": 60, "early_stopping_rounds": 5, "learning_rate": 0.3},
}
NAMES = sorted(TEMPLATES)


def test_every_model_template_has_small_settings_here():
    assert set(NAMES) <= set(SMALL), "add the new template's small settings to SMALL"


@pytest.fixture(scope="module")
def rows(panel):
    plan = make_plan(panel.last_train, n_origins=4, stride=14)
    fold = plan.folds[0]
    frame = build_features(panel, np.sort(np.append(fold.train_origins, fold.val_origin)))
    val = frame[(frame["origin"].to_numpy() == fold.val_origin) & frame["alive"].to_numpy()]
    return _train_rows(frame, fold.train_origins), val, feature_names()


def _adapter(name: str):
    config = TEMPLATES[name].config
    quiet = {"log_period": 0} if "log_period" in config.__dataclass_fields__ else {}
    return templates.adapter(name, config(**SMALL[name], **quiet, num_threads=1))


def _rmse(pred, frame) -> float:
    return float(np.sqrt(np.mean((pred - frame["target"].to_numpy()) ** 2)))


@pytest.fixture(scope="module", params=NAMES)
def fitted(request, rows):
    train, val, features = rows
    adapter = _adapter(request.param)
    events: list[StepEvent] = []
    fit = adapter.fit(train, val, features, fold=2, hooks=[events.append])
    return request.param, adapter, fit, events


def test_the_fit_keeps_its_best_step_and_predicts_with_it(fitted, rows):
    _, adapter, fit, _ = fitted
    _, val, features = rows
    assert isinstance(fit, FitResult) and fit.stopped is None
    curve = fit.curves["val_rmse"]
    assert fit.best_step == int(np.argmin(curve)) + 1
    pred = adapter.predict(fit.model, val, features)
    assert pred.shape == (len(val),) and np.isfinite(pred).all()
    assert _rmse(pred, val) == pytest.approx(curve[fit.best_step - 1], rel=1e-4)


def test_hooks_see_every_step_with_its_validation_score(fitted):
    _, _, fit, events = fitted
    steps = [e for e in events if e.scope == "step"]
    assert [e.step for e in steps] == list(range(1, len(fit.curves["val_rmse"]) + 1))
    assert {e.fold for e in steps} == {2}
    assert [e.values["val_rmse"] for e in steps] == pytest.approx(fit.curves["val_rmse"])


def test_refit_trains_exactly_the_steps_asked(fitted, rows):
    _, adapter, _, _ = fitted
    train, val, features = rows
    model = adapter.refit(train, features, 2)
    assert adapter.steps(model) == 2
    assert np.isfinite(adapter.predict(model, val, features)).all()


def test_save_and_load_predict_the_same(fitted, rows, tmp_path):
    _, adapter, fit, _ = fitted
    _, val, features = rows
    path = adapter.save(fit.model, tmp_path / adapter.model_file)
    assert path.is_file()
    again = adapter.load(path)
    np.testing.assert_allclose(
        adapter.predict(again, val, features), adapter.predict(fit.model, val, features), rtol=1e-6
    )


def test_the_same_settings_give_the_same_model(fitted, rows):
    name, adapter, fit, _ = fitted
    train, val, features = rows
    other = _adapter(name).fit(train, val, features)
    np.testing.assert_allclose(
        adapter.predict(other.model, val, features),
        adapter.predict(fit.model, val, features),
        rtol=1e-6,
    )


def test_a_hook_that_stops_training_ends_the_fit_there(fitted, rows):
    name, _, _, _ = fitted
    train, val, features = rows

    def stop_at_2(event: StepEvent) -> None:
        if event.scope == "step" and event.step == 2:
            raise StopTraining({"stopped_at_round": 2})

    fit = _adapter(name).fit(train, val, features, hooks=[stop_at_2])
    assert fit.stopped == {"stopped_at_round": 2}
    # the curve ends at the stop (LightGBM and PyTorch cut it at the best step so far)
    assert 1 <= len(fit.curves["val_rmse"]) <= 2 and fit.best_step <= len(fit.curves["val_rmse"])


def test_importance_is_a_share_per_feature_or_none(fitted, rows):
    _, adapter, fit, _ = fitted
    importance = adapter.feature_importance(fit.model)
    if importance is not None:
        assert set(importance.index) <= set(rows[2])
        assert importance.sum() == pytest.approx(1.0) and (importance >= 0).all()


# ---- one training path: an edit of the model cell's training call reaches the refit -----------
# Each template's model cell edited as a user would: another objective or an extra parameter in
# the training call (or the adapter's settings, for exp003's package network). (old, new, the
# settings key, the value the edit sets there).
EDITS = {
    "exp001": (
        "        return lgb.train(",
        '        params = {**params, "objective": "huber"}\n        return lgb.train(',
        "objective",
        "huber",
    ),
    "exp002": (
        "        return xgb.train(",
        '        params = {**params, "objective": "reg:pseudohubererror"}\n'
        "        return xgb.train(",
        "learner.objective.name",
        "reg:pseudohubererror",
    ),
    "exp003": (
        "adapter = TorchMLPAdapter(cfg)",
        "from dataclasses import replace\n\nadapter = TorchMLPAdapter(replace(cfg, dropout=0.25))",
        "dropout",
        0.25,
    ),
    "exp005": (
        "    l2_regularization=cfg.l2_regularization,",
        '    l2_regularization=0.5,\n    loss="absolute_error",',
        "loss",
        "absolute_error",
    ),
    "exp004": (
        "        model = CatBoostRegressor(\n            **self.params,",
        '        model = CatBoostRegressor(\n            **{**self.params, "l2_leaf_reg": 7.5},',
        "l2_leaf_reg",
        7.5,
    ),
}


def test_every_model_template_has_an_edit_of_its_training_call_here():
    assert set(NAMES) <= set(EDITS), "add the new template's model-cell edit to EDITS"


def _edited_adapter(name: str):
    old, new, _, _ = EDITS[name]
    (source,) = templates.cells(TEMPLATES[name].notebook, "model")
    assert old in source, f"{name}'s model cell changed: update EDITS"
    config = TEMPLATES[name].config
    quiet = {"log_period": 0} if "log_period" in config.__dataclass_fields__ else {}
    namespace = {"cfg": config(**SMALL[name], **quiet, num_threads=1), "__name__": "__main__"}
    exec(compile(source.replace(old, new), f"{name}[model, edited]", "exec"), namespace)
    return namespace["adapter"]


@pytest.mark.parametrize("name", NAMES)
def test_an_edit_of_the_training_call_reaches_the_refit_and_its_saved_model(name, rows, tmp_path):
    _, _, key, value = EDITS[name]
    train, val, features = rows
    adapter = _edited_adapter(name)
    fit = adapter.fit(train, val, features)
    # later rows, as the pipeline's refit has: what the data alone sets may differ, no setting
    refit = adapter.refit(train.iloc[len(train) // 3 :], features, fit.best_step)
    assert adapter.settings(fit.model)[key] == value
    assert adapter.settings(refit) == adapter.settings(fit.model)  # the pipeline checks this
    assert adapter.steps(refit) == fit.best_step
    saved = adapter.settings(adapter.load(adapter.save(refit, tmp_path / adapter.model_file)))
    assert saved[key] == value


@pytest.mark.parametrize("name", NAMES)
def test_the_adapter_gives_the_models_name_and_step_budget(name):
    adapter = _adapter(name)
    assert adapter.name == TEMPLATES[name].model  # read from the model cell, before any kernel
    assert adapter.max_steps == max(
        v
        for k, v in SMALL[name].items()
        if k in ("num_boost_round", "max_epochs", "iterations", "max_iter")
    )


def test_exp001s_refit_bins_its_rows_with_fold_1s_boundaries(rows):
    train, val, features = rows
    adapter = _adapter("exp001")
    sets = []
    own_train = adapter.train
    adapter.train = lambda params, train_set, *a, **k: (
        sets.append(train_set) or own_train(params, train_set, *a, **k)
    )
    adapter.fit(train, val, features, fold=1)
    model = adapter.refit(train, features, 3)
    assert sets[1].reference is sets[0]  # no bin search of its own
    assert adapter.steps(model) == 3
    adapter.refit(train, features, 3)  # once only: a second refit bins its own rows
    assert sets[2].reference is None
