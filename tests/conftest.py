"""Shared fixtures: small synthetic data, W&B kept offline inside a temp dir, fake Kaggle
secrets, finished runs shared by the tests that inspect them. Plain helpers live in helpers.py."""

from __future__ import annotations

import json
import os
import shutil
import sys
import types
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from helpers import (
    BATCH_FILES,
    E2E_FIXTURES,
    QUICK,
    SMALL,
    Batch,
    LabelAdapter,
    PipelineRun,
    isolate_outputs,
    isolate_wandb,
    postgres_bin,
    run_notebook_calls,
    start_postgres,
)

from store_sales import runner
from store_sales.synth import generate


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path_factory, monkeypatch):
    """No test may reach W&B or read the developer's credentials, or write to outputs/."""
    isolate_wandb(monkeypatch, tmp_path_factory.mktemp("wandb-home"))
    isolate_outputs(monkeypatch, tmp_path_factory.mktemp("outputs"))
    # data.check_data's memo of passed folders: each test starts with none
    monkeypatch.setenv("STORE_SALES_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def fake_kaggle_secrets_module(monkeypatch) -> Callable[..., types.ModuleType]:
    """`install(value, fail=False)`: an in-process fake `kaggle_secrets` in sys.modules.

    Its client returns `value` for W&B's secret label; any other label, or `fail=True` (the
    secret is not attached), raises as Kaggle's does. Removed again after the test.
    """
    from store_sales.wb.login import SECRET_LABEL

    def install(value: str, fail: bool = False) -> types.ModuleType:
        module = types.ModuleType("kaggle_secrets")

        class UserSecretsClient:
            def get_secret(self, label):
                if fail or label != SECRET_LABEL:
                    raise ConnectionError("secret not attached")
                return value

        module.UserSecretsClient = UserSecretsClient
        monkeypatch.setitem(sys.modules, "kaggle_secrets", module)
        return module

    return install


# ---- a database server -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session (its own temp data folder, a free port on
    127.0.0.1), stopped and deleted at the end: the Optuna storage URL of its database. Skipped
    where PostgreSQL's server or psycopg is not installed, except on CI (CI=true): it fails."""

    def absent(why: str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why}, and CI must run the PostgreSQL tests")
        pytest.skip(why)

    if find_spec("psycopg") is None:
        absent("psycopg is not installed (pip install -r requirements.txt, extra postgres)")
    bin_dir = postgres_bin()
    if bin_dir is None:
        absent("PostgreSQL's server (initdb, pg_ctl) is not installed: apt-get install postgresql")
    server = start_postgres(bin_dir)
    yield server.url
    server.stop()


# ---- data -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory) -> Path:
    """A few stores from mid-2016: every quirk the features handle, in well under a second."""
    out = tmp_path_factory.mktemp("small-data")
    generate(out, **SMALL)
    return out


@pytest.fixture(scope="session")
def data(small_data_dir):
    """The small data, loaded once; read-only (a test that changes data uses `data_copy`)."""
    from store_sales.data import load_data

    return load_data(small_data_dir)


@pytest.fixture(scope="session")
def panel(data):
    """The small data's panel, built once; read-only."""
    from store_sales.features import build_panel

    return build_panel(data)


@pytest.fixture
def data_copy(small_data_dir, tmp_path) -> Path:
    """A private copy of the small data that a test may damage."""
    dst = tmp_path / "data"
    shutil.copytree(small_data_dir, dst)
    return dst


@pytest.fixture(scope="session")
def exp001_run(small_data_dir, tmp_path_factory) -> Path:
    """One offline exp001 run (3 CV folds) through papermill, shared by the tests that inspect
    it."""
    out = tmp_path_factory.mktemp("exp001") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
            mp.setenv(var, str(tmp_path_factory.mktemp("wandb-session")))
        params = {
            "data_dir": str(small_data_dir),
            "output_dir": str(out),
            "n_origins": 6,
            "n_folds": 3,  # time-series CV: what every fold writes is checked
        }
        runner.run("exp001", {**params, "wandb_mode": "offline"}, log_output=False)
    return out


@pytest.fixture(scope="session")
def tracked_batch(small_data_dir, tmp_path_factory) -> Batch:
    """`store-sales batch exp001` over BATCH_FILES on the small data, every tracker choice
    once: W&B offline and MLflow (a sqlite store in the batch's outputs/)."""
    import contextlib
    import io

    import yaml

    from store_sales import cli

    root = tmp_path_factory.mktemp("batch")
    nodata = root / "nodata"
    shutil.copytree(small_data_dir, nodata)
    (nodata / "stores.csv").unlink()
    args = ["batch", "exp001"]
    for stem, params in BATCH_FILES.items():
        params = {**params, "data_dir": str(nodata if stem == "nodata" else small_data_dir)}
        (root / f"{stem}.yaml").write_text(yaml.safe_dump(params))
        args += ["-f", str(root / f"{stem}.yaml")]
    for name, value in {**QUICK["exp001"], "wandb_mode": "offline"}.items():
        args += ["-p", name, str(value)]
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        isolate_wandb(mp, root / "wandb-home")
        isolate_outputs(mp, root / "outputs")
        code = cli.main(args)
    runs = {}
    for folder in (root / "outputs").glob("exp001/*"):
        config = json.loads((folder / "config.json").read_text())
        runs[next(k for k, v in BATCH_FILES.items() if v.items() <= config.items())] = folder
    return Batch(code, out.getvalue(), root / "outputs", runs)


@pytest.fixture(scope="module")
def run_pipeline(small_data_dir, tmp_path_factory) -> Callable[..., PipelineRun]:
    """`run_pipeline(**params)`: the calls a template notebook makes (pipeline.start ... finish),
    in this process, exp001's config with `params`, on the small data, tracker none, with a
    LabelAdapter in place of LightGBM. A second or so; the one place that knows how a test
    gives the pipeline its model."""
    from store_sales.templates.exp001 import Exp001Config

    def run(**params) -> PipelineRun:
        out = tmp_path_factory.mktemp("pipeline") / "run"
        params = {"n_origins": 4, "tracker": "none", **params}
        cfg = Exp001Config(data_dir=str(small_data_dir), output_dir=str(out), **params)
        adapter = LabelAdapter()
        with pytest.MonkeyPatch.context() as mp:
            isolate_outputs(mp, tmp_path_factory.mktemp("pipeline-outputs"))
            run, _ = run_notebook_calls(cfg, adapter)
        metrics = json.loads((run.dir / "metrics.json").read_text())
        return PipelineRun(run.dir, metrics, adapter)

    return run
