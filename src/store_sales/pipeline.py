"""What every template notebook runs, in order, whatever its model and tracker:

run = pipeline.start(cfg, adapter=Model(cfg))  # features, run folder, tracker login
data, panel = pipeline.load(run)                # checked data; the tracker's run opens
cv = pipeline.validate(run, panel)              # time-series CV folds, early stopping
forecast = pipeline.forecast(run, data, panel, cv)   # refit, submission, test_pred
pipeline.report(run, panel, cv, forecast)       # metrics, predictions, plots, artifacts
run.finish()
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics as m
from . import predictions, progress, results
from . import summary as summaries
from .codeinfo import executed_cells
from .data import CompetitionData, DataError, data_fingerprint, load_data
from .envinfo import environment
from .errors import ConfigError
from .features import Panel, build_panel, feature_names, select
from .features.audit import audit as audit_features
from .jsonio import to_jsonable
from .models.base import ModelAdapter
from .run import Run
from .rundir import copy_submission_for_kaggle
from .trackers import Opening, RunInfo
from .validation import Forecast, Validation, cross_validate, forecast_test, make_plan

SKIPPED = "skipped-sweep-trial"  # metrics.json's `refit` for a sweep trial


def start(cfg, adapter: ModelAdapter | None = None) -> Run:
    """Check the feature selection, create the run folder, log in to the tracker.

    `adapter` is the model the notebook's model cell built (any `ModelAdapter`); the notebook
    cells run so far (its features and model) are kept with the run (codeinfo)."""
    if adapter is None and hasattr(cfg, "features"):  # a model template
        raise ConfigError("no model: pass the notebook's adapter, pipeline.start(cfg, adapter=)")
    features = select(cfg.features) if hasattr(cfg, "features") else []
    run = Run(cfg, adapter=adapter, code=executed_cells())
    run.features = features
    return run


def scheme_tag(n_folds: int) -> str:
    return "origin-16d-holdout" if n_folds == 1 else f"ts-cv-{n_folds}x16d"


def load(run: Run) -> tuple[CompetitionData, Panel]:
    """Read and check the data, then open the tracker's run with config and data fingerprint
    (on a thread of its own: `trackers.Opening`).

    Bad data (a DataError) opens no tracker run: the run ends here, failed, and its
    metrics.json (status, the error's one line) is the record of it."""
    cfg = run.cfg
    try:
        with run.phase("load"):
            data = load_data(cfg.data_dir)
            panel = build_panel(data)
    except DataError as err:
        run.fail(err)
        raise
    except Exception:
        run.tracker.start(_run_info(run))  # the failed run is on record in the tracker too
        raise
    with run.phase("fingerprint"):
        files = data_fingerprint(data.source)
    # the tracker's run opens on a thread of its own while fold 1's rows are built: its first
    # use (fold 1's callbacks, or a notebook's own call) waits for it (trackers.Opening)
    run.tracker = Opening(run.tracker, _run_info(run, data, files))
    run.metrics["data"] = "synthetic" if data.synthetic else "real"
    run.data, run.panel = data, panel  # the objects a notebook's globals name: audited
    return data, panel


def _run_info(run: Run, data: CompetitionData | None = None, files: dict | None = None):
    cfg = run.cfg
    kind = "" if data is None else "synthetic" if data.synthetic else "real"
    tags = [run.model, scheme_tag(cfg.n_folds)]
    if kind:
        tags.append("synthetic" if kind == "synthetic" else "real-data")
    changed = cfg.changed()
    return RunInfo(
        name=run.name,
        dir=run.dir,
        group=cfg.wandb_group or cfg.exp_name,
        tags=tags,
        notes=", ".join(f"{k}={v}" for k, v in changed.items()) or "template defaults",
        config={
            **asdict(cfg),
            "template": run.template.name,
            "code": run.metrics["code"],
            **({"data": {**data.summary(), "files": files}} if data is not None else {}),
            "env": environment(),
        },
        data_files=files or {},
        data_source=data.source if data is not None else None,
        data_kind=kind,
        template=run.template.name,
        model=run.model,
        scheme=scheme_tag(cfg.n_folds),
        job_type=job_type(cfg, run.dir),
    )


def job_type(cfg, run_dir) -> str:
    """What kind of run this is, for W&B's job_type: a trial knows it is one by its
    `sweep_dir` (set by the sweep and tune runners), a tune trial by the tune.json in its run
    folder (as `trial_hook` tells them apart); anything else is a template's `train` run."""
    if not getattr(cfg, "sweep_dir", ""):
        return "train"
    from .tune.hook import is_tune_trial

    return "tune-trial" if is_tune_trial(run_dir) else "sweep-trial"


def validate(run: Run, panel: Panel) -> Validation:
    """Time-series CV: fold k validates the 16 days after `last_train - 16k`."""
    cfg = run.cfg
    plan = make_plan(panel.last_train, cfg.n_origins, cfg.origin_stride, cfg.n_folds)
    run.plan = plan
    with run.phase("leak_audit"):  # the notebook's own features, before any training
        audit_features(run.features, plan.val_origin, panel, run.panel, run.data)
    for fold in plan.folds:
        dates = panel.day(fold.val_origin + 1).date(), panel.day(fold.val_origin + 16).date()
        print(
            f"fold {fold.k}: validates {dates[0]}..{dates[1]} ({len(fold.train_origins)} origins)"
        )
    hooks = [run.tracker.on_step, shown := progress.steps(run)]  # bars: progress.py
    if cfg.sweep_dir:
        hooks.insert(0, trial_hook(cfg.sweep_dir, run.dir))
    try:
        validation = cross_validate(
            panel,
            plan,
            run.adapter,
            cfg.zero_window,
            features=run.features,
            hooks=lambda k: hooks,
            callbacks=lambda k: run.tracker_opened().library_callbacks(run.adapter, k),
            timer=run.phase,
            # the forecast's rows, built while the last fold trains (a sweep trial makes none)
            then=None if cfg.sweep_dir else plan.forecast_origins(cfg.refit),
        )
    finally:  # a terminal bar gives sys.stdout back even when a fold fails
        shown.close()
    stopped = validation.fit.stopped
    if stopped:
        run.tracker.summary(
            {"sweep/stopped": True, "sweep/stopped_at_round": stopped.get("stopped_at_round")}
        )
        run.tracker.add_tags(["stopped-by-hyperband"])
    print(
        f"validation RMSLE {validation.rmsle:.5f} (fold 1, best {run.adapter.step_unit} "
        f"{validation.fit.best_step})"
    )
    if len(validation.folds) > 1:
        scores = validation.scores
        print(f"CV RMSLE {scores.mean():.5f} ± {scores.std():.5f} over {len(scores)} folds")
    return validation


def forecast(run: Run, data: CompetitionData, panel: Panel, validation: Validation) -> Forecast:
    """Refit (or reuse fold 1's model), forecast the test, write submission.csv and
    test_pred.parquet."""
    cfg = run.cfg
    if cfg.sweep_dir:
        # a sweep trial is judged on validation only, and best.yaml reruns the winner in full:
        # a refit and a test forecast here would be thrown away (about 40% of a run)
        print("sweep trial: no refit, no test forecast (only the validation score counts)")
        fit = validation.fit
        return Forecast(
            ids=np.zeros(0, np.int64),
            sales=np.zeros(0),
            s=np.zeros(0, np.int64),
            day=np.zeros(0, np.int64),
            model=fit.model,
            steps=fit.best_step,
            refit=SKIPPED,
            submission=pd.DataFrame({"id": np.zeros(0, np.int64), "sales": np.zeros(0)}),
        )
    with run.phase("forecast"):
        result = forecast_test(
            panel,
            run.plan,
            run.adapter,
            validation,
            cfg.zero_window,
            cfg.refit,
            features=run.features,
            timer=run.phase,
        )
        result.submission = results.submission(
            run, data.sample_submission["id"], result.ids, result.sales
        )
        test_pred = predictions.test_pred_frame(panel, result, result.submission)
        predictions.write(test_pred, run.dir / predictions.TEST_PRED_FILE)
    copy_submission_for_kaggle(run.dir, cfg.output_dir)
    return result


def trial_hook(sweep_dir, run_dir):
    """A trial's step hook. `sweep_dir` is the search's folder (a sweep's or a study's), the run
    folder the trial's: a tune trial's holds tune.json (Optuna's pruning hook), else the sweep's
    hyperband hook. Chosen here, so that sweep and tune need not import each other."""
    from .tune.hook import PruningHook, is_tune_trial

    if is_tune_trial(run_dir):
        return PruningHook(Path(run_dir))
    from .sweep.hook import trial_hook as sweep_trial_hook

    return sweep_trial_hook(sweep_dir, run_dir)


def report(run: Run, panel: Panel, validation: Validation, forecast: Forecast) -> dict:
    """Write metrics, predictions, models, tables and plots to the run folder and the tracker."""
    cfg, adapter, tracker = run.cfg, run.adapter, run.tracker
    features = feature_names(run.features)
    first = validation.first
    fit = first.fit

    tested = forecast.refit != SKIPPED  # a sweep trial made no test forecast
    model_path = adapter.save(forecast.model, run.dir / adapter.model_file)
    if tested:
        stem, dot, suffix = adapter.model_file.partition(".")
        adapter.save(fit.model, run.dir / f"{stem}_validation{dot}{suffix}")
    (run.dir / "features.txt").write_text("\n".join(features) + "\n")

    oof = predictions.oof_frame(panel, validation)
    results.prediction_files(run, oof, None)  # test_pred.parquet: written by forecast
    horizon = results.horizon_scores(run, oof)
    scores = results.fold_scores(run, validation.scores)
    worst, per_family = m.validation_tables(panel, first.rows)
    worst.to_csv(run.dir / "val_worst_series.csv", index=False)
    per_family.to_csv(run.dir / "val_by_family.csv", index=False)

    cv = m.cv_summary(validation.scores)
    run.metrics.update(
        val_rmsle_alive=round(first.rmsle_alive, 6),
        best_step=fit.best_step,
        fold_best_steps=[f.fit.best_step for f in validation.folds],
        fold_steps_run=[len(f.fit.curves.get("val_rmse", ())) for f in validation.folds],
        refit_steps=forecast.steps,
        refit=forecast.refit,
        n_features=len(features),
        n_train_rows=first.n_train_rows,
    )
    if fit.stopped:
        run.metrics["stopped"] = fit.stopped

    images = _figures(run, panel, validation, horizon)

    best = fit.best_step
    scalars = {
        **scores,
        "val/rmsle_alive": first.rmsle_alive,
        "train/rows": first.n_train_rows,
        "train/best_step": best,
        **{f"val/family/{r.family}": r.rmsle for r in per_family.itertuples()},
    }
    for name, key in (("val_rmse", "val/rmse_log"), ("train_rmse", "train/rmse_log")):
        if len(fit.curves.get(name, ())) >= best:
            scalars[key] = fit.curves[name][best - 1]
    tracker.config_update({"feature_names": features})
    tracker.log(scalars)
    tracker.table("val/worst_series", worst)
    tracker.table("val/by_family", per_family)
    rows = first.rows
    tracker.histogram(
        "val/log_residuals", np.log1p(rows["pred"].to_numpy()) - rows["target"].to_numpy()
    )
    tracker.images(images)
    tracker.model_summary(adapter, fit.model)
    if first.example is not None and len(first.example):  # a model signature's rows
        example = first.example
        predicted = adapter.predict(forecast.model, example, features)
        tracker.model_example(example[features], predicted)
    summary = {
        "val_rmsle": first.rmsle,
        **cv,
        "best_step": best,
        "n_features": len(features),
        "config": to_jsonable(cfg),
    }
    # No "best" alias: which version is best is a comparison across runs, not a property of
    # the newest one (sort by metadata.val_rmsle, or `store-sales sweep results`).
    tracker.artifact(
        f"{cfg.exp_name}-model", "model", [model_path, run.dir / "features.txt"], summary
    )
    results.artifacts(
        run, {"val_rmsle": first.rmsle, "n_folds": len(validation.folds), **cv}, tested
    )
    _show(images)
    return run.metrics


def summary(run: Run) -> summaries.Summary:
    """The run at a glance, for a notebook's last cell: scores per fold and per horizon day,
    and its files (an HTML table in Jupyter; `.folds`, `.horizon`, `.files` are DataFrames)."""
    return summaries.Summary.of(run.dir, run.metrics)


def _figures(run: Run, panel: Panel, validation: Validation, horizon: pd.DataFrame):
    """The run's figures, saved as PNGs in its folder: figure name -> path."""
    from . import plots  # matplotlib: imported when the report draws, not at the first cell

    first, adapter = validation.first, run.adapter
    figures = {
        "learning_curve": plots.learning_curve(
            {f.fold.k: f.fit.curves for f in validation.folds},
            {f.fold.k: f.fit.best_step for f in validation.folds},
            adapter.step_unit,
        ),
        "actual_vs_forecast": plots.actual_vs_forecast(panel, first.rows),
        "rmsle_by_horizon": plots.by_horizon(horizon),
    }
    importance = adapter.feature_importance(first.fit.model)
    if importance is not None:
        figures["feature_importance"] = plots.feature_importance(importance)
    images = {}
    for name, fig in figures.items():
        images[name] = run.dir / f"{name}.png"
        fig.savefig(images[name], dpi=110)
    return images


def _show(images: dict) -> None:
    """Display the saved figures inline when running in a notebook: the PNG files as written,
    not the figures drawn a second time (IPython would render each again)."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython
    from IPython.display import Image, display

    if get_ipython() is not None:
        for path in images.values():
            display(Image(filename=str(path)))
