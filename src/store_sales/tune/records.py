"""A study as one record in the trials' trackers, written at the end of each `tune` process:
a W&B run of job type `tune` (when the trials log to W&B) and an MLflow parent run whose
children are the trials' MLflow runs (when they log to MLflow). From the study alone (the
trials' tracker entries are user attrs), so any machine sharing the study may write them; the
`optuna-dashboard` command, when that is installed."""

from __future__ import annotations

import shutil

from ..jsonio import to_jsonable
from ..search.results import SearchSummary


def _entries(study, tracker: str) -> list[dict]:
    """The trials' entries of one tracker (metrics.json's, kept in the study)."""
    found = []
    for t in study.trials:
        entry = (t.user_attrs.get("metrics") or {}).get(tracker)
        if isinstance(entry, dict) and entry.get("run_id"):
            found.append(entry)
    return found


def _summary(summary: SearchSummary, study) -> dict:
    counts = summary.table["state"].value_counts().to_dict()
    out = {"n_trials": len(summary.table), **{f"n_{k}": int(v) for k, v in counts.items()}}
    if summary.best is not None:
        metric = study.user_attrs.get("store_sales_tune", {}).get("metric", "value")
        best = study.trials[int(summary.best["trial"])]
        out |= {"best_trial": best.number, f"best/{metric}": best.value}
        out |= {f"best/{k}": v for k, v in best.params.items()}
        out |= {f"best/{k}": best.user_attrs.get(k) for k in ("best_step", "steps", "host")}
    return to_jsonable(out)


def record_study(summary: SearchSummary, study, params: dict, quiet: bool = False) -> dict:
    """The study's W&B run and MLflow parent, where its trials were tracked; returns what was
    written ({"wandb": ..., "mlflow": ...})."""
    written: dict = {}
    described = study.user_attrs.get("store_sales_tune", {})
    values = _summary(summary, study)
    wandb_runs = [e for e in _entries(study, "wandb") if e.get("mode") != "disabled"]
    if wandb_runs:
        from ..wb.study import log_study

        modes = {e.get("mode") for e in wandb_runs}
        written["wandb"] = log_study(
            project=str(params.get("wandb_project") or "store-sales"),
            entity=str(params.get("wandb_entity") or ""),
            group=study.study_name,
            mode="online" if modes == {"online"} else "offline",
            folder=summary.dir,
            config=to_jsonable({"study": study.study_name, **described}),
            table=summary.table,
            summary=values,
        )
        if not quiet:
            where = written["wandb"].get("url") or written["wandb"]["dir"]
            print(f"W&B     study run (job type tune): {where}")
    mlflow_runs = _entries(study, "mlflow")
    if mlflow_runs:
        from ..mlf.study import log_study as mlflow_study

        first = mlflow_runs[0]
        same = [e["run_id"] for e in mlflow_runs if (e.get("uri"), e.get("experiment")) == (
            first.get("uri"), first.get("experiment"))]  # fmt: skip
        numbers = {k: v for k, v in values.items() if isinstance(v, (int, float))}
        written["mlflow"] = mlflow_study(
            uri=first.get("uri", ""),
            experiment=first.get("experiment") or "store-sales",
            study=study.study_name,
            params={
                "study": study.study_name,
                "sampler": described.get("sampler", ""),
                "template": described.get("template", ""),
            },
            metrics={k.replace("/", "_"): v for k, v in numbers.items()},
            children=same,
        )
        if not quiet:
            m = written["mlflow"]
            print(f"MLflow  study parent run {m['run_id']} ({m['children']} trial runs) "
                  f"in {m['uri']}")  # fmt: skip
    return written


def dashboard_line(url: str) -> str:
    """`optuna-dashboard <storage>`, when it is installed ("" otherwise)."""
    return f"browse  optuna-dashboard {url}" if shutil.which("optuna-dashboard") else ""
