"""W&B's sweep engine (the open-source `sweeps` package the W&B server runs), imported quietly,
and the run objects it judges trials by."""

from __future__ import annotations

import warnings

# trial states (trial.json) -> the engine's run states. A trial hyperband stopped is "killed",
# as on the W&B server, so bayes imputes it (metric.impute, default worst) rather than trusting
# a half-trained model's score.
ENGINE_STATE = {
    "running": "running",
    "finished": "finished",
    "stopped": "killed",
    "failed": "failed",
}


def import_sweeps():
    """`sweeps` (W&B's engine). Its pydantic-1 style models warn on import under pydantic 2."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Valid config keys have changed", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import sweeps
    return sweeps


def engine_run(name: str, state: str, config: dict, summary: dict, history: list[dict]):
    """A `sweeps.SweepRun`. Only the camelCase aliases reach the model under pydantic 2: the
    snake_case `summary_metrics=` / `history=` would be dropped without an error, and the engine
    would then see every trial as metric-less."""
    sweeps = import_sweeps()
    return sweeps.SweepRun(
        name=name,
        state=sweeps.RunState(ENGINE_STATE[state]),
        config={k: {"value": v} for k, v in config.items()},
        summaryMetrics=summary,
        sampledHistory=history,
    )
