"""Optional libraries: which pip extra brings each one, checked before any kernel starts.

Core (`pip install store-sales-templates`) is what exp001 needs: LightGBM and W&B. XGBoost,
PyTorch, CatBoost, scikit-learn, MLflow, the sweeps engine and Optuna are extras (`pip install
"store-sales-templates[xgboost]"`, `[all]`); Kaggle's image has all but mlflow and sweeps.
`require` looks a library up with `find_spec`, without importing it (torch takes seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec
from typing import Any

from .errors import UserError

DIST = "store-sales-templates"

# a library a notebook's cells import, a tracker or a tool -> (import name, pip extra)
EXTRAS: dict[str, tuple[str, str]] = {
    "lightgbm": ("lightgbm", ""),  # core: a broken install, not a missing extra
    "xgboost": ("xgboost", "xgboost"),
    "pytorch": ("torch", "torch"),
    "torch": ("torch", "torch"),
    "catboost": ("catboost", "catboost"),
    "sklearn": ("sklearn", "sklearn"),
    "mlflow": ("mlflow", "mlflow"),
    "sweeps": ("sweeps", "sweeps"),
    "optuna": ("optuna", "optuna"),
    "postgres": ("psycopg", "postgres"),  # tune --storage postgresql+psycopg://...
}

# an Optuna storage URL's SQLAlchemy dialect+driver -> the EXTRAS entry that brings the driver
STORAGE_DRIVERS = {"postgresql+psycopg": "postgres"}


def missing(name: str) -> str | None:
    """The pip command that installs what `name` needs, or None when it is importable (or
    needs nothing: a name not in EXTRAS, such as the blend)."""
    if name not in EXTRAS:
        return None
    module, extra = EXTRAS[name]
    try:
        if find_spec(module) is not None:
            return None
    except (ImportError, ValueError):  # a broken package counts as missing
        pass
    return f'pip install "{DIST}[{extra}]"' if extra else f'pip install "{DIST}"'


def require(name: str, who: str = "") -> None:
    """UserError in one line when `name`'s library is missing: `exp002 needs xgboost: pip
    install "store-sales-templates[xgboost]"`."""
    fix = missing(name)
    if fix is not None:
        raise UserError(f"{who or name} needs {EXTRAS[name][0]}: {fix}")


def require_storage(url: str) -> None:
    """A database URL's driver, before any study or trial: `postgresql+psycopg://...` without
    psycopg names the `postgres` extra in one line; `postgresql://` (SQLAlchemy's psycopg2)
    without psycopg2 says to write `postgresql+psycopg://`."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in STORAGE_DRIVERS:
        require(STORAGE_DRIVERS[scheme], f"the storage {scheme}://")
    elif scheme in ("postgresql", "postgresql+psycopg2") and find_spec("psycopg2") is None:
        raise UserError(
            f"the storage {scheme}:// needs psycopg2 (SQLAlchemy's default PostgreSQL driver): "
            "write postgresql+psycopg://... ("
            + (missing("postgres") or "psycopg is installed")
            + ")"
        )


def require_for(template: str, imports: Iterable[str], params: dict[str, Any]) -> None:
    """What a template run needs: the optional libraries its cells import (its model's, read
    from the notebook, not from the template it was copied from) and, with
    tracker=mlflow|both, MLflow."""
    for module in sorted(set(imports)):
        if module in EXTRAS and EXTRAS[module][0] == module:
            require(module, template)
    if str(params.get("tracker", "")) in ("mlflow", "both"):
        require("mlflow", f"{template} with tracker={params['tracker']}")
