"""Hyperparameter sweeps: one W&B sweep YAML, run online by W&B agents or offline by W&B's engine.

Online (`create`, `agent`): the W&B server holds the sweep and decides every trial; any number of
agents on any machines (or Kaggle sessions) pull trials from one sweep id.

Offline (`local_sweep`): the same YAML is handed to `sweeps`, the open-source engine the W&B server
runs, so grid/random/bayes suggestions and hyperband stopping follow the same rules without a
network. Each trial is a template run through papermill into its own folder.

    (on the search layer, `store_sales.search`: its checklist, trial folders, worker pool,
    results and step-judging hook)

    spec     the YAML: the engine's guards, grid size, suggestions as template parameters
    engine   the quiet `sweeps` import and its run objects
    trials   the sweep folder: state, trial folders, running one trial, trials as engine runs
    hook     `trial_hook`: a trial's per-step record and hyperband stop (model-independent)
    local    `local_sweep`: the offline controller
    online   `create`, `agent`: the W&B server's sweeps
    results  results.csv, best.yaml, sweep.png
    entry    `run`: either mode in one call (notebooks/sweep.ipynb)
    cli      `store-sales sweep ...`
"""

from .cli import register
from .engine import engine_run, import_sweeps
from .entry import run
from .hook import TrialHook, trial_hook
from .local import MAX_CONSECUTIVE_FAILURES, local_sweep
from .online import agent, create
from .results import best_params, plot_sweep, results_table, summarize
from .spec import (
    DEFAULT_PROJECT,
    DEFAULT_TEMPLATE,
    MAX_GRID,
    METRICS,
    SweepError,
    check_config,
    grid_size,
    load_config,
    suggested_params,
)
from .trials import (
    HISTORY_FILE,
    STATE_FILE,
    STOP_FILE,
    TRIAL_FILE,
    engine_runs,
    read_history,
    trial_dirs,
)

__all__ = [
    "DEFAULT_PROJECT",
    "DEFAULT_TEMPLATE",
    "HISTORY_FILE",
    "MAX_CONSECUTIVE_FAILURES",
    "MAX_GRID",
    "METRICS",
    "STATE_FILE",
    "STOP_FILE",
    "TRIAL_FILE",
    "SweepError",
    "TrialHook",
    "agent",
    "best_params",
    "check_config",
    "create",
    "engine_run",
    "engine_runs",
    "grid_size",
    "import_sweeps",
    "load_config",
    "local_sweep",
    "plot_sweep",
    "read_history",
    "register",
    "results_table",
    "run",
    "suggested_params",
    "summarize",
    "trial_dirs",
    "trial_hook",
]
