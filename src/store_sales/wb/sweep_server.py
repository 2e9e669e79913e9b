"""The W&B server's sweeps: create one, read one back, run an agent on one.

The only W&B calls of `store_sales.sweep`; wandb is imported when a call is made, so the
command line and offline sweeps never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteSweep:
    id: str
    entity: str
    project: str
    config: dict


def create_sweep(config: dict, project: str, entity: str = "") -> str:
    """Create a sweep on the server from a W&B sweep config; returns its id."""
    import wandb

    return wandb.sweep(sweep=config, project=project, entity=entity or None)


def fetch_sweep(sweep_id: str, project: str = "", entity: str = "") -> RemoteSweep:
    """A sweep as the server holds it; `sweep_id` may be `id`, `project/id` or
    `entity/project/id` (project and entity fill in what it leaves out)."""
    import wandb

    overrides = {k: v for k, v in (("project", project), ("entity", entity)) if v}
    remote = wandb.Api(overrides=overrides).sweep(sweep_id)
    return RemoteSweep(
        id=remote.id,
        entity=remote.entity or "",
        project=remote.project,
        config=dict(remote.config),
    )


def run_agent(
    sweep_id: str, function: Callable[[], None], count: int, project: str, entity: str = ""
) -> None:
    """W&B's agent: `count` trials of the sweep, each handed to `function` (no arguments; the
    trial's run id and parameter file are in the environment, WANDB_RUN_ID and
    WANDB_SWEEP_PARAM_PATH)."""
    import wandb

    wandb.agent(sweep_id, function=function, count=count, project=project, entity=entity or None)
