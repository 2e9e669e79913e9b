"""exp003: the PyTorch MLP adapter on a tiny frame (fast), its config and sweep file, and one
offline run through papermill (e2e) with what it leaves in the run folder and in W&B."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from helpers import by_type, isolate_wandb, leet_records

from store_sales import runner, templates
from store_sales.errors import ConfigError
from store_sales.metrics import rmsle
from store_sales.models.base import StepEvent, StopTraining
from store_sales.sweep.spec import check_config, load_config
from store_sales.synth import load_solution
from store_sales.templates import TEMPLATES
from store_sales.templates.exp003 import Exp003Config, parse_hidden_sizes

torch = pytest.importorskip("torch")

from store_sales.models.pytorch import TorchMLPAdapter, embedding_dim  # noqa: E402

FEATURES = ["store_nbr", "family", "x1", "x2", "dow"]
REPO = Path(__file__).resolve().parents[1]


def make_adapter(cfg):
    """The adapter the template's notebook builds (its model cell)."""
    return templates.adapter("exp003", cfg)


def tiny_frame(n: int = 600, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Rows with the feature frame's column kinds: categories, numbers (x2 has NaNs), the
    weekday, and the meta columns h and target (a function of all of them plus noise)."""
    rng = np.random.default_rng(seed)
    store = rng.integers(1, 5, n)  # stores 1..4; the dtype also knows store 5
    family = rng.choice(["A", "B", "C"], n)
    x1 = rng.normal(10 + shift, 3, n).astype(np.float32)
    x2 = rng.normal(0, 1, n).astype(np.float32)
    x2[rng.random(n) < 0.2] = np.nan
    dow = rng.integers(0, 7, n).astype(np.int8)
    h = rng.integers(1, 17, n).astype(np.int8)
    target = (
        0.3 * x1
        + np.nan_to_num(x2)
        + 0.5 * store
        + (family == "B")
        + 0.2 * (dow == 5)
        - 0.03 * h
        + rng.normal(0, 0.3, n)
    )
    return pd.DataFrame(
        {
            "h": h,
            "target": np.clip(target, 0, None).astype(np.float32),
            "store_nbr": pd.Categorical(store, categories=[1, 2, 3, 4, 5]),
            "family": pd.Categorical(family, categories=["A", "B", "C", "D"]),
            "x1": x1,
            "x2": x2,
            "dow": dow,
        }
    )


def adapter(**kw) -> TorchMLPAdapter:
    """A small, quiet, one-thread adapter; `kw` are exp003's parameters."""
    params = {
        "hidden_sizes": "32,16",
        "batch_size": 64,
        "max_epochs": 6,
        "patience": 3,
        "learning_rate": 0.01,
        "log_every": 0,
        "device": "cpu",
        "num_threads": 1,
        "target_base": "",  # the tiny frame has no ewm_14
        **kw,
    }
    if params["max_epochs"] == 1:
        params.setdefault("warmup_epochs", 0.5)  # the config wants warmup < max_epochs
    return TorchMLPAdapter(Exp003Config(**params), verbose=False)


@pytest.fixture(scope="module")
def frames():
    return tiny_frame(600, seed=0), tiny_frame(200, seed=1)


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(a, float) - np.asarray(b, float)))))


# ---- preprocessing -----------------------------------------------------------------------------


def test_standardization_uses_training_rows_only(frames):
    train, _ = frames
    valid = tiny_frame(200, seed=1, shift=50.0)  # a very different x1
    fit = adapter(max_epochs=1).fit(train, valid, FEATURES)
    prep = fit.model.prep
    j = prep.numeric.index("x1")
    assert prep.mean[j] == pytest.approx(float(train["x1"].astype(float).mean()), rel=1e-9)
    assert prep.std[j] == pytest.approx(float(train["x1"].astype(float).std(ddof=0)), rel=1e-9)
    x = prep.numeric_inputs(train)[:, j]
    assert abs(x.mean()) < 1e-5 and abs(x.std() - 1) < 1e-4
    assert prep.target_mean == pytest.approx(float(train["target"].astype(float).mean()))
    # a refit learns its statistics from its own rows
    refit = adapter(max_epochs=2).refit(valid, FEATURES, 1)
    assert refit.prep.mean[j] == pytest.approx(float(valid["x1"].astype(float).mean()), rel=1e-9)


def test_inputs_categorical_numeric_and_missing_indicators(frames):
    train, valid = frames
    prep = adapter(max_epochs=1).fit(train, valid, FEATURES).model.prep
    # category dtype columns, then the weekday and the horizon day as embeddings
    assert prep.categorical == ["store_nbr", "family", "dow", "h"]
    assert prep.numeric == ["x1", "x2"]
    assert prep.indicators == ["x2"]  # only x2 has NaNs in training
    assert prep.vocab["store_nbr"] == [1, 2, 3, 4]  # seen in training, not the dtype's 5
    rows = train.iloc[:50]
    x = prep.numeric_inputs(rows)
    assert x.dtype == np.float32 and x.shape == (50, 3)
    nan = rows["x2"].isna().to_numpy()
    assert nan.any() and (x[nan, 1] == 0).all() and (x[nan, 2] == 1).all()
    assert (x[~nan, 2] == 0).all() and np.isfinite(x).all()
    # no indicator: h is not an input when horizon_input is off
    prep = adapter(max_epochs=1, horizon_input=False).fit(train, valid, FEATURES).model.prep
    assert prep.categorical == ["store_nbr", "family", "dow"]


def test_a_nan_where_training_had_none_is_the_mean(frames):
    train, valid = frames
    a = adapter(max_epochs=1)
    model = a.fit(train, valid, FEATURES).model
    rows = valid.iloc[:5].copy()
    rows["x1"] = np.nan
    x = model.prep.numeric_inputs(rows)
    assert (x[:, 0] == 0).all()
    assert np.isfinite(a.predict(model, rows, FEATURES)).all()


def test_an_unseen_category_predicts_without_failing(frames):
    train, valid = frames
    a = adapter(max_epochs=2)
    model = a.fit(train, valid, FEATURES).model
    rows = valid.iloc[:6].copy()
    # store 5 is in the dtype but never in training; store 9 and family "Z" in no dtype at all
    rows["store_nbr"] = pd.Categorical([5, 5, 9, 9, 1, 2], categories=[1, 2, 5, 9])
    rows["family"] = pd.Categorical(["Z", "A", "Z", "D", "B", "C"])
    rows["dow"] = np.array([0, 1, 2, 3, 4, 99], dtype=np.int64)  # a weekday never seen
    cat = model.prep.categorical_inputs(rows)
    assert cat[:, 0].tolist() == [0, 0, 0, 0, 1, 2]  # 0: unseen
    assert cat[:, 1].tolist() == [0, 1, 0, 0, 2, 3]
    assert cat[5, 2] == 0
    pred = a.predict(model, rows, FEATURES)
    assert pred.shape == (6,) and np.isfinite(pred).all()


def test_target_base_learns_the_difference_and_adds_it_back(frames):
    from store_sales.models.torch_net import predict_standardized

    train, valid = frames
    a = adapter(max_epochs=2, target_base="x2")  # x2 has NaNs: they count as the target mean
    model = a.fit(train, valid, FEATURES).model
    prep = model.prep
    y = train["target"].to_numpy(float)
    x2 = train["x2"].to_numpy(float)
    base = np.where(np.isnan(x2), y.mean(), x2)
    assert prep.base == "x2" and prep.base_fill == pytest.approx(y.mean())
    assert prep.target_mean == pytest.approx((y - base).mean())
    assert prep.target_std == pytest.approx((y - base).std())
    expected = (y - base - prep.target_mean) / prep.target_std
    assert np.allclose(prep.target(train), expected, atol=1e-5)
    # the prediction is the network's de-standardized output plus the base
    x_num, x_cat = prep.numeric_inputs(valid), prep.categorical_inputs(valid)
    net_out = predict_standardized(model.net, x_num, x_cat, "cpu").astype(float)
    v2 = valid["x2"].to_numpy(float)
    added = np.where(np.isnan(v2), y.mean(), v2)
    want = net_out * prep.target_std + prep.target_mean + added
    assert np.allclose(a.predict(model, valid, FEATURES), want, atol=1e-5)
    # without a base nothing is added
    plain = adapter(max_epochs=2).fit(train, valid, FEATURES).model
    assert plain.prep.base == "" and (plain.prep.offset(valid) == 0).all()


def test_target_base_must_be_a_numeric_feature(frames):
    train, valid = frames
    with pytest.raises(ValueError, match="not one of the features"):
        adapter(max_epochs=1, target_base="x9").fit(train, valid, FEATURES)
    with pytest.raises(ValueError, match="categorical"):
        adapter(max_epochs=1, target_base="store_nbr").fit(train, valid, FEATURES)


def test_the_default_base_is_a_default_numeric_feature():
    from store_sales.features import feature_names, select

    cfg = Exp003Config()
    assert cfg.target_base == "ewm_14" and not cfg.wide
    chosen = {f.name: f for f in select("default")}
    assert cfg.target_base in feature_names("default")
    assert chosen[cfg.target_base].group == "level"  # a level, not a category


def test_embedding_sizes():
    assert embedding_dim(7, 16) == 5
    assert embedding_dim(54, 16) == 15
    assert embedding_dim(1000, 16) == 16
    assert embedding_dim(1, 16) >= 1


# ---- training ----------------------------------------------------------------------------------


def test_same_seed_same_predictions_other_seed_other(frames):
    train, valid = frames
    preds = []
    for seed in (7, 7, 8):
        a = adapter(seed=seed, max_epochs=3, patience=0)
        preds.append(a.predict(a.fit(train, valid, FEATURES).model, valid, FEATURES))
    assert np.array_equal(preds[0], preds[1])
    assert not np.array_equal(preds[0], preds[2])


def test_a_fit_does_not_move_the_callers_random_state(frames):
    train, valid = frames
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    adapter(max_epochs=1).fit(train, valid, FEATURES)
    assert torch.equal(torch.rand(3), expected)


def test_early_stopping_restores_the_best_epoch(frames):
    train, _ = frames
    # a validation set whose target runs against the training signal: it gets worse as the
    # model learns, so the best epoch comes early and training stops `patience` epochs later
    valid = tiny_frame(200, seed=1)
    valid["target"] = (12 - valid["target"]).astype(np.float32)
    a = adapter(max_epochs=10, patience=2)
    fit = a.fit(train, valid, FEATURES)
    curve = fit.curves["val_rmse"]
    assert fit.best_step == int(np.argmin(curve)) + 1
    assert len(curve) == fit.best_step + 2 < 10  # stopped by patience
    assert fit.model.epochs == fit.best_step
    # the weights are the best epoch's: they score exactly its validation RMSE
    pred = a.predict(fit.model, valid, FEATURES)
    assert _rmse(pred, valid["target"]) == pytest.approx(curve[fit.best_step - 1], abs=1e-5)
    assert len(fit.curves["train_rmse"]) == len(curve)


def test_a_normal_fit_keeps_the_argmin_of_its_curve(frames):
    train, valid = frames
    a = adapter(max_epochs=6, patience=0)
    fit = a.fit(train, valid, FEATURES)
    curve = fit.curves["val_rmse"]
    assert len(curve) == 6 and fit.stopped is None
    assert fit.best_step == int(np.argmin(curve)) + 1
    assert curve[-1] < curve[0]  # it learns
    pred = a.predict(fit.model, valid, FEATURES)
    assert _rmse(pred, valid["target"]) == pytest.approx(min(curve), abs=1e-5)


def test_a_hook_stop_ends_at_the_best_epoch_so_far(frames):
    train, valid = frames
    seen = []

    def hook(event: StepEvent) -> None:
        if event.scope == "step":
            seen.append(event.values["val_rmse"])
            if event.step == 4:
                raise StopTraining({"stopped_at_round": 4})

    a = adapter(max_epochs=10, patience=0)
    fit = a.fit(train, valid, FEATURES, hooks=[hook])
    assert fit.stopped == {"stopped_at_round": 4}
    assert len(seen) == 4
    # as LightGBM's adapter and the sweep hook: the best of the epochs before the stop
    assert fit.curves["val_rmse"] == seen[:3]
    assert fit.best_step == int(np.argmin(seen[:3])) + 1
    pred = a.predict(fit.model, valid, FEATURES)
    assert _rmse(pred, valid["target"]) == pytest.approx(min(seen[:3]), abs=1e-5)


def test_a_stop_at_the_first_epoch_keeps_it(frames):
    train, valid = frames

    def hook(event):
        if event.scope == "step":
            raise StopTraining({"why": "first"})

    fit = adapter().fit(train, valid, FEATURES, hooks=[hook])
    assert fit.best_step == 1 and fit.stopped == {"why": "first"}


def test_step_and_batch_events(frames):
    train, valid = frames  # 600 rows / 64 = 10 batches per epoch
    events: list[StepEvent] = []
    a = adapter(max_epochs=3, patience=0, log_every=4)
    a.fit(train, valid, FEATURES, fold=2, hooks=[events.append])
    batches = [e for e in events if e.scope == "batch"]
    steps = [e for e in events if e.scope == "step"]
    assert [e.step for e in batches] == list(range(4, 31, 4))  # across epochs: 4, 8, ... 28
    for e in batches:
        assert set(e.values) == {"train/loss", "train/lr", "train/grad_norm"}
        assert e.fold == 2 and all(math.isfinite(v) for v in e.values.values())
        assert e.values["train/lr"] > 0 and e.values["train/grad_norm"] > 0
    assert [e.step for e in steps] == [1, 2, 3]
    for e in steps:
        assert {"val_rmse", "train_rmse", "epoch", "train/epoch_loss"} <= set(e.values)
        assert {"system/samples_per_s", "train/lr"} <= set(e.values)
        assert e.values["epoch"] == e.step
        assert e.values["train/epoch_loss"] == pytest.approx(e.values["train_rmse"] ** 2)
        assert e.values["system/samples_per_s"] > 0
    # warmup then cosine decay: the learning rate rises through epoch 1, then falls
    lrs = [e.values["train/lr"] for e in batches]
    assert lrs[0] < lrs[1] and lrs[-1] < max(lrs)


def test_callbacks_watch_the_network_only_when_asked(frames, monkeypatch):
    # W&B's watch is offered by the adapter (integration) only with wandb_watch; the fit calls
    # the callbacks it is given with the built network
    import wandb

    train, valid = frames
    calls = []
    monkeypatch.setattr(wandb, "watch", lambda net, log, log_freq: calls.append((net, log_freq)))
    assert adapter(max_epochs=1, log_every=7).integration("wandb") is None
    watched = adapter(max_epochs=1, log_every=7, wandb_watch=True)
    offered = watched.integration("wandb")
    assert offered is not None and not offered.logs_steps
    assert watched.integration("mlflow") is None
    watched.fit(train, valid, FEATURES, callbacks=offered.callbacks)
    assert [(type(net).__name__, freq) for net, freq in calls] == [("TabularMLP", 7)]


def test_refit_trains_exactly_n_epochs_on_the_fits_schedule(frames):
    train, valid = frames
    a = adapter(max_epochs=6, patience=0)
    fit = a.fit(train, valid, FEATURES)
    model = a.refit(train, FEATURES, 3)
    assert model.epochs == 3
    assert model.info["batches"] == 3 * 10  # 600 rows / 64 per batch: 10 batches an epoch
    # the same schedule, laid out over max_epochs: epoch k has the fit's learning rate
    assert _refit_lrs(a, train) == pytest.approx(fit.curves["lr"][:3])
    with pytest.raises(ValueError):
        a.refit(train, FEATURES, 7)


def _refit_lrs(a: TorchMLPAdapter, train) -> list[float]:
    """The per-epoch learning rates of a 3-epoch refit (the adapter keeps them in its curves)."""
    with_curves = a._train(train, None, FEATURES, 0, (), (), 3)
    return with_curves.curves["lr"]


def test_predict_checks_the_features(frames):
    train, valid = frames
    a = adapter(max_epochs=1)
    model = a.fit(train, valid, FEATURES).model
    with pytest.raises(ValueError, match="features"):
        a.predict(model, valid, FEATURES[:-1])
    assert a.predict(model, valid.iloc[:0], FEATURES).shape == (0,)


def test_threads_are_put_back(frames):
    train, valid = frames
    before = torch.get_num_threads()
    adapter(max_epochs=1, num_threads=1).fit(train, valid, FEATURES)
    assert torch.get_num_threads() == before


# ---- config, registry, sweep -------------------------------------------------------------------


def test_registry_entry():
    template = TEMPLATES["exp003"]
    assert template.model == "pytorch" and template.hyperband_check_every == 1
    a = make_adapter(Exp003Config())
    assert a.name == "pytorch" and a.step_unit == "epoch" and a.model_file == "model.pt"
    assert a.hidden_sizes == [256, 128]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden_sizes": "512,x"}, "hidden_sizes"),
        ({"hidden_sizes": ""}, "hidden_sizes"),
        ({"hidden_sizes": "0"}, "hidden_sizes"),
        ({"dropout": 1.0}, "dropout"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"patience": -1}, "patience"),
        ({"warmup_epochs": 10.0, "max_epochs": 10}, "warmup_epochs"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"device": "tpu"}, "device"),
        ({"num_threads": -2}, "num_threads"),
    ],
)
def test_config_refuses_bad_values(params, message):
    with pytest.raises(ConfigError, match=message):
        Exp003Config(**params)


def test_hidden_sizes_from_the_command_line():
    assert parse_hidden_sizes("512, 256,128") == [512, 256, 128]
    assert parse_hidden_sizes(256) == [256]  # `-p hidden_sizes 256` arrives as an int
    assert Exp003Config(hidden_sizes=256).hidden_sizes == "256"


def test_the_sweep_file_is_accepted():
    config = load_config(REPO / "configs" / "sweep_exp003.yaml")
    declared = check_config(config, template="exp003")
    assert set(config["parameters"]) <= set(declared)
    assert config["early_terminate"]["type"] == "hyperband"


# ---- end to end: one offline run through papermill ----------------------------------------------

E2E_PARAMS = {
    "n_origins": 6,
    "n_folds": 2,
    "hidden_sizes": "64,32",
    "batch_size": 128,
    "learning_rate": 0.01,
    "max_epochs": 5,
    "patience": 2,
    "log_every": 5,
    "num_threads": 1,
    "wandb_watch": True,
    "wandb_mode": "offline",
}


@pytest.fixture(scope="module")
def exp003_run(small_data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exp003") / "run"
    with pytest.MonkeyPatch.context() as mp:
        isolate_wandb(mp, tmp_path_factory.mktemp("wandb-exp003"))
        params = {**E2E_PARAMS, "data_dir": str(small_data_dir), "output_dir": str(out)}
        runner.run("exp003", params, log_output=False)
    return out


@pytest.fixture(scope="module")
def records(exp003_run):
    return leet_records(exp003_run)


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.e2e
def test_e2e_submission_in_sample_order(exp003_run, small_data_dir):
    sub = pd.read_csv(exp003_run / "submission.csv")
    sample = pd.read_csv(small_data_dir / "sample_submission.csv")
    assert list(sub.columns) == ["id", "sales"]
    assert sub["id"].tolist() == sample["id"].tolist()
    assert (sub["sales"] >= 0).all() and sub["sales"].notna().all()


@pytest.mark.e2e
def test_e2e_metrics_and_run_files(exp003_run):
    metrics = _metrics(exp003_run)
    assert metrics["status"] == "finished" and metrics["model"] == "pytorch"
    assert 0.3 < metrics["val_rmsle"] < 0.5  # the small data's noise floor is about 0.37
    assert {"cv_rmsle_mean", "cv_rmsle_std", "cv_rmsle_fold_1", "cv_rmsle_fold_2"} <= set(metrics)
    assert metrics["n_folds"] == 2 and metrics["cv_rmsle_fold_1"] == metrics["val_rmsle"]
    assert 1 <= metrics["best_step"] <= E2E_PARAMS["max_epochs"]
    assert len(metrics["fold_best_steps"]) == 2
    assert sorted(map(int, metrics["rmsle_by_horizon"])) == list(range(1, 17))
    for name in ("config.json", "model.pt", "model_validation.pt", "features.txt"):
        assert (exp003_run / name).is_file(), name
    for name in ("learning_curve.png", "oof.parquet", "test_pred.parquet", "exp003.ipynb"):
        assert (exp003_run / name).is_file(), name
    assert list((exp003_run / "wandb").glob("offline-run-*"))
    config = json.loads((exp003_run / "config.json").read_text())
    assert config["template"] == "exp003" and config["hidden_sizes"] == "64,32"


@pytest.mark.e2e
def test_e2e_test_score_is_close_to_validation(exp003_run, small_data_dir):
    sub = pd.read_csv(exp003_run / "submission.csv")
    sol = load_solution(small_data_dir).set_index("id").loc[sub["id"]]
    test = rmsle(sol["sales"].to_numpy(), sub["sales"].to_numpy())
    assert abs(test - _metrics(exp003_run)["val_rmsle"]) < 0.05


@pytest.mark.e2e
def test_e2e_saved_models_load(exp003_run):
    metrics = _metrics(exp003_run)
    a = make_adapter(Exp003Config())
    validation_model = a.load(exp003_run / "model_validation.pt")
    assert validation_model.epochs == metrics["best_step"]
    assert a.load(exp003_run / "model.pt").epochs == metrics["refit_steps"]
    features = (exp003_run / "features.txt").read_text().split()
    assert sorted(validation_model.features) == sorted(features)


@pytest.mark.e2e
def test_e2e_test_predictions_match_the_submission(exp003_run):
    pred = pd.read_parquet(exp003_run / "test_pred.parquet")
    sub = pd.read_csv(exp003_run / "submission.csv")
    assert pred["id"].tolist() == sub["id"].tolist()
    np.testing.assert_allclose(pred["pred"], sub["sales"], rtol=1e-9)
    oof = pd.read_parquet(exp003_run / "oof.parquet")
    assert sorted(oof["fold"].unique()) == [1, 2]


@pytest.mark.e2e
def test_e2e_executed_notebook_has_the_parameters(exp003_run):
    nb = nbformat.read(exp003_run / "exp003.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'hidden_sizes = "64,32"' in injected[0].source


@pytest.mark.e2e
def test_e2e_wandb_history_batch_and_epoch_curves(records, exp003_run):
    rows = [r["item"] for r in by_type(records, "history")]
    keys = set().union(*rows)
    batch = {"train/loss", "train/lr", "train/grad_norm", "train/batch"}
    epoch = {"epoch", "train/epoch_loss", "val/rmsle", "system/samples_per_s", "val_rmse"}
    assert batch <= keys and epoch <= keys
    assert {"cv/fold_2/val_rmse", "cv/fold_2/train_rmse", "cv/step"} <= keys
    # batch rows every log_every batches of fold 1
    steps = [r["train/batch"] for r in rows if "train/loss" in r]
    assert steps and steps == list(range(5, 5 * len(steps) + 1, 5))
    # one val/rmsle per epoch of fold 1; its best epoch is the model's
    per_epoch = [r["val/rmsle"] for r in rows if "epoch" in r and "val/rmsle" in r]
    epochs = [r["epoch"] for r in rows if "epoch" in r and "val/rmsle" in r]
    assert epochs == list(range(1, len(epochs) + 1))
    best = _metrics(exp003_run)["best_step"]
    assert per_epoch.index(min(per_epoch)) == best - 1
    metric_defs = {m.get("glob_name") or m["name"]: m for m in by_type(records, "metric")}
    assert metric_defs["train/loss"]["step_metric"] == "train/batch"


@pytest.mark.e2e
def test_e2e_wandb_watch_logs_gradient_histograms(records):
    keys = set().union(*[r["item"] for r in by_type(records, "history")])
    assert any(k.startswith("gradients/") for k in keys), sorted(keys)[:20]


@pytest.mark.e2e
def test_e2e_wandb_tags_and_model_artifact(records, exp003_run):
    (run,) = by_type(records, "run")
    assert run["display_name"].startswith("exp003-pytorch-")
    assert {"pytorch", "synthetic", "ts-cv-2x16d"} <= set(run["tags"])
    arts = {a["name"]: a for a in by_type(records, "artifact") if a["type"] != "run_table"}
    model = arts["exp003-model"]
    assert model["type"] == "model"
    meta = json.loads(model["metadata"])
    assert {"val_rmsle", "cv_rmsle_mean", "best_step", "n_features", "config"} <= set(meta)
    assert meta["best_step"] == _metrics(exp003_run)["best_step"]
    files = {e["path"] for e in model["manifest"]["contents"]}
    assert files == {"model.pt", "features.txt"}
    assert by_type(records, "exit")[0]["exit_code"] == 0
