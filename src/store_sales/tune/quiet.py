"""Optuna, imported without noise that is not ours to fix."""

from __future__ import annotations

import warnings


def import_optuna():
    """`optuna`, quiet. It imports `tqdm.auto` for its progress bar (unused here), which in a
    Jupyter kernel without ipywidgets warns at import ("IProgress not found"); Kaggle's image
    has ipywidgets, our test kernels do not. Only that warning, only at this import."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "IProgress not found")
        import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its INFO line per trial repeats ours
    return optuna
