"""`store-sales bundle`: the command line of `bundle` (self-contained Kaggle kernels)."""

from __future__ import annotations

import json

from . import bundle as kernels
from .cliutil import one_line_errors
from .errors import UserError
from .kaggleapi import require_cli
from .paths import notebooks_dir


@one_line_errors
def _cmd_bundle(args) -> int:
    require_cli("bundle")  # its metadata check runs the kaggle CLI's own push code
    if bool(args.notebooks) == args.all:
        raise UserError("name notebooks (e.g. exp001) or pass --all, not both")
    names = sorted(notebooks_dir().glob("*.ipynb")) if args.all else args.notebooks
    if args.title and len(names) != 1:
        raise UserError("--title needs exactly one notebook")
    owner = kernels.kaggle_username(args.owner)
    if not owner:
        print(
            f"note: no Kaggle username (--owner, KAGGLE_USERNAME or kaggle.json); ids use "
            f"{kernels.OWNER_PLACEHOLDER!r}: replace it before `kaggle kernels push`"
        )
    blob = None if args.dataset else kernels.package_zip()
    source = kernels.dataset(args.out, owner) if args.dataset else None
    if source is not None:
        wheel = kernels.wheel_in(source)
        print(f"{source}: {wheel.name}, src/ and {kernels.DATASET_METADATA_FILE}")
        print(f"  publish: kaggle datasets create -p {source} --dir-mode zip")
        print(f"  (a new version later: kaggle datasets version -p {source} --dir-mode zip -m ...)")
    try:
        folders = [
            kernels.bundle(
                n, args.out, owner, args.title, not args.public, blob=blob, dataset_folder=source
            )
            for n in names
        ]
    except ImportError as err:  # the kaggle package is missing
        raise UserError(str(err)) from None
    for folder in folders:
        meta = json.loads((folder / kernels.METADATA_FILE).read_text())
        size = (folder / meta["code_file"]).stat().st_size // 1024
        print(f"{folder}: {meta['code_file']} ({size} KB), kernel {meta['id']} - checked")
        print(f"  push: kaggle kernels push -p {folder}")
    if args.root_card:
        kernels.ROOT_CARD.write_text(
            json.dumps(kernels.root_card(), indent=2) + "\n", encoding="utf-8"
        )
        print(f"wrote {kernels.ROOT_CARD}")
    return 0


def register(subparsers) -> None:
    """Add `bundle` to the `store-sales` subcommands."""
    p = subparsers.add_parser(
        "bundle",
        help="write push-ready, self-contained Kaggle kernels to build/kaggle/<notebook>/",
        description=(kernels.__doc__ or "").split("\n\n")[0],
    )
    p.add_argument("notebooks", nargs="*", help="template names (exp001) or notebook paths")
    p.add_argument("--all", action="store_true", help="every notebooks/*.ipynb")
    p.add_argument(
        "--owner", help="Kaggle username for the id (default: KAGGLE_USERNAME, then kaggle.json)"
    )
    p.add_argument("--title", default="", help="kernel title (default: 'Store Sales <stem>')")
    p.add_argument("--public", action="store_true", help="is_private false (default: private)")
    p.add_argument(
        "--out", default=str(kernels.BUILD_DIR), help="output root (default: build/kaggle)"
    )
    p.add_argument(
        "--dataset",
        action="store_true",
        help="the package as a Kaggle Dataset (wheel + src/), which the notebooks pip-install",
    )
    p.add_argument(
        "--root-card", action="store_true", help="also rewrite the repo root kernel-metadata.json"
    )
    p.set_defaults(func=_cmd_bundle)
