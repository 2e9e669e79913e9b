"""Static import rules for src/store_sales, read with `ast` (nothing is imported):

1. no import cycle among the package's modules, imports inside functions counted (lazy ones
   cannot deadlock a package import, but a circle still ties the modules together: a tracker
   module that needs the code asking for it). Only imports under `if TYPE_CHECKING:` are left
   out: they never run. Modules found by name at run time (the tracker registry's
   `"module:Class"` strings) are no imports, which is what keeps the registry out of circles;
2. `lightgbm` is imported only by `store_sales/models/lightgbm.py` (also inside functions);
3. `wandb` is imported only by modules under `store_sales/wb/`, `mlflow` only under
   `store_sales/mlf/`;
4. `torch` is imported only by the adapter `store_sales/models/pytorch.py` and its parts
   `models/torch_net.py` and `models/torch_settings.py` (also inside functions);
5. `xgboost` is imported only by `store_sales/models/xgboost.py` (also inside functions), and
   by `store_sales/mlf/flavors.py` inside a function: MLflow's XGBoost flavor needs the
   library's sklearn wrapper around the adapter's Booster (the docstring there says why).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "store_sales"


@dataclass(frozen=True)
class Import:
    target: str  # absolute dotted name: `pkg.mod`, or `pkg.mod.name` for `from pkg.mod import name`
    base: str  # the module named after `import` / `from`
    lineno: int
    lazy: bool  # inside a function (or only under `if TYPE_CHECKING:`)
    type_only: bool  # only under `if TYPE_CHECKING:`: never runs
    external: bool  # level-0 import (not relative)


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def modules_of(package_dir: Path) -> dict[str, Module]:
    """Every .py under `package_dir` by dotted name; a package shadows a same-named .py file,
    as it does for Python (the shadowed file is listed under `<name>.py`)."""
    root = package_dir.parent
    found: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        elif (path.with_suffix("") / "__init__.py").is_file():
            parts[-1] += ".py"  # shadowed: never imported, still read for rules 2 and 3
        found[".".join(parts)] = Module(".".join(parts), path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: Module) -> list[Import]:
    """Every import statement of the module, relative ones resolved to absolute names."""
    tree = ast.parse(module.path.read_text(), filename=str(module.path))
    name = module.name.removesuffix(".py")
    package = name if module.is_package else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool, type_only: bool = False) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, alias.name, node.lineno, lazy, type_only, True))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                target = base if alias.name == "*" else f"{base}.{alias.name}"
                found.append(Import(target, base, node.lineno, lazy, type_only, node.level == 0))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            lazy = True
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True, True)
            for child in node.orelse:
                visit(child, lazy, type_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, lazy, type_only)

    visit(tree, False)
    return found


def import_graph(package_dir: Path, lazy: bool = True) -> dict[str, set[str]]:
    """Module -> package modules it imports (inside functions too unless `lazy=False`; never
    those under `if TYPE_CHECKING:`).

    `from pkg import x` imports module `pkg.x` when there is one (else the name `x` of `pkg`).
    Importing `a.b.c` also runs `a` and `a.b` first, except the importer's own ancestors (they
    are already being imported when it runs).
    """
    modules = {n: m for n, m in modules_of(package_dir).items() if not n.endswith(".py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        own_ancestors = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
        for imp in imports_of(module):
            if imp.type_only or (imp.lazy and not lazy):
                continue
            named = imp.target if imp.target in modules else imp.base
            if named not in modules:
                continue  # not a module of the package (a library)
            graph[name].add(named)
            parts = named.split(".")
            for i in range(1, len(parts)):
                ancestor = ".".join(parts[:i])
                if ancestor in modules and ancestor not in own_ancestors:
                    graph[name].add(ancestor)
        graph[name].discard(name)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module, as a cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan; the package is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(_cycle_in(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A readable cycle a -> b -> ... -> a inside one strongly connected component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to start
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("not a cycle")  # pragma: no cover


def importers_of(package_dir: Path, library: str) -> dict[str, list[int]]:
    """Files (relative to the package's parent) importing `library`, lazily or not -> lines."""
    out: dict[str, list[int]] = {}
    for module in modules_of(package_dir).values():
        lines = [
            imp.lineno
            for imp in imports_of(module)
            if imp.external and imp.base.split(".")[0] == library
        ]
        if lines:
            out[module.path.relative_to(package_dir.parent).as_posix()] = lines
    return out


# ---- the rules ------------------------------------------------------------------------------


def test_no_import_cycle_lazy_imports_included():
    cycles = find_cycles(import_graph(PACKAGE))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("library", "modules"),
    [
        ("lightgbm", ["lightgbm"]),
        ("xgboost", ["xgboost"]),
        ("torch", ["pytorch", "torch_net", "torch_settings"]),
        ("sklearn", ["estimator"]),
    ],
)
def test_only_its_adapter_imports_a_model_library(library, modules):
    own = {f"store_sales/models/{module}.py" for module in modules}
    found = importers_of(PACKAGE, library)
    assert own <= found.keys()  # the rule reads what it should
    others = {path: lines for path, lines in found.items() if path not in own}
    allowed = FLAVOR_BRIDGE.get(library)
    if allowed:  # lazily only: the bridge module must import without the library
        module = modules_of(PACKAGE)[allowed.removesuffix(".py").replace("/", ".")]
        assert all(i.lazy for i in imports_of(module) if i.base.split(".")[0] == library)
        others.pop(allowed, None)
    assert others == {}


def test_the_estimator_adapter_imports_no_model_library_when_imported():
    """models/estimator.py is imported for `estimator_label` alone: the package core needs no
    scikit-learn, and LightGBM/XGBoost come in only through their adapters, in the calls."""
    module = modules_of(PACKAGE)["store_sales.models.estimator"]
    libraries = {"sklearn", "lightgbm", "xgboost", "catboost", "joblib", "threadpoolctl"}
    eager = [i.base for i in imports_of(module) if not i.lazy]
    assert not [b for b in eager if b.split(".")[0] in libraries]
    assert not [b for b in eager if b.split(".")[-1] in ("lightgbm", "xgboost")]


FLAVOR_BRIDGE = {"xgboost": "store_sales/mlf/flavors.py"}  # rule 5's one exception


@pytest.mark.parametrize(("library", "folder"), [("wandb", "wb"), ("mlflow", "mlf")])
def test_only_its_tracker_package_imports_a_tracking_library(library, folder):
    found = importers_of(PACKAGE, library)
    own = f"store_sales/{folder}/"
    assert any(path.startswith(own) for path in found)
    others = {path: lines for path, lines in found.items() if not path.startswith(own)}
    # the one exception: an adapter offers the tracker's integration for its own library
    # (`ModelAdapter.integration`: W&B's LightGBM callback), imported lazily, when asked
    for path in [p for p in others if p.startswith("store_sales/models/")]:
        module = modules_of(PACKAGE)[path.removesuffix(".py").replace("/", ".")]
        assert all(i.lazy for i in imports_of(module) if i.base.split(".")[0] == library), path
        others.pop(path)
    assert others == {}


# ---- the checker itself can fail --------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "fake"


def test_a_planted_cycle_is_found(tmp_path):
    package = _write(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/a.py": "from . import b\n",  # `from . import b`: the module fake.b
            "fake/b.py": "from .sub.c import thing\n",
            "fake/sub/__init__.py": "",
            "fake/sub/c.py": "import fake.a\nthing = 1\n",
            "fake/d.py": "from .a import x\n",  # into the cycle, not part of it
        },
    )
    assert find_cycles(import_graph(package)) == [["fake.a", "fake.b", "fake.sub.c", "fake.a"]]


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    package = _write(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/sub/__init__.py": "from ..a import x\n",
            "fake/sub/c.py": "y = 1\n",
            "fake/a.py": "from .sub.c import y\nx = 1\n",  # runs fake/sub/__init__ first
        },
    )
    assert find_cycles(import_graph(package)) == [["fake.a", "fake.sub", "fake.a"]]


def test_a_lazy_import_makes_a_cycle_a_type_checking_one_does_not(tmp_path):
    package = _write(
        tmp_path,
        {
            "fake/__init__.py": "from . import a\n",  # a submodule's own package: no cycle
            "fake/a.py": (
                "from typing import TYPE_CHECKING\n"
                "from . import b\n"
                "if TYPE_CHECKING:\n"
                "    from .c import C\n"
            ),
            "fake/b.py": "def f():\n    from .a import g\n    return g\n",
            "fake/c.py": "from .a import x\n",
        },
    )
    graph = import_graph(package)
    assert graph["fake.a"] == {"fake.b"} and graph["fake.b"] == {"fake.a"}  # b's is lazy
    assert graph["fake.c"] == {"fake.a"}
    assert find_cycles(graph) == [["fake.a", "fake.b", "fake.a"]]
    module_level = import_graph(package, lazy=False)
    assert module_level["fake.b"] == set() and find_cycles(module_level) == []


def test_library_imports_are_found_inside_functions_not_relative_names(tmp_path):
    package = _write(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/models/__init__.py": "from .lightgbm import Adapter\n",  # relative: ours
            "fake/models/lightgbm.py": "import lightgbm as lgb\nAdapter = lgb\n",
            "fake/train.py": "def fit():\n    from lightgbm.callback import early_stopping\n",
            "fake/track.py": "import wandb.sdk\n",
        },
    )
    assert importers_of(package, "lightgbm") == {
        "fake/models/lightgbm.py": [1],
        "fake/train.py": [2],
    }
    assert importers_of(package, "wandb") == {"fake/track.py": [1]}


@pytest.mark.parametrize(
    ("files", "shadowed"),
    [({"fake/__init__.py": "", "fake/m.py": "", "fake/m/__init__.py": ""}, "fake.m.py")],
)
def test_a_package_shadows_a_same_named_file(tmp_path, files, shadowed):
    package = _write(tmp_path, files)
    found = modules_of(package)
    assert found["fake.m"].is_package and shadowed in found
