"""A sweep's results: the trials table (results.csv), the best trial's parameters (best.yaml)
and the metric against each tuned parameter (sweep.png)."""

from __future__ import annotations

from pathlib import Path

from .. import runner
from ..jsonio import read_json
from ..search import results as search_results
from ..search.checklist import is_constant
from ..search.results import SearchSummary, print_outcome
from ..search.template import METRICS
from .spec import SweepError
from .trials import STATE_FILE, TRIAL_FILE, read_history, read_state, trial_dirs


def results_table(sweep_dir: str | Path):
    """One row per trial, best metric first (failed and unscored trials last)."""
    import pandas as pd

    folder = Path(sweep_dir)
    state = read_state(folder)
    if not state:
        raise SweepError(f"{folder} is not a sweep folder (no {STATE_FILE})")
    metric = state["config"]["metric"]["name"]
    swept = [k for k, v in state["config"]["parameters"].items() if not is_constant(v)]
    rows = []
    for trial_dir in trial_dirs(folder):
        record = read_json(trial_dir / TRIAL_FILE)
        metrics = runner.read_metrics(trial_dir)
        rows.append(
            {
                "trial": trial_dir.name,
                "state": record.get("state", "?"),
                metric: metrics.get(METRICS[metric]),
                "best_step": metrics.get("best_step"),
                "steps": len(read_history(trial_dir, metric)),
                "seconds": (metrics.get("timings") or {}).get("total"),
                **{k: record.get("suggested", {}).get(k) for k in swept},
            }
        )
    table = pd.DataFrame(rows, columns=search_results.columns(metric, swept))
    table[metric] = pd.to_numeric(table[metric])
    return table.sort_values(metric, na_position="last", kind="stable").reset_index(drop=True)


def best_params(sweep_dir: str | Path, trial: str) -> dict:
    """The trial's parameters that differ from the template defaults, minus the run-specific
    ones: what `papermill ... -f best.yaml -p output_dir NEW` needs to train the same model."""
    folder = Path(sweep_dir)
    state = read_state(folder)
    declared = runner.notebook_parameters(runner.resolve_notebook(state["template"]))
    params = read_json(folder / "trials" / trial / TRIAL_FILE)["params"]
    return search_results.best_params(params, declared)


def summarize(sweep_dir: str | Path, quiet: bool = False, plot: bool = True) -> SearchSummary:
    """Write results.csv, best.yaml and sweep.png; print the table and the rerun command."""
    folder = Path(sweep_dir)
    state = read_state(folder)
    metric = state.get("config", {}).get("metric", {}).get("name", "")
    table = results_table(folder)
    files = {"results": search_results.write_table(table, folder)}
    best = search_results.best_row(table, metric, "finished")
    if best is not None:
        header = [
            f"Best trial of sweep {state['name']} ({state['config']['method']}): "
            f"{best['trial']}, {metric} = {best[metric]:.6f}",
            f"Rerun: papermill notebooks/{state['template']}.ipynb out.ipynb -f best.yaml "
            "-p output_dir NEW",
            f"   or: store-sales run {state['template']} -f best.yaml",
        ]
        files["best"] = search_results.write_best(
            folder, header, best_params(folder, best["trial"])
        )
    figure = plot_sweep(table, state) if plot else None
    if figure is not None:
        files["plot"] = folder / "sweep.png"
        figure.savefig(files["plot"], dpi=100)
    if not quiet:
        print_outcome(table, files, best, metric, state["template"], str(best and best["trial"]))
        if figure is not None:
            print(f"plot    {files['plot']}")
    return SearchSummary(dir=folder, table=table, best=best, files=files)


def plot_sweep(table, state: dict):
    """The metric against each tuned parameter; stopped trials greyed, the best one starred."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    metric = state["config"]["metric"]["name"]
    specs = state["config"]["parameters"]
    scored = table[table[metric].notna()]
    swept = [k for k, v in specs.items() if not is_constant(v) and scored[k].notna().any()]
    if scored.empty or not swept:
        return None
    ncols = min(3, len(swept))
    nrows = -(-len(swept) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    groups = (
        ("finished", {"color": "tab:blue", "s": 28}),
        ("stopped", {"color": "grey", "marker": "x", "s": 28}),
    )
    for ax, name in zip(axes, swept, strict=False):
        values = scored[name]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            x = values.astype(float)
        else:  # categorical: one position per value
            labels = sorted({str(v) for v in values})
            x = values.map(lambda v, labels=labels: labels.index(str(v)))
            ax.set_xticks(range(len(labels)), labels)
        for group, style in groups:
            mask = (scored["state"] == group).to_numpy()
            if mask.any():
                ax.scatter(x[mask], scored[metric][mask], label=group, **style)
        first = np.flatnonzero((scored["state"] == "finished").to_numpy())[:1]
        if len(first):  # the table is sorted: the first finished trial is the best
            ax.scatter(
                x.iloc[first],
                scored[metric].iloc[first],
                marker="*",
                s=180,
                color="tab:red",
                label="best",
                zorder=3,
            )
        if numeric and "log" in str((specs.get(name) or {}).get("distribution", "")):
            ax.set_xscale("log")
            # plain numbers; label the 2s and 5s too, as a range rarely spans a whole decade
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set(xlabel=name, ylabel=metric)
        ax.grid(alpha=0.3)
    for ax in axes[len(swept) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    method = state["config"]["method"]
    fig.suptitle(f"{state['name']}: {metric} by parameter ({method}, {len(scored)} trials)")
    fig.tight_layout()
    return fig


def _minor_label(value: float, _pos=None) -> str:
    lead = f"{value:.0e}"[0]
    return f"{value:g}" if lead in "25" else ""
