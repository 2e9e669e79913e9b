"""constraints-kaggle.txt: Kaggle-era versions that .ci/compat installs and tests against."""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
# docker-python's installed_cpu_packages.txt, spring 2026 (torch: see constraints-kaggle.txt)
KAGGLE_IMAGE = {
    "numpy": "2.4.6",
    "pandas": "2.3.3",
    "pyarrow": "24.0.0",
    "scipy": "1.16.3",
    "scikit-learn": "1.6.1",
    "lightgbm": "4.6.0",
    "xgboost": "3.2.0",
    "catboost": "1.2.10",
    "matplotlib": "3.10.0",
    "wandb": "0.25.1",
    "optuna": "4.8.0",
    "tqdm": "4.67.3",
    "sqlalchemy": "2.0.49",
    "papermill": "2.7.0",
    "nbformat": "5.10.4",
    "nbclient": "0.5.13",
    "ipykernel": "6.17.1",
    "ipython": "7.34.0",
    "jupyter-client": "7.4.9",
    "psutil": "5.9.5",
    "threadpoolctl": "3.6.0",
}
# not on Kaggle's image, or no build of Kaggle's version installs here: compat runs our pin
OUR_PIN = ("torch", "mlflow", "sweeps", "kaggle", "pyyaml", "six", "pytest")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


KAGGLE = _pins(REPO / "constraints-kaggle.txt")
OURS = _pins(REPO / "requirements.txt") | _pins(REPO / "requirements-dev.txt")


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [d for deps in project["optional-dependencies"].values() for d in deps]
    return [Requirement(d) for d in [*project["dependencies"], *extras]]


def test_kaggle_pins_satisfy_the_declared_ranges():
    """If pyproject.toml raises a minimum past Kaggle's version, this says which one."""
    checked = 0
    for dep in _declared():
        pin = KAGGLE.get(dep.name.lower())
        if pin is not None:
            assert Version(pin) in dep.specifier, (dep, pin)
            checked += 1
    assert checked >= 12  # core and extras, not only a few


def test_constraints_are_kaggles_image_and_the_rest_ours():
    assert {n: KAGGLE.get(n) for n in KAGGLE_IMAGE} == KAGGLE_IMAGE
    for name in OUR_PIN:
        assert KAGGLE[name] == OURS[name], name
    assert set(KAGGLE) == set(KAGGLE_IMAGE) | set(OUR_PIN)
    # compat tests something our pins do not
    older = [n for n in KAGGLE_IMAGE if n in OURS and Version(KAGGLE[n]) < Version(OURS[n])]
    assert {"pandas", "lightgbm", "wandb", "optuna", "ipykernel"} <= set(older)


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
