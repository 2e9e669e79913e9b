"""The one base class for problems a user can fix: the CLI prints them as one line, exit 2."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input, config or environment; the message names the problem and the fix."""


class ConfigError(UserError):
    """A template parameter that is out of range, of the wrong kind, or unknown."""
