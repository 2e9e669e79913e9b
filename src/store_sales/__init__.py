"""Experiment templates for Kaggle "Store Sales - Time Series Forecasting"."""

from .threads import quiet_waits as _quiet_waits

_quiet_waits()  # before LightGBM/XGBoost/PyTorch load OpenMP (see threads.py)

__version__ = "0.1.0"
