"""The installed kaggle package, driven without its side effects: shared by `bundle` (kernel
metadata checked with `kernels push`'s own code) and `submit` (a submission built and, unless
`--dry-run`, sent with `competition_submit`'s own code).

`import kaggle` logs in on import (a long notice with no token, an API call with an access
token): `kaggle_api` imports it with dummy credentials and returns a KaggleApi that is not
logged in. `OfflineClient` stands in for kagglesdk's client, so kaggle's request code runs and
its requests are captured, never sent. `login` authenticates for real, with the kaggle CLI's own
rules, and turns "no credentials" into one line; the key is never printed or kept.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from .errors import UserError
from .extras import DIST

NO_CREDENTIALS = (
    "no Kaggle API token: put kaggle.json (kaggle.com > Settings > API > Create New Token) in "
    "{dir}, or set KAGGLE_USERNAME and KAGGLE_KEY"
)


@contextmanager
def no_kaggle_login():
    """`import kaggle` logs in on import: with no token it prints a long notice, with an access
    token it calls Kaggle's API. For the import only, it sees dummy legacy credentials and an
    empty home, so it neither reads real credentials nor goes online."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as home:
        for key in [k for k in os.environ if k.startswith("KAGGLE_")]:
            del os.environ[key]
        os.environ.update(
            HOME=home, KAGGLE_CONFIG_DIR=home, KAGGLE_USERNAME="offline", KAGGLE_KEY="offline"
        )
        try:
            with redirect_stdout(io.StringIO()):
                yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def require_cli(purpose: str) -> None:
    """One line naming the extra when the kaggle CLI (or six, which it imports without
    declaring it) is not installed: looked up, not imported (`import kaggle` logs in)."""
    from importlib.util import find_spec

    for module in ("kaggle", "six"):
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UserError(f'{purpose} needs the kaggle CLI: pip install "{DIST}[kaggle]"')


def kaggle_api(purpose: str = "this"):
    """A KaggleApi that is not logged in (`purpose` names what needs it if kaggle is missing)."""
    if "kaggle" in sys.modules:  # imported (and logged in or not) before: nothing to avoid
        return _import_kaggle(purpose)
    with no_kaggle_login():
        return _import_kaggle(purpose)


def _import_kaggle(purpose: str):
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as err:  # kaggle 2.2.4 also needs six, which it does not declare
        raise ImportError(
            f'{purpose} needs the kaggle CLI ({err}): pip install "{DIST}[kaggle]"'
        ) from err
    return KaggleApi()


def config_dir() -> Path:
    """Where the kaggle package looks for kaggle.json, by its own rule. KaggleApi computes this
    once, at import: under `no_kaggle_login` that was a temp folder, so `login` sets it again."""
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return Path(os.environ["KAGGLE_CONFIG_DIR"])
    home = Path.home() / ".kaggle"
    if sys.platform.startswith("linux") and not home.exists():
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kaggle"
    return home


def login(api) -> None:
    """Authenticate `api` as the kaggle CLI does (access token, kaggle.json or KAGGLE_USERNAME +
    KAGGLE_KEY, OAuth). With none, kaggle prints a help text and exits: that becomes one line
    naming where the token goes."""
    folder = config_dir()
    api.config_dir, api.config = str(folder), str(folder / api.config_file)
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            api.authenticate()
    except SystemExit:  # name the folder users know (kaggle also reads ~/.config/kaggle)
        where = os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle"
        raise UserError(NO_CREDENTIALS.format(dir=where)) from None
    finally:  # kaggle's own warnings (a key file readable by others) name the file, not the key
        for line in printed.getvalue().splitlines():
            if line.startswith("Warning"):
                print(line, file=sys.stderr)


def secrets_of(api) -> list[str]:
    """The credential values `api` holds, to scrub from any message shown."""
    values = (api.config_values.get(k) for k in (api.CONFIG_NAME_KEY, api.CONFIG_NAME_TOKEN))
    return [v for v in values if v and len(v) >= 4]


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class CapturedRequest(Exception):
    """Raised in place of a request that has no reply: the call ends there, nothing sent."""

    def __init__(self, method: str, request):
        super().__init__(method)
        self.method, self.request = method, request


class OfflineClient:
    """Stands in for kagglesdk's KaggleClient: every request is recorded in `requests` and
    answered by `replies[method](request)`; a method with no reply stops the call with
    CapturedRequest. Nothing is sent."""

    def __init__(self, replies: dict[str, Callable[[Any], Any]] | None = None):
        self.replies = dict(replies or {})
        self.requests: list[tuple[str, Any]] = []
        # kaggle reaches a method as client.<service>.<service>_api_client.<method>(request)
        self.kernels = self.kernels_api_client = self
        self.competitions = self.competition_api_client = self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(request):
            self.requests.append((method, request))
            if method in self.replies:
                return self.replies[method](request)
            raise CapturedRequest(method, request)

        return call
