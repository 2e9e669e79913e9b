"""`store-sales` command line: synthetic data, template runs, sweeps, Kaggle bundles."""

from __future__ import annotations

import argparse
import sys

from . import bundle, sweep
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
    from . import runner

    if args.list:
        from .templates import TEMPLATES

        for name, template in TEMPLATES.items():
            print(f"{name}  {template.model:<9} {template.description}")
        return 0
    if not args.notebook:
        raise UserError("name a template (e.g. exp001); `store-sales run --list` lists them")
    params = parameters_from_args(args)
    if args.list_params:
        notebook = runner.resolve_notebook(args.notebook)
        for name, default in runner.notebook_parameters(notebook).items():
            print(f"{name} = {default!r}")
        return 0
    out_dir = runner.run(args.notebook, params, log_output=not args.quiet)
    metrics = runner.read_metrics(out_dir)
    print("\n== run finished ==")
    if "val_rmsle" in metrics:
        print(f"val RMSLE        {metrics['val_rmsle']:.5f}")
    if metrics.get("n_folds", 1) > 1:
        print(
            f"CV RMSLE         {metrics['cv_rmsle_mean']:.5f} ± {metrics['cv_rmsle_std']:.5f} "
            f"({metrics['n_folds']} folds)"
        )
    print(f"outputs          {out_dir}")
    wb = metrics.get("wandb") or {}
    if wb.get("mode") == "offline" and wb.get("dir"):
        print(f"W&B (offline)    upload: wandb sync {wb['dir']}")
        print(f"                 browse: wandb leet {wb['dir']}")
    elif wb.get("mode") == "online":
        print(f"W&B (online)     run id {wb.get('run_id')}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="store-sales", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the seven competition files with synthetic data")
    p.add_argument("out", help="folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stores", type=int, default=54, help="number of stores (54 = full scale)")
    p.add_argument("--start", default="2013-01-01", help="first train day (later = smaller)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("run", help="run a template notebook through papermill")
    p.add_argument("notebook", nargs="?", help="template name (exp001) or notebook path")
    add_parameter_args(p)
    p.add_argument("--list", action="store_true", help="list the templates and exit")
    p.add_argument("--list-params", action="store_true", help="list parameters and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="do not stream notebook output")
    p.set_defaults(func=_cmd_run)

    bundle.register(sub)
    sweep.register(sub)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
