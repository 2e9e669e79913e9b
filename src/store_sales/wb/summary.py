"""Values added to an online W&B run after it ended (the public score from `store-sales
submit --wait`), through W&B's public API."""

from __future__ import annotations

import wandb

from ..errors import UserError


def update_summary(path: str, values: dict) -> None:
    """`path` is entity/project/run_id (or project/run_id for the default entity). A run W&B
    cannot find, or no login or network: UserError."""
    try:
        run = wandb.Api(timeout=30).run(path)
        run.summary.update(values)
    except Exception as err:  # wandb raises CommError, ValueError, requests errors, ...
        raise UserError(f"W&B run {path}: {type(err).__name__}: {err}") from None
