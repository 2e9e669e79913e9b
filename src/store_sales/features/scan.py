"""The features a notebook registers, read from its source without running it: the runner
checks a `features` string before any kernel starts, and `--list-features` lists them."""

from __future__ import annotations

import ast
from pathlib import Path

from ..codeinfo import parsed_cells
from .contract import NOTEBOOK_GROUP


def _feature_call(decorator: ast.expr) -> ast.Call | None:
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return decorator if name == "feature" else None


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def declared(sources: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (group, first docstring line) of every `@feature(...)` function in `sources`;
    a cell that does not parse (IPython magics) is skipped."""
    out: dict[str, tuple[str, str]] = {}
    for tree in parsed_cells(sources):
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                call = _feature_call(decorator)
                if call is None:
                    continue
                kw = {k.arg: k.value for k in call.keywords}
                name = _literal(call.args[0] if call.args else kw.get("name")) or node.name
                group = _literal(call.args[1] if len(call.args) > 1 else kw.get("group"))
                doc = (ast.get_docstring(node) or "").strip().splitlines()
                out[name] = (group or NOTEBOOK_GROUP, doc[0] if doc else "")
    return out


def declared_in(notebook: Path) -> dict[str, tuple[str, str]]:
    """The `@feature` functions of a notebook's code cells."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    return declared([c.source for c in nb.cells if c.cell_type == "code"])
