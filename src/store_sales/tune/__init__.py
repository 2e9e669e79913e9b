"""Offline tuning with Optuna (on Kaggle's image; no W&B server, no `sweeps`).

The search space is a W&B sweep YAML (the same file `store-sales sweep` serves to W&B agents);
Optuna's sampler picks each trial, its pruner judges each boosting round / epoch inside the
template's kernel, and the study lives in an RDB storage (sqlite beside the run folders by
default) that any number of processes or machines may share.

On the search layer (`store_sales.search`: its checklist, trial folders, worker pool, results and
step-judging hook), as `store-sales sweep` is.

    space     the YAML's parameters as Optuna distributions (with the search layer's checklist)
    study     storage, samplers, pruners, the study and trial folders
    hook      `PruningHook`: report + should_prune inside the kernel (the pipeline adds it)
    optimize  `tune`: a controller asking and telling the study, the pool's workers running
    results   results.csv, best.yaml, Optuna's plots
    cli       `store-sales tune ...`
"""

from .cli import register
from .hook import PruningHook, is_tune_trial
from .optimize import default_config, tune
from .results import best_params, results_table, summarize
from .space import Space, TuneError, check, distribution, infer
from .study import STUDY_FILE, TRIAL_STATE, open_study

__all__ = [
    "STUDY_FILE",
    "TRIAL_STATE",
    "PruningHook",
    "Space",
    "TuneError",
    "best_params",
    "check",
    "default_config",
    "distribution",
    "infer",
    "is_tune_trial",
    "open_study",
    "register",
    "results_table",
    "summarize",
    "tune",
]
