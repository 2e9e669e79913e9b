"""`store-sales sweep local|create|agent|results`."""

from __future__ import annotations

import argparse

from ..cliutil import add_parameter_args, call_with_args, one_line_errors
from ..extras import require
from .local import local_sweep
from .online import agent, create
from .results import summarize
from .spec import DEFAULT_PROJECT, DEFAULT_TEMPLATE, MAX_GRID, check_every_default

DESCRIPTION = (
    "Hyperparameter sweeps: one W&B sweep YAML, run online by W&B agents or offline by W&B's "
    "engine."
)


@one_line_errors
def _cmd_local(args) -> None:
    require("sweeps", "sweep local")
    call_with_args(local_sweep, args)


@one_line_errors
def _cmd_create(args) -> None:
    call_with_args(create, args)


@one_line_errors
def _cmd_agent(args) -> None:
    call_with_args(agent, args, log_output=not args.quiet)


@one_line_errors
def _cmd_results(args) -> None:
    summarize(args.sweep_dir)


def _template_arg(q) -> None:
    q.add_argument(
        "--template",
        default=DEFAULT_TEMPLATE,
        help=f"template notebook (default {DEFAULT_TEMPLATE})",
    )


def register(subparsers) -> argparse.ArgumentParser:
    """Add `sweep local|create|agent|results` to the `store-sales` command line."""
    p = subparsers.add_parser(
        "sweep",
        help="tune a template with a W&B sweep YAML (offline engine or W&B agents)",
        description=DESCRIPTION,
    )
    actions = p.add_subparsers(dest="sweep_action", required=True)

    q = actions.add_parser("local", help="run the sweep offline with W&B's engine")
    q.add_argument("config", help="sweep YAML (W&B format), e.g. configs/sweep.yaml")
    q.add_argument("--count", type=int, required=True, help="number of trials (required)")
    q.add_argument("--workers", type=int, default=1, help="trials run in parallel processes")
    q.add_argument("--name", default="", help="sweep name = W&B group (same name: continue it)")
    q.add_argument("--sweep-dir", default="", help="folder (default outputs/sweeps/<name>)")
    q.add_argument(
        "--allow-large-grid",
        action="store_true",
        help=f"allow a grid of more than {MAX_GRID} combinations",
    )
    q.add_argument(
        "--check-every",
        type=int,
        default=None,
        help="training steps between hyperband checks (default: the template's, "
        f"{check_every_default(DEFAULT_TEMPLATE)} for {DEFAULT_TEMPLATE})",
    )
    _template_arg(q)
    add_parameter_args(q, "fixed template parameter")
    q.set_defaults(func=_cmd_local)

    q = actions.add_parser("create", help="create the sweep on the W&B server (online)")
    q.add_argument("config", help="sweep YAML (W&B format)")
    q.add_argument(
        "--project", default="", help=f"W&B project (default: YAML, else {DEFAULT_PROJECT})"
    )
    q.add_argument("--entity", default="", help="W&B entity (default: yours)")
    q.add_argument("--allow-large-grid", action="store_true")
    _template_arg(q)
    q.set_defaults(func=_cmd_create)

    q = actions.add_parser("agent", help="run trials of a W&B sweep here (online)")
    q.add_argument("sweep_id", help="sweep id, project/id or entity/project/id")
    q.add_argument("--count", type=int, required=True, help="trials for this agent (required)")
    q.add_argument("--project", default="")
    q.add_argument("--entity", default="")
    q.add_argument("--sweep-dir", default="", help="local folder (default outputs/sweeps/<id>)")
    q.add_argument("-q", "--quiet", action="store_true", help="do not stream notebook output")
    _template_arg(q)
    add_parameter_args(q, "fixed template parameter")
    q.set_defaults(func=_cmd_agent)

    q = actions.add_parser("results", help="rebuild results.csv, best.yaml and sweep.png")
    q.add_argument("sweep_dir", help="a sweep folder")
    q.set_defaults(func=_cmd_results)
    return p
