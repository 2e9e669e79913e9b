"""The pyfunc loader of a signed model whose input has pandas categories (`store_nbr`, `family`).

MLflow's model signatures have no categorical type, and its schema check converts a column it
cannot type exactly: a signature typing `family` as `string` refuses the feature frame's
categorical `family` ("Can not safely convert category"), and `AnyType` (what `flavors` logs for
such a column) passes it on as plain objects, which LightGBM, XGBoost and HistGradientBoosting
then refuse ("categorical_feature do not match"). So a signed model's `python_function` flavor
names this module as its loader: it loads the library's own pyfunc (the flavor's loader, kept
in CONFIG) and gives each categorical column back the categories the model was trained with
before predicting. `mlflow.pyfunc.load_model(uri).predict(frame)` then takes the feature frame
as the adapter does (categories or their plain values), and `mlflow.<flavor>.load_model` is
untouched. Loading through pyfunc needs this package importable, as the features do anyway.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pandas as pd

CONFIG = "store_sales_pyfunc.json"  # in the model folder: the flavor's loader, the categories


def categories_of(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Each categorical column's categories (JSON values) and whether they are ordered."""
    out = {}
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[str(name)] = {"values": dtype.categories.tolist(), "ordered": bool(dtype.ordered)}
    return out


def write_config(model_dir: Path, loader_module: str, categories: dict) -> None:
    config = {"loader_module": loader_module, "categories": categories}
    (Path(model_dir) / CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


class CategoricalInput:
    """A flavor's pyfunc model, with the training categories put back on its input."""

    def __init__(self, inner, categories: dict[str, dict[str, Any]]):
        self.inner = inner
        self.dtypes = {
            name: pd.CategoricalDtype(spec["values"], ordered=spec["ordered"])
            for name, spec in categories.items()
        }
        self._takes_params = "params" in inspect.signature(inner.predict).parameters

    def get_raw_model(self):
        return self.inner.get_raw_model()

    def predict(self, data, params: dict[str, Any] | None = None):
        if isinstance(data, pd.DataFrame):
            data = data.astype({k: v for k, v in self.dtypes.items() if k in data.columns})
        if self._takes_params:
            return self.inner.predict(data, params=params)
        return self.inner.predict(data)


def _load_pyfunc(data_path: str, model_config: dict | None = None):
    """What `mlflow.pyfunc.load_model` calls (`data_path`: the flavor's model file or folder)."""
    path = Path(data_path)
    model_dir = path if (path / CONFIG).is_file() else path.parent
    config = json.loads((model_dir / CONFIG).read_text(encoding="utf-8"))
    inner = importlib.import_module(config["loader_module"])._load_pyfunc(data_path)
    return CategoricalInput(inner, config["categories"])
