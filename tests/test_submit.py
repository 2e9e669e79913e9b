"""`store-sales submit RUN`: the message, `--dry-run` through the kaggle package's own request
code, credentials that never show, one-line failures, and `--wait` recording the public score
in metrics.json, the leaderboard and the tracker runs. The kaggle client is replaced by one
that answers from the test (as in test_bundle.py), and no socket may connect."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from helpers import NO_NETWORK
from kagglesdk.competitions.types.competition_api_service import (
    ApiCreateSubmissionResponse,
    ApiSubmission,
)
from kagglesdk.competitions.types.submission_status import SubmissionStatus

from store_sales import cli, envinfo, kaggleapi, leaderboard, submit
from store_sales.errors import UserError
from store_sales.kaggleapi import OfflineClient

SENTINEL = "kagglesecretsentinel0123456789abcdef0123"
COMMIT = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
NAME = "exp001-lightgbm-20261124-061444"
KaggleApi = type(kaggleapi.kaggle_api())


def _run(root: Path, name: str = NAME, submission: bool = True, config=None, **metrics) -> Path:
    """A hand-written run folder, as a finished exp001 run leaves it."""
    folder = root / "exp001" / name
    folder.mkdir(parents=True)
    metrics = {
        "status": "finished",
        "run_name": name,
        "template": "exp001",
        "cv_rmsle_mean": 0.3809,
        "cv_rmsle_std": 0.0012,
        "n_folds": 3,
        "git_commit": COMMIT,
        **metrics,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.json").write_text(json.dumps({"template": "exp001", **(config or {})}))
    if submission:
        rows = "".join(f"{i},{i % 7 * 1.5}\n" for i in range(3000888, 3000988))
        (folder / "submission.csv").write_text("id,sales\n" + rows)
    return folder


def _cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main(["submit", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No socket connects; no credentials of the developer's: an empty HOME and config dir."""

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for key in [k for k in os.environ if k.startswith("KAGGLE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    (tmp_path / "kaggle-config").mkdir()


def _kaggle_json(tmp_path: Path, key: str = SENTINEL) -> None:
    path = tmp_path / "kaggle-config" / "kaggle.json"
    path.write_text(json.dumps({"username": "tester", "key": key}))
    path.chmod(0o600)


class FakeKaggle:
    """Kaggle's side of a real (non-dry) submit: kaggle's own KaggleApi code runs, its client
    and upload step are these."""

    def __init__(self, monkeypatch, ref: int = 4242):
        self.ref = ref
        self.submissions: list[ApiSubmission] = []
        self.uploads: list[str] = []
        self.keys_seen: list[str | None] = []
        self.fail: Exception | None = None
        fake = self

        def build_kaggle_client(api):
            fake.keys_seen.append(api.config_values.get("key"))
            return OfflineClient(
                {
                    "start_submission_upload": fake.start,
                    "create_submission": fake.create,
                    "list_submissions": lambda r: SimpleNamespace(submissions=fake.submissions),
                }
            )

        def upload_complete(api, path, url, quiet, resume=False):
            fake.uploads.append(path)
            return 1  # ResumableUploadResult.COMPLETE

        monkeypatch.setattr(KaggleApi, "build_kaggle_client", build_kaggle_client)
        monkeypatch.setattr(KaggleApi, "upload_complete", upload_complete)

    def start(self, request):
        if self.fail is not None:
            raise self.fail
        return SimpleNamespace(token="blob-token", create_url="https://upload.invalid/x")

    def create(self, request):
        response = ApiCreateSubmissionResponse()
        response.message, response.ref = "Successfully submitted", self.ref
        self.description = request.submission_description
        return response

    def scored(self, ref: int, description: str, score: str | None, error: str = ""):
        sub = ApiSubmission()
        sub.ref, sub.description = ref, description
        if score is not None:
            sub.public_score = score
        sub.status = SubmissionStatus.ERROR if error else SubmissionStatus.COMPLETE
        if error:
            sub.error_description = error
        self.submissions.append(sub)


# ---- the message and --dry-run ----------------------------------------------------------------


def test_dry_run_prints_kaggles_own_request_and_sends_nothing(tmp_path, monkeypatch, capsys):
    run = _run(tmp_path / "outputs")
    before = (run / "metrics.json").read_bytes()
    real_calls = []
    for method in ("build_kaggle_client", "upload_complete", "authenticate"):
        monkeypatch.setattr(KaggleApi, method, lambda *a, m=method, **k: real_calls.append(m))
    rc, out, err = _cli(capsys, NAME, "--dir", tmp_path / "outputs", "--dry-run", "-m", "lr 0.03")
    assert rc == 0, err
    message = f"exp001 {NAME} CV 0.38090 ± 0.00120 (3 folds) git 1a2b3c4d lr 0.03"
    size = (run / "submission.csv").stat().st_size
    assert f"description  {message}\n" in out
    assert f"size         {size:,} bytes" in out and "file name    submission.csv" in out
    assert "competition  store-sales-time-series-forecasting" in out
    assert "nothing sent" in out and err == ""
    # neither the real client nor the real upload was touched, and the run is unchanged
    assert real_calls == []
    assert (run / "metrics.json").read_bytes() == before


def test_dry_run_fields_are_those_kaggles_code_put_in_its_requests(tmp_path):
    run = _run(tmp_path / "outputs", n_folds=1, cv_rmsle_std=0.0)
    sub = submit.prepare(leaderboard.load(run), "another-competition", "")
    fields = submit.dry_run(sub)
    assert fields == {
        "competition": "another-competition",
        "file": str(run / "submission.csv"),
        "file_name": "submission.csv",
        "size": (run / "submission.csv").stat().st_size,
        "description": f"exp001 {NAME} CV 0.38090 ± 0.00000 (1 fold) git 1a2b3c4d",
    }


def test_dry_run_in_a_fresh_process_neither_logs_in_nor_prints_kaggles_notice(tmp_path):
    """Importing anything from kaggle logs in (an API call with an access token, a notice
    without one): in a fresh process, where kaggle is not imported yet, dry-run avoids both."""
    run = _run(tmp_path / "outputs")
    (tmp_path / "home" / ".kaggle").mkdir(parents=True)
    (tmp_path / "home" / ".kaggle" / "access_token").write_text("not-a-real-token")
    code = (
        NO_NETWORK
        + f"""
from store_sales import cli
rc = cli.main(["submit", {str(run)!r}, "--dry-run"])
print("connects", len(connects), "rc", rc)
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env["HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("dry run, nothing sent") and done.stderr == ""
    assert done.stdout.endswith("connects 0 rc 0\n")


def test_a_run_without_a_recorded_commit_quotes_the_checkouts(tmp_path, monkeypatch):
    run = _run(tmp_path / "outputs", git_commit=None)
    monkeypatch.setattr(submit, "git_commit", lambda: "feedbeef" * 5)
    assert submit.message_for(leaderboard.load(run)).endswith("(3 folds) git feedbeef")
    monkeypatch.setattr(submit, "git_commit", lambda: None)
    assert submit.message_for(leaderboard.load(run)).endswith("git unknown")


def test_a_run_records_its_commit_when_it_starts(tmp_path):
    from store_sales.run import Run
    from store_sales.templates import get

    cfg = get("exp001").config(output_dir=str(tmp_path / "run"), tracker="none")
    run = Run(cfg)
    assert run.metrics["git_commit"] == envinfo.git_commit()
    assert re.fullmatch(r"[0-9a-f]{40}", run.metrics["git_commit"])  # tests run in a checkout
    run.finish()
    assert json.loads((run.dir / "metrics.json").read_text())["git_commit"] == envinfo.git_commit()


# ---- refusals: one line, exit 2 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "submission", "expected"),
    [
        ({"status": "running"}, True, f"error: run {NAME} is killed, not finished"),  # no pid
        (
            {"status": "running", "pid": os.getpid(), "host": socket.gethostname()},
            True,
            f"error: run {NAME} is running, not finished",
        ),
        ({"status": "failed"}, True, f"error: run {NAME} is failed, not finished"),
        ({}, False, f"error: run {NAME} has no submission.csv in "),
    ],
)
def test_a_run_that_cannot_be_submitted_is_one_line(
    tmp_path, capsys, metrics, submission, expected
):
    run = _run(tmp_path / "outputs", submission=submission, **metrics)
    rc, out, err = _cli(capsys, run, "--dry-run")
    assert rc == 2 and out == ""
    assert err.startswith(expected) and err.count("\n") == 1


def test_no_token_is_one_line_naming_where_it_goes(tmp_path, capsys):
    run = _run(tmp_path / "outputs")
    rc, out, err = _cli(capsys, run)
    assert rc == 2 and out == ""  # kaggle's own help text is not shown
    assert err.count("\n") == 1 and err.startswith("error: no Kaggle API token")
    assert str(tmp_path / "kaggle-config") in err and "KAGGLE_USERNAME and KAGGLE_KEY" in err
    assert "kaggle_submission" not in json.loads((run / "metrics.json").read_text())


def _bad_status(code: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = code
    return requests.HTTPError(f"{code} Client Error, key {SENTINEL}", response=response)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (requests.ConnectionError("Max retries exceeded with url"), "cannot reach Kaggle"),
        (requests.Timeout("read timed out"), "cannot reach Kaggle (Timeout)"),
        (_bad_status(401), "check your Kaggle API token"),
        (_bad_status(403), "accept its rules"),
    ],
)
def test_no_network_or_a_refusal_is_one_line_without_the_key(
    tmp_path, monkeypatch, capsys, failure, expected
):
    _kaggle_json(tmp_path)
    kaggle = FakeKaggle(monkeypatch)
    kaggle.fail = failure
    run = _run(tmp_path / "outputs")
    rc, out, err = _cli(capsys, run)
    assert rc == 2 and err.count("\n") == 1 and expected in err
    assert SENTINEL not in out + err
    assert "kaggle_submission" not in json.loads((run / "metrics.json").read_text())


# ---- a (faked) real submission ------------------------------------------------------------------


@pytest.mark.parametrize("credentials", ["kaggle.json", "environment"])
def test_submit_and_wait_records_the_score_and_never_the_key(
    tmp_path, monkeypatch, capsys, credentials
):
    if credentials == "kaggle.json":
        _kaggle_json(tmp_path)
    else:
        monkeypatch.setenv("KAGGLE_USERNAME", "tester")
        monkeypatch.setenv("KAGGLE_KEY", SENTINEL)
    kaggle = FakeKaggle(monkeypatch)
    kaggle.scored(4241, "an older submission", "0.90000")
    kaggle.scored(4242, "ours", "0.41234")
    outputs = tmp_path / "outputs"
    run = _run(outputs)
    rc, out, err = _cli(capsys, NAME, "--dir", outputs, "--wait", "-m", "first try")
    assert rc == 0, err
    # kaggle's own login read the key, and its submit uploaded our file with our message
    assert kaggle.keys_seen and set(kaggle.keys_seen) == {SENTINEL}
    assert kaggle.uploads == [str(run / "submission.csv")]
    message = f"exp001 {NAME} CV 0.38090 ± 0.00120 (3 folds) git 1a2b3c4d first try"
    assert kaggle.description == message
    assert "public_lb 0.41234" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["public_lb"] == 0.41234
    entry = metrics["kaggle_submission"]
    assert entry["ref"] == 4242 and entry["message"] == message
    assert entry["competition"] == "store-sales-time-series-forecasting"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry["submitted_at"])
    # the key is nowhere: not printed, not in any file of the run
    assert SENTINEL not in out + err
    assert all(SENTINEL.encode() not in p.read_bytes() for p in run.rglob("*") if p.is_file())
    # the leaderboard shows CV against the public score
    assert cli.main(["runs", str(outputs)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "public_lb" in table[0].split()
    assert NAME in table[1] and "0.41234" in table[1].split()


def test_without_wait_the_submission_is_recorded_without_a_score(tmp_path, monkeypatch, capsys):
    _kaggle_json(tmp_path)
    FakeKaggle(monkeypatch)
    run = _run(tmp_path / "outputs")
    rc, out, err = _cli(capsys, run)
    assert rc == 0 and "submitted" in out and SENTINEL not in out + err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["kaggle_submission"]["ref"] == 4242 and "public_lb" not in metrics


def test_wait_matches_by_description_without_a_ref_and_gives_up_after_timeout(
    tmp_path, monkeypatch, capsys
):
    _kaggle_json(tmp_path)
    kaggle = FakeKaggle(monkeypatch, ref=0)  # a response without the submission's ref
    run = _run(tmp_path / "outputs")
    message = submit.message_for(leaderboard.load(run))
    kaggle.scored(7, "someone else's", "0.5")
    kaggle.scored(8, message, None)  # not scored yet
    monkeypatch.setattr(submit, "POLL_S", 0.01)
    rc, _, err = _cli(capsys, run, "--wait", "--timeout", "0.05")
    assert rc == 1 and "no public score after 0.05 s" in err
    assert "public_lb" not in json.loads((run / "metrics.json").read_text())
    kaggle.submissions[-1].public_score = "0.39876"
    assert _cli(capsys, run, "--wait", "--timeout", "5")[0] == 0
    assert json.loads((run / "metrics.json").read_text())["public_lb"] == 0.39876


def test_a_submission_kaggle_cannot_score_is_one_line(tmp_path, monkeypatch, capsys):
    _kaggle_json(tmp_path)
    kaggle = FakeKaggle(monkeypatch)
    kaggle.scored(4242, "ours", None, error="Submission must have 28512 rows")
    rc, _, err = _cli(capsys, _run(tmp_path / "outputs"), "--wait")
    assert rc == 2 and err == "error: Kaggle could not score the submission: " + (
        "Submission must have 28512 rows\n"
    )


# ---- the score in the tracker runs --------------------------------------------------------------


def test_the_score_goes_to_the_mlflow_run_and_offline_wandb_says_so(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from store_sales.mlf.tracker import MlflowTracker
    from store_sales.trackers import RunInfo

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, "exp001")
    info = RunInfo(name=NAME, dir=tmp_path, group="exp001", tags=[], notes="", config={})
    tracker.start(info)
    mlflow_info = tracker.finish(exit_code=0)
    _kaggle_json(tmp_path)
    FakeKaggle(monkeypatch).scored(4242, "ours", "0.40001")
    wandb_info = {"mode": "offline", "run_id": "off123", "dir": str(tmp_path / "wandb")}
    run = _run(tmp_path / "outputs", mlflow=mlflow_info, wandb=wandb_info)
    capsys.readouterr()
    rc, out, err = _cli(capsys, run, "--wait")
    assert rc == 0, err
    assert MlflowClient(uri).get_run(mlflow_info["run_id"]).data.metrics["public_lb"] == 0.40001
    assert f"MLflow: run {mlflow_info['run_id']}: metric public_lb 0.40001" in out
    assert "W&B: run off123 is offline, not updated (metrics.json has it)" in out


def test_a_tracker_that_cannot_be_updated_is_one_line_and_metrics_json_is_written(
    tmp_path, monkeypatch, capsys
):
    from store_sales.wb import summary

    updates = []
    monkeypatch.setattr(summary, "update_summary", lambda path, values: updates.append(path))
    _kaggle_json(tmp_path)
    FakeKaggle(monkeypatch).scored(4242, "ours", "0.40002")
    missing = tmp_path / "gone" / "mlflow.db"
    run = _run(
        tmp_path / "outputs",
        config={"wandb_entity": "me", "wandb_project": "store-sales"},
        wandb={"mode": "online", "run_id": "abc123"},
        mlflow={"uri": f"sqlite:///{missing}", "run_id": "r1"},
    )
    rc, out, err = _cli(capsys, run, "--wait")
    assert rc == 0, err
    assert updates == ["me/store-sales/abc123"]  # an online run: W&B's API, by its path
    assert f"MLflow: run r1 not updated (MLflow store {missing} is not there)" in out
    assert not missing.exists()  # no empty store made on the way
    assert json.loads((run / "metrics.json").read_text())["public_lb"] == 0.40002

    def refuse(path, values):
        raise UserError(f"W&B run {path}: CommError: no network")

    monkeypatch.setattr(summary, "update_summary", refuse)
    rc, out, err = _cli(capsys, run, "--wait")
    assert rc == 0 and "W&B: run me/store-sales/abc123 not updated (W&B run" in out


def test_bad_options_are_one_line(tmp_path, capsys):
    run = _run(tmp_path / "outputs")
    rc, _, err = _cli(capsys, run, "--dry-run", "--wait")
    assert rc == 2 and "--dry-run sends nothing" in err
    rc, _, err = _cli(capsys, run, "--timeout", "0")
    assert rc == 2 and "--timeout 0" in err
    rc, _, err = _cli(capsys, "no-such-run", "--dir", tmp_path / "outputs", "--dry-run")
    assert rc == 2 and "no run named 'no-such-run'" in err
