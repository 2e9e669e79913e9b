"""constraints-kaggle.txt: Kaggle-era versions that .ci/compat installs and tests against."""

from __future__ import annotations

import os
import re
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project runs 3.11; pyproject allows 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
KAGGLE_IMAGE = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "lightgbm",
    "xgboost",
    "matplotlib",
    "wandb",
    "mlflow",  # not on Kaggle's image; the MLflow of its era, for `pip install mlflow` there
    "sqlalchemy",
)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


KAGGLE = _pins(REPO / "constraints-kaggle.txt")
OURS = _pins(REPO / "requirements.txt") | _pins(REPO / "requirements-dev.txt")


def test_kaggle_pins_satisfy_the_declared_ranges():
    """If pyproject.toml raises a minimum past Kaggle's version, this says which one."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in map(Requirement, deps):
        if dep.name in KAGGLE:
            assert Version(KAGGLE[dep.name]) in dep.specifier, (dep, KAGGLE[dep.name])


def test_kaggle_pins_are_older_and_tools_are_ours():
    assert set(KAGGLE_IMAGE) <= set(KAGGLE)
    for name in KAGGLE_IMAGE:  # compat tests something our pins do not
        assert Version(KAGGLE[name]) < Version(OURS[name]), name
    for name in set(KAGGLE) - set(KAGGLE_IMAGE):  # tools follow requirements*.txt
        assert KAGGLE[name] == OURS[name], name


@pytest.mark.skipif(not os.environ.get("STORE_SALES_COMPAT"), reason="only under .ci/compat")
def test_compat_venv_has_the_kaggle_versions():
    """Guards .ci/compat: pip honoured the constraints, so the suite ran on Kaggle's versions."""
    for name in KAGGLE:  # .public: torch's CPU build is "2.13.0+cpu"
        assert Version(metadata.version(name)).public == KAGGLE[name], name


@pytest.mark.parametrize("module", ["store_sales", "store_sales.features"])
def test_our_deprecation_warnings_fail_the_suite(module):
    """.ci/compat relies on pyproject.toml's filters: a deprecation in our code is an error."""
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("old API", DeprecationWarning, "x.py", 1, module=module)
    with pytest.raises(FutureWarning):
        warnings.warn_explicit("changes soon", FutureWarning, "x.py", 1, module="pandas")
