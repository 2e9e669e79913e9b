"""What code a run ran: the notebook's own cells and the package, hashed and kept.

A template's logic lives in its notebook (features, model), so a run's parameters alone no
longer say what it did. At `pipeline.start` the code cells the kernel has run so far (IPython's
`In`: the features and model cells, as edited) are kept in the run folder as `code.py` and
hashed, parameter cells left out (they are the config). The package's .py files are hashed too.
`store-sales runs compare A B` diffs two runs' `code.py`.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from functools import cache
from pathlib import Path

from .paths import PACKAGE_DIR

CODE_FILE = "code.py"
CELL_MARK = "# ---- cell {n} ----"
BUNDLE_MARK = "_use_bundled_store_sales("  # the bundle's bootstrap cell (bundle.BOOTSTRAP)
SETUP_MARK = ".from_params("  # the setup cell: the cells before it that are plain are the config


def parsed_cells(sources: list[str]) -> list[ast.Module]:
    """The cells' syntax trees; a cell that does not parse (an IPython magic) is left out."""
    trees = []
    for source in sources:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            continue
    return trees


def _is_parameters(source: str) -> bool:
    """A cell of plain `name = literal` lines (the parameters cell, papermill's injection)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body:
        return True
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            return False
        if not isinstance(node.targets[0], ast.Name):
            return False
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
    return True


def executed_cells() -> list[str] | None:
    """The code cells this IPython kernel has run, in order, without parameter and bundle
    cells; None outside IPython. Parameter cells are the plain `name = literal` cells run
    before the setup cell (the one building the config with `from_params`): they are the
    config. A plain cell after it (a constants cell of the features) is code, and kept."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    history = [s for s in (shell.user_ns.get("In") or [])[1:] if s.strip()]
    setup = next((i for i, s in enumerate(history) if SETUP_MARK in s), len(history))
    return [
        s
        for i, s in enumerate(history)
        if BUNDLE_MARK not in s and not (i < setup and _is_parameters(s))
    ]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def package_sha256() -> str:
    """Of the package's .py files (paths and contents): the shared library a run used."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" not in path.parts:
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def record(run_dir: Path, cells: list[str] | None) -> dict:
    """Write `code.py` (the cells) to the run folder; the record for metrics.json/trackers."""
    info = {"package_sha256": package_sha256()}
    if cells is not None:
        text = "\n".join(f"{CELL_MARK.format(n=i)}\n{c.rstrip()}\n" for i, c in enumerate(cells, 1))
        (Path(run_dir) / CODE_FILE).write_text(text, encoding="utf-8")
        info.update(notebook_sha256=sha256(text), notebook_cells=len(cells))
    return info


def diff(a: Path, b: Path, context: int = 1, limit: int = 40) -> list[str]:
    """A short unified diff of two run folders' code.py ([] when equal or either is missing)."""
    fa, fb = Path(a) / CODE_FILE, Path(b) / CODE_FILE
    if not (fa.is_file() and fb.is_file()):
        return []
    lines = list(
        difflib.unified_diff(
            fa.read_text().splitlines(),
            fb.read_text().splitlines(),
            fromfile=f"{Path(a).name}/{CODE_FILE}",
            tofile=f"{Path(b).name}/{CODE_FILE}",
            n=context,
            lineterm="",
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)"]
    return lines
