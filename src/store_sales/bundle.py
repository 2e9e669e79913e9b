"""`store-sales bundle`: push-ready, self-contained Kaggle kernels from the template notebooks.

On Kaggle there is no repo checkout and no `pip install -e .`, so each bundled notebook carries
the package: a code cell right after `parameters` unpacks a base64 zip of `src/store_sales`
(with the repo's templates and configs) to a temp folder and puts it first on `sys.path`, no
internet needed. Next to it goes `kernel-metadata.json`, checked with the kaggle CLI's own
`kernels push` code (network call intercepted): what passes here passes the CLI's checks.

`bundle --dataset` is the readable form: the package goes to a Kaggle Dataset
(`<owner>/store-sales-templates-src`: a wheel of it, its `src/` tree as plain files to browse,
`dataset-metadata.json`), and each notebook lists that dataset in `dataset_sources` and installs
the wheel with one `%pip install ... --no-deps` line where the other form embeds its zip.

Metadata rule: every bundle gets the same settings (`kernel_metadata`), only id/title/code_file
follow the notebook. The repo root's `kernel-metadata.json` is exp001's card: what
`bundle exp001` writes, with the owner `YOUR_KAGGLE_USERNAME` and `code_file` relative to the
repo root (`build/kaggle/exp001/exp001.ipynb`); `bundle exp001 --root-card` rewrites it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UserError
from .kaggleapi import CapturedRequest, OfflineClient, kaggle_api
from .paths import COMPETITION, PACKAGE_DIR, REPO_ROOT, notebooks_dir

BUILD_DIR = REPO_ROOT / "build" / "kaggle"
ROOT_CARD = REPO_ROOT / "kernel-metadata.json"
ROOT_NOTEBOOK = "exp001"  # the notebook the root card describes
OWNER_PLACEHOLDER = "YOUR_KAGGLE_USERNAME"
METADATA_FILE = "kernel-metadata.json"
BOOTSTRAP_CELL_ID = "bundled-store-sales"
DATASET_SLUG = "store-sales-templates-src"
DATASET_METADATA_FILE = "dataset-metadata.json"
KAGGLE_INPUT_DIR = "/kaggle/input"  # where a kernel's dataset_sources are mounted, by slug
# The repo declares no license: "unknown" (one of Kaggle's) until its owner picks one
DATASET_LICENSE = "unknown"


class MetadataError(UserError):
    """A kernel-metadata.json that `kaggle kernels push` (or this project) would refuse."""

    def __init__(self, path: Path, field: str, rule: str):
        self.field, self.rule = field, rule
        super().__init__(f"{path}: field {field!r}: {rule}")


# ---- the package inside the notebook ---------------------------------------------------------


def package_zip(package_dir: Path = PACKAGE_DIR, repo_root: Path = REPO_ROOT) -> bytes:
    """The package's .py files, and the repo's templates and configs (a sweep runs the exp001
    template with configs/sweep.yaml), laid out as in the repo so `config.REPO_ROOT` finds them;
    without pyproject.toml, so outputs still go to the working dir. Fixed order and timestamps:
    a rebuild is identical."""
    files = [
        (Path("src", "store_sales", p.relative_to(package_dir)), p)
        for p in package_dir.rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    for folder, pattern in (("notebooks", "*.ipynb"), ("configs", "*")):
        for p in (repo_root / folder).rglob(pattern):
            if p.is_file() and not any(part.startswith(".") for part in p.parts):
                files.append((p.relative_to(repo_root), p))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


BOOTSTRAP = """\
# Self-contained: unpacks the store_sales package (v{version}, sha256 {digest}) embedded below
# by `store-sales bundle`, so this notebook needs neither the repo nor pip/internet.
import base64, hashlib, io, os, pathlib, sys, tempfile, zipfile


def _use_bundled_store_sales(blob: str) -> None:
    data = base64.b64decode(blob)
    # a temp folder, not the working dir: Kaggle would list the files as notebook outputs
    digest = hashlib.sha256(data).hexdigest()[:12]
    home = pathlib.Path(tempfile.gettempdir(), f"store_sales-{{digest}}")
    zipfile.ZipFile(io.BytesIO(data)).extractall(home)  # src/, notebooks/, configs/
    src = str(home / "src")
    for name in [m for m in sys.modules if m.split(".")[0] == "store_sales"]:
        del sys.modules[name]  # the bundled copy wins over an installed or earlier one
    sys.path[:] = [src, *(p for p in sys.path if p != src)]
    # processes started from here (papermill kernels of a sweep's trials) need it too
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.getenv("PYTHONPATH")]))


_use_bundled_store_sales(
    "{blob}"
)"""


def bootstrap_source(blob: bytes) -> str:
    return BOOTSTRAP.format(
        version=__version__,
        digest=hashlib.sha256(blob).hexdigest()[:12],
        blob=base64.b64encode(blob).decode("ascii"),
    )


def self_contained(notebook: Path, blob: bytes | None = None, wheel: str = ""):
    """The template without outputs, with a code cell that unpacks the embedded package, or
    (`wheel`: its path under /kaggle/input) installs the package from the dataset's wheel."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.pop("papermill", None)
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags or cell.get("id") == BOOTSTRAP_CELL_ID:
            continue  # a saved executed notebook, or a bundle fed back in
        for key in ("papermill", "execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    if wheel:
        boot = nbformat.v4.new_code_cell(install_source(wheel), id=BOOTSTRAP_CELL_ID)
    else:
        blob = package_zip() if blob is None else blob
        boot = nbformat.v4.new_code_cell(bootstrap_source(blob), id=BOOTSTRAP_CELL_ID)
    boot.metadata["tags"] = ["bundled-package"]
    # right after the parameters cell (the intro says "parameters are in the next cell"),
    # else first; papermill's injected parameters go between the two, which is harmless
    params = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(params[0] + 1 if params else first_code, boot)
    nb.cells = cells
    nb.metadata["store_sales_bundle"] = {
        "source": notebook.name,
        "package_version": __version__,
        **({"wheel": wheel} if wheel else {"package_sha256": hashlib.sha256(blob).hexdigest()}),
    }
    nbformat.validate(nb)
    return nb


INSTALL = """\
# The store_sales package (v{version}) from the Kaggle Dataset {dataset} (this notebook's
# input; its src/ is the package's source). --no-deps: Kaggle's own pandas, LightGBM, W&B stay.
%pip install -q --no-deps --disable-pip-version-check --root-user-action=ignore {wheel}"""


def install_source(wheel: str) -> str:
    """The cell that installs the package from the dataset: one readable pip line."""
    dataset = Path(wheel).parent.name
    return INSTALL.format(version=__version__, dataset=dataset, wheel=wheel)


# ---- the package as a Kaggle Dataset ----------------------------------------------------------


def build_wheel(out: Path, repo_root: Path = REPO_ROOT) -> Path:
    """A wheel of the package in `out` (`pip wheel --no-deps`), built from a copy of
    pyproject.toml, README.md and src/ so the checkout gets no build/ or egg-info."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "source")
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(repo_root / name, source / name)
        shutil.copytree(
            repo_root / "src" / "store_sales",
            source / "src" / "store_sales",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        before = set(Path(out).glob("*.whl"))
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        cmd += ["-q", "--disable-pip-version-check", "-w", str(out), str(source)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise UserError(f"pip wheel failed: {(done.stderr or done.stdout).strip()[-500:]}")
    wheels = sorted(set(Path(out).glob("*.whl")) - before) or sorted(Path(out).glob("*.whl"))
    return wheels[-1]


def dataset_metadata(owner: str) -> dict:
    return {
        "title": "Store Sales Templates Src",
        "id": f"{owner}/{DATASET_SLUG}",
        "licenses": [{"name": DATASET_LICENSE}],
    }


def dataset(out_root: str | Path = BUILD_DIR, owner: str = "") -> Path:
    """Write `out_root/store-sales-templates-src/`: the package's wheel, its source tree (src/,
    and the notebooks and configs a sweep needs, as plain files to read on Kaggle) and
    `dataset-metadata.json`; returns the folder (`kaggle datasets create -p` it)."""
    folder = Path(out_root) / DATASET_SLUG
    if folder.exists():
        shutil.rmtree(folder)  # a rebuild holds one wheel, the current source
    folder.mkdir(parents=True)
    build_wheel(folder)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    shutil.copytree(PACKAGE_DIR, folder / "src" / "store_sales", ignore=ignore)
    for name in ("notebooks", "configs"):
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, folder / name, ignore=ignore)
    meta = dataset_metadata(owner or OWNER_PLACEHOLDER)
    (folder / DATASET_METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
    return folder


def wheel_in(folder: Path) -> Path:
    (wheel,) = Path(folder).glob("*.whl")
    return wheel


# ---- kernel-metadata.json -----------------------------------------------------------------------


def slugify(title: str) -> str:
    """Kaggle derives a kernel's URL slug from its title; `check_metadata` verifies the match."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def default_title(notebook: Path) -> str:
    """Notebook metadata `store_sales.kaggle_title` if the template sets one (not `kaggle`:
    Kaggle writes that key itself), else "Store Sales <stem>"."""
    import nbformat

    meta = nbformat.read(notebook, as_version=4).metadata.get("store_sales", {})
    return str(meta.get("kaggle_title") or f"Store Sales {notebook.stem}")


def kaggle_username(owner: str | None = None) -> str:
    """--owner, else $KAGGLE_USERNAME, else "username" from kaggle.json ("" if none).

    kaggle.json also holds the API key: only the username is taken from it, nothing is kept.
    """
    if owner:
        return owner
    if os.environ.get("KAGGLE_USERNAME"):
        return os.environ["KAGGLE_USERNAME"]
    config_dir = os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle"
    try:
        return str(json.loads((Path(config_dir) / "kaggle.json").read_text()).get("username", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def kernel_metadata(
    owner: str,
    title: str,
    code_file: str,
    private: bool = True,
    gpu: bool = False,
    datasets: tuple[str, ...] = (),
) -> dict:
    """Every bundle's settings, in `kaggle kernels init`'s order. Internet on: W&B needs it
    (without it the run logs offline, to sync later). A GPU only for templates that use one:
    for a tree model a GPU session only costs quota."""
    return {
        "id": f"{owner}/{slugify(title)}",
        "title": title,
        "code_file": code_file,
        "language": "python",
        "kernel_type": "notebook",
        "is_private": private,
        "enable_gpu": gpu,
        "enable_tpu": False,
        "enable_internet": True,  # kaggle's code defaults to true, its docs say false: be explicit
        "dataset_sources": list(datasets),  # `--dataset`: the package's, mounted by slug
        "competition_sources": [COMPETITION],  # mounted at /kaggle/input/<competition>
        "kernel_sources": [],
        "model_sources": [],
    }


def root_card() -> dict:
    """What the repo root's kernel-metadata.json must hold (see the module docstring)."""
    notebook = notebooks_dir() / f"{ROOT_NOTEBOOK}.ipynb"
    code_file = (BUILD_DIR / ROOT_NOTEBOOK / notebook.name).relative_to(REPO_ROOT).as_posix()
    return kernel_metadata(OWNER_PLACEHOLDER, default_title(notebook), code_file)


# ---- validation with the kaggle CLI's own push code -----------------------------------------

# kaggle's messages -> the metadata field they are about (first match wins)
_MESSAGE_FIELDS = (
    ("title", "title"),
    ("source file", "code_file"),
    ("id or slug", "id"),
    ("'id'", "id"),
    ("language", "language"),
    ("kernel type", "kernel_type"),
    ("dataset", "dataset_sources"),
    ("model", "model_sources"),
    ("pinning_type", "docker_image_pinning_type"),
    ("new_title", "title"),
    ("competition_data_sources", "competition_sources"),
    ("kernel_data_sources", "kernel_sources"),
    ("category_ids", "keywords"),
    ("expecting", "code_file"),  # the notebook is not valid JSON
)
_BOOLEANS = ("is_private", "enable_gpu", "enable_tpu", "enable_internet")
REQUIRED = ("id", "title", "code_file", "language", "kernel_type", "enable_internet")


def check_metadata(folder: str | Path) -> dict[str, Any]:
    """Validate `folder/kernel-metadata.json` as `kaggle kernels push -p folder` would.

    Runs the installed kaggle package's own `kernels_push` with its client replaced by one that
    captures the request, so the rules cannot drift from Kaggle's CLI; its warnings (e.g. a
    title that does not resolve to the id's slug) count as errors. Project rules on top: the
    fields in REQUIRED are set explicitly and the competition is an input. Returns the request
    fields the CLI would send (without the notebook text). Raises MetadataError naming the field.
    """
    folder = Path(folder)
    path = folder / METADATA_FILE
    try:  # kaggle would fail here too, but its JSON message would not name the file
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetadataError(path, "(file)", "not found: run `store-sales bundle` first") from None
    except ValueError as err:
        raise MetadataError(path, "(file)", f"not valid JSON ({err})") from None
    api = kaggle_api("checking kernel metadata")
    api.build_kaggle_client = OfflineClient
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            api.kernels_push(str(folder))
    except CapturedRequest as push:
        if push.method != "save_kernel":  # a kaggle release that asks something first
            raise MetadataError(path, "?", f"kaggle sent {push.method} before the kernel") from None
        request = push.request.to_dict(ignore_defaults=False)
    except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        raise MetadataError(path, _field_of(api, meta, str(err)), f"kaggle: {err}") from None
    else:
        raise MetadataError(path, "?", "kaggle's kernels_push returned without a request")
    if printed.getvalue().strip():
        field = "id" if "does not resolve" in printed.getvalue() else "?"
        raise MetadataError(path, field, f"kaggle warns: {printed.getvalue().strip()}")
    for field in REQUIRED:
        if field not in meta:
            raise MetadataError(path, field, "must be set explicitly (kaggle fills in a default)")
    if COMPETITION not in meta.get("competition_sources", []):
        raise MetadataError(path, "competition_sources", f"must include {COMPETITION!r}")
    request.pop("text", None)
    return request


def _field_of(api, meta: dict, message: str) -> str:
    lowered = message.lower()
    if "boolean" in lowered:  # kaggle's message has the value, not the field
        return _bad_boolean(api, meta)
    if "kernel" in lowered and "kernel type" not in lowered:  # id or a kernel source
        for source in meta.get("kernel_sources") or []:
            try:
                api.validate_kernel_string(source)
            except (ValueError, TypeError):
                return "kernel_sources"
        return "id"
    for needle, field in _MESSAGE_FIELDS:
        if needle in lowered:
            return field
    return _bad_boolean(api, meta)  # kaggle fails to format the message for a non-string


def _bad_boolean(api, meta: dict) -> str:
    """The first boolean field kaggle's own parser refuses ("?" if none)."""
    for field in _BOOLEANS:
        try:
            api.get_bool(meta, field, False)
        except (ValueError, TypeError):
            return field
    return "?"


# ---- the command ----------------------------------------------------------------------------


def bundle(
    notebook: str | Path,
    out_root: str | Path = BUILD_DIR,
    owner: str = "",
    title: str = "",
    private: bool = True,
    blob: bytes | None = None,
    dataset_folder: Path | None = None,
) -> Path:
    """Write and check `out_root/<stem>/` (notebook + kernel-metadata.json); returns the folder.
    With `dataset_folder` (what `dataset` wrote), the notebook installs the package from that
    dataset, which its metadata lists as an input."""
    import nbformat

    from .runner import resolve_notebook
    from .templates import for_notebook

    path = resolve_notebook(notebook)
    folder = Path(out_root) / path.stem
    folder.mkdir(parents=True, exist_ok=True)
    owner = owner or OWNER_PLACEHOLDER
    datasets: tuple[str, ...] = ()
    wheel = ""
    if dataset_folder is not None:
        dataset_id = json.loads((Path(dataset_folder) / DATASET_METADATA_FILE).read_text())["id"]
        datasets = (dataset_id,)
        slug = dataset_id.split("/", 1)[1]
        wheel = f"{KAGGLE_INPUT_DIR}/{slug}/{wheel_in(dataset_folder).name}"
    nbformat.write(self_contained(path, blob, wheel), folder / path.name)
    template = for_notebook(path)
    gpu = template is not None and template.gpu
    meta = kernel_metadata(owner, title or default_title(path), path.name, private, gpu, datasets)
    (folder / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    try:
        check_metadata(folder)
    except MetadataError:
        (folder / METADATA_FILE).unlink()  # a folder with metadata is always push-ready
        raise
    return folder
