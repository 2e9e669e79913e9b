"""The blend: weights on the simplex that never lose to the best member, members checked to have
validated the same rows and to forecast the same test, and the blend notebook end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import QUICK
from mlflow.tracking import MlflowClient

from store_sales import blend, cli, runner
from store_sales.errors import ConfigError, UserError
from store_sales.templates.blend import BlendConfig

# ---- weights (fast) ---------------------------------------------------------------------------


def _moments(members: np.ndarray, y: np.ndarray, folds: np.ndarray):
    return blend._fold_moments(np.log1p(members), np.log1p(y), folds)


@pytest.mark.parametrize("seed", range(5))
def test_weights_are_on_the_simplex_and_never_lose_to_the_best_member(seed):
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 20.0, 3000)
    folds = np.repeat([1, 2, 3], 1000)
    noise = rng.normal(0, [0.2, 0.3, 0.5], (3000, 3))
    members = np.expm1(np.log1p(y)[:, None] + noise + rng.normal(0, 0.1, 3))
    moments = _moments(members, y, folds)
    w = blend._fit(moments)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    score = np.mean([blend._fold_rmsle(mom, w) for mom in moments])
    singles = [np.mean([blend._fold_rmsle(mom, v) for mom in moments]) for v in np.eye(3)]
    assert score <= min(singles) + 1e-9
    assert score < min(singles) - 0.005  # independent errors: blending must actually help


def test_a_useless_member_gets_no_weight():
    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, 20.0, 2000)
    good = np.expm1(np.log1p(y) + rng.normal(0, 0.1, 2000))
    bad = rng.permutation(y)  # the right distribution, no information
    w = blend._fit(_moments(np.column_stack([good, bad]), y, np.ones(2000, dtype=int)))
    assert w[0] == pytest.approx(1.0, abs=0.02)


def test_fold_rmsle_from_moments_is_the_metric():
    from store_sales.metrics import rmsle

    rng = np.random.default_rng(1)
    y, p = rng.gamma(2.0, 5.0, 500), rng.gamma(2.0, 5.0, (500, 2))
    (moment,) = _moments(p, y, np.ones(500, dtype=int))
    w = np.array([0.3, 0.7])
    direct = rmsle(y, np.expm1(np.log1p(p) @ w))
    assert blend._fold_rmsle(moment, w) == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"method": "mean"}, "method='mean' is not one of"),
        ({"members": "best:1"}, "best:K needs a whole K >= 2"),
        ({"members": " "}, "members is empty"),
        ({"members": "best-of:exp001"}, "best-of: needs two templates or more"),
        ({"members": "best-of:exp001,exp001"}, "best-of: needs two templates or more"),
    ],
)
def test_blend_config_refuses(params, says):
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        BlendConfig(**params)


# ---- members checked (hand-written run folders, fast) -----------------------------------------


def _member(root: Path, name: str, origins=("2017-07-30",), ids=range(10), cv=0.4, **metrics):
    folder = root / name
    folder.mkdir(parents=True)
    rows = []
    for k, origin in enumerate(origins, start=1):
        for d in range(1, 3):
            date = pd.Timestamp(origin) + pd.Timedelta(days=d)
            rows.append((k, pd.Timestamp(origin), date, 1, "GROCERY I", d, 10.0, 9.0))
    oof = pd.DataFrame(
        rows,
        columns=["fold", "origin_date", "date", "store_nbr", "family", "h", "actual", "pred"],
    )
    oof.to_parquet(folder / "oof.parquet")
    ids = list(ids)
    pd.DataFrame({"id": ids, "pred": 1.0}).to_parquet(folder / "test_pred.parquet")
    pd.DataFrame({"id": ids, "sales": 1.0}).to_csv(folder / "submission.csv", index=False)
    m = {"status": "finished", "run_name": name, "template": "exp001", "cv_rmsle_mean": cv}
    (folder / "metrics.json").write_text(json.dumps({**m, "n_folds": len(origins), **metrics}))
    (folder / "config.json").write_text(json.dumps({"template": "exp001"}))
    return folder


def _check(*folders: Path):
    members = [blend._read(blend.lb.load(f)) for f in folders]
    blend.check_compatible(members)


def test_members_with_other_folds_are_refused_naming_the_run(tmp_path):
    a = _member(tmp_path, "a-run", origins=("2017-07-30", "2017-07-14"))
    b = _member(tmp_path, "b-run", origins=("2017-07-30",))
    with pytest.raises(UserError, match=r"run b-run validated folds/origins \{1: '2017-07-30'\}"):
        _check(a, b)


def test_members_with_missing_test_ids_are_refused_naming_the_run(tmp_path):
    a = _member(tmp_path, "a-run")
    b = _member(tmp_path, "b-run", ids=range(8))
    with pytest.raises(UserError, match=r"run b-run predicts 8 test ids, run a-run 10 \(2 missing"):
        _check(a, b)


def test_a_member_without_saved_predictions_or_unfinished_is_refused(tmp_path):
    a = _member(tmp_path, "a-run")
    (a / "oof.parquet").unlink()
    with pytest.raises(UserError, match=r"run a-run has no oof\.parquet"):
        _check(a)
    b = _member(tmp_path, "b-run", status="failed")
    with pytest.raises(UserError, match="run b-run is failed: blend finished runs only"):
        _check(b)


def test_best_k_takes_compatible_finished_non_blend_runs(tmp_path):
    _member(tmp_path, "a-run", cv=0.40)
    _member(tmp_path, "b-run", cv=0.38)
    _member(tmp_path, "c-run", cv=0.39, n_folds=3)  # other folds than the best: left out
    _member(tmp_path, "d-run", cv=0.30, status="failed")
    blend_dir = _member(tmp_path, "e-blend", cv=0.37)
    (blend_dir / "metrics.json").write_text(
        json.dumps(
            {
                "status": "finished",
                "run_name": "e-blend",
                "template": "blend",
                "cv_rmsle_mean": 0.37,
            }
        )
    )
    cfg = BlendConfig(members="best:3", runs_dir=str(tmp_path))
    assert [r.name for r in blend.choose(cfg)] == ["b-run", "a-run"]
    with pytest.raises(UserError, match="needs at least two"):
        blend.choose(BlendConfig(members="b-run", runs_dir=str(tmp_path)))


def test_best_of_takes_the_best_run_of_each_template_named(tmp_path):
    _member(tmp_path, "lgb-a", cv=0.380)
    _member(tmp_path, "lgb-b", cv=0.382)
    _member(tmp_path, "mlp-a", cv=0.383, template="exp003")
    _member(tmp_path, "mlp-b", cv=0.381, template="exp003")
    _member(tmp_path, "mlp-c", cv=0.370, template="exp003", n_folds=3)  # other folds
    _member(tmp_path, "xgb-a", cv=0.379, template="exp002")  # better, but not named
    _member(tmp_path, "hgb-a", cv=0.390, template="exp005", n_folds=3)
    cfg = BlendConfig(members="best-of:exp001,exp003", runs_dir=str(tmp_path))
    # mlp-c is the best run of all, with 3 folds: the layout is its, and exp001 has none there
    with pytest.raises(UserError, match="no finished run of exp001 with the folds and data"):
        blend.choose(cfg)
    (tmp_path / "mlp-c").rename(tmp_path.parent / f"{tmp_path.name}-mlp-c")  # out of the way
    assert [r.name for r in blend.choose(cfg)] == ["lgb-a", "mlp-b"]
    # in the order named
    cfg = BlendConfig(members="best-of:exp003,exp002", runs_dir=str(tmp_path))
    assert [r.name for r in blend.choose(cfg)] == ["mlp-b", "xgb-a"]
    with pytest.raises(UserError, match="no finished run of exp005 with the folds and data"):
        blend.choose(BlendConfig(members="best-of:exp001,exp005", runs_dir=str(tmp_path)))
    with pytest.raises(UserError, match="no finished run of exp004, exp006 to blend"):
        blend.choose(BlendConfig(members="best-of:exp004,exp006", runs_dir=str(tmp_path)))


# ---- end to end: exp001 + exp002 blended, then a blend of the blend ---------------------------


@pytest.fixture(scope="module")
def exp002_run(tracked_batch, small_data_dir, tmp_path_factory) -> Path:
    """exp002 on the batch's data and folds (one fold), to blend with the batch's exp001 runs."""
    out = tmp_path_factory.mktemp("exp002-for-blend") / "run"
    params = {**QUICK["exp002"], "data_dir": str(small_data_dir), "tracker": "none"}
    return runner.run("exp002", {**params, "output_dir": str(out)}, log_output=False)


@pytest.mark.e2e
def test_blend_of_two_templates_beats_or_ties_the_better_member(
    tracked_batch, exp002_run, tmp_path, monkeypatch
):
    exp001_dir = tracked_batch.runs["mlflow"]  # one fold, its MLflow run in the batch's store
    out = tmp_path / "blend"
    members = f"{exp001_dir},{exp002_run}"
    runner.run(
        "blend",
        {
            "members": members,
            "tracker": "mlflow",
            "mlflow_uri": tracked_batch.mlflow_uri,
            "output_dir": str(out),
        },
        log_output=False,
    )
    m = json.loads((out / "metrics.json").read_text())
    cvs = [
        json.loads((d / "metrics.json").read_text())["cv_rmsle_mean"]
        for d in (exp001_dir, exp002_run)
    ]
    assert m["status"] == "finished" and m["template"] == "blend"
    assert m["cv_rmsle_mean"] <= min(cvs) + 1e-6
    assert m["best_member_cv_rmsle_mean"] == pytest.approx(min(cvs), abs=2e-6)
    assert sum(m["weights"].values()) == pytest.approx(1.0, abs=1e-5)

    sub = pd.read_csv(out / "submission.csv")
    member_sub = pd.read_csv(exp001_dir / "submission.csv")
    assert sub["id"].tolist() == member_sub["id"].tolist() and (sub["sales"] >= 0).all()
    test_pred = pd.read_parquet(out / "test_pred.parquet")
    assert np.allclose(test_pred["pred"], sub["sales"])
    oof = pd.read_parquet(out / "oof.parquet")
    assert list(oof.columns) == list(pd.read_parquet(exp001_dir / "oof.parquet").columns)

    # lineage in MLflow: the members by name and by their MLflow run
    run = MlflowClient(tracked_batch.mlflow_uri).get_run(m["mlflow"]["run_id"])
    names = {run.data.tags["member_1"], run.data.tags["member_2"]}
    assert names == {
        json.loads((d / "metrics.json").read_text())["run_name"] for d in (exp001_dir, exp002_run)
    }
    exp001_mlflow = json.loads((exp001_dir / "metrics.json").read_text())["mlflow"]["run_id"]
    assert exp001_mlflow in {v for k, v in run.data.tags.items() if k.endswith("_run_id")}

    # a blend of blends: the blend is a member like any run
    again = tmp_path / "blend2"
    runner.run(
        "blend",
        {
            "members": f"{out},{tracked_batch.runs['none']}",
            "tracker": "none",
            "output_dir": str(again),
        },
        log_output=False,
    )
    assert json.loads((again / "metrics.json").read_text())["status"] == "finished"


@pytest.mark.e2e
def test_blending_runs_of_other_folds_fails_in_one_line(tracked_batch, tmp_path, capsys):
    members = f"{tracked_batch.runs['mlflow']},{tracked_batch.runs['both']}"  # 1 fold vs 2 folds
    code = cli.main(
        [
            "run",
            "blend",
            "-q",
            "-p",
            "members",
            members,
            "-p",
            "tracker",
            "none",
            "-p",
            "output_dir",
            str(tmp_path / "b"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    both = json.loads((tracked_batch.runs["both"] / "metrics.json").read_text())["run_name"]
    assert f"error: run {both} validated folds/origins" in err
    assert "executed notebook:" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # the reason, and where the traceback is

    verbose = ["run", "blend", "-q", "-v", "-p", "members", members, "-p", "tracker", "none"]
    assert cli.main([*verbose, "-p", "output_dir", str(tmp_path / "c")]) == 1
    assert "Exception encountered at" in capsys.readouterr().err  # papermill's full report


def test_the_reported_fold_scores_are_those_of_the_blend_written(tmp_path):
    """metrics.json's per-fold and CV scores score the blend's own oof.parquet (the overall
    weights), not each fold's own best weights. Member a is good on fold 1, b on fold 2: the
    weights fit on one fold alone differ from the overall ones."""
    rng = np.random.default_rng(3)
    origins = ("2017-07-30", "2017-07-14", "2017-06-28")
    a, b = _member(tmp_path, "a-run", origins), _member(tmp_path, "b-run", origins)
    oof = pd.read_parquet(a / "oof.parquet")
    oof = pd.concat([oof] * 50, ignore_index=True)  # 50 stores, the same rows each
    oof["store_nbr"] = np.repeat(np.arange(1, 51), len(oof) // 50)
    oof["actual"] = rng.gamma(2.0, 20.0, len(oof))
    noise = {1: (0.1, 0.6), 2: (0.6, 0.1), 3: (0.3, 0.3)}  # (a, b) error per fold
    for i, folder in enumerate((a, b)):
        scale = oof["fold"].map(lambda k, i=i: noise[k][i]).to_numpy()
        error = rng.normal(0.0, 1.0, len(oof)) * scale
        oof.assign(pred=np.expm1(np.log1p(oof["actual"]) + error).clip(0)).to_parquet(
            folder / "oof.parquet"
        )
    cfg = BlendConfig(members=f"{a},{b}", tracker="none", output_dir=str(tmp_path / "blend"))
    run = blend.start(cfg)
    members = blend.load_members(run)
    result = blend.fit(run, members)
    blend.report(run, members, result)
    run.finish()

    written = pd.read_parquet(tmp_path / "blend" / "oof.parquet")
    metrics = json.loads((tmp_path / "blend" / "metrics.json").read_text())
    scores = []
    for k in (1, 2, 3):
        rows = written[written["fold"] == k]
        scores.append(
            np.sqrt(np.mean(np.square(np.log1p(rows["pred"]) - np.log1p(rows["actual"]))))
        )
        assert metrics[f"cv_rmsle_fold_{k}"] == pytest.approx(scores[-1], abs=2e-6)
    assert metrics["val_rmsle"] == pytest.approx(scores[0], abs=2e-6)
    assert metrics["cv_rmsle_mean"] == pytest.approx(np.mean(scores), abs=2e-6)
    # the case is one where it matters: fold 1 alone wants mostly a, fold 2 mostly b
    weights = pd.read_csv(tmp_path / "blend" / "blend_weights.csv").set_index("member")
    assert weights.loc["a-run", "weight_fold_1"] > 0.8 > weights.loc["a-run", "weight"]
    assert weights.loc["b-run", "weight_fold_2"] > 0.8 > weights.loc["b-run", "weight"]
