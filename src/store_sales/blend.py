"""Blend finished runs into one submission: weights fit on their validation predictions.

What `notebooks/blend.ipynb` runs:

run = blend.start(cfg)                   # run folder, tracker login
members = blend.load_members(run)        # resolve, check they validated the same rows; tracker
result = blend.fit(run, members)         # weights >= 0 summing to 1, per fold too
blend.report(run, members, result)       # submission.csv, oof/test_pred.parquet, metrics
run.finish()

The weights minimise the reported score itself, the mean over folds of the fold RMSLE, with
every member's prediction in log1p space (RMSLE is RMSE there): blended = expm1(sum w_i log1p p_i).
Any single member is a feasible choice of weights, so the blend's CV score is never worse than
the best member's. With several folds, `cv_rmsle_mean_oos` scores each fold with weights fit on
the other folds: the honest estimate of what fitting weights costs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from . import leaderboard as lb
from . import metrics as m
from . import predictions, results
from .errors import UserError
from .jsonio import write_json
from .paths import outputs_root
from .run import Run
from .tracker_registry import recorded
from .trackers import RunInfo

KEYS = ["fold", "date", "store_nbr", "family"]  # one validated row
BEST_OF = "best-of:"  # members="best-of:exp001,exp003": the best run of each template


@dataclass
class Member:
    record: lb.RunRecord
    oof: pd.DataFrame  # sorted by KEYS
    test: pd.DataFrame  # sorted by id
    order: np.ndarray  # test ids in the member's submission order (test_pred.parquet's)

    @property
    def name(self) -> str:
        return self.record.name

    def lineage(self) -> dict:
        """What a tracker records of a member: who it is and where its tracker runs are (each
        tracker's own part, under its name, from the member's metrics.json entry)."""
        metrics = self.record.metrics
        return {
            "run_name": self.name,
            "dir": str(self.record.dir),
            "template": self.record.template,
            "cv_rmsle_mean": metrics.get("cv_rmsle_mean"),
            **{rec.name: rec.lineage(entry) for rec, entry in recorded(metrics)},
        }


@dataclass
class BlendResult:
    weights: np.ndarray  # one per member, >= 0, sum 1
    fold_weights: dict[int, np.ndarray]  # weights fit on each fold alone (are they stable?)
    oof: pd.DataFrame  # the blend's validation predictions, oof.parquet's schema
    test: pd.DataFrame  # the blend's test predictions, test_pred.parquet's schema
    scores: pd.DataFrame  # RMSLE per fold (rows) of each member and the blend (columns)
    oos_scores: np.ndarray | None  # each fold scored with weights fit on the other folds


def start(cfg) -> Run:
    return Run(cfg)


# ---- members ----------------------------------------------------------------------------------


def _root(cfg) -> Path:
    return Path(cfg.runs_dir).expanduser() if cfg.runs_dir else outputs_root()


def _finished(cfg, spec: str) -> list[lb.RunRecord]:
    """Finished non-blend runs under the runs folder that have `metric`, best first."""
    root = _root(cfg)
    finished = [
        r
        for r in lb.scan(root)
        if r.status == "finished" and r.template != "blend" and r.value(cfg.metric) is not None
    ]
    if not finished:
        raise UserError(f"members={spec!r}: no finished run under {root} to blend")
    return lb.ranked(finished, cfg.metric)


def _same_layout(runs: list[lb.RunRecord], top: lb.RunRecord) -> list[lb.RunRecord]:
    """The runs made with `top`'s folds and data (the only ones a blend can use with it)."""
    return [
        r
        for r in runs
        if r.value("n_folds") == top.value("n_folds")
        and r.value("data_dir") == top.value("data_dir")
    ]


def _best_of(cfg, spec: str) -> list[lb.RunRecord]:
    """`best-of:exp001,exp003`: the best run of each named template, with the folds and data of
    the best among them."""
    wanted = [t.strip() for t in spec.removeprefix(BEST_OF).split(",") if t.strip()]
    ranked = [r for r in _finished(cfg, spec) if r.template in wanted]
    if not ranked:
        raise UserError(f"members={spec!r}: no finished run of {', '.join(wanted)} to blend")
    chosen: dict[str, lb.RunRecord] = {}
    for r in _same_layout(ranked, ranked[0]):
        chosen.setdefault(r.template, r)
    missing = [t for t in wanted if t not in chosen]
    if missing:
        raise UserError(
            f"members={spec!r}: no finished run of {', '.join(missing)} with the folds and data "
            f"of {ranked[0].name} (run it with the same n_folds and data_dir)"
        )
    return [chosen[t] for t in wanted]


def choose(cfg) -> list[lb.RunRecord]:
    """`members`: run folders or names, comma-separated; `best:K`, the K best finished runs by
    `metric` that share the best one's folds and data (earlier blends left out); or
    `best-of:T1,T2`, the best such run of each template named."""
    spec = cfg.members.strip()
    if spec.startswith(BEST_OF):
        chosen = _best_of(cfg, spec)
    elif spec.startswith("best:"):
        ranked = _finished(cfg, spec)
        chosen = _same_layout(ranked, ranked[0])[: int(spec.removeprefix("best:"))]
    else:
        root = _root(cfg)
        chosen = [lb.resolve(ref.strip(), root) for ref in spec.split(",") if ref.strip()]
    names = [r.name for r in chosen]
    if len(set(names)) != len(names):
        raise UserError(f"members names a run twice: {names}")
    if len(chosen) < 2:
        raise UserError(
            f"members={spec!r} gives {len(chosen)} run(s) {names}: a blend needs at least two"
        )
    return chosen


def _read(record: lb.RunRecord) -> Member:
    if record.status != "finished":
        raise UserError(f"run {record.name} is {record.status}: blend finished runs only")
    paths = {f: record.dir / f for f in (predictions.OOF_FILE, predictions.TEST_PRED_FILE)}
    missing = [f for f, p in paths.items() if not p.is_file()]
    if missing:
        raise UserError(
            f"run {record.name} has no {', '.join(missing)} ({record.dir}): it predates saved "
            "predictions; rerun it"
        )
    oof = pd.read_parquet(paths[predictions.OOF_FILE])
    test = pd.read_parquet(paths[predictions.TEST_PRED_FILE])
    return Member(
        record,
        oof.sort_values(KEYS, kind="stable").reset_index(drop=True),
        test.sort_values("id", kind="stable").reset_index(drop=True),
        test["id"].to_numpy(),
    )


def _origins(oof: pd.DataFrame) -> dict[int, str]:
    pairs = oof[["fold", "origin_date"]].drop_duplicates().sort_values("fold")
    out: dict[int, list[str]] = {}
    for fold, origin in zip(pairs["fold"], pairs["origin_date"], strict=True):
        out.setdefault(int(fold), []).append(str(pd.Timestamp(origin).date()))
    return {k: ",".join(v) for k, v in out.items()}


def check_compatible(members: list[Member]) -> None:
    """The same folds and origins, the same validated rows and actuals, the same test ids, or
    one line naming the run and the mismatch."""
    first = members[0]
    folds = _origins(first.oof)
    for other in members[1:]:
        theirs = _origins(other.oof)
        if theirs != folds:
            raise UserError(
                f"run {other.name} validated folds/origins {theirs}, run {first.name} {folds}: "
                "blend runs made with the same n_folds on the same data"
            )
        if len(other.oof) != len(first.oof) or any(
            not np.array_equal(other.oof[k].to_numpy(), first.oof[k].to_numpy()) for k in KEYS
        ):
            raise UserError(
                f"run {other.name} validated other rows than run {first.name} "
                f"({len(other.oof):,} vs {len(first.oof):,}): were they run on the same data?"
            )
        if not np.allclose(other.oof["actual"], first.oof["actual"]):
            raise UserError(
                f"run {other.name}'s validation actuals differ from run {first.name}'s: "
                "they were run on different data"
            )
        ids, first_ids = other.test["id"].to_numpy(), first.test["id"].to_numpy()
        if not np.array_equal(ids, first_ids):
            missing = np.setdiff1d(first_ids, ids).size
            extra = np.setdiff1d(ids, first_ids).size
            raise UserError(
                f"run {other.name} predicts {ids.size:,} test ids, run {first.name} "
                f"{first_ids.size:,} ({missing:,} missing, {extra:,} others): blend runs "
                "forecasting the same test"
            )


def load_members(run: Run) -> list[Member]:
    """Resolve and read the members, check them, and open the tracker's run with their lineage."""
    with run.phase("load"):
        members = [_read(r) for r in choose(run.cfg)]
        check_compatible(members)
    cfg = run.cfg
    lineage = [member.lineage() for member in members]
    run.tracker.start(
        RunInfo(
            name=run.name,
            dir=run.dir,
            group=cfg.wandb_group or cfg.exp_name,
            tags=["blend", *sorted({member.record.template for member in members})],
            notes="blend of " + ", ".join(member.name for member in members),
            config={**asdict(cfg), "template": "blend", "member_runs": lineage},
            template="blend",
            model="blend",
            scheme=f"blend-{members[0].oof['fold'].nunique()}-folds",
            job_type="blend",
        )
    )
    run.tracker.inputs(lineage)
    print(f"blending {len(members)} runs: " + ", ".join(member.name for member in members))
    return members


# ---- weights ----------------------------------------------------------------------------------


def _fold_moments(x: np.ndarray, y: np.ndarray, folds: np.ndarray):
    """Per fold: (X'X, X'y, y'y) / n, so a fold's MSE for weights w is w'Gw - 2b'w + c."""
    out = []
    for k in np.unique(folds):
        rows = folds == k
        xk, yk = x[rows], y[rows]
        n = rows.sum()
        out.append((xk.T @ xk / n, xk.T @ yk / n, float(yk @ yk / n)))
    return out


def _fit(moments, equal: bool = False) -> np.ndarray:
    """Weights on the simplex minimising the mean fold RMSLE (convex: a mean of norms)."""
    n = moments[0][0].shape[0]
    if equal:
        return np.full(n, 1.0 / n)

    def loss(w):
        value, grad = 0.0, np.zeros(n)
        for g, b, c in moments:
            mse = max(w @ g @ w - 2 * b @ w + c, 1e-18)
            value += np.sqrt(mse)
            grad += (g @ w - b) / np.sqrt(mse)
        return value / len(moments), grad / len(moments)

    # the best single member first: the optimum can only improve on it
    vertices = np.eye(n)
    start = vertices[int(np.argmin([loss(v)[0] for v in vertices]))]
    found = minimize(
        loss,
        np.full(n, 1.0 / n),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.clip(found.x, 0.0, None)
    w = w / w.sum()
    return w if loss(w)[0] <= loss(start)[0] else start


def fit(run: Run, members: list[Member]) -> BlendResult:
    with run.phase("train"):
        first = members[0]
        x = np.column_stack([np.log1p(mem.oof["pred"].to_numpy()) for mem in members])
        y = np.log1p(first.oof["actual"].to_numpy())
        folds = first.oof["fold"].to_numpy()
        moments = _fold_moments(x, y, folds)
        equal = run.cfg.method == "equal"
        weights = _fit(moments, equal)
        ks = [int(k) for k in np.unique(folds)]
        fold_weights = {k: _fit([mom], equal) for k, mom in zip(ks, moments, strict=True)}
        oos = None
        if len(ks) > 1:
            oos = np.array(
                [
                    _fold_rmsle(moments[i], _fit(moments[:i] + moments[i + 1 :], equal))
                    for i in range(len(ks))
                ]
            )

        oof = first.oof.copy()
        oof["pred"] = np.expm1(x @ weights).clip(min=0.0)
        test = first.test.copy()
        test["pred"] = np.expm1(
            np.column_stack([np.log1p(mem.test["pred"].to_numpy()) for mem in members]) @ weights
        ).clip(min=0.0)
        columns = {
            mem.name: [_fold_rmsle(mom, _unit(i, len(members))) for mom in moments]
            for i, mem in enumerate(members)
        }
        columns["blend"] = [_fold_rmsle(mom, weights) for mom in moments]
        scores = pd.DataFrame(columns, index=pd.Index(ks, name="fold"))
    return BlendResult(weights, fold_weights, oof, test, scores, oos)


def _unit(i: int, n: int) -> np.ndarray:
    return np.eye(n)[i]


def _fold_rmsle(moment, w: np.ndarray) -> float:
    g, b, c = moment
    return float(np.sqrt(max(w @ g @ w - 2 * b @ w + c, 0.0)))


# ---- outputs ----------------------------------------------------------------------------------


def weights_table(members: list[Member], result: BlendResult) -> pd.DataFrame:
    """One row per member: overall weight, weight fit on each fold alone, its CV score."""
    table = pd.DataFrame(
        {
            "member": [mem.name for mem in members],
            "template": [mem.record.template for mem in members],
            "weight": result.weights,
            **{f"weight_fold_{k}": w for k, w in result.fold_weights.items()},
            "cv_rmsle_mean": [result.scores[mem.name].mean() for mem in members],
        }
    )
    return table


def report(run: Run, members: list[Member], result: BlendResult) -> dict:
    """Write submission.csv (in the first member's order), oof/test_pred.parquet, the weights
    and metrics; the same to the tracker."""
    tracker = run.tracker
    first = members[0]
    test_pred = result.test.set_index("id").loc[first.order].reset_index()
    # the members' submission order is the sample's; the same checks as a template's
    results.submission(run, first.order, test_pred["id"], test_pred["pred"])
    results.prediction_files(run, result.oof, test_pred)
    table = weights_table(members, result)
    table.to_csv(run.dir / "blend_weights.csv", index=False)
    results.horizon_scores(run, result.oof)

    blend_scores = result.scores["blend"].to_numpy()
    scores = results.fold_scores(run, blend_scores)
    cv = m.cv_summary(blend_scores)
    best_member = min(members, key=lambda mem: result.scores[mem.name].mean())
    weights = {mem.name: float(w) for mem, w in zip(members, result.weights, strict=True)}
    run.metrics.update(
        members=[mem.name for mem in members],
        weights={name: round(w, 6) for name, w in weights.items()},
        best_member=best_member.name,
        best_member_cv_rmsle_mean=round(float(result.scores[best_member.name].mean()), 6),
    )
    if result.oos_scores is not None:
        run.metrics["cv_rmsle_mean_oos"] = round(float(result.oos_scores.mean()), 6)
    write_json(run.dir / "blend_members.json", [mem.lineage() for mem in members])

    print(table.to_string(index=False, float_format=lambda v: f"{v:.5f}"))
    print(
        f"blend CV RMSLE {cv['cv_rmsle_mean']:.5f} ± {cv['cv_rmsle_std']:.5f}; best member "
        f"{best_member.name} {run.metrics['best_member_cv_rmsle_mean']:.5f}"
        + (
            f"; weights fit on the other folds: {run.metrics['cv_rmsle_mean_oos']:.5f}"
            if result.oos_scores is not None
            else ""
        )
    )
    tracker.log({**scores, **{f"blend/weight/{name}": w for name, w in weights.items()}})
    tracker.table("blend/weights", table)
    tracker.table("blend/scores", result.scores.reset_index())
    summary = {"members": run.metrics["members"], "val_rmsle": float(blend_scores[0]), **cv}
    results.artifacts(run, {**summary, "n_folds": len(blend_scores)}, tested=True)
    return run.metrics
