"""Where W&B credentials come from, and whether a run goes online; a leaf module.

Login order: Kaggle Secrets (label `wandb_api_key`), then `WANDB_API_KEY`, then an existing
`wandb login` (netrc). A key from Kaggle Secrets reaches W&B through this process's environment,
and only when the run goes online: it is never printed, written to a file, or put in a config.
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import UserError

SECRET_LABEL = "wandb_api_key"
DEFAULT_BASE_URL = "https://api.wandb.ai"
API_TIMEOUT = 4.0  # seconds the W&B API has to answer before a run goes offline


class WandbLoginError(UserError):
    """W&B online was required but is not possible; `problem` says why, without the fix."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(f"{problem}. {fix}".strip() if fix else problem)
        self.problem = problem


def _kaggle_secret() -> str | None:
    try:
        from kaggle_secrets import UserSecretsClient  # only exists on Kaggle
    except ImportError:
        return None
    try:
        return UserSecretsClient().get_secret(SECRET_LABEL)
    except Exception:  # the secret is not attached to the notebook, or no internet
        return None


def base_url() -> str:
    return os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)


def _netrc_password() -> str | None:
    host = urlsplit(base_url()).netloc
    try:
        path = os.environ.get("NETRC") or Path.home() / ".netrc"
        found = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    return found[2] if found else None


def load_api_key() -> tuple[str, str | None]:
    """Where W&B credentials are ("" if nowhere) and the key if it must be handed over."""
    key = _kaggle_secret()
    if key:
        return "Kaggle Secrets", key
    if os.environ.get("WANDB_API_KEY"):
        return "WANDB_API_KEY", None
    if _netrc_password():
        return "netrc (wandb login)", None
    return "", None


def api_problem(url: str, key: str, timeout: float = API_TIMEOUT) -> str:
    """ "" when the W&B API at `url` answers a real request (the viewer query, as `wandb login`
    verifies a key) within `timeout` seconds in all; else the problem, without the key.

    A TCP connect is not enough: a proxy or captive portal accepts it and never answers, and
    wandb.init then hangs for its own 90 s before failing. The request runs in a daemon thread
    so a server that trickles bytes cannot hold the run past the deadline either."""
    auth = base64.b64encode(f"api:{key}".encode()).decode()
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql",
        data=json.dumps({"query": "query Viewer { viewer { id } }"}).encode(),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    answer: list[str] = []

    def ask() -> None:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(1)
            answer.append("")
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                answer.append(f"W&B server {url} rejected the API key (HTTP {err.code})")
            elif err.code >= 500:
                answer.append(f"W&B server {url} answered HTTP {err.code}")
            else:
                answer.append("")  # the API answered; wandb itself will say what it dislikes
        except (OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            if "timed out" in str(reason):
                answer.append(f"W&B server {url} did not answer within {timeout:.0f} s")
            else:
                answer.append(f"W&B server {url} unreachable ({reason})")

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else f"W&B server {url} did not answer within {timeout:.0f} s"


def require_online() -> str:
    """Make W&B online possible (hand a Kaggle-secret key over) or raise WandbLoginError."""
    source, key = load_api_key()
    if not source:
        raise WandbLoginError(
            "no W&B API key (add the Kaggle secret 'wandb_api_key', set WANDB_API_KEY, "
            "or run `wandb login`)"
        )
    key_now = key or os.environ.get("WANDB_API_KEY") or _netrc_password()
    problem = api_problem(base_url(), key_now, API_TIMEOUT)
    if problem:
        raise WandbLoginError(problem)
    if key:
        os.environ["WANDB_API_KEY"] = key
    return source


def resolve_mode(requested: str) -> tuple[str, str]:
    """Pick online/offline/disabled and say why in one line; never blocks for long.

    A real API request with a deadline (`api_problem`) replaces W&B's 90 s init timeout as the
    way to find out the network is off or the server does not answer.
    """
    if requested in ("offline", "disabled"):
        return requested, f"W&B {requested} (wandb_mode={requested})"
    env_mode = os.environ.get("WANDB_MODE")
    if requested == "auto" and env_mode in ("offline", "disabled", "dryrun"):
        mode = "disabled" if env_mode == "disabled" else "offline"
        return mode, f"W&B {mode} (WANDB_MODE={env_mode})"
    try:
        source = require_online()
    except WandbLoginError as err:
        if requested == "online":
            raise WandbLoginError(
                f"wandb_mode='online' but {err.problem}",
                "Use wandb_mode='auto' to fall back to offline logging.",
            ) from None
        return "offline", f"W&B offline: {err.problem}"
    return "online", f"W&B online (key from {source})"
