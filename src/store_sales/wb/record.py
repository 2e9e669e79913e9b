"""W&B in the tracker registry: its live tracker, and its entry of a finished run (metrics.json
`wandb`: mode, run_id, dir, and for an online run path and url). Imports no wandb until asked."""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..tracker_registry import TrackerRecord


class WandbRecord(TrackerRecord):
    name = "wandb"
    title = "W&B"
    live = "store_sales.wb.tracker:WandbTracker"

    @classmethod
    def open(cls, cfg):
        return cls.live_class()(cfg.wandb_mode, cfg.wandb_project, cfg.wandb_entity)

    @classmethod
    def closing_lines(cls, entry: dict[str, Any]) -> list[str]:
        mode, folder = entry.get("mode"), entry.get("dir")
        if mode == "offline" and folder:
            return [
                f"W&B run saved offline. Upload it:  wandb sync {folder}",
                f"Browse it locally:                wandb leet {folder}",
            ]
        if mode == "online":
            return [f"W&B run: {entry.get('url') or entry.get('path') or entry.get('run_id')}"]
        return []

    @classmethod
    def columns(cls, entry: dict[str, Any]) -> dict[str, Any]:
        return {"wandb_run": entry.get("path") or entry.get("run_id")}

    @classmethod
    def describe(cls, entry: dict[str, Any]) -> str:
        return f"{entry.get('mode')} run {entry.get('run_id')}  {entry.get('dir') or ''}"

    @classmethod
    def log_later(cls, entry: dict[str, Any], config: dict[str, Any], values: dict) -> str:
        """Into the run's summary, through W&B's public API: online runs only (an offline
        run's values stay in metrics.json)."""
        shown = ", ".join(f"{k} {v:.5f}" for k, v in values.items())
        if not entry.get("run_id"):
            return ""
        if entry.get("mode") != "online":
            return (
                f"W&B: run {entry['run_id']} is {entry.get('mode')}, not updated "
                "(metrics.json has it)"
            )
        path = entry.get("path") or "/".join(
            p
            for p in (config.get("wandb_entity"), config.get("wandb_project"), entry["run_id"])
            if p
        )
        try:
            from . import summary  # imports wandb

            summary.update_summary(path, values)
        except (UserError, ImportError) as err:
            return f"W&B: run {path} not updated ({err})"
        return f"W&B: run {path}: summary {shown}"
