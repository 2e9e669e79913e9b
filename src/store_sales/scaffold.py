"""`store-sales new exp006 --from exp001`: a new template, made from an existing one.

The copy is the whole experiment: its parameters, features and model cells as they are in the
source (a parameter added to the source's parameters cell stays one: the cell is the schema),
`exp_name` and the markdown's mentions of the source renamed, outputs stripped. It shares the
source's config class (`Config.for_template`), so nothing in the package changes and it is a
template at once (templates are discovered from the notebooks' metadata).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ConfigError
from .paths import notebooks_dir
from .templates import META_KEY, TEMPLATES, for_notebook

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
EXP_NAME = re.compile(r'^(exp_name\s*=\s*)(["\']).*?\2', re.M)  # the parameters cell's line


def new_template(name: str, source: str, folder: Path | None = None) -> Path:
    """Write `notebooks/<name>.ipynb` from template `source`; returns its path."""
    import nbformat

    from .runner import resolve_notebook

    if not NAME.fullmatch(name):
        raise ConfigError(f"template name {name!r}: use a letter, then letters, digits, '_', '-'")
    src = resolve_notebook(source)
    template = for_notebook(src)
    if template is None or not template.is_model:
        raise ConfigError(
            f"{src.stem} is not a model template; copy one of: {', '.join(TEMPLATES)}"
        )
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
    mention = re.compile(rf"\b{re.escape(old)}\b")
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if "parameters" in cell.metadata.get("tags", []):  # copied: only its name changes
                cell.source = EXP_NAME.sub(rf'\g<1>"{name}"', cell.source)
            cell.source = cell.source.replace(f'template="{old}"', f'template="{name}"')
        elif cell.cell_type == "markdown":  # it describes the new template, not its source
            cell.source = mention.sub(name, cell.source)
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is not None and title.source.startswith(f"# {name}"):
        first, _, rest = title.source.partition("\n")
        title.source = f"{first} (from {old})\n{rest}"
    nbformat.validate(nb)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "x", encoding="utf-8") as f:  # never over another template
        nbformat.write(nb, f)
    return dst
