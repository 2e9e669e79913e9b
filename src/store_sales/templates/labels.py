"""A model cell's model name, read from its source: run folders are named before the kernel runs.

The runner names a run's folder `<exp_name>-<model>-<time>` before any kernel starts, and
`store-sales run --list` and the extras check know a template's model without training it. The
name is the adapter's own (`ModelAdapter.name`), so a model cell copied from exp004 and turned
into a HistGradientBoosting model is labelled by what it builds, not by where it came from.
"""

from __future__ import annotations

import ast
from importlib.util import find_spec
from pathlib import Path

from ..codeinfo import parsed_cells

PACKAGE = "store_sales"
PLACEHOLDER = "model"  # ModelAdapter.name's default: not a label


def _classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}


def _imports(tree: ast.Module, package: str = "") -> dict[str, tuple[str, str]]:
    """alias -> (module, name) of `from M import N as alias` (relative ones from `package`)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(filter(None, [*parts, module]))
            for alias in node.names:
                out[alias.asname or alias.name] = (module, alias.name)
    return out


def _call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _literal_name(cls: ast.ClassDef) -> str | None:
    for stmt in cls.body:
        target = value = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and target.id == "name":
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
    return None


def _module_tree(module: str) -> tuple[ast.Module, str] | None:
    """The source tree of one of the package's modules (others are not read: no import)."""
    if module.split(".")[0] != PACKAGE:
        return None
    try:
        spec = find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    package = module if Path(spec.origin).name == "__init__.py" else module.rpartition(".")[0]
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8")), package


def _class_label(name: str, tree: ast.Module, package: str, depth: int = 0) -> str | None:
    """The literal `name` of class `name` or of the first of its bases that has one."""
    if depth > 8:
        return None
    classes, imports = _classes(tree), _imports(tree, package)
    if name in classes:
        own = _literal_name(classes[name])
        if own and own != PLACEHOLDER:
            return own
        for base in classes[name].bases:
            found = _class_label(_call_name(base), tree, package, depth + 1)
            if found:
                return found
        return None
    if name in imports:
        module, original = imports[name]
        found = _module_tree(module)
        if found is not None:
            return _class_label(original, found[0], found[1], depth + 1)
    return None


def _estimator_class(node: ast.expr | None, assigned: dict[str, ast.expr]) -> str:
    """The class an estimator argument is made from: `Ridge(...)`, or a name assigned one."""
    if isinstance(node, ast.Name) and node.id in assigned:
        node = assigned[node.id]
    return _call_name(node.func) if isinstance(node, ast.Call) else ""


def label_of_cells(sources: list[str]) -> str:
    trees = parsed_cells(sources)
    tree = ast.Module(body=[s for t in trees for s in t.body], type_ignores=[])
    assigned: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            if isinstance(stmt.targets[0], ast.Name):
                assigned[stmt.targets[0].id] = stmt.value
    call = assigned.get("adapter")
    if not isinstance(call, ast.Call):
        return ""
    for kw in call.keywords:
        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    found = _class_label(_call_name(call.func), tree, "")
    if found:
        return found
    estimator = _estimator_class(call.args[0] if call.args else None, assigned)
    if not estimator:
        return ""
    from ..models.estimator import estimator_label

    return estimator_label(estimator)


def imported_modules(sources: list[str]) -> set[str]:
    """Top-level names of the modules that `sources` import, with what the package's modules
    they import bring in at import time (`from store_sales.models.pytorch import ...` -> torch)."""
    out: set[str] = set()
    for tree in parsed_cells(sources):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out.add(node.module.split(".")[0])
                out |= _package_imports(node.module)
    return out


def _package_imports(module: str) -> set[str]:
    """The libraries one of the package's modules imports at module level (not lazily)."""
    found = _module_tree(module)
    if found is None:
        return set()
    out = set()
    for node in found[0].body:
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out - {PACKAGE}
