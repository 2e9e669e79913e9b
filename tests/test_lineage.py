"""Lineage in W&B: each run kind's job_type (train, blend, sweep-trial, tune-trial) and the
input data as an artifact the run uses, versioned by the data's fingerprint (online only)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import by_type, leet_records

from store_sales import pipeline
from store_sales.envinfo import data_digest
from store_sales.trackers import RunInfo
from store_sales.wb import tracker as wb

FILES = {"train.csv": {"bytes": 10, "md5": "0" * 32}, "test.csv": {"bytes": 4, "md5": "1" * 32}}


def _info(tmp_path: Path, job_type: str = "train", files: dict | None = None) -> RunInfo:
    return RunInfo(
        name="exp001-lightgbm-lineage",
        dir=tmp_path,
        group="exp001",
        tags=["lightgbm"],
        notes="template defaults",
        config={"n_folds": 1, "data": {"files": files or FILES}},
        data_files=files or FILES,
        data_source=tmp_path,
        data_kind="real",
        template="exp001",
        model="lightgbm",
        job_type=job_type,
    )


def test_a_runs_kind_is_its_job_type(tmp_path):
    cfg = SimpleNamespace(sweep_dir="")
    assert pipeline.job_type(cfg, tmp_path) == "train"
    assert pipeline.job_type(SimpleNamespace(), tmp_path) == "train"  # a config without it
    cfg.sweep_dir = str(tmp_path / "sweep")
    assert pipeline.job_type(cfg, tmp_path) == "sweep-trial"
    (tmp_path / "tune.json").write_text("{}")  # a tune trial's folder holds its Optuna trial
    assert pipeline.job_type(cfg, tmp_path) == "tune-trial"


@pytest.mark.e2e  # slow: a whole run with an offline W&B run
def test_the_offline_run_records_the_job_type_and_the_fingerprint_not_an_artifact(
    tmp_path, monkeypatch
):
    used = []
    monkeypatch.setattr(wb.WandbTracker, "_use_dataset", lambda self, info: used.append(info))
    tracker = wb.WandbTracker("offline", "store-sales")
    tracker.start(_info(tmp_path, "sweep-trial"))
    tracker.finish(exit_code=0)
    records = leet_records(tmp_path)
    (run,) = by_type(records, "run")
    assert run["job_type"] == "sweep-trial"
    assert run["config"]["update"]["data"]["files"] == FILES  # the fingerprint, offline too
    assert used == []  # W&B cannot resolve artifacts offline: no dataset artifact


class _StubRun:
    def __init__(self):
        self.used = []

    def use_artifact(self, artifact):
        self.used.append(artifact)


def _used(tmp_path: Path, files: dict, source: Path):
    tracker = wb.WandbTracker.__new__(wb.WandbTracker)  # no login, no wandb.init
    tracker.run, tracker.mode = _StubRun(), "online"
    info = _info(tmp_path, files=files)
    info.data_source = source
    tracker._use_dataset(info)
    (art,) = tracker.run.used
    return art


def test_online_the_data_is_a_used_artifact_versioned_by_its_fingerprint(tmp_path):
    art = _used(tmp_path, FILES, tmp_path / "here")
    assert art.name == wb.dataset_artifact_name("real") == "store-sales-real-data"
    assert art.type == "dataset"
    assert art.metadata["digest"] == data_digest(FILES) and art.metadata["files"] == FILES
    assert list(art.manifest.entries) == ["fingerprint.json"]  # no file:// path of this machine
    # the same files elsewhere are the same version (W&B versions by content); others are new
    elsewhere = _used(tmp_path, dict(FILES), tmp_path / "kaggle-input")
    other = _used(tmp_path, {**FILES, "test.csv": {"bytes": 5, "md5": "2" * 32}}, tmp_path)
    assert elsewhere.digest == art.digest != other.digest


def test_an_online_start_uses_the_dataset_and_an_offline_or_disabled_one_does_not(
    tmp_path, monkeypatch
):
    calls = {}

    class Run:
        def define_metric(self, *args, **kwargs):
            pass

    def init(**kwargs):
        calls["job_type"] = kwargs["job_type"]
        return Run()

    monkeypatch.setattr(wb.wandb, "init", init)
    monkeypatch.setattr(wb.wandb, "run", None)
    for mode, expected in (("online", 1), ("offline", 0), ("disabled", 0)):
        used = []
        tracker = wb.WandbTracker.__new__(wb.WandbTracker)
        tracker.mode, tracker.project, tracker.entity = mode, "store-sales", ""
        tracker._restore_stderr = lambda: None
        tracker._use_dataset = used.append
        tracker.start(_info(tmp_path, "blend"))
        tracker._restore_stderr()
        assert len(used) == expected, mode
        assert calls["job_type"] == "blend"


def test_the_data_digest_follows_the_files_not_their_order():
    assert data_digest(FILES) == data_digest(dict(reversed(list(FILES.items()))))
    assert data_digest({}) == "" and len(data_digest(FILES)) == 32
    assert json.dumps(FILES)  # plain JSON: what config.json and the artifact hold
