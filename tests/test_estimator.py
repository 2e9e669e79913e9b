"""models/estimator.py: any scikit-learn-API regressor behind the adapter seam.

HistGradientBoosting grows in warm-started chunks and keeps exactly its best step; Ridge (in a
Pipeline) is one fit, one step; LightGBM's, XGBoost's and CatBoost's sklearn classes stop early
on their own eval sets. Plus exp005 end to end (e2e): run, leaderboard, blend.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import QUICK

from store_sales import cli, runner
from store_sales.features import build_features, feature_names
from store_sales.models import estimator as est_module
from store_sales.models.base import StepEvent, StopTraining
from store_sales.models.estimator import Estimator, estimator_label, kind_of
from store_sales.validation import _train_rows, make_plan

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402


@pytest.fixture(scope="module")
def rows(panel):
    plan = make_plan(panel.last_train, n_origins=4, stride=14)
    fold = plan.folds[0]
    frame = build_features(panel, np.sort(np.append(fold.train_origins, fold.val_origin)))
    val = frame[(frame["origin"].to_numpy() == fold.val_origin) & frame["alive"].to_numpy()]
    return _train_rows(frame, fold.train_origins), val, feature_names()


def _hgb(**kw):
    params = {"learning_rate": 0.3, "max_iter": 60, "random_state": 0, **kw}
    return HistGradientBoostingRegressor(**params)


def _rmse(pred, frame) -> float:
    return float(np.sqrt(np.mean((pred - frame["target"].to_numpy()) ** 2)))


# ---- labels, kinds, imports -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("HistGradientBoostingRegressor", "histgradientboosting"),
        ("Ridge", "ridge"),
        ("LGBMRegressor", "lgbm"),
        ("CatBoostRegressor", "catboost"),
        ("Regressor", "regressor"),
    ],
)
def test_the_label_is_the_class_name_without_regressor_lowercased(name, label):
    assert estimator_label(name) == label


def test_importing_the_module_imports_no_model_library():
    code = (
        "import sys; import store_sales.models.estimator as e; "
        "print(e.estimator_label('HistGradientBoostingRegressor')); "
        "libs = ('sklearn', 'lightgbm', 'xgboost', 'catboost'); "
        "print(sorted(m for m in libs if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["histgradientboosting", "[]"]


def test_a_pipeline_is_named_by_its_last_step_and_fit_once():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    adapter = Estimator(make_pipeline(StandardScaler(), Ridge()))
    assert adapter.name == "ridge" and adapter.kind == "single" and adapter.max_steps == 1
    assert Estimator(Ridge(), name="mine").name == "mine"
    assert kind_of(_hgb()) == "grow" and Estimator(_hgb()).max_steps == 60


# ---- HistGradientBoosting: warm-started growth ---------------------------------------------


@pytest.fixture(scope="module")
def hgb_fit(rows):
    train, val, features = rows
    adapter = Estimator(_hgb(), patience=5, threads=1)
    events: list[StepEvent] = []
    fit = adapter.fit(train, val, features, fold=1, hooks=[events.append])
    return adapter, fit, events


def test_growth_in_chunks_is_one_fit_of_as_many_steps(rows):
    """The ground for one training path: warm-started growth (the fits) builds the very trees of
    one fit of that many steps (the refit's way)."""
    train, val, features = rows
    X, y = train[features], train["target"]
    grown = clone(_hgb()).set_params(warm_start=True, early_stopping=False, max_iter=10).fit(X, y)
    for steps in (25, 37):
        grown.set_params(max_iter=steps).fit(X, y)
    once = clone(_hgb()).set_params(early_stopping=False, max_iter=37).fit(X, y)
    np.testing.assert_array_equal(grown.predict(val[features]), once.predict(val[features]))


def test_the_best_step_is_kept_exactly(hgb_fit, rows):
    adapter, fit, _ = hgb_fit
    train, val, features = rows
    curve = fit.curves["val_rmse"]
    assert fit.best_step == int(np.argmin(curve)) + 1 and fit.stopped is None
    assert len(curve) == fit.best_step + 5  # stopped when patience ran out, not at a chunk end
    assert adapter.steps(fit.model) == fit.best_step
    pred = adapter.predict(fit.model, val, features)
    assert _rmse(pred, val) == pytest.approx(curve[fit.best_step - 1], rel=1e-9)
    # the same trees as one fit of best_step steps
    once = clone(_hgb()).set_params(early_stopping=False, max_iter=fit.best_step)
    once.fit(train[features], train["target"])
    np.testing.assert_array_equal(once.predict(val[features]), pred)
    assert fit.model.get_params()["warm_start"] is False


def test_curves_have_train_and_val_and_hooks_see_every_step(hgb_fit):
    _, fit, events = hgb_fit
    assert [e.step for e in events] == list(range(1, len(fit.curves["val_rmse"]) + 1))
    assert [e.values["val_rmse"] for e in events] == fit.curves["val_rmse"]
    assert [e.values["train_rmse"] for e in events] == fit.curves["train_rmse"]
    assert fit.curves["train_rmse"][-1] < fit.curves["train_rmse"][0]


def test_refit_has_exactly_the_steps_and_the_fits_settings(hgb_fit, rows):
    adapter, fit, _ = hgb_fit
    train, _, features = rows
    model = adapter.refit(train, features, 7)
    assert adapter.steps(model) == 7
    assert adapter.settings(model) == adapter.settings(fit.model)
    settings = adapter.settings(model)
    assert settings["learning_rate"] == 0.3 and "max_iter" not in settings
    assert "warm_start" not in settings and "early_stopping" not in settings
    assert adapter.threads_used == {"fit_1": [1], "refit": [1]}


def test_a_stop_from_a_hook_ends_the_fit_with_the_best_so_far(rows):
    train, val, features = rows
    curve_of_full = Estimator(_hgb(), patience=5, threads=1).fit(train, val, features)

    def stop_at_3(event):
        if event.step == 3:
            raise StopTraining({"stopped_at_round": 3})

    adapter = Estimator(_hgb(), patience=5, threads=1)
    fit = adapter.fit(train, val, features, hooks=[stop_at_3])
    assert fit.stopped == {"stopped_at_round": 3} and len(fit.curves["val_rmse"]) == 3
    assert fit.curves["val_rmse"] == curve_of_full.curves["val_rmse"][:3]
    assert fit.best_step == int(np.argmin(fit.curves["val_rmse"])) + 1
    assert adapter.steps(fit.model) == fit.best_step


def test_save_load_and_determinism(hgb_fit, rows, tmp_path):
    adapter, fit, _ = hgb_fit
    train, val, features = rows
    path = adapter.save(fit.model, tmp_path / adapter.model_file)
    assert path.name == "model.joblib"
    again = adapter.load(path)
    np.testing.assert_array_equal(
        adapter.predict(again, val, features), adapter.predict(fit.model, val, features)
    )
    other = Estimator(_hgb(), patience=5, threads=1).fit(train, val, features, fold=1)
    assert other.curves == fit.curves and other.best_step == fit.best_step
    assert adapter.feature_importance(fit.model) is None  # HistGradientBoosting has none


def test_small_chunks_give_the_same_fit(rows, monkeypatch):
    """Chunk sizes change the cost only: the curves, best step and model are the same."""
    train, val, features = rows
    base = Estimator(_hgb(), patience=5, threads=1).fit(train, val, features)
    monkeypatch.setattr(est_module, "MIN_CHUNK", 1)
    monkeypatch.setattr(est_module, "GROWTH", 0.0)
    adapter = Estimator(_hgb(), patience=5, threads=1)
    fit = adapter.fit(train, val, features)
    assert fit.curves == base.curves and fit.best_step == base.best_step
    np.testing.assert_array_equal(
        adapter.predict(fit.model, val, features), adapter.predict(base.model, val, features)
    )


@pytest.mark.parametrize("kind", ["gradientboosting", "randomforest"])
def test_estimators_with_n_estimators_grow_too(kind, rows):
    """GradientBoosting's trees cannot be cut: its best model is grown again from the snapshot
    before the best step; a forest's are cut. Either way: exactly one fit of best_step steps."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    train, val, features = rows
    numeric = [c for c in features if str(train[c].dtype) != "category"]
    numeric = [c for c in numeric if not train[c].isna().any() and not val[c].isna().any()]
    if kind == "gradientboosting":
        estimator = GradientBoostingRegressor(n_estimators=60, learning_rate=0.3, random_state=0)
    else:
        estimator = RandomForestRegressor(n_estimators=30, max_depth=5, random_state=0)
    adapter = Estimator(estimator, patience=3, threads=1)
    assert adapter.kind == "grow" and adapter.name == kind
    fit = adapter.fit(train, val, numeric)
    curve = fit.curves["val_rmse"]
    assert fit.best_step == int(np.argmin(curve)) + 1 and adapter.steps(fit.model) == fit.best_step
    pred = adapter.predict(fit.model, val, numeric)
    assert _rmse(pred, val) == pytest.approx(curve[fit.best_step - 1], rel=1e-9)
    once = adapter.refit(train, numeric, fit.best_step)
    np.testing.assert_allclose(adapter.predict(once, val, numeric), pred, rtol=1e-12)
    assert adapter.settings(once) == adapter.settings(fit.model)


# ---- one fit, one step ----------------------------------------------------------------------


def test_ridge_is_one_fit_one_step(rows):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    train, val, features = rows
    numeric = [c for c in features if str(train[c].dtype) != "category"]
    adapter = Estimator(make_pipeline(SimpleImputer(), Ridge(alpha=10.0)), patience=5, threads=1)
    events = []
    fit = adapter.fit(train, val, numeric, hooks=[events.append])
    assert fit.best_step == 1 and [e.step for e in events] == [1]
    assert fit.curves["val_rmse"] == [
        pytest.approx(_rmse(adapter.predict(fit.model, val, numeric), val))
    ]
    model = adapter.refit(train, numeric, 1)
    assert adapter.steps(model) == 1 and adapter.settings(model) == adapter.settings(fit.model)
    assert adapter.settings(model)["ridge__alpha"] == 10.0


# ---- the GBDT libraries' sklearn classes: their own early stopping ---------------------------


def _library(name):
    if name == "lightgbm":
        lgb = pytest.importorskip("lightgbm")
        return lgb.LGBMRegressor(n_estimators=60, learning_rate=0.3, verbose=-1, random_state=0)
    if name == "xgboost":
        xgb = pytest.importorskip("xgboost")
        return xgb.XGBRegressor(
            n_estimators=60, learning_rate=0.3, enable_categorical=True, random_state=0
        )
    cb = pytest.importorskip("catboost")
    return cb.CatBoostRegressor(
        iterations=60, learning_rate=0.3, random_seed=0, allow_writing_files=False
    )


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_a_gbdt_library_stops_on_its_eval_set(library, rows, tmp_path):
    train, val, features = rows
    adapter = Estimator(_library(library), patience=5, threads=1)
    assert adapter.kind == library and adapter.max_steps == 60
    events = []
    fit = adapter.fit(train, val, features, fold=2, hooks=[events.append])
    curve = fit.curves["val_rmse"]
    assert fit.best_step == int(np.argmin(curve)) + 1 and len(curve) <= fit.best_step + 5
    assert [e.step for e in events] == list(range(1, len(curve) + 1))
    assert [e.values["val_rmse"] for e in events] == pytest.approx(curve)
    pred = adapter.predict(fit.model, val, features)
    assert _rmse(pred, val) == pytest.approx(curve[fit.best_step - 1], rel=1e-4)
    model = adapter.refit(train, features, 4)
    assert adapter.steps(model) == 4 and adapter.settings(model) == adapter.settings(fit.model)
    again = adapter.load(adapter.save(fit.model, tmp_path / adapter.model_file))
    np.testing.assert_allclose(adapter.predict(again, val, features), pred, rtol=1e-6)
    assert adapter.feature_importance(fit.model).sum() == pytest.approx(1.0)

    def stop_at_2(event):
        if event.step == 2:
            raise StopTraining({"stopped_at_round": 2})

    stopped = Estimator(_library(library), patience=5, threads=1).fit(
        train, val, features, hooks=[stop_at_2]
    )
    assert stopped.stopped == {"stopped_at_round": 2}
    assert 1 <= len(stopped.curves["val_rmse"]) <= 2


# ---- exp005 end to end ----------------------------------------------------------------------


@pytest.mark.e2e
def test_exp005_runs_end_to_end_and_blends_with_exp001(small_data_dir, tmp_path, capsys):
    common = {"data_dir": str(small_data_dir), "tracker": "none"}
    runs = tmp_path / "runs"
    exp005 = runner.run(
        "exp005",
        {**QUICK["exp005"], **common, "output_dir": str(runs / "exp005")},
        log_output=False,
    )
    metrics = json.loads((exp005 / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["model"] == "histgradientboosting"
    assert metrics["refit"] is True and metrics["refit_steps"] >= 1
    assert (exp005 / "submission.csv").is_file() and (exp005 / "model.joblib").is_file()
    exp001 = runner.run(
        "exp001",
        {**QUICK["exp001"], **common, "output_dir": str(runs / "exp001")},
        log_output=False,
    )
    # the leaderboard lists it
    capsys.readouterr()
    assert cli.main(["runs", str(runs), "--format", "json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert {r["template"] for r in board} >= {"exp005", "exp001"}
    # a blend with another template's run
    out = tmp_path / "blend"
    runner.run(
        "blend",
        {"members": f"{exp005},{exp001}", "tracker": "none", "output_dir": str(out)},
        log_output=False,
    )
    blended = json.loads((out / "metrics.json").read_text())
    assert blended["status"] == "finished"
    assert blended["cv_rmsle_mean"] <= metrics["cv_rmsle_mean"] + 1e-6


@pytest.mark.e2e
def test_exp005_tunes_two_trials_with_its_shipped_space(small_data_dir, tmp_path):
    """`store-sales tune exp005 --trials 2`: configs/sweep_exp005.yaml is its default space."""
    import os

    from store_sales import leaderboard

    cmd = [str(Path(sys.executable).parent / "store-sales"), "tune", "exp005", "--trials", "2"]
    cmd += ["--study", "e5", "--pruner", "none", "--seed", "0"]
    fast = {"data_dir": small_data_dir, "n_origins": 6, "num_threads": 1, "max_iter": 120}
    for name, value in {**fast, "early_stopping_rounds": 20}.items():
        cmd += ["-p", name, str(value)]
    env = {**os.environ, "STORE_SALES_OUTPUTS": str(tmp_path / "outputs")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    folder = tmp_path / "outputs" / "tune" / "e5"
    table = (folder / "results.csv").read_text().splitlines()
    assert len(table) == 3 and all(",complete," in line for line in table[1:])
    assert len(leaderboard.scan(folder)) == 2
