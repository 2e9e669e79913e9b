"""What every `store-sales` subcommand shares: `-p/-f` template parameters, one-line errors."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .errors import RunFailed, UserError


def typed_value(text: str):
    """Type a `-p name value` as papermill does: bool (any case here), None (`None`, or YAML's
    `null`), int, float, else the string. Lowercase `none` stays a word (`-p tracker none`)."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text == "None" or lowered == "null":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def add_parameter_args(parser, what: str = "template parameter") -> None:
    """`-p NAME VALUE` (repeatable) and `-f FILE.yaml` (repeatable), as papermill spells them."""
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help=what
    )
    parser.add_argument("-f", "--parameters-file", action="append", help=f"YAML file of {what}s")


def load_parameters_file(path: str | Path) -> dict:
    """One YAML file of `name: value` parameters ({} when empty)."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise UserError(f"parameters file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise UserError(f"parameters file {path} is not valid YAML: {err}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise UserError(
            f"parameters file {path} must be a mapping (name: value), not a {type(loaded).__name__}"
        )
    return loaded or {}


def parameters_from_args(args) -> dict:
    """`-f file.yaml` (in order), then `-p name value` (typed by `typed_value`); later ones win."""
    params: dict = {}
    for path in getattr(args, "parameters_file", None) or []:
        params.update(load_parameters_file(path))
    for name, value in getattr(args, "parameter", None) or []:
        params[name] = typed_value(value)
    return params


def call_with_args(fn: Callable[..., Any], args, **given) -> Any:
    """`fn` called with the command-line options named as its parameters, `fixed` from the
    `-f`/`-p` parameters where it takes them, and `given` (values not on the command line) over
    both: a subcommand whose options are its function's parameters names each one once."""
    names = inspect.signature(fn).parameters
    values = {k: v for k, v in vars(args).items() if k in names}
    if "fixed" in names:
        values["fixed"] = parameters_from_args(args)
    return fn(**{**values, **given})


def one_line_errors(fn: Callable[..., int | None]) -> Callable[..., int]:
    """A subcommand handler whose UserErrors print as `error: ...` (exit 2), no traceback; a
    notebook that failed (RunFailed) prints its one line and where its traceback is (exit 1)."""

    @functools.wraps(fn)
    def handler(args) -> int:
        try:
            return fn(args) or 0
        except RunFailed as err:
            if getattr(args, "verbose", False):
                print(err.traceback, file=sys.stderr)
            print(f"error: {err}", file=sys.stderr)
            hint = "" if getattr(args, "verbose", False) else " (--verbose prints the traceback)"
            print(f"executed notebook: {err.notebook}{hint}", file=sys.stderr)
            return 1
        except (UserError, FileNotFoundError, FileExistsError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return handler
