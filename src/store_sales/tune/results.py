"""A study's results: results.csv (every trial, best first), best.yaml (the best complete
trial's parameters, rerunnable) and Optuna's own plots as PNGs."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

from .. import runner
from ..search import results as search_results
from ..search.results import SearchSummary, print_outcome
from . import study as st
from .quiet import import_optuna
from .space import TuneError

PLOTS = {  # file stem -> optuna.visualization.matplotlib function
    "optimization_history": "plot_optimization_history",
    "param_importances": "plot_param_importances",
    "intermediate_values": "plot_intermediate_values",
}


# metrics.json's entries a trial keeps in the study (besides every top-level number and string)
KEPT_METRICS = ("fold_steps_run", "fold_best_steps", "stopped", "timings", "mlflow", "wandb")


def trial_record(metrics: dict, seconds: float) -> dict:
    """What results.csv, best.yaml and the study records need of a finished trial, as its user
    attrs in the study (besides `params`, `dir` and `host`, set when it starts), so any machine
    rebuilds them without the trial's folder: best step, steps run, seconds, its metrics."""
    kept = {
        k: v
        for k, v in metrics.items()
        if (isinstance(v, (int, float, str)) and k not in ("pid", "process_start"))
        or (k in KEPT_METRICS and v)
    }
    return {
        "best_step": metrics.get("best_step"),
        "steps": (metrics.get("fold_steps_run") or [None])[0],
        "seconds": round(float(seconds), 3),
        "metrics": kept,
        "host": metrics.get("host") or socket.gethostname(),
    }


def _from_study_or_folder(t) -> tuple:
    """A trial's best step, steps and seconds: from the study (its user attrs), else (a study
    tuned before they were kept) from its run folder's metrics.json, when this machine has it."""
    attrs = t.user_attrs
    if "steps" in attrs or "metrics" in attrs:
        best, steps, seconds = attrs.get("best_step"), attrs.get("steps"), attrs.get("seconds")
    else:
        metrics = runner.read_metrics(attrs["dir"]) if "dir" in attrs else {}
        best, steps = metrics.get("best_step"), (metrics.get("fold_steps_run") or [None])[0]
        seconds = None
    if seconds is None and t.duration:
        seconds = t.duration.total_seconds()
    return best, steps, seconds


def results_table(study, metric: str):
    """One row per trial, best first (pruned after complete, failed and running last)."""
    import pandas as pd

    order = {"complete": 0, "pruned": 1, "running": 2, "waiting": 2, "fail": 3}
    names = sorted({k for t in study.trials for k in t.distributions})
    rows = []
    for t in study.trials:
        state = t.state.name.lower()
        best, steps, seconds = _from_study_or_folder(t)
        rows.append(
            {
                "trial": t.number,
                "state": state,
                metric: t.value,
                "best_step": best,
                "steps": steps,
                "seconds": seconds,
                **{k: t.params.get(k) for k in names},
                "dir": t.user_attrs.get("dir", ""),
                "host": t.user_attrs.get("host", ""),
                "_order": order.get(state, 3),
            }
        )
    columns = [*search_results.columns(metric, names), "dir", "host"]
    table = pd.DataFrame(rows, columns=[*columns, "_order"])
    table[metric] = pd.to_numeric(table[metric])
    table = table.sort_values(["_order", metric], na_position="last", kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def write_table(folder: Path, study) -> Path:
    """results.csv, replaced whole (several workers write it)."""
    metric = st.read_folder(folder).get("metric", "value")
    return search_results.write_table(results_table(study, metric), folder)


def best_params(trial, declared: dict) -> dict:
    """The trial's parameters that differ from the template defaults, minus the run-specific
    ones: what `store-sales run TEMPLATE -f best.yaml` needs to train the same model."""
    return search_results.best_params(trial.user_attrs.get("params", {}), declared)


def plots(study, folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Optuna's matplotlib plots as PNGs; notes for those it could not draw."""
    import matplotlib
    import matplotlib.pyplot as plt  # Optuna draws with pyplot; each figure is closed below

    import_optuna()
    import optuna.visualization.matplotlib as vis
    from optuna.exceptions import ExperimentalWarning

    files, notes = {}, []
    for stem, fn in PLOTS.items():
        # Optuna's plots switch the process to its ggplot style; rc_context restores ours. It
        # marks them experimental too: a warning on every call.
        with matplotlib.rc_context(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            try:
                ax = getattr(vis, fn)(study)
            except ImportError as err:  # fANOVA importances fit scikit-learn's random forest
                notes.append(f"no {stem}.png: {err}".splitlines()[0])
                continue
            except (RuntimeError, ValueError) as err:  # e.g. fewer than two complete trials
                notes.append(f"no {stem}.png: {err}".splitlines()[0])
                continue
            fig = ax.figure
            fig.set_size_inches(7, 4.5)
            files[stem] = Path(folder) / f"{stem}.png"
            fig.savefig(files[stem], dpi=100, bbox_inches="tight")  # the legend sits outside
            plt.close(fig)
    return files, notes


def summarize(
    folder: str | Path,
    quiet: bool = False,
    plot: bool = True,
    study_name: str = "",
    storage: str = "",
) -> SearchSummary:
    """Write results.csv, best.yaml and the plots; print the table and the rerun command.
    With `study_name` and `storage`, from the study alone (any folder, an empty one included: its
    study.json is rebuilt from the study)."""

    folder = Path(folder)
    state = st.read_folder(folder)
    named = (study_name, storage)
    if all(named) and (state.get("study"), state.get("storage")) != named:
        state = st.folder_from_study(folder, study_name, storage)
    if not state:
        raise TuneError(
            f"{folder} is not a study folder (no {st.STUDY_FILE}): "
            "name its --study and --storage to rebuild it from the study"
        )
    study = st.open_study(state["study"], state["storage"])
    metric, template = state["metric"], state["template"]
    table = results_table(study, metric)
    files = {"results": write_table(folder, study)}
    best = search_results.best_row(table, metric, "complete")
    if best is not None:
        declared = runner.notebook_parameters(runner.resolve_notebook(template))
        params = best_params(study.trials[int(best["trial"])], declared)
        header = [
            f"Best trial of study {state['study']} ({state['sampler']}): trial "
            f"{best['trial']}, {metric} = {best[metric]:.6f}",
            f"Rerun: store-sales run {template} -f best.yaml",
        ]
        files["best"] = search_results.write_best(folder, header, params)
    notes: list[str] = []
    if plot and len(table):
        drawn, notes = plots(study, folder)
        files.update(drawn)
    if not quiet:
        name = f"trial {best['trial']}" if best is not None else ""
        print_outcome(table.drop(columns=["dir", "host"]), files, best, metric, template, name)
        counts = table["state"].value_counts().to_dict()
        print("trials  " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        for stem in PLOTS:
            if stem in files:
                print(f"plot    {files[stem]}")
        for note in notes:
            print(f"note    {note}")
    return SearchSummary(dir=folder, table=table, best=best, files=files)
