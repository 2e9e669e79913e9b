"""`store-sales new exp005 --from exp001`: a new template, generated from an existing one.

The copy is the whole experiment: its features and model cells as they are in the source, its
parameters cell and name changed, outputs stripped. It shares the source's config class
(`Config.for_template`), so nothing in the package changes and it is a template at once
(templates are discovered from the notebooks' metadata).
"""

from __future__ import annotations

import re
from pathlib import Path

from .config import parameters_source
from .errors import ConfigError
from .paths import notebooks_dir
from .templates import META_KEY, for_notebook

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def new_template(name: str, source: str, folder: Path | None = None) -> Path:
    """Write `notebooks/<name>.ipynb` from template `source`; returns its path."""
    import nbformat

    from .runner import resolve_notebook

    if not NAME.fullmatch(name):
        raise ConfigError(f"template name {name!r}: use a letter, then letters, digits, '_', '-'")
    src = resolve_notebook(source)
    template = for_notebook(src)
    if template is None:
        raise ConfigError(f"{src.name} is not a template (its metadata names no config)")
    folder = notebooks_dir() if folder is None else Path(folder)
    dst = folder / f"{name}.ipynb"
    if dst.exists():
        raise ConfigError(f"{dst} exists; pick another name or delete it first")
    nb = nbformat.read(str(src), as_version=4)
    nb.metadata.pop("papermill", None)
    meta = nb.metadata.setdefault(META_KEY, {})
    meta["derived_from"] = src.stem
    meta["description"] = f"{meta.get('description') or src.stem} (from {src.stem})"
    old = src.stem
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if "parameters" in cell.metadata.get("tags", []):  # generated from the config
                cell.source = parameters_source(template.config.for_template(name))
            cell.source = cell.source.replace(f'template="{old}"', f'template="{name}"')
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is not None and title.source.startswith(f"# {old}"):
        first, _, rest = title.source.partition("\n")
        title.source = f"# {name}{first[len(old) + 2 :]} (from {old})\n{rest}"
    nbformat.validate(nb)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "x", encoding="utf-8") as f:  # never over another template
        nbformat.write(nb, f)
    return dst
