"""The W&B key on every path a run takes, the online one included.

A whole exp001 run (the calls its notebook makes, in this process, on small data) is driven
down the online branch with W&B and Kaggle Secrets faked at their boundary: Kaggle's
`kaggle_secrets` module returns a sentinel key and counts the reads, the W&B server is
"reachable", and `wandb` is a recorder that writes everything it is handed (init arguments,
config, logs, summaries, tables, artifacts) into the run's `wandb/` folder, as W&B's files
would. The key may reach W&B only through the process environment; it must appear nowhere in
stdout/stderr (what the executed notebook keeps as its outputs) or in any file of the run
folder. Offline and disabled runs must not even read the secret.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import types
from pathlib import Path

import pytest
from helpers import run_notebook_calls

from store_sales import plots
from store_sales.templates.exp001 import Exp001Config
from store_sales.wb import login
from store_sales.wb import tracker as wb_tracker

SENTINEL = "sEnTiNeL0123456789abcdef0123456789abcdef"
TINY = {"n_origins": 2, "num_boost_round": 15, "early_stopping_rounds": 5, "num_threads": 1}


# ---- fakes at the boundary ------------------------------------------------------------------
class FakeSecrets:
    """`kaggle_secrets` with one secret; `reads` counts every get_secret call."""

    def __init__(self):
        self.reads = 0
        outer = self

        class UserSecretsClient:
            def get_secret(self, label):
                outer.reads += 1
                if label != login.SECRET_LABEL:
                    raise ValueError("no such secret")
                return SENTINEL

        self.module = types.ModuleType("kaggle_secrets")
        self.module.UserSecretsClient = UserSecretsClient


class _Recorder:
    """Anything W&B is handed, as text, appended to one file (W&B's run files stand-in)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, what: str, *args, **kwargs) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps([what, repr(args), repr(kwargs)]) + "\n")


class _Dict(dict):
    def __init__(self, record, name):
        super().__init__()
        self._record, self._name = record, name

    def update(self, *args, **kwargs):
        self._record(f"{self._name}.update", *args, **kwargs)
        super().update(*args, **kwargs)


class FakeRun:
    def __init__(self, wandb, kwargs):
        self.wandb, self.id, self.url, self.tags = wandb, "fake01", None, tuple(kwargs["tags"])
        self.path = f"entity/{kwargs['project']}/fake01"
        self.dir = str(Path(kwargs["dir"]) / "wandb" / "run-fake01" / "files")
        self.record = _Recorder(Path(self.dir).parent / "run-fake01.jsonl")
        self.record("init", **kwargs)
        self.summary, self.config = _Dict(self.record, "summary"), _Dict(self.record, "config")

    def define_metric(self, *args, **kwargs):
        self.record("define_metric", *args, **kwargs)

    def log(self, *args, **kwargs):
        self.record("log", *args, **kwargs)

    def log_artifact(self, art, aliases=()):
        self.record("log_artifact", art.__dict__, aliases)

    def use_artifact(self, art):  # the input data (online runs): its files are checked too
        self.record("use_artifact", art.__dict__)

    def finish(self, exit_code=0):
        self.record("finish", exit_code)
        self.wandb.run = None


class _Artifact:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.files = args, kwargs, []

    def add_file(self, path):
        self.files.append(Path(path).read_text(errors="replace"))

    def add_reference(self, uri, name=None, checksum=True):
        self.files.append(uri)

    @contextlib.contextmanager
    def new_file(self, name, mode="w", encoding=None):
        """wandb.Artifact.new_file: what is written goes into the artifact (and this check)."""
        buffer = io.StringIO()
        yield buffer
        self.files.append(buffer.getvalue())


def _thing(kind):
    return lambda *args, **kwargs: {kind: (args, kwargs)}


class FakeWandb(types.SimpleNamespace):
    def __init__(self):
        super().__init__(
            run=None,
            inits=[],
            Settings=_thing("settings"),
            Artifact=_Artifact,
            Table=lambda dataframe: {"table": dataframe.to_csv()},
            Image=_thing("image"),
            Histogram=_thing("histogram"),
            plot=types.SimpleNamespace(line=_thing("line")),
        )

    def init(self, **kwargs):
        self.inits.append(kwargs)
        self.run = FakeRun(self, kwargs)
        return self.run

    def finish(self):
        self.run = None


class _Figure:
    """Stands in for the report's matplotlib figures (numbers drawn as pixels cannot hold the
    key; drawing them would triple this file's run time)."""

    def savefig(self, path, **kwargs):
        Path(path).write_bytes(b"PNG")


@pytest.fixture
def fakes(monkeypatch):
    for name in ("learning_curve", "actual_vs_forecast", "by_horizon", "feature_importance"):
        monkeypatch.setattr(plots, name, lambda *args, **kwargs: _Figure())
    secrets, wandb = FakeSecrets(), FakeWandb()
    monkeypatch.setitem(sys.modules, "kaggle_secrets", secrets.module)
    monkeypatch.setattr(wb_tracker, "wandb", wandb)
    lgb_integration = types.ModuleType("wandb.integration.lightgbm")
    lgb_integration.wandb_callback = lambda **kwargs: lambda env: None
    lgb_integration.log_summary = lambda model, **kwargs: None
    monkeypatch.setitem(sys.modules, "wandb.integration.lightgbm", lgb_integration)
    monkeypatch.setattr(login, "api_problem", lambda url, key, timeout=0: "")  # W&B answers
    monkeypatch.delenv("WANDB_MODE")
    return secrets, wandb


def _run(data_dir, out: Path, wandb_mode: str) -> dict:
    """What exp001's notebook does, in this process."""
    cfg = Exp001Config(data_dir=str(data_dir), output_dir=str(out), wandb_mode=wandb_mode, **TINY)
    return run_notebook_calls(cfg)[1]


def _files_holding(folder: Path, needle: str) -> list[str]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    return [str(p) for p in files if needle.encode() in p.read_bytes()]


# ---- the tests ------------------------------------------------------------------------------
@pytest.mark.parametrize("wandb_mode", ["online", "auto"])
def test_online_run_hands_the_key_to_wandb_only_through_the_environment(
    fakes, small_data_dir, tmp_path, capfd, wandb_mode
):
    secrets, wandb = fakes
    metrics = _run(small_data_dir, tmp_path / "run", wandb_mode)

    # the online branch was taken, with the key from Kaggle Secrets
    assert metrics["wandb"]["mode"] == "online" and wandb.inits[0]["mode"] == "online"
    assert secrets.reads >= 1
    assert login.os.environ["WANDB_API_KEY"] == SENTINEL  # the one sanctioned hand-over
    records = list((tmp_path / "run" / "wandb").rglob("*.jsonl"))
    assert records and "val/rmsle" in records[0].read_text()  # the recorder saw the run

    out, err = capfd.readouterr()
    assert "W&B online (key from Kaggle Secrets)" in out
    assert SENTINEL not in out and SENTINEL not in err
    assert _files_holding(tmp_path / "run", SENTINEL) == []


@pytest.mark.parametrize(
    ("wandb_mode", "env_mode"),
    [("offline", None), ("disabled", None), ("auto", "offline")],
)
def test_offline_and_disabled_runs_never_read_the_secret(
    fakes, small_data_dir, tmp_path, capfd, monkeypatch, wandb_mode, env_mode
):
    secrets, _ = fakes
    if env_mode:
        monkeypatch.setenv("WANDB_MODE", env_mode)
    metrics = _run(small_data_dir, tmp_path / "run", wandb_mode)
    assert metrics["wandb"]["mode"] == (env_mode or wandb_mode)
    assert secrets.reads == 0
    assert "WANDB_API_KEY" not in login.os.environ
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err
    assert _files_holding(tmp_path / "run", SENTINEL) == []


def test_the_scan_finds_a_key_that_is_written(tmp_path):
    """The file scan above can fail."""
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "metrics.json").write_text(json.dumps({"k": SENTINEL}))
    (tmp_path / "other.txt").write_text("nothing")
    assert _files_holding(tmp_path, SENTINEL) == [str(tmp_path / "deep" / "er" / "metrics.json")]
