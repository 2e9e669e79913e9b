"""Run template notebooks headless through papermill, one output folder per run."""

from __future__ import annotations

import ast
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import papermill
from papermill.exceptions import PapermillExecutionError

from . import devices, extras, progress, signals
from .errors import TRACEBACK_OUTPUT, USER_ERROR_NAMES, ConfigError, RunFailed
from .jsonio import read_json
from .kernelstart import (
    KERNEL_NAME,
    Kernel,
    KernelLost,
    kernel_config,
    notebook_kernel,
    supported,
)
from .paths import notebooks_dir
from .rundir import handing_over, new_run_dir, read_metrics
from .templates import for_notebook

# nbclient's kernel end, through papermill: stop the kernel at once when the cells are done
# instead of asking it to exit and waiting (~0.8 s of interpreter teardown with LightGBM, W&B and
# the data loaded). Nothing is lost: every way a run ends is recorded by its cells (the last one
# calls `run.finish()`, an error or a forwarded signal ends it through `Run`'s hooks, metrics.json
# and the trackers included), and a kernel gone without a word reads as killed.
KERNEL_END = {"shutdown_kernel": "immediate"}


def resolve_notebook(name: str | Path) -> Path:
    """`exp001`, `exp001.ipynb` or a path to a notebook."""
    path = Path(name)
    if path.suffix != ".ipynb":
        path = path.with_suffix(".ipynb")
    if path.is_file():
        return path.resolve()
    candidate = notebooks_dir() / path.name
    if candidate.is_file():
        return candidate
    known = sorted(p.stem for p in notebooks_dir().glob("*.ipynb"))
    raise ConfigError(f"notebook {name!r} not found; templates: {known}")


def notebook_parameters(notebook: Path) -> dict[str, Any]:
    """Parameter names and default values from the cell tagged `parameters`."""
    declared = papermill.inspect_notebook(str(notebook))
    out = {}
    for name, info in declared.items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            out[name] = info["default"]
    return out


def parameter_list(notebook: Path) -> str:
    """`--list-params`: one line per variable of the parameters cell (the schema), with its
    type and help; the template's config fields the cell leaves out, with their defaults."""
    from .config import cell_parameters
    from .templates import cells

    params = [p for src in cells(notebook, "parameters") for p in cell_parameters(src) or []]
    template = for_notebook(notebook)
    kinds = {}
    if template is not None:
        kinds = {
            f.name: f.type if isinstance(f.type, str) else f.type.__name__
            for f in fields(template.config)
        }
    width = max((len(f"{p.name} = {p.default!r}") for p in params), default=0)
    lines = [f"{notebook.stem}: {len(params)} parameters (-p NAME VALUE)"]
    for p in params:
        kind = kinds.get(p.name) or type(p.default).__name__
        text = f"{p.name} = {p.default!r}"
        lines.append(f"{text:<{width}}  {kind:<5}  {p.help}".rstrip())
    return "\n".join(lines)


def check_parameters(notebook: Path, params: dict[str, Any]) -> dict[str, Any]:
    """papermill only warns about unknown names; a typo would silently run the defaults."""
    declared = notebook_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {unknown} for {notebook.stem}; valid parameters: "
            f"{', '.join(sorted(declared))}"
        )
    return declared


def check_config(notebook: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Names, types, ranges and choices, before any kernel starts or folder is made: builds the
    template's config from the notebook defaults and `params` (ConfigError: one line)."""
    declared = check_parameters(notebook, params)
    template = for_notebook(notebook)
    if template is not None:
        try:
            cfg = template.config.from_params({**declared, **params})
            devices.check(cfg)  # a GPU device asked for on a machine without one
            if hasattr(cfg, "features"):
                check_features(notebook, cfg.features)
        except ConfigError as err:
            raise ConfigError(f"{notebook.stem}: {err}".replace("Invalid config: ", "")) from None
        extras.require_for(notebook.stem, template.imports, {**declared, **params})
    return declared


def check_data(notebook: Path, params: dict[str, Any], declared: dict | None = None) -> None:
    """The data checks of `data.load_data` on the folder the kernel would read (its `data_dir`,
    resolved as the kernel resolves it), before any run folder, tracker run or kernel exists:
    bad data is one DataError line (exit 2) here. A template without data has none to check."""
    template = for_notebook(notebook)
    if template is None or "data_dir" not in {f.name for f in fields(template.config)}:
        return
    if declared is None:
        declared = notebook_parameters(notebook)
    from .data import check_data as check_folder

    check_folder(str({**declared, **params}.get("data_dir") or ""))


def known_features(notebook: Path) -> dict[str, tuple[str, str]]:
    """name -> (group, description): the built-ins, then the notebook's own `@feature`s."""
    from .features import REGISTRY
    from .features.scan import declared_in

    builtin = {f.name: (f.group, f.doc) for f in REGISTRY.values() if f.builtin}
    return {**builtin, **declared_in(notebook)}


def check_features(notebook: Path, spec: str) -> None:
    """A `features` string against what the notebook will have registered, and the notebook's
    own feature names against the built-ins' and their groups' (ConfigError)."""
    from .features import ALL, DEFAULT, REGISTRY, groups, resolve
    from .features.scan import declared_in

    builtin = {f.name: f.group for f in REGISTRY.values() if f.builtin}
    group_names = {*groups(f for f in REGISTRY.values() if f.builtin), DEFAULT, ALL}
    own = declared_in(notebook)
    for name in own:  # registering it would fail only in the kernel
        if name in builtin or name in group_names:
            kind = "a built-in feature" if name in builtin else "a feature group"
            raise ConfigError(f"@feature({name!r}) is the name of {kind}; give yours another name")
    resolve(spec, {**builtin, **{n: g for n, (g, _) in own.items()}}, builtin)


def run(
    notebook: str | Path,
    params: dict[str, Any] | None = None,
    log_output: bool = True,
    kernel: Kernel | None = None,
    **papermill_kwargs,
) -> Path:
    """Execute a template; returns its run folder (with the executed notebook inside).

    Raises ConfigError (bad parameters) or DataError (bad data) before any run folder, tracker
    run or cell exists, and RunFailed (one line; the traceback stays in the executed notebook)
    when the notebook stops on an exception. The kernel starts first, beside the checks
    (kernelstart.py; `kernel`: one started earlier still, by the CLI), and is stopped here."""
    path = resolve_notebook(notebook)
    chosen = "km" in papermill_kwargs or "kernel_name" in papermill_kwargs
    if chosen or not supported() or notebook_kernel(path) not in ("", KERNEL_NAME):
        # papermill starts the kernel: the one asked for, or where nbclient cannot take ours
        if kernel is not None:
            kernel.stop()
        kernel = None
    elif kernel is None:
        kernel = Kernel()
    try:
        return _run(path, dict(params or {}), log_output, kernel, papermill_kwargs)
    finally:
        if kernel is not None:
            kernel.stop()


def _run(path: Path, params: dict, log_output: bool, kernel: Kernel | None, papermill_kwargs):
    declared = check_config(path, params)
    check_data(path, params, declared)
    exp_name = str(params.get("exp_name", declared.get("exp_name", path.stem)))
    # The folder is made here, not in the notebook, so the executed notebook can live in it.
    template = for_notebook(path)
    model = template.model if template is not None else ""
    out_dir, _ = new_run_dir(exp_name, str(params.get("output_dir") or ""), model)
    params["output_dir"] = str(out_dir)
    # Stream the kernel's output as plain text: papermill's own log_output goes through a
    # logger that is silent unless the caller configures logging.
    streams = {"stdout_file": sys.stdout, "stderr_file": sys.stderr} if log_output else {}
    executed = out_dir / path.name
    try:
        # the kernel has its own session: a SIGTERM/SIGHUP sent to us would never reach it
        # plain progress lines in the kernel: its output is a stream and a saved notebook
        with signals.forward(out_dir), handing_over(out_dir), progress.headless():
            if kernel is not None:
                try:
                    kernel.hand_over_env()
                    papermill_kwargs = {"km": kernel.km, **papermill_kwargs}
                except KernelLost:  # papermill starts the kernel then, as it always did
                    kernel.stop()
            papermill.execute_notebook(
                str(path),
                str(executed),
                parameters=params,
                progress_bar=False,
                **streams,
                **{"config": kernel_config(), **KERNEL_END, **papermill_kwargs},
            )
    except PapermillExecutionError as err:
        ours = err.ename in USER_ERROR_NAMES
        message = err.evalue if ours else f"{err.ename}: {err.evalue}"
        raise RunFailed(message, executed, _report(err, executed)) from None
    return out_dir


def _report(err: PapermillExecutionError, executed: Path) -> str:
    """papermill's report of the failed cell (`--verbose`). Bad input's error output is one
    line (run._set_error_hook): its full traceback is the output the cell kept beside it."""
    kept = [
        "".join(out["data"]["text/plain"])
        for cell in read_json(executed).get("cells", [])
        for out in cell.get("outputs", [])
        if out.get("metadata", {}).get(TRACEBACK_OUTPUT)
    ]
    return "\n".join([*kept, str(err)])


__all__ = ["check_config", "read_metrics", "resolve_notebook", "run"]
