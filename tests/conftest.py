"""Shared fixtures: small synthetic data, and W&B kept offline inside a temp dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from store_sales import runner
from store_sales.synth import generate

SMALL = {"seed": 1, "n_stores": 3, "start": "2016-06-01"}

FAKE_SECRETS = '''\
"""Stand-in for Kaggle's kaggle_secrets: one secret; logs the labels asked for if told where."""
import os


class UserSecretsClient:
    def get_secret(self, label):
        if os.environ.get("FAKE_SECRETS_LOG"):
            with open(os.environ["FAKE_SECRETS_LOG"], "a") as fh:
                fh.write(label + "\\n")
        if label != "wandb_api_key":
            raise ValueError("no such secret")  # Kaggle raises for a missing secret too
        return {key!r}
'''


def write_fake_kaggle_secrets(folder: Path, key: str) -> Path:
    """A `kaggle_secrets.py` in `folder` whose `wandb_api_key` secret is `key`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kaggle_secrets.py"
    path.write_text(FAKE_SECRETS.format(key=key))
    return path


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path_factory, monkeypatch):
    """No test may reach W&B or read the developer's credentials."""
    home = tmp_path_factory.mktemp("wandb-home")
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("NETRC", str(home / "netrc-absent"))
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    for var in ("WANDB_API_KEY", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.setenv(var, "")  # records the original, so code that sets it is undone
        monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory) -> Path:
    """A few stores from mid-2016: every quirk the features handle, in well under a second."""
    out = tmp_path_factory.mktemp("small-data")
    generate(out, **SMALL)
    return out


@pytest.fixture
def data_copy(small_data_dir, tmp_path) -> Path:
    """A private copy of the small data that a test may damage."""
    dst = tmp_path / "data"
    shutil.copytree(small_data_dir, dst)
    return dst


@pytest.fixture(scope="session")
def exp001_run(small_data_dir, tmp_path_factory) -> Path:
    """One offline exp001 run through papermill, shared by the tests that inspect it."""
    out = tmp_path_factory.mktemp("exp001") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
            mp.setenv(var, str(tmp_path_factory.mktemp("wandb-session")))
        params = {"data_dir": str(small_data_dir), "output_dir": str(out), "n_origins": 6}
        runner.run("exp001", {**params, "wandb_mode": "offline"}, log_output=False)
    return out
