"""Values added to an MLflow run after it ended (the public score from `store-sales submit
--wait`); the live tracker's module is not needed for it."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import UserError
from .store import check_reachable, sqlite_path


def log_metric_later(uri: str, run_id: str, key: str, value: float) -> None:
    """Add a metric to a run that has ended (the public score `store-sales submit --wait`
    gets). A store that is not there or does not answer, or a run it lacks: UserError."""
    db = sqlite_path(uri)
    if db is not None and not db.is_file():  # MLflow would make an empty store there
        raise UserError(f"MLflow store {db} is not there")
    check_reachable(uri)
    try:
        MlflowClient(tracking_uri=uri).log_metric(run_id, key, value)
    except MlflowException as err:
        raise UserError(f"MLflow run {run_id} in {uri}: {err.message}") from None
