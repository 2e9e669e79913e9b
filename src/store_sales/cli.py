"""`store-sales` command line: synthetic data, template runs and batches, the leaderboard of
runs, sweeps, Kaggle bundles."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from .cliutil import add_parameter_args, one_line_errors, parameters_from_args
from .errors import UserError


@one_line_errors
def _cmd_synth(args) -> int:
    from .synth import describe, generate

    info = generate(args.out, seed=args.seed, n_stores=args.stores, start=args.start)
    print(describe(info))
    return 0


@one_line_errors
def _cmd_run(args) -> int:
    if args.list:
        from .templates import NOTEBOOKS

        width = max([9, *(len(t.model) for t in NOTEBOOKS.values())])  # a column of models
        for name, template in NOTEBOOKS.items():
            print(f"{name}  {template.model:<{width}} {template.description}")
        return 0
    if not args.notebook:
        raise UserError("name a template (e.g. exp001); `store-sales run --list` lists them")
    if not (args.list_features or args.list_params):
        return _run(args)
    from . import runner

    notebook = runner.resolve_notebook(args.notebook)
    if args.list_features:
        print(_feature_list(notebook, parameters_from_args(args)))
    else:
        print(runner.parameter_list(notebook))
    return 0


def _run(args) -> int:
    """The run: its kernel started first, beside the runner's imports and checks
    (kernelstart.py), then handed to the runner, which stops it."""
    from .kernelstart import Kernel, supported

    kernel = Kernel() if supported() else None
    try:
        from . import runner

        params = parameters_from_args(args)
    except BaseException:
        if kernel is not None:
            kernel.stop()
        raise
    out_dir = runner.run(args.notebook, params, log_output=not args.quiet, kernel=kernel)
    if args.quiet:  # otherwise the notebook's own closing lines were just printed
        print(_summary(out_dir, runner.read_metrics(out_dir)))
    return 0


def _feature_list(notebook: Path, params: dict) -> str:
    """One line per feature: group, name, description; `*` where the run would use it."""
    from . import runner
    from .features import REGISTRY, resolve

    known = runner.known_features(notebook)
    declared = runner.notebook_parameters(notebook)
    spec = str(params.get("features", declared.get("features", "default")))
    chosen = resolve(
        spec, {n: g for n, (g, _) in known.items()}, [n for n in REGISTRY if REGISTRY[n].builtin]
    )
    width = max(len(n) for n in known)
    lines = [f"{notebook.stem}: features={spec!r} ({len(chosen)} of {len(known)}; * = used)"]
    for name, (group, doc) in known.items():
        lines.append(f"{'*' if name in chosen else ' '} {group:<12} {name:<{width}}  {doc}")
    return "\n".join(lines)


@one_line_errors
def _cmd_new(args) -> int:
    from .paths import REPO_ROOT
    from .scaffold import new_template

    path = new_template(args.name, args.source)
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    print(f"wrote {shown} (from {args.source}): edit its features and model cells, then")
    print(f"  store-sales run {args.name}")
    return 0


def _summary(out_dir: Path, metrics: dict) -> str:
    """The run's closing lines, from its metrics.json (the notebook's own were not shown):
    each tracker that recorded it says its own, from its entry there."""
    from .run import result_lines
    from .tracker_registry import recorded

    lines = result_lines(out_dir, metrics)
    for record, entry in recorded(metrics):
        lines += record.closing_lines(entry)
    return "\n".join(lines)


@one_line_errors
def _cmd_batch(args) -> int:
    from . import batch

    items = batch.expand(
        args.parameters_file or [],
        args.grid or [],
        parameters_from_args(argparse.Namespace(parameter=args.parameter)),
    )
    batch.run_batch(args.template, items, stream=args.stream)
    return batch.report(items, args.sort)


@one_line_errors
def _cmd_runs(args) -> int:
    from . import leaderboard as lb
    from .paths import outputs_root

    words = list(args.words)
    action = words.pop(0) if words and words[0] in ("best", "compare", "show") else "list"
    root = Path(args.dir) if args.dir else outputs_root()
    if action in ("compare", "show"):
        want = 2 if action == "compare" else 1
        if len(words) != want:
            raise UserError(f"runs {action} takes {want} run(s): folders or run names")
        runs = [lb.resolve(w, root) for w in words]
        print(lb.compare(*runs) if action == "compare" else lb.show(runs[0]))
        return 0
    if len(words) > 1:
        raise UserError(f"runs {action} takes at most one folder, got {words}")
    if words:
        root = Path(words[0])
    records = lb.select(lb.scan(root), args.template, args.status, args.where)
    if action == "best":
        top = lb.best(records, args.sort)
        print(f"{top.name}  {args.sort} {top.value(args.sort)}")
        print(top.dir)
        print(top.dir / "submission.csv")
        return 0
    records = lb.ranked(records, args.sort, args.desc)
    if args.limit:
        records = records[: args.limit]
    print(lb.render(records, args.format, args.sort))
    return 0


@one_line_errors
def _cmd_submit(args) -> int:
    from . import submit
    from .kaggleapi import require_cli
    from .leaderboard import resolve
    from .paths import outputs_root

    require_cli("submit")

    run = resolve(args.run, Path(args.dir) if args.dir else outputs_root())
    return submit.submit_run(
        run, args.competition, args.message, args.dry_run, args.wait, args.timeout
    )


def _register_synth(subparsers) -> None:
    p = subparsers.add_parser("synth", help="write the seven competition files with synthetic data")
    p.add_argument("out", help="folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stores", type=int, default=54, help="number of stores (54 = full scale)")
    p.add_argument("--start", default="2013-01-01", help="first train day (later = smaller)")
    p.set_defaults(func=_cmd_synth)


def _register_run(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a template notebook through papermill")
    p.add_argument("notebook", nargs="?", help="template name (exp001) or notebook path")
    add_parameter_args(p)
    p.add_argument("--list", action="store_true", help="list the templates and exit")
    p.add_argument("--list-params", action="store_true", help="list parameters and exit")
    p.add_argument(
        "--list-features", action="store_true", help="list feature groups and names and exit"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="do not stream notebook output")
    p.add_argument("-v", "--verbose", action="store_true", help="full traceback when it fails")
    p.set_defaults(func=_cmd_run)


def _register_new(subparsers) -> None:
    p = subparsers.add_parser("new", help="a new template notebook from an existing one")
    p.add_argument("name", help="the new template's name (exp006)")
    p.add_argument("--from", dest="source", default="exp001", help="template to start from")
    p.set_defaults(func=_cmd_new)


def _register_batch(subparsers) -> None:
    p = subparsers.add_parser(
        "batch",
        help="run a template once per parameter file / grid point, then show their leaderboard",
    )
    p.add_argument("template", help="template name (exp001) or notebook path")
    add_parameter_args(p, "parameter for every run (-p) / one run's parameters (-f)")
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2", help="values to try")
    p.add_argument("--sort", default="cv_rmsle_mean", help="metric of the closing leaderboard")
    p.add_argument("--stream", action="store_true", help="stream each notebook's output")
    p.set_defaults(func=_cmd_batch)


def _register_runs(subparsers) -> None:
    p = subparsers.add_parser(
        "runs",
        help="leaderboard of local runs; `runs best`, `runs compare A B`, `runs show A`",
        description="store-sales runs [DIR] | runs best [DIR] | runs compare A B | runs show A "
        "(A, B: run folders or names; DIR: default outputs/)",
    )
    p.add_argument("words", nargs="*", help="[best|compare|show] then DIR or run(s)")
    p.add_argument("--dir", help="where to look for runs named in compare/show")
    p.add_argument("--sort", "--metric", default="cv_rmsle_mean", help="metric to rank by")
    p.add_argument("--desc", action="store_true", help="highest first")
    p.add_argument("--template", help="only this template's runs")
    p.add_argument("--status", help="only runs with this status (finished, failed, ...)")
    p.add_argument("--where", action="append", help="NAME=VALUE (also !=, <, <=, >, >=)")
    p.add_argument("--limit", type=int, default=0, help="show the first N")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=_cmd_runs)


def _register_submit(subparsers) -> None:
    p = subparsers.add_parser(
        "submit",
        help="submit a run's submission.csv to Kaggle (message: template, run, CV, git commit)",
    )
    p.add_argument("run", help="run folder or run name")
    p.add_argument("--dir", help="where to look for a run named (default: outputs/)")
    p.add_argument("--competition", help="default: store-sales-time-series-forecasting")
    p.add_argument("-m", "--message", default="", help="your text, appended to the message")
    p.add_argument(
        "--dry-run", action="store_true", help="show what kaggle would send; send nothing"
    )
    p.add_argument("--wait", action="store_true", help="wait for the public score and record it")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits (600)")
    p.set_defaults(func=_cmd_submit)


# every subcommand the same way: a `register(subparsers)` that adds its parser, whose `func` is
# a handler wrapped by `cliutil.one_line_errors` (bad input: one line, exit 2); by name, so that
# a command imports only its own modules (`run` neither sweeps' nor bundles', ~0.2 s)
COMMANDS = {
    "synth": _register_synth,
    "run": _register_run,
    "new": _register_new,
    "batch": _register_batch,
    "runs": _register_runs,
    "submit": _register_submit,
    "bundle": "store_sales.bundle_cli:register",
    "sweep": "store_sales.sweep.cli:register",
    "tune": "store_sales.tune.cli:register",
}


def _register(name: str, subparsers) -> None:
    register = COMMANDS[name]
    if isinstance(register, str):
        module, attribute = register.split(":")
        register = getattr(importlib.import_module(module), attribute)
    register(subparsers)


def package_version() -> str:
    """The installed distribution's version (importlib.metadata); the package's own
    `__version__` where it is not installed (a Kaggle bundle puts src/ on sys.path)."""
    from importlib import metadata

    from . import __version__
    from .extras import DIST

    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return __version__


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="store-sales", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    # the command asked for alone; every one for `--help`, `--version` or a misspelt name
    for name in [argv[0]] if argv and argv[0] in COMMANDS else COMMANDS:
        _register(name, sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader left early (`| head`): nothing is wrong, say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
