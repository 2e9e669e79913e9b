"""Where W&B credentials come from, and whether a run goes online; a leaf module.

Login order: Kaggle Secrets (label `wandb_api_key`), then `WANDB_API_KEY`, then an existing
`wandb login` (netrc). A key from Kaggle Secrets reaches W&B through this process's environment,
and only when the run goes online: it is never printed, written to a file, or put in a config.
"""

from __future__ import annotations

import netrc
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import UserError

SECRET_LABEL = "wandb_api_key"
DEFAULT_BASE_URL = "https://api.wandb.ai"
CONNECT_TIMEOUT = 3.0  # seconds to decide that the W&B server is unreachable


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


def load_api_key() -> tuple[str, str | None]:
    """Where W&B credentials are ("" if nowhere) and the key if it must be handed over."""
    key = _kaggle_secret()
    if key:
        return "Kaggle Secrets", key
    if os.environ.get("WANDB_API_KEY"):
        return "WANDB_API_KEY", None
    host = urlsplit(base_url()).netloc
    try:
        path = os.environ.get("NETRC") or Path.home() / ".netrc"
        if netrc.netrc(path).authenticators(host):
            return "netrc (wandb login)", None
    except (OSError, netrc.NetrcParseError):
        pass
    return "", None


def reachable(url: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_online() -> str:
    """Make W&B online possible (hand a Kaggle-secret key over) or raise WandbLoginError."""
    source, key = load_api_key()
    if not source:
        raise WandbLoginError(
            "no W&B API key (add the Kaggle secret 'wandb_api_key', set WANDB_API_KEY, "
            "or run `wandb login`)"
        )
    if not reachable(base_url()):
        raise WandbLoginError(f"W&B server {base_url()} unreachable (internet off?)")
    if key:
        os.environ["WANDB_API_KEY"] = key
    return source


def resolve_mode(requested: str) -> tuple[str, str]:
    """Pick online/offline/disabled and say why in one line; never blocks for long.

    The TCP probe replaces W&B's 90 s init timeout as the way to find out the network is off.
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
