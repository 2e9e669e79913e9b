"""`store-sales tune TEMPLATE --trials N`."""

from __future__ import annotations

import argparse

from ..cliutil import add_parameter_args, call_with_args, one_line_errors
from ..search.template import DEFAULT_TEMPLATE, MAX_GRID, search_folder
from .optimize import tune
from .results import summarize
from .space import TuneError
from .study import HEARTBEAT_S, PRUNERS, SAMPLERS, requeue_s

DESCRIPTION = (
    "Tune a template with Optuna, offline: the sweep YAML's parameters and metric, TPE (or the "
    "YAML's method), pruning each boosting round / epoch, a study in sqlite beside the runs "
    "(or any Optuna RDB storage, shared by processes and machines)."
)


@one_line_errors
def _cmd_tune(args) -> None:
    if args.results is not None:  # --results [STUDY_DIR]: from the folder, or the study alone
        if not args.results and not args.study:
            raise TuneError("--results: name the study folder, or --study NAME (and --storage)")
        _, folder = search_folder("tune", args.study, args.results, TuneError, "study")
        summarize(folder, study_name=args.study, storage=args.storage)
        return
    if not args.template:
        from ..errors import UserError

        raise UserError("name a template (e.g. exp001), or --results STUDY_DIR")
    call_with_args(tune, args)


def register(subparsers) -> argparse.ArgumentParser:
    """Add `tune` to the `store-sales` command line."""
    p = subparsers.add_parser(
        "tune",
        help="tune a template with Optuna (offline, sqlite/RDB study)",
        description=DESCRIPTION,
    )
    p.add_argument("template", nargs="?", help=f"template name, e.g. {DEFAULT_TEMPLATE}")
    p.add_argument(
        "--trials", type=int, help="trials to run in this invocation (required without "
        "--study-trials)"
    )  # fmt: skip
    p.add_argument(
        "--study-trials", type=int, default=None, metavar="N", help="stop once the study "
        "holds N complete or pruned trials, whichever process ran them"
    )  # fmt: skip
    p.add_argument(
        "--heartbeat", type=int, default=HEARTBEAT_S, metavar="S", help="seconds between two "
        "heartbeats of a running trial; a dead process's trial is failed and re-queued within "
        f"{requeue_s(1)}x S (default {HEARTBEAT_S}: {requeue_s(HEARTBEAT_S)} s)"
    )  # fmt: skip
    p.add_argument(
        "--config", "-c", default=None, help="sweep YAML (default configs/sweep_<template>.yaml, "
        "else configs/sweep.yaml)"
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=1, help="worker processes on the study")
    p.add_argument("--study", default="", help="study name (an existing one is resumed)")
    p.add_argument(
        "--storage", default="", help="Optuna RDB URL shared by processes/machines "
        "(default sqlite:///outputs/tune/<study>/study.db)"
    )  # fmt: skip
    p.add_argument("--study-dir", default="", help="folder (default outputs/tune/<study>)")
    p.add_argument("--sampler", choices=SAMPLERS, default="", help="default: the YAML's method")
    p.add_argument("--pruner", choices=PRUNERS, default="", help="default median (per-step metric)")
    p.add_argument("--seed", type=int, default=None, help="sampler seed")
    p.add_argument(
        "--check-every", type=int, default=None, help="steps between two reports to the pruner"
    )
    p.add_argument(
        "--startup-trials", type=int, default=5, help="median: complete trials before pruning"
    )
    p.add_argument(
        "--warmup-steps", type=int, default=None,
        help="median: steps before a trial is judged; hyperband: min resource "
        "(default: the YAML's early_terminate.min_iter)",
    )  # fmt: skip
    p.add_argument(
        "--allow-large-grid", action="store_true", help=f"a grid of more than {MAX_GRID} points"
    )
    p.add_argument(
        "--results", nargs="?", const="", metavar="STUDY_DIR", help="only rebuild a study's "
        "result files: from its folder, or, with --study and --storage, from the study alone "
        "(into STUDY_DIR, default outputs/tune/<study>)"
    )  # fmt: skip
    add_parameter_args(p, "fixed template parameter")
    p.set_defaults(func=_cmd_tune)
    return p
