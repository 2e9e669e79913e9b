"""Which MLflow store a run writes to, and the command that browses it; imports no mlflow.

Default: a sqlite file beside the run folders (`outputs/mlflow.db`, artifacts in
`outputs/mlartifacts/`), the store MLflow 3 itself defaults to, but at a fixed place: MLflow's
own default is relative to the working directory, and a UI started elsewhere shows nothing.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from ..errors import UserError
from ..paths import outputs_root

DB_FILE = "mlflow.db"


def tracking_uri(explicit: str = "") -> str:
    """The `mlflow_uri` parameter, else `$MLFLOW_TRACKING_URI`, else `outputs/mlflow.db`."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri:
        return uri
    return "sqlite:///" + str(outputs_root() / DB_FILE)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (None for a server)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def artifact_root(uri: str) -> str | None:
    """Where a new experiment of a sqlite store keeps artifacts: beside the database, so the UI
    finds them from any working directory. A server decides for itself (None)."""
    db = sqlite_path(uri)
    return (db.parent / "mlartifacts").resolve().as_uri() if db else None


def ui_command(uri: str) -> str:
    """The command that opens MLflow's UI on this store."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    return f"mlflow ui --backend-store-uri {uri} --port 5000"


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """A tracking server that does not answer fails the run now, in one line, not after
    MLflow's client has retried for minutes."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except OSError as err:
        raise UserError(
            f"MLflow server {uri} does not answer ({getattr(err, 'reason', err)}): start it "
            "(`mlflow server`) or set mlflow_uri / MLFLOW_TRACKING_URI to a reachable store"
        ) from None
