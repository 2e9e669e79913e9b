"""MLflow in the tracker registry: its live tracker, and its entry of a finished run
(metrics.json `mlflow`: uri, experiment, run_id, model). Imports no mlflow until asked."""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..tracker_registry import TrackerRecord
from .store import ui_command


class MlflowRecord(TrackerRecord):
    name = "mlflow"
    title = "MLflow"
    live = "store_sales.mlf.tracker:MlflowTracker"

    @classmethod
    def open(cls, cfg):
        return cls.live_class()(
            cfg.mlflow_uri, cfg.exp_name, register=getattr(cfg, "mlflow_register", "")
        )

    @classmethod
    def closing_lines(cls, entry: dict[str, Any]) -> list[str]:
        run_id = entry.get("run_id")
        if not run_id:
            return []
        lines = [
            f"MLflow run {run_id} (experiment {entry.get('experiment')!r})",
            f"Browse it:  {ui_command(entry.get('uri') or '')}",
        ]
        if entry.get("model"):
            lines.append(f"Load its model:  mlflow.pyfunc.load_model({entry['model']!r})")
        if entry.get("registered"):
            lines.append(f"Registered as:  {entry['registered']}")
        return lines

    @classmethod
    def columns(cls, entry: dict[str, Any]) -> dict[str, Any]:
        return {"mlflow_run_id": entry.get("run_id")}

    @classmethod
    def describe(cls, entry: dict[str, Any]) -> str:
        return f"run {entry.get('run_id')} in {entry.get('uri')}"

    @classmethod
    def log_later(cls, entry: dict[str, Any], config: dict[str, Any], values: dict) -> str:
        run_id = entry.get("run_id")
        if not run_id:
            return ""
        try:
            from .later import log_metric_later  # imports mlflow

            for key, value in values.items():
                log_metric_later(entry.get("uri") or "", run_id, key, value)
        except (UserError, ImportError) as err:
            return f"MLflow: run {run_id} not updated ({err})"
        shown = ", ".join(f"{k} {v:.5f}" for k, v in values.items())
        return f"MLflow: run {run_id}: metric {shown}"
