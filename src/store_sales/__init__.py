"""Experiment templates for Kaggle "Store Sales - Time Series Forecasting"."""

__version__ = "0.1.0"
