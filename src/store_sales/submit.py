"""`store-sales submit RUN`: a run's submission.csv to the competition, with a message that
ties the leaderboard entry back to the run (template, run name, CV, git commit).

Everything goes through the installed kaggle package's own `competition_submit`, so what
`--dry-run` shows is what kaggle's code builds: there its client is swapped for one that
captures the requests and its upload step for one that uploads nothing. `--wait` polls the
competition's submissions for the public score and writes it as `public_lb` into the run's
metrics.json (where `store-sales runs` shows it) and its tracker runs.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

from . import rundir
from .envinfo import git_commit
from .errors import UserError
from .kaggleapi import CapturedRequest, OfflineClient, kaggle_api, login, scrub, secrets_of
from .leaderboard import RunRecord
from .paths import COMPETITION
from .tracker_registry import recorded

POLL_S = 15.0  # between looks at the submissions list: Kaggle scores this one in ~a minute
DRY_RUN_URL = "dry-run://nothing-uploaded"


@dataclass
class Submission:
    run: RunRecord
    file: Path
    competition: str
    message: str


def message_for(run: RunRecord, extra: str = "") -> str:
    """Template, run name, CV mean ± std (folds), commit, e.g.
    `exp001 exp001-lightgbm-20261124-061444 CV 0.38090 ± 0.00000 (1 fold) git 1a2b3c4d`."""
    m = run.metrics
    parts = [run.template or "?", run.name]
    if m.get("cv_rmsle_mean") is not None:
        n = int(m.get("n_folds") or 1)
        std = m.get("cv_rmsle_std") or 0.0
        parts.append(f"CV {m['cv_rmsle_mean']:.5f} ± {std:.5f} ({n} fold{'s' * (n != 1)})")
    commit = m.get("git_commit") or git_commit()  # runs before it was recorded: this checkout
    parts.append(f"git {commit[:8]}" if commit else "git unknown")
    if extra:
        parts.append(extra)
    return " ".join(parts)


def prepare(run: RunRecord, competition: str | None = None, extra: str = "") -> Submission:
    """What `submit` sends; a run that is not finished or has no submission.csv: UserError."""
    if run.status != "finished":
        raise UserError(
            f"run {run.name} is {run.status}, not finished: submit a finished run "
            "(`store-sales runs --status finished` lists them)"
        )
    file = run.dir / "submission.csv"
    if not file.is_file():
        raise UserError(f"run {run.name} has no submission.csv in {run.dir}")
    return Submission(run, file, competition or COMPETITION, message_for(run, extra))


def _api():
    try:
        return kaggle_api("submitting to Kaggle")
    except ImportError as err:
        raise UserError(str(err)) from None


# ---- --dry-run: kaggle's own request code, nothing sent -----------------------------------


def dry_run(sub: Submission) -> dict:
    """Run kaggle's `competition_submit` offline; returns the fields of the requests it built
    (competition, file_name, size, description)."""
    api = _api()  # first: importing anything from kaggle logs in, unless _api does it
    from kaggle.models.kaggle_models_extended import ResumableUploadResult

    client = OfflineClient(
        {
            "start_submission_upload": lambda r: SimpleNamespace(
                token="dry-run", create_url=DRY_RUN_URL
            ),
            "create_submission": lambda r: SimpleNamespace(message="dry run", ref=0),
        }
    )
    uploads = []

    def no_upload(path, url, quiet, resume=False):
        uploads.append((path, url))
        return ResumableUploadResult.COMPLETE

    api.build_kaggle_client = lambda: client
    api.upload_complete = no_upload
    unknown = (
        f"kaggle {_kaggle_version()}'s competition_submit sends requests this command does not know"
    )
    try:
        api.competition_submit(str(sub.file), sub.message, sub.competition, quiet=True)
    except CapturedRequest as other:  # a later kaggle release that asks something more
        raise UserError(f"{unknown} ({other.method})") from None
    sent = dict(client.requests)
    start, create = sent["start_submission_upload"], sent["create_submission"]
    expected_upload = [(str(sub.file), DRY_RUN_URL)]
    if start.competition_name != create.competition_name or uploads != expected_upload:
        raise UserError(unknown)
    return {
        "competition": create.competition_name,
        "file": str(sub.file),
        "file_name": start.file_name,
        "size": start.content_length,
        "description": create.submission_description,
    }


def describe_dry_run(fields: dict) -> str:
    return "\n".join(
        [
            f"dry run, nothing sent: kaggle {_kaggle_version()}'s competition_submit would send",
            f"  competition  {fields['competition']}",
            f"  file         {fields['file']}",
            f"  file name    {fields['file_name']}",
            f"  size         {fields['size']:,} bytes",
            f"  description  {fields['description']}",
        ]
    )


def _kaggle_version() -> str:
    try:
        return metadata.version("kaggle")
    except metadata.PackageNotFoundError:
        return "?"


# ---- the real submission -------------------------------------------------------------------


@contextmanager
def _kaggle_errors(competition: str, secrets: list[str]):
    """Kaggle's HTTP and network failures as one line; no credential can end up in it."""
    import requests

    try:
        yield
    except requests.HTTPError as err:
        status = getattr(err.response, "status_code", None)
        fix = {
            401: "check your Kaggle API token (kaggle.json, or KAGGLE_USERNAME and KAGGLE_KEY)",
            403: f"join the competition and accept its rules at kaggle.com/c/{competition}",
            404: f"no competition {competition!r} open for submissions: check --competition",
            429: "too many requests: wait a while and retry",
        }.get(status, "retry later")
        raise UserError(scrub(f"Kaggle refused the request ({err}): {fix}", secrets)) from None
    except (requests.ConnectionError, requests.Timeout) as err:
        raise UserError(
            f"cannot reach Kaggle ({type(err).__name__}): check the network and retry"
        ) from None
    except requests.RequestException as err:
        message = f"Kaggle request failed ({type(err).__name__}: {err})"
        raise UserError(scrub(message, secrets)) from None


def send(sub: Submission, api=None) -> dict:
    """Submit for real and record it in the run's metrics.json (`kaggle_submission`)."""
    api = api or _api()
    with _kaggle_errors(sub.competition, []):
        login(api)
    with _kaggle_errors(sub.competition, secrets_of(api)):
        response = api.competition_submit(str(sub.file), sub.message, sub.competition, quiet=True)
    if response.message == api.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE:
        raise UserError(f"the upload of {sub.file} to Kaggle failed: retry")
    entry = {
        "ref": response.ref or None,
        "message": sub.message,
        "submitted_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "competition": sub.competition,
    }
    _update_metrics(sub.run, {"kaggle_submission": entry})
    print(f"submitted {sub.file} to {sub.competition}: {sub.message}")
    if response.message:
        print(f"kaggle: {response.message}")
    return entry


def _update_metrics(run: RunRecord, values: dict) -> None:
    metrics = rundir.read_metrics(run.dir)  # as it is now, not as read when the command started
    metrics.update(values)
    rundir.write_metrics(run.dir, metrics)
    run.metrics = metrics


# ---- --wait: the public score ---------------------------------------------------------------


def public_score(
    api, competition: str, ref: int | None, message: str, timeout: float, poll: float = POLL_S
) -> float | None:
    """Poll the competition's submissions until ours has a public score (None: `timeout` s
    passed first). Ours: the one with `ref`, else the latest with this description."""
    deadline = time.monotonic() + timeout
    secrets = secrets_of(api)
    while True:
        with _kaggle_errors(competition, secrets):
            listed = api.competition_submissions(competition) or []
        ours = next(
            (
                s
                for s in listed
                if s is not None and ((s.ref == ref) if ref else (s.description == message))
            ),
            None,
        )
        if ours is not None:
            if getattr(ours.status, "name", ours.status) == "ERROR":
                raise UserError(f"Kaggle could not score the submission: {ours.error_description}")
            if ours.public_score not in (None, ""):
                return float(ours.public_score)
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(poll, left))


def record_score(run: RunRecord, score: float) -> None:
    """`public_lb` into metrics.json first, then each tracker run (each tracker writes its own,
    from its metrics.json entry); a tracker that cannot be updated is one line, the rest goes
    on."""
    _update_metrics(run, {"public_lb": score})
    print(f"public_lb {score:.5f} written to {run.dir / rundir.METRICS_FILE}")
    for record, entry in recorded(run.metrics):
        line = record.log_later(entry, run.config, {"public_lb": score})
        if line:
            print(line)


# ---- the command ----------------------------------------------------------------------------


def submit_run(
    run: RunRecord,
    competition: str | None = None,
    extra: str = "",
    dry: bool = False,
    wait: bool = False,
    timeout: float = 600.0,
) -> int:
    if dry and wait:
        raise UserError("--dry-run sends nothing, so there is no score to --wait for")
    if timeout <= 0:
        raise UserError(f"--timeout {timeout:g}: give a number of seconds above 0")
    sub = prepare(run, competition, extra)
    if dry:
        print(describe_dry_run(dry_run(sub)))
        return 0
    api = _api()
    entry = send(sub, api)
    if not wait:
        return 0
    print(f"waiting up to {timeout:g} s for the public score ...")
    score = public_score(api, sub.competition, entry["ref"], sub.message, timeout)
    if score is None:
        print(
            f"no public score after {timeout:g} s: the submission is recorded in "
            f"{run.dir / rundir.METRICS_FILE}; `kaggle competitions submissions {sub.competition}` "
            "shows it",
            file=sys.stderr,
        )
        return 1
    record_score(run, score)
    return 0
