"""`run`: one call for either mode (what notebooks/sweep.ipynb calls)."""

from __future__ import annotations

from pathlib import Path

from ..search.results import SearchSummary
from .local import local_sweep
from .online import agent, create
from .results import summarize
from .spec import SweepError


def run(
    mode: str,
    config: str | Path,
    count: int | None,
    *,
    workers: int = 1,
    name: str = "",
    sweep_dir: str | Path = "",
    sweep_id: str = "",
    project: str = "",
    entity: str = "",
    fixed: dict | None = None,
    allow_large_grid: bool = False,
) -> SearchSummary:
    """The notebook's entry point. local: `local_sweep`. online: join `sweep_id`, or create a
    sweep from `config` first, then run `count` trials here as one of its agents."""
    if mode == "local":
        return local_sweep(
            config,
            count,
            workers=workers,
            name=name,
            sweep_dir=sweep_dir,
            fixed=fixed,
            allow_large_grid=allow_large_grid,
        )
    if mode == "online":
        if not isinstance(count, int) or count < 1:  # before creating a sweep nobody runs
            raise SweepError("count is required: the number of trials this agent runs")
        path = sweep_id or create(config, project, entity, allow_large_grid=allow_large_grid)
        return summarize(agent(path, count, project, entity, fixed=fixed, sweep_dir=sweep_dir))
    raise SweepError(f"mode={mode!r}: use 'local' (offline engine) or 'online' (W&B server)")
