"""Trackers by name, imported only when a run asks for one; imports no tracking library.

Each registry line names a tracker's *record* class (`"module:Class"`): what the tracker knows
without a live run. It opens the live tracker from a config (`open`, which imports the tracking
library then), and reads and updates the tracker's own entry in a finished run's metrics.json
(the key is the tracker's name): the closing lines, the leaderboard's columns, a late metric such
as `public_lb`, and what a blend records of a member. Code after a run (`store-sales run -q`,
`runs`, `submit`, the blend) goes through these only, so adding a tracker is one module and one
line here (docs/architecture.md).

`tracker=both` means wandb + mlflow; any registered names joined by `+` (`wandb+mlflow`) also
work; `none` records to the run folder only.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import UserError

REGISTRY: dict[str, str] = {
    "wandb": "store_sales.wb.record:WandbRecord",
    "mlflow": "store_sales.mlf.record:MlflowRecord",
}
ALIASES: dict[str, tuple[str, ...]] = {"both": ("wandb", "mlflow"), "none": ()}


class TrackerRecord:
    """A tracker without its live run. The base records nothing (what `none` needs)."""

    name = "none"
    title = ""  # how people call it ("W&B"); "" -> name
    live = ""  # "module:Class" of the live tracker (a `trackers.Tracker`)
    library = ""  # the pip package `live` needs, named when it is missing; "" -> name

    @classmethod
    def open(cls, cfg) -> Any:
        """The live tracker for a run of `cfg`, its library imported now."""
        raise NotImplementedError

    @classmethod
    def live_class(cls) -> type:
        try:
            return load(cls.live)
        except ImportError as err:
            raise UserError(
                f"tracker={cls.name} needs {cls.library or cls.name} ({err}): "
                f"`pip install {cls.library or cls.name}`, or choose another tracker"
            ) from None

    # -- a finished run: `entry` is metrics.json[name], `config` its config.json

    @classmethod
    def closing_lines(cls, entry: dict[str, Any]) -> list[str]:
        """Where the run is and how to upload or browse it (also the live run's last lines)."""
        return []

    @classmethod
    def columns(cls, entry: dict[str, Any]) -> dict[str, Any]:
        """Leaderboard columns of `store-sales runs --format csv/json` (name-prefixed)."""
        return {}

    @classmethod
    def describe(cls, entry: dict[str, Any]) -> str:
        """One line for `store-sales runs show`."""
        return ""

    @classmethod
    def log_later(cls, entry: dict[str, Any], config: dict[str, Any], values: dict) -> str:
        """Add values to the ended run (the public score); returns one line saying what
        happened. A tracker that cannot be reached says so in that line, it does not raise."""
        return ""

    @classmethod
    def lineage(cls, entry: dict[str, Any]) -> dict[str, Any]:
        """What a blend records of a member's run in this tracker (its `inputs` reads it)."""
        return dict(entry)


def load(path: str) -> Any:
    """`module:attribute`, imported now."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def names() -> tuple[str, ...]:
    """Valid `tracker` values: every registered tracker, the aliases (both, none)."""
    return (*REGISTRY, *ALIASES)


def members(value: str) -> tuple[str, ...]:
    """The registered trackers a `tracker` value asks for (`both`, `a+b`, `none`, a name)."""
    if value in ALIASES:
        return ALIASES[value]
    parts = tuple(p.strip() for p in value.split("+"))
    unknown = [p for p in parts if p not in REGISTRY]
    if unknown or not value:
        raise UserError(f"tracker={value!r} is not one of {names()} (or names joined by +)")
    return parts


def record(name: str) -> type[TrackerRecord]:
    """The record class of a registered tracker (imports its record module, not its library)."""
    if name not in REGISTRY:
        raise UserError(f"tracker {name!r} is not registered (known: {', '.join(REGISTRY)})")
    return load(REGISTRY[name])


def recorded(metrics: dict[str, Any]) -> list[tuple[type[TrackerRecord], dict[str, Any]]]:
    """The trackers that recorded a finished run, each with its metrics.json entry; a run
    recorded by a tracker no longer registered keeps its entry, unread."""
    return [
        (record(name), metrics[name])
        for name in REGISTRY
        if isinstance(metrics.get(name), dict) and metrics[name]
    ]
