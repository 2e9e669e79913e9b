"""The one base class for problems a user can fix: the CLI prints them as one line, exit 2."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input, config or environment; the message names the problem and the fix."""


class ConfigError(UserError):
    """A template parameter that is out of range, of the wrong kind, or unknown."""


class TrainingPathError(UserError):
    """The refit that makes the submission did not train as the validated fit did."""


class RunFailed(UserError):
    """A notebook run stopped on an exception; the message is one line, the traceback stays in
    the executed notebook (`notebook`) and in `traceback` (`--verbose` prints it)."""

    def __init__(self, message: str, notebook, traceback: str = ""):
        super().__init__(message)
        self.notebook = notebook
        self.traceback = traceback


# UserError's subclasses by name: a kernel reports an exception by class name only. Kept in step
# with the package by tests/test_cli.py.
USER_ERROR_NAMES = frozenset(
    {
        "UserError",
        "ConfigError",
        "DataError",
        "SearchError",
        "SweepError",
        "MetadataError",
        "WandbLoginError",
        "FeatureError",
        "TuneError",
        "TrainingPathError",
    }
)

# Metadata key of the notebook output that keeps a UserError's traceback: the cell's error output
# is the one line (run._set_error_hook); `store-sales run --verbose` prints the kept one.
TRACEBACK_OUTPUT = "store_sales_traceback"
