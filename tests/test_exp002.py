"""exp002 (XGBoost): the adapter on tiny frames, its config and sweep file, and one offline run
end to end through papermill (what it writes, and what W&B records)."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from helpers import by_type, isolate_wandb, leet_records

from store_sales import runner, templates
from store_sales.errors import ConfigError
from store_sales.models.base import StepEvent, StopTraining
from store_sales.models.xgboost import XGBoostAdapter
from store_sales.sweep import spec
from store_sales.templates import TEMPLATES
from store_sales.templates.exp002 import Exp002Config

FEATURES = ["x1", "x2", "shop"]
SHOPS = list("abcdefgh")  # "h" never occurs in training


def make_adapter(cfg):
    """The adapter the template's notebook builds (its model cell)."""
    return templates.adapter("exp002", cfg)


def _frame(n: int, seed: int, shops=SHOPS[:-1]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shop = rng.choice(shops, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    effect = np.isin(shop, ["b", "d", "f"]) * 1.5  # not monotone in the category codes
    target = 2 + x1 + 0.5 * np.sin(3 * x2) + effect + rng.normal(scale=0.5, size=n)
    return pd.DataFrame(
        {
            "x1": x1.astype(np.float32),
            "x2": x2.astype(np.float32),
            "shop": pd.Categorical(shop, categories=SHOPS),
            "target": target,
        }
    )


@pytest.fixture(scope="module")
def train():
    return _frame(3000, 0)


@pytest.fixture(scope="module")
def valid():
    return _frame(1000, 1)


def _adapter(rounds=400, patience=10, **params) -> XGBoostAdapter:
    base = {"objective": "reg:squarederror", "eta": 0.3, "max_depth": 4, "nthread": 1, "seed": 7}
    return XGBoostAdapter({**base, **params}, rounds, patience, log_period=0)


def _rmse(pred, frame) -> float:
    return float(np.sqrt(np.mean((pred - frame["target"].to_numpy()) ** 2)))


@pytest.fixture(scope="module")
def fitted(train, valid):
    events: list[StepEvent] = []
    adapter = _adapter()
    result = adapter.fit(train, valid, FEATURES, fold=3, hooks=[events.append])
    return adapter, result, events


# ---- fit, early stopping, refit, predict ------------------------------------------------------


def test_early_stopping_keeps_the_best_round_and_the_whole_curve(fitted, valid):
    adapter, result, _ = fitted
    val = result.curves["val_rmse"]
    assert set(result.curves) == {"train_rmse", "val_rmse"}
    assert len(result.curves["train_rmse"]) == len(val) < 400  # it stopped early
    assert result.best_step == int(np.argmin(val)) + 1
    assert len(val) == result.best_step + 10  # the patience after the best round
    assert result.stopped is None
    # predict uses the best round's model, not every tree the booster holds
    assert result.model.num_boosted_rounds() == len(val)
    pred = adapter.predict(result.model, valid, FEATURES)
    assert _rmse(pred, valid) == pytest.approx(val[result.best_step - 1], rel=1e-5)


# ---- a hook stops training (hyperband) --------------------------------------------------------


class _Recorder(xgb.callback.TrainingCallback):
    """Stands in for a tracker's library callback (W&B's WandbCallback): which rounds it saw."""

    def __init__(self, log: list):
        super().__init__()
        self.log = log

    def after_iteration(self, model, epoch, evals_log):
        self.log.append(("library", epoch + 1))
        return False


def test_a_hook_stop_ends_at_the_best_round_so_far_with_consistent_curves(train, valid):
    order: list = []

    def hook(event):
        order.append(("hook", event.step))
        if event.step == 6:
            raise StopTraining({"stopped_at_round": 6})

    adapter = _adapter(eta=0.05)  # still improving at round 6: the stop, not patience, ends it
    result = adapter.fit(train, valid, FEATURES, hooks=[hook], callbacks=[_Recorder(order)])
    val = result.curves["val_rmse"]
    assert result.stopped == {"stopped_at_round": 6}
    assert len(val) == len(result.curves["train_rmse"]) == 6
    assert result.model.num_boosted_rounds() == 6
    assert result.best_step == int(np.argmin(val)) + 1
    pred = adapter.predict(result.model, valid, FEATURES)
    assert _rmse(pred, valid) == pytest.approx(val[result.best_step - 1], rel=1e-5)
    # the hook runs before the library's callback in every round, the stopping one included
    # (W&B's callback commits the round the tracker's hook logged with commit=False)
    assert order == [(who, step) for step in range(1, 7) for who in ("hook", "library")]


def test_a_hook_stop_after_the_best_round_keeps_the_best(train, valid):
    """Rounds past the best one (overfitting at a high learning rate): the stop keeps the
    best round so far, which predict uses."""
    adapter = _adapter(eta=1.0, max_depth=8, min_child_weight=0, **{"lambda": 0.0})
    free = adapter.fit(train, valid, FEATURES)
    stop_at = free.best_step + 3

    def hook(event):
        if event.step == stop_at:
            raise StopTraining({"at": stop_at})

    result = adapter.fit(train, valid, FEATURES, hooks=[hook])
    assert len(result.curves["val_rmse"]) == stop_at
    assert result.best_step == free.best_step
    assert result.curves["val_rmse"] == free.curves["val_rmse"][:stop_at]


# ---- the refit's bins --------------------------------------------------------------------------


def _recording(adapter: XGBoostAdapter) -> list:
    """The training matrix of each fit the adapter runs, in order."""
    matrices: list = []
    own_train = adapter.train
    adapter.train = lambda params, dtrain, *a, **k: (
        matrices.append(dtrain) or own_train(params, dtrain, *a, **k)
    )
    return matrices


def _cuts(matrix) -> list[np.ndarray]:
    return [np.asarray(part) for part in matrix.get_quantile_cut()]


def _later(train: pd.DataFrame) -> pd.DataFrame:
    """The refit's rows: other rows, whose own cuts would differ from fold 1's."""
    return _frame(3000, 9).assign(x1=lambda f: f["x1"] * np.float32(2) + np.float32(1))


def test_the_refit_bins_its_rows_with_fold_1s_cuts_once(train, valid):
    adapter = _adapter(max_bin=16)
    matrices = _recording(adapter)
    adapter.fit(train, valid, FEATURES, fold=1)
    model = adapter.refit(_later(train), FEATURES, 3)
    assert model.num_boosted_rounds() == 3
    fold_1, refit = _cuts(matrices[0]), _cuts(matrices[1])
    assert all(np.array_equal(a, b) for a, b in zip(fold_1, refit, strict=True))
    # once only: a second refit sketches its own rows, whose cuts differ
    adapter.refit(_later(train), FEATURES, 3)
    own = _cuts(matrices[2])
    assert not all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(fold_1, own, strict=True)
    )


def test_fold_1s_matrix_is_freed_after_its_fit_its_cuts_kept(train, valid):
    adapter = _adapter(max_bin=16)
    fold_1: list = []
    own_train = adapter.train
    adapter.train = lambda params, dtrain, *a, **k: (
        fold_1.append((weakref.ref(dtrain), _cuts(dtrain))) or own_train(params, dtrain, *a, **k)
    )
    result = adapter.fit(train, valid, FEATURES, fold=1)
    gc.collect()
    alive, cuts = fold_1[0]
    assert alive() is None  # not held until the refit (a full-scale matrix: ~100 MB)
    matrices = _recording(adapter)
    adapter.refit(_later(train), FEATURES, 3)
    refit = _cuts(matrices[0])
    assert all(np.array_equal(a, b) for a, b in zip(cuts, refit, strict=True))
    assert result.model.num_boosted_rounds() > 0


def test_the_refit_sketches_its_own_cuts_after_another_fold_or_other_categories(train, valid):
    adapter = _adapter(max_bin=16)
    matrices = _recording(adapter)
    adapter.fit(train, valid, FEATURES, fold=2)  # not fold 1: nothing kept
    adapter.refit(_later(train), FEATURES, 3)
    assert matrices[1].ref is None
    adapter.fit(train, valid, FEATURES, fold=1)
    other = _later(train).assign(shop=lambda f: f["shop"].cat.reorder_categories(SHOPS[::-1]))
    adapter.refit(other, FEATURES, 3)  # other category codes: fold 1's cuts would mislabel
    assert matrices[3].ref is None
    adapter.fit(train, valid, FEATURES, fold=1)
    adapter.refit(_later(train), FEATURES, 3)
    assert matrices[5].ref is not None


def test_a_refit_on_fold_1s_own_rows_is_the_same_model_with_shared_cuts(train, valid):
    shared = _adapter()
    shared.fit(train, valid, FEATURES, fold=1)
    own = _adapter()
    own.fit(train, valid, FEATURES, fold=2)
    a, b = shared.refit(train, FEATURES, 20), own.refit(train, FEATURES, 20)
    np.testing.assert_array_equal(
        shared.predict(a, valid, FEATURES), own.predict(b, valid, FEATURES)
    )


# ---- save / load, importance -----------------------------------------------------------------


def test_feature_importance_is_a_share_of_gain(fitted):
    adapter, result, _ = fitted
    share = adapter.feature_importance(result.model)
    assert list(share.index) == FEATURES
    assert (share >= 0).all() and share.sum() == pytest.approx(1.0)
    assert share["x1"] > share["x2"]  # the strongest signal


# ---- categories -------------------------------------------------------------------------------


def test_categories_split_as_categories_not_as_codes():
    """One split can separate {b, d, f} from the rest only by partitioning the categories;
    a threshold on the integer codes cannot."""
    frame = _frame(2000, 2).assign(x1=np.float32(0), x2=np.float32(0))
    frame["target"] = np.isin(frame["shop"].astype(str), ["b", "d", "f"]) * 2.0
    params = {"eta": 1.0, "max_depth": 1, "min_child_weight": 0, "lambda": 0.0}
    adapter = _adapter(max_cat_to_onehot=1, **params)  # partition splits for any category
    model = adapter.refit(frame, FEATURES, 1)
    assert model.feature_types == ["float", "float", "c"]
    assert _rmse(adapter.predict(model, frame, FEATURES), frame) < 1e-3
    # the same rows with the codes as numbers: one threshold split cannot do it
    as_codes = frame.assign(shop=frame["shop"].cat.codes.astype(np.float32))
    numeric = _adapter(**params).refit(as_codes, FEATURES, 1)
    assert _rmse(_adapter().predict(numeric, as_codes, FEATURES), frame) > 0.5


def test_a_category_unseen_in_training_is_forecast(fitted, valid):
    adapter, result, _ = fitted
    rows = valid.assign(shop=pd.Categorical(["h"] * len(valid), categories=SHOPS))
    pred = adapter.predict(result.model, rows, FEATURES)
    assert np.isfinite(pred).all()


def test_categories_are_matched_by_name_not_by_code(fitted, valid):
    adapter, result, _ = fitted
    reordered = valid.assign(shop=valid["shop"].cat.reorder_categories(SHOPS[::-1]))
    np.testing.assert_array_equal(
        adapter.predict(result.model, reordered, FEATURES),
        adapter.predict(result.model, valid, FEATURES),
    )


# ---- config, registry, sweep file -------------------------------------------------------------


def test_the_template_is_registered_with_its_adapter():
    template = TEMPLATES["exp002"]
    assert template.config is Exp002Config and template.model == "xgboost"
    cfg = Exp002Config(num_threads=2, seed=5, learning_rate=0.07)
    adapter = make_adapter(cfg)
    assert isinstance(adapter, XGBoostAdapter)
    assert adapter.params["nthread"] == 2 and adapter.params["seed"] == 5
    assert adapter.params["eta"] == 0.07 and adapter.params["tree_method"] == "hist"
    assert adapter.num_boost_round == cfg.num_boost_round
    assert adapter.early_stopping_rounds == cfg.early_stopping_rounds


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"subsample": 1.5}, "subsample"),
        ({"grow_policy": "leafwise"}, "grow_policy"),
        ({"max_depth": 0}, "max_depth=0"),
        ({"max_depth": -1}, "max_depth"),
        ({"max_leaves": 1}, "max_leaves=1"),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds"),
        ({"min_child_weight": -1.0}, "min_child_weight"),
        ({"max_bin": 1}, "max_bin"),
    ],
)
def test_bad_values_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        Exp002Config(**values)


def test_lossguide_without_depth_limit_is_accepted():
    cfg = Exp002Config(grow_policy="lossguide", max_depth=0, max_leaves=63)
    assert cfg.xgb_params()["max_leaves"] == 63


def test_the_sweep_file_is_accepted_by_the_checks_and_the_engine():
    config = spec.load_config("configs/sweep_exp002.yaml")
    declared = spec.check_config(config, template="exp002")
    assert set(config["parameters"]) <= set(declared)
    assert config["early_terminate"]["type"] == "hyperband"


def test_the_sweep_file_is_exp002s_not_exp001s():
    with pytest.raises(spec.SweepError, match="has no parameter"):
        spec.check_config(spec.load_config("configs/sweep_exp002.yaml"), template="exp001")


# ---- end to end: one offline run through papermill --------------------------------------------

PARAMS = {
    "n_origins": 6,
    "n_folds": 2,
    "learning_rate": 0.2,
    "max_depth": 5,
    "num_boost_round": 300,
    "early_stopping_rounds": 15,
    "log_period": 50,
    "num_threads": 2,
}


@pytest.fixture(scope="module")
def exp002_run(small_data_dir, tmp_path_factory) -> Path:
    """One offline exp002 run (2 CV folds), shared by the e2e tests below."""
    out = tmp_path_factory.mktemp("exp002") / "run"
    with pytest.MonkeyPatch.context() as mp:
        isolate_wandb(mp, tmp_path_factory.mktemp("wandb-exp002"))
        params = {"data_dir": str(small_data_dir), "output_dir": str(out), **PARAMS}
        runner.run("exp002", {**params, "wandb_mode": "offline"}, log_output=False)
    return out


@pytest.fixture(scope="module")
def records(exp002_run) -> list[dict]:
    return leet_records(exp002_run)


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _history(records) -> list[dict]:
    return [r["item"] for r in by_type(records, "history")]


@pytest.mark.e2e
def test_run_folder_holds_what_exp001s_does(exp002_run):
    names = {p.name for p in exp002_run.iterdir()}
    expected = {
        "submission.csv",
        "metrics.json",
        "config.json",
        "features.txt",
        "model.ubj",
        "model_validation.ubj",
        "learning_curve.png",
        "rmsle_by_horizon.png",
        "feature_importance.png",
        "actual_vs_forecast.png",
        "oof.parquet",
        "test_pred.parquet",
        "val_by_horizon.csv",
        "val_by_family.csv",
        "val_worst_series.csv",
        "exp002.ipynb",
        "wandb",
    }
    assert expected <= names
    assert list((exp002_run / "wandb").glob("offline-run-*"))
    config = json.loads((exp002_run / "config.json").read_text())
    assert config["template"] == "exp002" and config["max_depth"] == 5
    assert config["run_name"].startswith("exp002-xgboost-")
    features = (exp002_run / "features.txt").read_text().split()
    assert "store_nbr" in features and "family" in features


@pytest.mark.e2e
def test_metrics_json(exp002_run):
    metrics = _metrics(exp002_run)
    assert metrics["status"] == "finished"
    assert 0.3 < metrics["val_rmsle"] < 0.5  # the small data's noise floor is about 0.37
    assert metrics["n_folds"] == 2 and metrics["cv_rmsle_fold_1"] == metrics["val_rmsle"]
    assert {"cv_rmsle_mean", "cv_rmsle_std", "cv_rmsle_fold_2"} <= set(metrics)
    assert sorted(map(int, metrics["rmsle_by_horizon"])) == list(range(1, 17))
    assert 1 <= metrics["best_step"] == metrics["fold_best_steps"][0]
    # every fold ran its patience after its best round (or the round limit)
    for best, ran in zip(metrics["fold_best_steps"], metrics["fold_steps_run"], strict=True):
        assert ran == min(best + PARAMS["early_stopping_rounds"], PARAMS["num_boost_round"])
    assert metrics["refit_steps"] == round(float(np.median(metrics["fold_best_steps"])))
    assert metrics["wandb"]["mode"] == "offline"


@pytest.mark.e2e
def test_submission_in_sample_order_and_test_predictions_match(exp002_run, small_data_dir):
    sub = pd.read_csv(exp002_run / "submission.csv")
    sample = pd.read_csv(small_data_dir / "sample_submission.csv")
    assert list(sub.columns) == ["id", "sales"]
    assert sub["id"].tolist() == sample["id"].tolist()
    assert (sub["sales"] >= 0).all() and sub["sales"].notna().all()
    pred = pd.read_parquet(exp002_run / "test_pred.parquet")
    assert pred["id"].tolist() == sub["id"].tolist()
    np.testing.assert_allclose(pred["pred"], sub["sales"], rtol=1e-9)
    oof = pd.read_parquet(exp002_run / "oof.parquet")
    assert set(oof["fold"]) == {1, 2}


@pytest.mark.e2e
def test_saved_models_reload_and_the_validation_model_keeps_its_best_round(exp002_run):
    adapter = make_adapter(Exp002Config())
    validation = adapter.load(exp002_run / "model_validation.ubj")
    assert int(validation.attr("best_iteration")) + 1 == _metrics(exp002_run)["best_step"]
    final = adapter.load(exp002_run / "model.ubj")
    assert final.num_boosted_rounds() == _metrics(exp002_run)["refit_steps"]


@pytest.mark.e2e
def test_executed_notebook_is_saved_with_the_injected_parameters(exp002_run):
    nb = nbformat.read(exp002_run / "exp002.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "max_depth = 5" in injected[0].source


@pytest.mark.e2e
def test_wandb_has_xgboosts_own_curves_and_the_headline_per_round(records, exp002_run):
    metrics = _metrics(exp002_run)
    rows = _history(records)
    # W&B's WandbCallback: one committed step per round of fold 1, `epoch` 0-based
    rounds = [r for r in rows if "val-rmse" in r]
    assert len(rounds) == metrics["fold_steps_run"][0]
    assert [r["epoch"] for r in rounds] == list(range(len(rounds)))
    assert all("train-rmse" in r for r in rounds)
    # the tracker's hook logged val/rmsle into the same step (before W&B's commit)
    assert all("val/rmsle" in r for r in rounds)
    per_round = [r["val/rmsle"] for r in rounds]
    assert per_round.index(min(per_round)) == metrics["best_step"] - 1
    assert metrics["val_rmsle"] <= min(per_round) + 1e-6
    val_rmse = [r["val-rmse"] for r in rounds]
    assert val_rmse.index(min(val_rmse)) == metrics["best_step"] - 1


@pytest.mark.e2e
def test_wandb_has_every_folds_curve_on_the_cv_step_axis(records, exp002_run):
    rows = _history(records)
    curve = [r["cv/fold_2/val_rmse"] for r in rows if "cv/fold_2/val_rmse" in r]
    steps = [r["cv/step"] for r in rows if "cv/fold_2/val_rmse" in r]
    assert steps == list(range(1, len(steps) + 1))
    metrics = _metrics(exp002_run)
    assert len(curve) == metrics["fold_steps_run"][1]
    assert min(curve) == pytest.approx(curve[metrics["fold_best_steps"][1] - 1])
    keys = set().union(*rows)
    assert {"cv/fold_1/val_rmse", "cv/fold_1/train_rmse", "cv/fold_2/train_rmse"} <= keys
    assert {"cv/rmsle_mean", "cv/rmsle_std", "val/rmse_log", "train/best_step"} <= keys


@pytest.mark.e2e
def test_wandb_has_the_importance_chart_identity_and_summary(records, exp002_run):
    keys = set().union(*_history(records))
    assert "Feature Importance_table._type" in keys  # W&B's callback, after training
    assert {"plots/feature_importance._type", "plots/learning_curve._type"} <= keys
    (run,) = by_type(records, "run")
    assert run["display_name"].startswith("exp002-xgboost-")
    assert run["run_group"] == "exp002"
    assert {"xgboost", "synthetic", "ts-cv-2x16d"} <= set(run["tags"])
    summary = {}
    for s in by_type(records, "summary"):
        summary.update(s["update"])
    metrics = _metrics(exp002_run)
    assert summary["val/rmsle"]["min"] == pytest.approx(metrics["val_rmsle"], abs=1e-6)
    # W&B's callback reports XGBoost's own 0-based best_iteration (our best_step counts from 1)
    assert summary["best_iteration"] + 1 == metrics["best_step"]
    assert by_type(records, "exit")[0]["exit_code"] == 0


@pytest.mark.e2e
def test_wandb_config_holds_exp002s_parameters_and_the_booster_config(records):
    config = {}
    for run in by_type(records, "run"):
        config.update(run["config"]["update"])
    for update in by_type(records, "config"):
        config.update(update.get("update", {}))
    assert config["template"] == "exp002"
    assert config["max_depth"] == 5
    assert "learner" in config  # W&B's callback adds XGBoost's own config of the booster
    assert config["env"]["packages"]["xgboost"]


@pytest.mark.e2e
def test_wandb_artifacts_model_submission_predictions(records):
    arts = {a["type"]: a for a in by_type(records, "artifact") if a["type"] != "run_table"}
    assert {"model", "submission", "predictions"} <= set(arts)  # offline: no dataset
    assert arts["model"]["name"] == "exp002-model"
    assert {e["path"] for e in arts["model"]["manifest"]["contents"]} == {
        "model.ubj",
        "features.txt",
    }
    assert arts["submission"]["name"] == "exp002-submission"
    files = {e["path"] for e in arts["predictions"]["manifest"]["contents"]}
    assert files == {"oof.parquet", "test_pred.parquet"}
