"""A study's results: results.csv (every trial, best first), best.yaml (the best complete
trial's parameters, rerunnable) and Optuna's own plots as PNGs."""

from __future__ import annotations

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


def results_table(study, metric: str):
    """One row per trial, best first (pruned after complete, failed and running last)."""
    import pandas as pd

    order = {"complete": 0, "pruned": 1, "running": 2, "waiting": 2, "fail": 3}
    names = sorted({k for t in study.trials for k in t.distributions})
    rows = []
    for t in study.trials:
        state = t.state.name.lower()
        metrics = runner.read_metrics(t.user_attrs["dir"]) if "dir" in t.user_attrs else {}
        rows.append(
            {
                "trial": t.number,
                "state": state,
                metric: t.value,
                "best_step": metrics.get("best_step"),
                "steps": (metrics.get("fold_steps_run") or [None])[0],
                "seconds": t.duration.total_seconds() if t.duration else None,
                **{k: t.params.get(k) for k in names},
                "dir": t.user_attrs.get("dir", ""),
                "_order": order.get(state, 3),
            }
        )
    columns = [*search_results.columns(metric, names), "dir"]
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


def summarize(folder: str | Path, quiet: bool = False, plot: bool = True) -> SearchSummary:
    """Write results.csv, best.yaml and the plots; print the table and the rerun command."""

    folder = Path(folder)
    state = st.read_folder(folder)
    if not state:
        raise TuneError(f"{folder} is not a study folder (no {st.STUDY_FILE})")
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
        print_outcome(table.drop(columns="dir"), files, best, metric, template, name)
        counts = table["state"].value_counts().to_dict()
        print("trials  " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        for stem in PLOTS:
            if stem in files:
                print(f"plot    {files[stem]}")
        for note in notes:
            print(f"note    {note}")
    return SearchSummary(dir=folder, table=table, best=best, files=files)
