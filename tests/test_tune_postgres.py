"""`store-sales tune` on PostgreSQL, for real: a throwaway server (conftest's `postgres_url`),
`tune` processes started as separate programs in separate working folders ("machines": no
shared file), one study. Two processes share a study; a study's results rebuilt from the study
alone in an empty folder; a process killed mid-trial (kill -9, its kernel too) has its trial
failed and re-queued by the survivor, which brings the study to its trial count. Quick: the
missing driver named in one line, the heartbeat's re-queue, the W&B and MLflow study records."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import psutil
import pytest
import yaml
from helpers import wandb_isolation_env
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from store_sales import cli, extras, runner
from store_sales.tune import optimize
from store_sales.tune import study as st

BIN = Path(sys.executable).parent
FAST = {"n_origins": 6, "num_threads": 1, "num_boost_round": 60, "early_stopping_rounds": 20}
SPACE = {
    "method": "random",
    "metric": {"name": "val/rmsle", "goal": "minimize"},
    "parameters": {"learning_rate": {"min": 0.05, "max": 0.2}, "lambda_l2": {"value": 1.0}},
}
HEARTBEAT = 1  # seconds: a dead process's trial is re-queued within st.requeue_s(1) = 4 s


# ---- quick ---------------------------------------------------------------------------------
def test_a_postgresql_url_without_psycopg_names_the_extra_before_any_trial(
    monkeypatch, capsys, tmp_path
):
    real = extras.find_spec
    monkeypatch.setattr(extras, "find_spec", lambda m: None if m == "psycopg" else real(m))
    monkeypatch.setattr(optimize, "run_trials", lambda *a, **k: pytest.fail("a trial ran"))
    url = "postgresql+psycopg://postgres@127.0.0.1:9/optuna"
    assert cli.main(["tune", "exp001", "--trials", "1", "--storage", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: the storage postgresql+psycopg:// needs psycopg: "
        'pip install "store-sales-templates[postgres]"'
    )


@pytest.mark.e2e  # slow: waits out a heartbeat's grace period
@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_dead_controllers_trial_is_failed_and_requeued_by_a_live_one(tmp_path):
    """Two controllers' heartbeats on one sqlite study: the one that stops beating (as if
    killed) has its trial failed by the other within requeue_s, and a copy waits in the queue."""
    url = st.sqlite_url(tmp_path / "study.db")
    st.open_study("hb", url, create=True)
    dead = optimize._Heartbeat("hb", url, HEARTBEAT)
    study = st.open_study("hb", url, heartbeat=HEARTBEAT)
    trial = study.ask({"learning_rate": FloatDistribution(0.01, 0.3)})
    dead.add(trial.number)  # one beat, then silence: the thread never starts
    live = optimize._Heartbeat("hb", url, HEARTBEAT)
    live.start()
    begun = time.time()
    try:
        while study.trials[trial.number].state == TrialState.RUNNING:
            assert time.time() - begun < st.requeue_s(HEARTBEAT) + 2, "never failed"
            time.sleep(0.1)
    finally:
        live.stop()
    trials = study.trials
    assert trials[trial.number].state == TrialState.FAIL
    (copy,) = trials[trial.number + 1 :]
    assert copy.state == TrialState.WAITING and copy.params == trials[trial.number].params
    assert copy.system_attrs["failed_trial"] == trial.number


# ---- on a real server, real exp001 trials ---------------------------------------------------
def _machine(root: Path, name: str) -> tuple[Path, dict]:
    """A 'machine': its own working folder and outputs, W&B offline inside it, MLflow too."""
    home = root / name
    (home / "wandb").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "MLFLOW_TRACKING_URI")}
    env |= wandb_isolation_env(home / "wandb") | {"WANDB_MODE": "offline"}
    env |= {"STORE_SALES_OUTPUTS": str(home / "outputs"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    return home, env


def _tune(root: Path, name: str, data_dir: Path, url: str, *args: str) -> subprocess.Popen:
    home, env = _machine(root, name)
    space = home / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    cmd = [str(BIN / "store-sales"), "tune", "exp001", "--config", str(space), "--storage", url]
    cmd += ["--pruner", "none", "--heartbeat", str(HEARTBEAT), *args]
    for key, value in {"data_dir": data_dir, "tracker": "none", **FAST}.items():
        cmd += ["-p", key, str(value)]
    return subprocess.Popen(
        cmd, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _trial_folders(root: Path, machine: str, study: str) -> list[str]:
    trials = root / machine / "outputs" / "tune" / study / "trials"
    return sorted(p.name for p in trials.iterdir()) if trials.is_dir() else []


@pytest.fixture(scope="module")
def shared(postgres_url, small_data_dir, tmp_path_factory):
    """Two `tune` processes, two trials each, started together on study `shared`."""
    root = tmp_path_factory.mktemp("pg-machines")
    procs = {
        m: _tune(root, m, small_data_dir, postgres_url, "--trials", "2", "--study", "shared")
        for m in ("a", "b")
    }
    outputs = {m: p.communicate(timeout=600)[0] for m, p in procs.items()}
    assert [p.returncode for p in procs.values()] == [0, 0], {
        m: o[-3000:] for m, o in outputs.items()
    }
    return root, postgres_url, outputs


@pytest.mark.e2e
def test_two_processes_on_separate_machines_share_one_postgresql_study(shared):
    root, url, outputs = shared
    study = optuna.load_study(study_name="shared", storage=url)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]  # 2 + 2, distinct
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for machine in ("a", "b"):
        mine = [
            t for t in study.trials if t.user_attrs["dir"].startswith(str(root / machine) + "/")
        ]
        assert len(mine) == 2, machine
        # each machine's folder holds only its own trials
        assert _trial_folders(root, machine, "shared") == sorted(
            f"trial-{t.number:04d}" for t in mine
        )
        assert "heartbeat 1s" in outputs[machine]


@pytest.mark.e2e
def test_results_rebuild_from_the_study_alone_in_an_empty_folder(shared, tmp_path):
    _, url, _ = shared
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {**os.environ, "STORE_SALES_OUTPUTS": str(empty / "outputs")}
    cmd = [str(BIN / "store-sales"), "tune", "--results", "--study", "shared", "--storage", url]
    done = subprocess.run(cmd, cwd=empty, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    folder = empty / "outputs" / "tune" / "shared"
    table = pd.read_csv(folder / "results.csv").set_index("trial")
    assert sorted(table.index) == [0, 1, 2, 3]
    assert not any((folder / "trials").iterdir())  # no trial folder here: the study alone
    study = optuna.load_study(study_name="shared", storage=url)
    for t in study.trials:  # every trial's best step and steps, as its own run folder has them
        metrics = runner.read_metrics(t.user_attrs["dir"])
        assert table.loc[t.number, "best_step"] == metrics["best_step"]
        assert table.loc[t.number, "steps"] == metrics["fold_steps_run"][0]
        assert table.loc[t.number, "seconds"] > 0
        assert table.loc[t.number, "dir"] == t.user_attrs["dir"] and table.loc[t.number, "host"]
    assert (folder / "best.yaml").is_file() and (folder / "study.json").is_file()


@pytest.mark.e2e
def test_a_killed_process_trial_is_requeued_and_the_survivor_completes_the_study(
    postgres_url, small_data_dir, tmp_path
):
    """kill -9 one `tune` process (and its kernel: a dead machine) mid-trial: the survivor's
    heartbeat thread fails its trial within requeue_s, re-queues a copy, and runs trials until
    the study holds --study-trials; nothing stays RUNNING."""
    total = 3
    args = ["--study", "dead", "--study-trials", str(total)]
    victim = _tune(tmp_path, "victim", small_data_dir, postgres_url, *args)
    survivor = _tune(tmp_path, "survivor", small_data_dir, postgres_url, *args)
    mine = str(tmp_path / "victim") + "/"
    study = None
    deadline = time.time() + 300
    killed_number = None
    while killed_number is None:  # the victim's first trial, running in its kernel
        assert time.time() < deadline and victim.poll() is None, "the victim never started"
        time.sleep(0.5)
        with contextlib.suppress(KeyError):  # the study is not made yet
            study = study or optuna.load_study(study_name="dead", storage=postgres_url)
        for t in study.trials if study else ():
            running = t.state == TrialState.RUNNING and t.user_attrs.get("dir", "")
            if running and running.startswith(mine) and _kernel_started(victim):
                killed_number = t.number
    time.sleep(2)  # mid-trial
    family = psutil.Process(victim.pid).children(recursive=True)
    victim.send_signal(signal.SIGKILL)
    for child in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.send_signal(signal.SIGKILL)
    killed_at = time.time()
    victim.communicate(timeout=60)
    requeued_after = None
    while requeued_after is None:
        assert time.time() - killed_at < 120 and survivor.poll() in (None, 0)
        retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed_number]
        if retries:
            requeued_after = time.time() - killed_at
        time.sleep(0.2)
    out = survivor.communicate(timeout=600)[0]
    assert survivor.returncode == 0, out[-3000:]
    print(f"re-queued {requeued_after:.1f} s after the kill (bound {st.requeue_s(HEARTBEAT)} s)")
    assert requeued_after <= st.requeue_s(HEARTBEAT) + 2
    trials = optuna.load_study(study_name="dead", storage=postgres_url).trials
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) == total, states
    assert trials[killed_number].state == TrialState.FAIL
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == killed_number]
    assert retry.state == TrialState.COMPLETE and retry.params == trials[killed_number].params
    assert retry.user_attrs["dir"].startswith(str(tmp_path / "survivor") + "/")
    assert f"trial-{retry.number:04d}" in _trial_folders(tmp_path, "survivor", "dead")
    assert "the study holds its 3 trials" in out


def _kernel_started(proc: subprocess.Popen) -> bool:
    """Whether the tune process runs a trial's kernel (a child process) yet."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return any(
            "ipykernel" in " ".join(c.cmdline())
            for c in psutil.Process(proc.pid).children(recursive=True)
        )
    return False


# ---- the study as one record (quick: hand-made trials, real stores) ---------------------------
def _recorded_study(tmp_path: Path, trackers: dict[int, dict]):
    """A summarized study folder of three hand-made complete trials, trial n's metrics holding
    `trackers[n]` (its tracker entries, as `tune` keeps them)."""
    from optuna.trial import create_trial

    from store_sales.tune import summarize

    url = st.sqlite_url(tmp_path / "study.db")
    study = st.open_study("rec", url, create=True)
    described = {"study": "rec", "template": "exp001", "metric": "val/rmsle", "sampler": "tpe"}
    study.set_user_attr(st.FOLDER_ATTR, described)
    for n, lr in enumerate((0.1, 0.05, 0.2)):
        study.add_trial(
            create_trial(
                value=0.5 - lr,
                params={"learning_rate": lr},
                distributions={"learning_rate": FloatDistribution(0.01, 0.3)},
                user_attrs={"params": {"learning_rate": lr}, "best_step": 10 + n, "steps": 20,
                            "metrics": trackers.get(n, {}), "host": "h", "dir": "/x"},
            )
        )  # fmt: skip
    st.write_folder(tmp_path, {**described, "storage": url, "pruner": {"name": "none"}}, "")
    with contextlib.redirect_stdout(io.StringIO()):
        summary = summarize(tmp_path, plot=False)
    return summary, st.open_study("rec", url)


def test_the_study_is_an_mlflow_parent_run_of_its_trials_runs(tmp_path):
    from mlflow.tracking import MlflowClient

    from store_sales.mlf.study import PARENT_TAG
    from store_sales.tune.records import record_study

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("exp001")
    children = [client.create_run(experiment).info.run_id for _ in range(3)]
    entries = {n: {"mlflow": {"uri": uri, "experiment": "exp001", "run_id": children[n]}}
               for n in range(3)}  # fmt: skip
    summary, study = _recorded_study(tmp_path, entries)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        first = record_study(summary, study, {})["mlflow"]
        again = record_study(summary, study, {})["mlflow"]  # another process: the same parent
    assert first["run_id"] == again["run_id"] and first["children"] == 3
    parent = client.get_run(first["run_id"])
    assert parent.data.tags["job_type"] == "tune" and parent.data.params["study"] == "rec"
    assert parent.data.metrics["best_val_rmsle"] == pytest.approx(0.3)  # trial 2, lr 0.2
    assert parent.data.metrics["best_trial"] == 2
    for run_id in children:
        assert client.get_run(run_id).data.tags[PARENT_TAG] == first["run_id"]
    assert "MLflow  study parent run" in out.getvalue()
    assert "wandb" not in first  # the trials had no W&B runs: no W&B record


def test_the_study_is_one_offline_wandb_run_of_job_type_tune(tmp_path):
    from helpers import by_type, leet_records

    from store_sales.tune.records import record_study

    entries = {n: {"wandb": {"mode": "offline", "run_id": f"r{n}"}} for n in range(3)}
    summary, study = _recorded_study(tmp_path, entries)
    with contextlib.redirect_stdout(io.StringIO()):
        written = record_study(summary, study, {"wandb_project": "p"})["wandb"]
    assert written["mode"] == "offline"  # never online in tests (nor ever, for offline trials)
    run_dir = Path(written["dir"])
    assert run_dir.parent == tmp_path / "wandb" and run_dir.name.startswith("offline-run-")
    records = leet_records(tmp_path)
    (run,) = by_type(records, "run")
    assert run["job_type"] == "tune" and run["run_group"] == "rec"
    final: dict = {}
    for update in by_type(records, "summary"):
        final.update(update["update"])
    assert final["best_trial"] == 2 and final["n_trials"] == 3
    (table,) = (run_dir / "files" / "media" / "table").glob("trials_*.table.json")
    logged = json.loads(table.read_text())  # one row per trial: parallel coordinates' input
    assert {"trial", "state", "val/rmsle", "learning_rate"} <= set(logged["columns"])
    assert len(logged["data"]) == 3
    # one W&B run per study: another process (machine) recording the same study gets its id
    from store_sales.wb.study import study_run_id

    assert written["run_id"] == study_run_id("p", "rec") == run["run_id"]
    assert study_run_id("p", "rec") != study_run_id("p", "other")
