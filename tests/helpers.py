"""Plain helpers for the tests (no fixtures): small synthetic data settings, W&B kept offline
inside a temp dir, fake Kaggle secrets, a free port, the offline W&B run reader, a model that
trains nothing, and the calls a notebook makes. Test files import them from here; conftest.py
holds the fixtures built on them."""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from store_sales.models.base import FitResult, ModelAdapter

SMALL = {"seed": 1, "n_stores": 3, "start": "2016-06-01"}


# Parameters that keep each template's end-to-end run on the small data to seconds. One thread:
# on a machine shared with other tests, two OpenMP threads per kernel collapse (minutes per fit).
QUICK = {
    "exp001": {"n_origins": 6, "num_threads": 1, "num_boost_round": 300},
    "exp002": {"n_origins": 6, "num_threads": 1, "num_boost_round": 300},
    "exp003": {"n_origins": 6, "num_threads": 1, "max_epochs": 2},
    "exp004": {"n_origins": 6, "num_threads": 1, "iterations": 300},
    "exp005": {"n_origins": 6, "num_threads": 1, "max_iter": 300},
}


# ---- the e2e marker ---------------------------------------------------------------------------
# `pytest -m "not e2e"` is the quick local loop: it skips every test that executes a notebook
# (papermill) or a Kaggle-like kernel. A test that runs one itself carries `@pytest.mark.e2e`;
# a test that gets a finished run from one of these session fixtures is marked here, by fixture
# name (`item.fixturenames` includes fixtures used indirectly, through another fixture), so the
# files that use them need no per-test decoration.
E2E_FIXTURES = frozenset({"exp001_run", "tracked_batch"})


# ---- W&B isolation ----------------------------------------------------------------------------
WANDB_DIR_VARS = ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")


CLOSED_URL = "http://127.0.0.1:9"  # the discard port: nothing listens


def wandb_isolation_env(home: Path) -> dict[str, str]:
    """Variables that keep W&B's files in `home`, its server unreachable, no netrc login."""
    return {
        **{var: str(home) for var in WANDB_DIR_VARS},
        "NETRC": str(Path(home) / "netrc-absent"),
        "WANDB_BASE_URL": CLOSED_URL,
    }


def isolate_wandb(mp: pytest.MonkeyPatch, home: Path) -> None:
    """Offline W&B in `home`, no credentials, not on Kaggle; undone with `mp`.

    For fixtures of a wider scope than `isolated_wandb`: `with pytest.MonkeyPatch.context()`.
    """
    for var, value in wandb_isolation_env(home).items():
        mp.setenv(var, value)
    mp.setenv("WANDB_MODE", "offline")
    for var in ("WANDB_API_KEY", "KAGGLE_KERNEL_RUN_TYPE"):
        mp.setenv(var, "")  # records the original, so code that sets it is undone
        mp.delenv(var)


def isolate_outputs(mp: pytest.MonkeyPatch, outputs: Path) -> None:
    """Runs, sweeps and the default MLflow store (outputs/mlflow.db) under `outputs`, never in
    the checkout's outputs/; no MLflow server from the developer's environment."""
    mp.setenv("STORE_SALES_OUTPUTS", str(outputs))
    mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mp.setenv("MLFLOW_TRACKING_URI", "")
    mp.delenv("MLFLOW_TRACKING_URI")


# ---- fake Kaggle secrets ----------------------------------------------------------------------
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
    """A `kaggle_secrets.py` in `folder` whose `wandb_api_key` secret is `key` (for processes
    started with `folder` on their path: kernels, subprocesses)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kaggle_secrets.py"
    path.write_text(FAKE_SECRETS.format(key=key))
    return path


# ---- network ----------------------------------------------------------------------------------
# The first lines of a script run in a fresh process: every connection attempt is recorded in
# `connects` and refused (what `import kaggle` would otherwise try).
NO_NETWORK = """
import socket
connects = []
def record(*args, **kwargs):
    connects.append(args)
    raise OSError("no network in this test")
socket.socket.connect = socket.getaddrinfo = record
"""


def free_port() -> int:
    """A localhost TCP port that was free a moment ago: nothing listens, connections are
    refused (a W&B server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- a throwaway PostgreSQL server -----------------------------------------------------------
PG_USER = "postgres"  # the server's OS user when the tests run as root (initdb refuses root)


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl, postgres): pg_ctl's on PATH
    (a symlink followed), else Debian's /usr/lib/postgresql/<version>/bin, the newest."""
    found = shutil.which("pg_ctl")
    if found and (Path(os.path.realpath(found)).parent / "initdb").is_file():
        return Path(os.path.realpath(found)).parent
    if found and shutil.which("initdb"):
        return Path(found).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


@dataclass
class Postgres:
    """A server of our own: a data folder in a temp dir, 127.0.0.1 only, trust auth."""

    bin: Path
    root: Path  # the temp dir: data/, the log, the socket
    port: int
    as_user: list[str]  # runuser prefix when root, else []

    @property
    def url(self) -> str:
        """The Optuna storage URL (SQLAlchemy, psycopg 3) of the server's `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bin_dir: Path, attempts: int = 3) -> Postgres:
    """initdb into a fresh temp folder (owned by PG_USER when we are root) and start the server
    on a free 127.0.0.1 port, no TCP elsewhere, its socket in that folder; fsync off (data
    that dies with the tests). Stop it with `.stop()`."""
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="store-sales-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam(PG_USER)
        except KeyError:
            shutil.rmtree(root)
            raise RuntimeError(f"running as root, and there is no {PG_USER!r} user") from None
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", PG_USER, "--"]
    init = [str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-A", "trust"]
    done = subprocess.run(
        [*as_user, *init, "-E", "UTF8", "--no-sync"], capture_output=True, text=True, timeout=300
    )
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
    for _ in range(attempts):  # a free port may be taken before the server binds it
        server = Postgres(bin_dir, root, free_port(), as_user)
        options = f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off -c max_connections=200"
        log = str(root / "server.log")
        started = server.pg_ctl("-l", log, "-w", "-t", "60", "-o", options, "start")
        if started.returncode == 0:
            return server
    log = (root / "server.log").read_text() if (root / "server.log").is_file() else ""
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start: {started.stderr[-1000:]} {log[-2000:]}")


# ---- offline W&B runs -------------------------------------------------------------------------
@functools.cache
def _has_leet(wandb_cli: str) -> bool:
    probe = subprocess.run([wandb_cli, "leet", "--help"], capture_output=True, timeout=60)
    return probe.returncode == 0


def leet_records(run_dir: Path) -> list[dict]:
    """Every record of the offline W&B run in `run_dir/wandb`, via `wandb leet inspect --json`."""
    wandb_cli = Path(sys.executable).with_name("wandb")
    (offline,) = (Path(run_dir) / "wandb").glob("offline-run-*")
    if not _has_leet(str(wandb_cli)):  # .ci/compat's Kaggle-era wandb predates `wandb leet`
        pytest.skip("this wandb has no `wandb leet` to read an offline run")
    out = subprocess.run(
        [str(wandb_cli), "leet", "inspect", "--json", str(offline)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def by_type(records: list[dict], kind: str) -> list:
    """The payloads of the records of one type ("run", "history", "summary", "exit", ...)."""
    return [r[kind] for r in records if r["type"] == kind]


@dataclass
class Batch:
    exit_code: int
    output: str  # what `store-sales batch` printed
    outputs: Path  # STORE_SALES_OUTPUTS of the batch: run folders and outputs/mlflow.db
    runs: dict[str, Path]  # parameter file stem -> run folder (no entry: never started)

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.outputs / 'mlflow.db'}"


# Each a parameter file of the batch below; the common values make every run take seconds.
BATCH_FILES = {
    "mlflow": {"tracker": "mlflow", "learning_rate": 0.1},
    "both": {"tracker": "both", "n_folds": 2},
    "wandb": {"tracker": "wandb", "num_leaves": 31},
    "none": {"tracker": "none", "min_data_in_leaf": 20},
    "bad": {"tracker": "mlflow", "num_leaves": "abc"},  # refused before any kernel starts
    "broken": {"tracker": "mlflow", "lambda_l2": -1.0},  # LightGBM refuses it: fails in the kernel
    "nodata": {"tracker": "mlflow"},  # its data folder lacks stores.csv: refused before too
}


# ---- the pipeline in-process, with a fake model ---------------------------------------------
class LabelAdapter(ModelAdapter):
    """A model whose every fit forecasts one constant, so each output shows which model made
    it: fold k's model forecasts FOLD_SALES + k sales, the test refit REFIT_SALES. Fold k's best
    step is 10 * k. Records the folds it fits and the step count of each refit."""

    name = "label"
    model_file = "model.json"
    FOLD_SALES = 10.0
    REFIT_SALES = 100.0

    def __init__(self):
        self.fits: list[int] = []
        self.refits: list[int] = []

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()):
        self.fits.append(fold)
        curve = list(1.0 / np.arange(1.0, 10 * fold + 6))  # a learning curve to plot
        return FitResult(self.FOLD_SALES + fold, 10 * fold, {"val_rmse": curve})

    def refit(self, train, features, steps):
        self.refits.append(steps)
        return self.REFIT_SALES

    def predict(self, model, rows, features):
        return np.full(len(rows), np.log1p(model))

    def save(self, model, path):
        path.write_text(json.dumps(model))
        return path

    def load(self, path):
        return json.loads(path.read_text())


@dataclass
class PipelineRun:
    dir: Path  # the run folder
    metrics: dict  # metrics.json as written
    adapter: object  # the LabelAdapter it ran with


def run_notebook_calls(cfg, adapter=None):
    """What a template notebook does after its model cell, in this process: start, load,
    validate, forecast, report, finish; `adapter` defaults to the template's own model cell.
    Returns the run and its finished metrics."""
    from store_sales import pipeline, templates

    if adapter is None:
        adapter = templates.adapter(type(cfg).TEMPLATE, cfg)
    run = pipeline.start(cfg, adapter=adapter)
    data, panel = pipeline.load(run)
    cv = pipeline.validate(run, panel)
    forecast = pipeline.forecast(run, data, panel, cv)
    pipeline.report(run, panel, cv, forecast)
    return run, run.finish()
