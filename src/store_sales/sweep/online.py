"""Online sweeps: the W&B server holds the sweep and decides every trial; any number of agents
on any machines (or Kaggle sessions) pull trials from one sweep id."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .. import runner
from ..jsonio import write_json
from ..paths import outputs_root
from ..search import trials as search_trials
from ..search.checklist import check_data
from ..search.template import check_count
from ..wb import login, sweep_server
from . import trials
from .spec import (
    DEFAULT_PROJECT,
    DEFAULT_TEMPLATE,
    SweepError,
    check_config,
    check_every_default,
    load_config,
    suggested_params,
)


def _require_online(what: str) -> None:
    """The W&B server is needed: one line saying why not, instead of W&B's stack trace.
    `require_online` also hands a Kaggle-secret key to W&B."""
    try:
        login.require_online()
    except login.WandbLoginError as err:
        raise SweepError(
            f"{what} needs W&B online, but {err.problem}. Without network, run the same YAML "
            "with `store-sales sweep local`."
        ) from None


def create(
    config: str | Path | dict,
    project: str = "",
    entity: str = "",
    template: str = DEFAULT_TEMPLATE,
    allow_large_grid: bool = False,
) -> str:
    """Create the sweep on the W&B server; returns `[entity/]project/sweep_id` for the agents."""
    cfg = load_config(config)
    check_config(cfg, template, None, allow_large_grid)
    project = project or cfg.get("project") or DEFAULT_PROJECT
    entity = entity or cfg.get("entity") or ""
    _require_online("sweep create")
    sweep_id = sweep_server.create_sweep(cfg, project, entity)
    path = "/".join(p for p in (entity, project, sweep_id) if p)
    print(f"sweep {path} created; start agents (any number of machines or Kaggle sessions):")
    print(f"  store-sales sweep agent {path} --count N")
    return path


class _AgentTrial:
    """What a W&B agent runs for each trial it is handed.

    The agent process itself never starts a W&B run: it reads the suggested values from the
    file the agent writes for the job (WANDB_SWEEP_PARAM_PATH) and runs the template through
    papermill. The kernel inherits the agent's WANDB_SWEEP_ID / WANDB_RUN_ID, so the template's
    own tracked run *is* the sweep run: one process writes it, and it is the same full run
    (config, curves, plots, model artifact) as any run of the template, less the refit and test
    forecast no trial needs (`pipeline.forecast`). An
    agent-side run would have needed a second process writing the same run, or a second run
    per trial.
    """

    def __init__(self, template: str, base: dict, folder: Path, log_output: bool):
        self.template = template
        self.base = base
        self.folder = folder
        self.log_output = log_output

    def __call__(self) -> None:
        run_id = os.environ["WANDB_RUN_ID"]
        declared = runner.notebook_parameters(runner.resolve_notebook(self.template))
        job = yaml.safe_load(Path(os.environ["WANDB_SWEEP_PARAM_PATH"]).read_text()) or {}
        job.pop("wandb_version", None)
        suggested = suggested_params(job, declared)
        trial_dir = self.folder / "trials" / run_id
        trial_dir.mkdir(parents=True, exist_ok=True)
        params = trials.start_trial(trial_dir, suggested, {**self.base, **suggested})
        outcome = search_trials.run_trial(self.template, params, self.log_output)
        trials.end_trial(trial_dir, outcome["error"])
        if outcome["error"]:  # the agent counts failures (and stops after too many in a row)
            raise RuntimeError(outcome["error"])


def agent(
    sweep_id: str,
    count: int | None,
    project: str = "",
    entity: str = "",
    fixed: dict | None = None,
    template: str = DEFAULT_TEMPLATE,
    sweep_dir: str | Path = "",
    log_output: bool = False,
) -> Path:
    """Run `count` trials of a W&B sweep on this machine; returns the local folder of its trials.

    Start agents on as many machines or Kaggle sessions as you like with the same sweep id: the
    server hands each a different trial and runs bayes and hyperband over all of them.
    """
    check_count(
        count, SweepError, "count is required: the number of trials this agent runs (--count N)"
    )
    _require_online("sweep agent")
    remote = sweep_server.fetch_sweep(sweep_id, project, entity)
    cfg = remote.config
    fixed = dict(fixed or {})
    # the server already accepted it; this catches parameters the template lacks, before a trial
    declared = check_config(cfg, template, fixed, allow_large_grid=True)
    check_data(cfg, template, fixed, declared)  # this machine's data, before a trial
    folder = (
        Path(sweep_dir).expanduser().resolve()
        if sweep_dir
        else outputs_root() / "sweeps" / remote.id
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = f"{remote.entity}/{remote.project}/{remote.id}"
    write_json(
        folder / trials.STATE_FILE,
        {
            "name": remote.id,
            "mode": "online",
            "sweep": path,
            "template": template,
            "config": cfg,
            "fixed": fixed,
            "check_every": check_every_default(template),
        },
    )
    base = {
        **fixed,
        "wandb_mode": "online",
        "wandb_project": remote.project,
        "wandb_entity": remote.entity,
        "wandb_group": f"sweep-{remote.id}",
        "sweep_dir": str(folder),
    }
    print(f"agent for sweep {path}: {count} trial(s); local run folders in {folder}")
    sweep_server.run_agent(
        remote.id,
        _AgentTrial(template, base, folder, log_output),
        count,
        remote.project,
        remote.entity,
    )
    return folder
