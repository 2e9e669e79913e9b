"""A run's model as an MLflow model (`runs:/<run_id>/model`), in MLflow's own flavor for the
run's model library, so `mlflow.pyfunc.load_model` (or `mlflow.<flavor>.load_model`) loads it.

The flavor is chosen by the run's model name, and its modules are imported only then:

- `lightgbm`: `mlflow.lightgbm` of the adapter's Booster; pyfunc predicts the raw model output
  (log1p sales, before the zero rule) from a DataFrame of the run's features (features.txt, in
  that order, with the panel's dtypes: `family` etc. categorical), as the adapter does.
- `xgboost`: `mlflow.xgboost` of an `XGBRegressor(enable_categorical=True)` holding the Booster:
  MLflow's pyfunc builds a plain `DMatrix(frame)` for a bare Booster, which refuses categorical
  columns; the sklearn wrapper passes its `enable_categorical`. Same input and output as above.
- `pytorch`: `mlflow.pytorch` of the network (`TabularMLP`, pickled). Its `forward` takes two
  tensors (standardized numeric features, category codes) made by the adapter's preprocessing, and
  returns the standardized target; MLflow's pyfunc for PyTorch passes one tensor of the frame's
  values, so pyfunc cannot predict from the feature frame: load it with
  `mlflow.pytorch.load_model` and feed it the adapter's inputs, or use the run folder's model.pt
  with the adapter.
- `catboost` (exp004's notebook-defined adapter, CatBoost's own .cbm file): `mlflow.catboost` of
  a `CatBoostRegressor` read from the model file, when catboost is installed (else the plain
  files only, and one line); pyfunc predicts from the feature frame as for the GBDTs above.

- `histgradientboosting` (exp005, `models.estimator.Estimator`): `mlflow.sklearn` of the
  estimator read from the adapter's joblib file; pyfunc predicts from the feature frame (the
  pandas categories as they are: `categorical_features="from_dtype"`) as for the GBDTs above.

Any other model (a notebook-defined adapter) keeps the plain files of the `model/` artifact.

Signature and input example: the pipeline hands the tracker a few validation rows' features
and the model's predictions for them (`Tracker.model_example`); `signature` infers the model's
signature from them (`mlflow.models.infer_signature`) and they are saved as its input example,
for every flavor whose pyfunc predicts from the feature frame (not PyTorch's). MLflow has no
categorical type: a categorical column is `Any` in the signature, and the pyfunc loader is
`mlf.pyfunc`'s, which gives it back its training categories (see there). With an example, the
model's pip requirements are the flavor's own (`get_default_pip_requirements`): MLflow's
inference of them would predict on the example read back from JSON, without its categories.

MLflow's `log_model` logs through the *active* run and the global tracking URI; the tracker
has neither (it writes through its own `MlflowClient`, so a notebook's own mlflow state is left
alone). The narrowest correct way: the flavor's `save_model` into a temporary folder, then
`MlflowClient.log_artifacts` into the run's `model/` -- what `log_model` does for a run's
artifacts, without touching `mlflow.active_run()` or `mlflow.set_tracking_uri`. (MLflow 3's
`log_model` also registers a LoggedModel entity; `runs:/<id>/model` loads without one.)
"""

from __future__ import annotations

import importlib
import inspect
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from . import pyfunc

ARTIFACT_PATH = "model"
# MLflow warns that integer columns cannot hold missing values: ours (h, day of week) have none
INTEGER_HINT = "Hint: Inferred schema contains integer"
NO_FRAME_INPUT = {"pytorch"}  # pyfunc cannot predict from the feature frame: no signature


def _lightgbm(path: Path) -> Any:
    from ..models.lightgbm import LightGBMAdapter

    return LightGBMAdapter({}, 0, 0).load(path)


def _xgboost(path: Path) -> Any:
    import xgboost as xgb  # for its sklearn wrapper only (see the module's docstring)

    from ..models.xgboost import XGBoostAdapter

    model = xgb.XGBRegressor(enable_categorical=True)
    model._Booster = XGBoostAdapter({}, 0, 0).load(path)  # what XGBModel.load_model sets
    return model


def _pytorch(path: Path) -> Any:
    from ..models.pytorch import TorchMLPAdapter
    from ..models.torch_params import MLPFields

    return TorchMLPAdapter(MLPFields(device="cpu")).load(path).net


def _catboost(path: Path) -> Any:
    # CatBoost's adapter is exp004's notebook's and the package imports no catboost
    # (test_templates); MLflow's flavor needs the library's model object, so it is read by
    # name here, only for a run whose model is catboost
    catboost = importlib.import_module("catboost")
    return catboost.CatBoostRegressor().load_model(str(path))


def _sklearn(path: Path) -> Any:
    joblib = importlib.import_module("joblib")  # scikit-learn's own dependency
    return joblib.load(path)


# model name -> (MLflow flavor module, reader of the adapter's model file into its object)
FLAVORS = {
    "lightgbm": ("mlflow.lightgbm", _lightgbm),
    "xgboost": ("mlflow.xgboost", _xgboost),
    "pytorch": ("mlflow.pytorch", _pytorch),
    "catboost": ("mlflow.catboost", _catboost),
    "histgradientboosting": ("mlflow.sklearn", _sklearn),
}


def _options(model_name: str, flavor) -> dict[str, Any]:
    """MLflow 3's PyTorch flavor defaults to `pt2` (a torch.export graph), which needs a
    signature of TensorSpecs for every input; our network takes two tensors the pyfunc could
    not feed anyway, so the network is pickled, as MLflow 2 always does (MLflow logs a caution
    about pickles: only load runs you trust)."""
    formats = {"pytorch": "pickle", "histgradientboosting": "cloudpickle"}
    if (
        model_name in formats
        and "serialization_format" in inspect.signature(flavor.save_model).parameters
    ):
        # scikit-learn's: MLflow 3.x defaults to skops, which refuses HistGradientBoosting's
        # tree predictors unless each type is trusted by name at load time
        return {"serialization_format": formats[model_name]}
    return {}


def signature(inputs: pd.DataFrame, outputs):
    """The model signature of `inputs` (a few rows of features) -> `outputs` (their
    predictions); categorical columns are `Any` (MLflow has no categorical type)."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=INTEGER_HINT)
        inferred = infer_signature(inputs, outputs)
    categorical = pyfunc.categories_of(inputs)
    columns = [
        ColSpec(AnyType(), spec.name) if spec.name in categorical else spec
        for spec in inferred.inputs.inputs
    ]
    return ModelSignature(Schema(columns), inferred.outputs)


def log_model(
    client, run_id: str, model_name: str, model_file: Path, example: tuple | None = None
) -> str | None:
    """Log `model_file` (the adapter's saved model) in its MLflow flavor under `model/`, with
    a signature and input example from `example` = (feature rows, their predictions) where
    given; the model's URI, or None when the model has no flavor here or its library is
    missing."""
    if model_name not in FLAVORS:
        return None
    module, read = FLAVORS[model_name]
    try:
        flavor = importlib.import_module(module)
        model = read(Path(model_file))
    except ImportError as err:
        print(f"MLflow: no {module} model logged ({err}); the model file is in model/")
        return None
    options = _options(model_name, flavor)
    categories: dict = {}
    if example is not None and model_name not in NO_FRAME_INPUT:
        inputs, outputs = example
        categories = pyfunc.categories_of(inputs)
        options.update(
            signature=signature(inputs, outputs),
            input_example=inputs,
            pip_requirements=flavor.get_default_pip_requirements(),
        )
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / ARTIFACT_PATH
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=INTEGER_HINT)  # the input example's
            # pandas 3 on MLflow's own example code (`df.columns == range(...)`)
            warnings.filterwarnings("ignore", message="Operation with range is deprecated")
            flavor.save_model(model, str(saved), **options)
        if categories:
            _categorical_pyfunc(saved, categories)
        client.log_artifacts(run_id, str(saved), ARTIFACT_PATH)
    return f"runs:/{run_id}/{ARTIFACT_PATH}"


def _categorical_pyfunc(saved: Path, categories: dict) -> None:
    """The saved model's pyfunc loader becomes `mlf.pyfunc`'s, which wraps the flavor's."""
    from mlflow.models import Model

    meta = Model.load(str(saved / "MLmodel"))
    conf = meta.flavors["python_function"]
    pyfunc.write_config(saved, conf["loader_module"], categories)
    conf["loader_module"] = pyfunc.__name__
    meta.save(str(saved / "MLmodel"))
