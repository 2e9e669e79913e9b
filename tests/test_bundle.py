"""`store-sales bundle`: self-contained notebooks, kernel metadata checked with the kaggle CLI's
own push code, and each bundle executed as Kaggle would run it (no repo, no package)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import site
import socket
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from helpers import NO_NETWORK, QUICK, wandb_isolation_env, write_fake_kaggle_secrets

from store_sales import bundle, bundle_cli
from store_sales.templates import TEMPLATES

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# 40 characters like a real W&B key
SENTINEL = "kagglesecretsentinel0123456789abcdef0123"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """exp001 bundled once for the read-only checks."""
    return bundle.bundle("exp001", tmp_path_factory.mktemp("build"), owner="tester")


def _cli(argv) -> int:
    """The `store-sales` parser with only `bundle` registered, as cli.py will wire it."""
    parser = argparse.ArgumentParser(prog="store-sales")
    bundle_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _code_without_blob(cell) -> str:
    return "\n".join(line for line in cell.source.splitlines() if len(line) < 200)


# ---- the bundled notebook --------------------------------------------------------------------


def test_bundle_embeds_the_package_after_the_tagged_parameters_cell(built):
    source = nbformat.read(REPO / "notebooks" / "exp001.ipynb", as_version=4)
    nb = nbformat.read(built / "exp001.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    boot = tags.index(["bundled-package"])
    assert "parameters" in tags[boot - 1]
    assert len(nb.cells) == len(source.cells) + 1
    # everything but the new cell is the template's, outputs cleared
    others = [c for i, c in enumerate(nb.cells) if i != boot]
    assert [c.source for c in others] == [c.source for c in source.cells]
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if "outputs" in c)
    assert papermill.inspect_notebook(str(built / "exp001.ipynb")) == papermill.inspect_notebook(
        str(REPO / "notebooks" / "exp001.ipynb")
    )
    readable = _code_without_blob(nb.cells[boot])
    assert len(readable.splitlines()) <= 25 and "sys.path" in readable


def test_embedded_zip_is_the_package_and_rebuilds_identically(built, tmp_path):
    nb = nbformat.read(built / "exp001.ipynb", as_version=4)
    blob = bundle.package_zip()
    assert nb.metadata["store_sales_bundle"]["package_sha256"] == hashlib.sha256(blob).hexdigest()
    boot = next(c for c in nb.cells if c.get("id") == bundle.BOOTSTRAP_CELL_ID)
    assert bundle.bootstrap_source(blob) == boot.source
    again = bundle.bundle("exp001", tmp_path, owner="tester")
    assert (again / "exp001.ipynb").read_bytes() == (built / "exp001.ipynb").read_bytes()


def test_bundling_a_bundle_does_not_embed_twice(built, tmp_path):
    twice = bundle.bundle(built / "exp001.ipynb", tmp_path, owner="tester")
    nb = nbformat.read(twice / "exp001.ipynb", as_version=4)
    assert sum(c.get("id") == bundle.BOOTSTRAP_CELL_ID for c in nb.cells) == 1


# ---- kernel-metadata.json --------------------------------------------------------------------


def test_metadata_fields(built):
    meta = json.loads((built / "kernel-metadata.json").read_text())
    assert meta == {
        "id": "tester/store-sales-exp001",
        "title": "Store Sales exp001",
        "code_file": "exp001.ipynb",
        "language": "python",
        "kernel_type": "notebook",
        "is_private": True,
        "enable_gpu": False,
        "enable_tpu": False,
        "enable_internet": True,
        "dataset_sources": [],
        "competition_sources": ["store-sales-time-series-forecasting"],
        "kernel_sources": [],
        "model_sources": [],
    }


def test_check_runs_kaggles_push_code_without_network(built, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("check_metadata tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    request = bundle.check_metadata(built)
    # what `kaggle kernels push` would send, as built by kaggle's own code
    assert request["slug"] == "tester/store-sales-exp001"
    assert request["newTitle"] == "Store Sales exp001"
    assert request["enableInternet"] is True and request["isPrivate"] is True
    assert request["competitionDataSources"] == ["store-sales-time-series-forecasting"]


def test_check_in_a_fresh_process_neither_logs_in_nor_prints(built, tmp_path):
    """`import kaggle` logs in on import: with an access token in ~/.kaggle it would call
    Kaggle's API, with none it prints a long notice. The check must do neither."""
    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "access_token").write_text("not-a-real-token")
    code = (
        NO_NETWORK
        + f"""
import os
before = dict(os.environ)
from store_sales import bundle, bundle_cli
bundle.check_metadata({str(built)!r})
assert dict(os.environ) == before, "environment not restored"
print("connects", len(connects))
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "connects 0\n" and done.stderr == ""


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("title", "Tiny", "at least five characters"),
        ("code_file", "missing.ipynb", "Source file not found"),
        ("id", "tester/store-sales-exp001/3", "cannot contain a version"),
        ("id", "tester/store-sales-other", "does not resolve"),
        ("language", "julia", "valid language"),
        ("kernel_type", "app", "valid kernel type"),
        ("is_private", "yes", "Invalid boolean value"),
        ("enable_internet", 1, "enable_internet"),
        ("dataset_sources", ["no-owner"], "{username}/{dataset-slug}"),
        ("kernel_sources", ["someone/abc"], "at least five characters"),
        ("competition_sources", "store-sales-time-series-forecasting", "must be of type list"),
        ("competition_sources", [], "must include"),
    ],
)
def test_check_names_the_field_and_the_rule(built, tmp_path, field, value, rule):
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "exp001.ipynb").write_bytes((built / "exp001.ipynb").read_bytes())
    meta = json.loads((built / "kernel-metadata.json").read_text())
    meta[field] = value
    (folder / "kernel-metadata.json").write_text(json.dumps(meta))
    with pytest.raises(bundle.MetadataError, match=f"field '{field}'") as err:
        bundle.check_metadata(folder)
    assert err.value.field == field and rule in str(err.value)


def test_check_requires_explicit_internet(built, tmp_path):
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "exp001.ipynb").write_bytes((built / "exp001.ipynb").read_bytes())
    meta = json.loads((built / "kernel-metadata.json").read_text())
    del meta["enable_internet"]  # kaggle itself would accept this and default to true
    (folder / "kernel-metadata.json").write_text(json.dumps(meta))
    with pytest.raises(bundle.MetadataError, match="field 'enable_internet'"):
        bundle.check_metadata(folder)


def test_root_card_is_exp001s_bundle_metadata(built, tmp_path):
    """Rule: the root card = `bundle exp001` metadata with the owner placeholder and code_file
    relative to the repo root; it passes the same check once the bundle is built."""
    card = json.loads((REPO / "kernel-metadata.json").read_text())
    assert card == bundle.root_card(), "run `store-sales bundle exp001 --root-card`"
    meta = json.loads((built / "kernel-metadata.json").read_text())
    assert card["id"] == meta["id"].replace("tester/", f"{bundle.OWNER_PLACEHOLDER}/", 1)
    assert card["code_file"] == "build/kaggle/exp001/exp001.ipynb"
    same = {k: v for k, v in card.items() if k not in ("id", "code_file")}
    assert same == {k: v for k, v in meta.items() if k not in ("id", "code_file")}
    # laid out as in the repo after `store-sales bundle exp001`
    (tmp_path / "build" / "kaggle" / "exp001").mkdir(parents=True)
    (tmp_path / card["code_file"]).write_bytes((built / "exp001.ipynb").read_bytes())
    (tmp_path / "kernel-metadata.json").write_text(json.dumps(card))
    assert bundle.check_metadata(tmp_path)["slug"] == card["id"]


# ---- the command -----------------------------------------------------------------------------


def test_bundle_all_writes_one_checked_folder_per_notebook(tmp_path, capsys):
    assert _cli(["bundle", "--all", "--owner", "tester", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.stem for p in NOTEBOOKS]
    for nb in NOTEBOOKS:
        folder = tmp_path / nb.stem
        assert sorted(p.name for p in folder.iterdir()) == sorted(["kernel-metadata.json", nb.name])
        assert f"kaggle kernels push -p {folder}" in printed
        assert bundle.check_metadata(folder)["slug"] == f"tester/store-sales-{nb.stem}"


def test_owner_from_env_then_kaggle_json_never_showing_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "kaggle.json").write_text(
        json.dumps({"username": "fromjson", "key": SENTINEL})
    )
    out = tmp_path / "out"
    assert _cli(["bundle", "exp001", "--out", str(out)]) == 0
    assert json.loads((out / "exp001" / "kernel-metadata.json").read_text())["id"].startswith(
        "fromjson/"
    )
    monkeypatch.setenv("KAGGLE_USERNAME", "fromenv")
    assert bundle.kaggle_username() == "fromenv"
    assert bundle.kaggle_username("flag") == "flag"
    printed = capsys.readouterr()
    assert SENTINEL not in printed.out + printed.err
    assert all(SENTINEL.encode() not in p.read_bytes() for p in out.rglob("*") if p.is_file())


def test_without_a_username_the_id_gets_a_placeholder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nothing"))
    assert _cli(["bundle", "exp001", "--out", str(tmp_path), "--title", "My Store Sales"]) == 0
    meta = json.loads((tmp_path / "exp001" / "kernel-metadata.json").read_text())
    assert meta["id"] == f"{bundle.OWNER_PLACEHOLDER}/my-store-sales"
    assert "replace it before `kaggle kernels push`" in capsys.readouterr().out


def test_a_refused_title_leaves_no_metadata_behind(tmp_path, capsys):
    assert _cli(["bundle", "exp001", "--owner", "t", "--title", "abc", "--out", str(tmp_path)]) == 2
    assert "field 'title'" in capsys.readouterr().err
    assert not (tmp_path / "exp001" / "kernel-metadata.json").exists()


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert _cli(["bundle", "--owner", "t", "--out", str(tmp_path)]) == 2
    assert _cli(["bundle", "nope", "--owner", "t", "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


# ---- each bundle run as Kaggle would run it ----------------------------------------------------
# Every test here uses the Kaggle-like venv and kernel: marked e2e (skipped by -m "not e2e").

# Our code must not trigger deprecations, on our pins or on Kaggle's older versions.
STRICT_WARNINGS = """\
import warnings

warnings.filterwarnings("error", category=FutureWarning)
warnings.filterwarnings("error", category=DeprecationWarning, module=r"store_sales(\\.|$)")
"""
PROBE = """\
import json, os, sys
import store_sales
print("PROBE" + json.dumps({"package": store_sales.__file__, "python": sys.executable,
                            "cwd": os.getcwd()}))
"""


def _ours(name: str) -> bool:
    """Site-packages entries of this project: the package, its dist-info, the editable hook."""
    name = name.lower().replace("-", "_")
    return name.startswith(("store_sales", "__editable__")) or name == "__pycache__"


@pytest.fixture(scope="module")
def kaggle_python(tmp_path_factory) -> dict:
    return _kaggle_python(tmp_path_factory.mktemp("kaggle-python"))


def _kaggle_python(root: Path) -> dict:
    """A Python like a Kaggle kernel's: our libraries, but neither the repo nor store_sales.

    A new venv whose site-packages links every entry of ours except this project's (its
    editable-install .pth/finder, or an installed copy), so the package is hidden however it
    was installed, and every process started from it (the kernel too) inherits that; `-S`/`-I`
    or a cleared PYTHONPATH would not hide an editable install. It also holds the fake
    `kaggle_secrets` and a sitecustomize that turns our deprecation warnings into errors.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = Path(purelib)
    for packages in site.getsitepackages():
        for entry in sorted(Path(packages).iterdir()):
            if not _ours(entry.name) and not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    write_fake_kaggle_secrets(target, SENTINEL)
    (target / "sitecustomize.py").write_text(STRICT_WARNINGS)
    kernels = root / "jupyter" / "kernels" / "kaggle-like"
    kernels.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Kaggle-like", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    return {"python": python, "jupyter_path": root / "jupyter"}


def _kaggle_env(tmp: Path, jupyter_path: Path) -> dict:
    """A kernel environment built from nothing: nothing of the developer's leaks in."""
    home = tmp / "home"
    home.mkdir()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp / "tmp"),
        "PYTHONPATH": "",
        "JUPYTER_PATH": str(jupyter_path),
        "MPLCONFIGDIR": str(home / "mpl"),
        "KAGGLE_KERNEL_RUN_TYPE": "Batch",
        "FAKE_SECRETS_LOG": str(tmp / "secrets.log"),
        # W&B: wandb_mode "auto" so the Kaggle secret is really read; the server address is a
        # closed local port, so the run falls back to offline and nothing can go online
        **wandb_isolation_env(tmp / "wandb-home"),
    }


@pytest.mark.e2e
def test_the_kernel_python_cannot_import_the_package(kaggle_python, tmp_path):
    env = _kaggle_env(tmp_path, kaggle_python["jupyter_path"])

    def python(code: str) -> subprocess.CompletedProcess:
        cmd = [kaggle_python["python"], "-c", code]
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)

    found = python("import store_sales")
    assert found.returncode != 0 and "No module named 'store_sales'" in found.stderr
    libs = python("import lightgbm, pandas, papermill, wandb")
    assert libs.returncode == 0, libs.stderr[-2000:]


def _run_like_kaggle(notebook: Path, params: dict, kaggle_python, tmp_path, dataset=False):
    """Bundle `notebook`, execute it as Kaggle would, and return its outputs and probe.

    The kernel runs from a venv without the package, in a fresh folder, with Kaggle's
    environment, a fake `kaggle_secrets` and `working` standing in for /kaggle/working.
    `dataset`: the `--dataset` form, its dataset folder in `input` standing for /kaggle/input
    (the notebook's one pip line points there instead), the package pip-installed from it.
    """
    source = bundle.dataset(tmp_path / "input", "tester") if dataset else None
    folder = bundle.bundle(notebook, tmp_path / "build", owner="tester", dataset_folder=source)
    nb = nbformat.read(folder / notebook.name, as_version=4)
    if dataset:
        boot = next(c for c in nb.cells if c.get("id") == bundle.BOOTSTRAP_CELL_ID)
        mount = f"{bundle.KAGGLE_INPUT_DIR}/"
        assert mount in boot.source
        boot.source = boot.source.replace(mount, f"{tmp_path / 'input'}/")
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    kernel_nb = tmp_path / "kernel" / notebook.name  # a fresh folder: no repo around it
    kernel_nb.parent.mkdir()
    nbformat.write(nb, kernel_nb)
    working = tmp_path / "working"  # stands in for /kaggle/working
    working.mkdir()
    (tmp_path / "tmp").mkdir()
    executed = tmp_path / "executed.ipynb"
    papermill_cmd = [kaggle_python["python"], "-m", "papermill", kernel_nb, executed]
    options = ["-k", "kaggle-like", "--cwd", working, "--no-progress-bar", "-y", json.dumps(params)]
    run = subprocess.run(
        [*papermill_cmd, *options],
        cwd=tmp_path / "kernel",
        env=_kaggle_env(tmp_path, kaggle_python["jupyter_path"]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]

    out = nbformat.read(executed, as_version=4)
    texts = [o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs]
    probe = json.loads(next(t for t in texts if t.startswith("PROBE"))[len("PROBE") :])
    if dataset:  # installed into the kernel's own site-packages from the dataset's wheel
        assert Path(probe["package"]).is_relative_to(kaggle_python["python"].parents[1])
    else:  # the package came from the notebook itself, unpacked outside the working folder
        assert Path(probe["package"]).is_relative_to(tmp_path / "tmp")
    assert Path(probe["python"]) == kaggle_python["python"]
    assert Path(probe["cwd"]) == working
    # the package is not unpacked there (code.py is the run's record of the notebook's cells)
    assert not any(p.suffix == ".py" and p.name != "code.py" for p in working.rglob("*"))
    assert not any("Warning" in t for t in texts), [t for t in texts if "Warning" in t]
    # the key is nowhere: not in the executed notebook, the outputs, or W&B's files
    for path in [executed, *working.rglob("*"), *(tmp_path / "wandb-home").rglob("*")]:
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path
    return working


@pytest.mark.e2e
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_template_bundle_runs_like_on_kaggle(template, kaggle_python, small_data_dir, tmp_path):
    notebook = REPO / "notebooks" / f"{template}.ipynb"
    params = {**QUICK[template], "data_dir": str(small_data_dir), "wandb_mode": "auto"}
    params["output_dir"] = str(tmp_path / "working")
    working = _run_like_kaggle(notebook, params, kaggle_python, tmp_path)
    # the W&B key was asked from the (fake) Kaggle secrets, and the run stayed offline
    assert (tmp_path / "secrets.log").read_text().split() == ["wandb_api_key"]
    metrics = json.loads((working / "metrics.json").read_text())
    assert metrics["wandb"]["mode"] == "offline" and metrics["template"] == template
    assert list(working.glob("wandb/offline-run-*/run-*.wandb"))
    # the submission is where Kaggle looks for it, complete
    sub = pd.read_csv(working / "submission.csv")
    sample = pd.read_csv(small_data_dir / "sample_submission.csv")
    assert sub["id"].tolist() == sample["id"].tolist() and sub["sales"].notna().all()


@pytest.mark.e2e
def test_the_dataset_bundle_installs_the_package_and_runs_like_on_kaggle(small_data_dir, tmp_path):
    """`bundle --dataset`: the notebook pip-installs the wheel from its dataset input (a
    Kaggle-like Python of its own: the install changes its site-packages) and submits."""
    python = _kaggle_python(tmp_path / "kaggle-python")
    notebook = REPO / "notebooks" / "exp001.ipynb"
    params = {**QUICK["exp001"], "data_dir": str(small_data_dir), "wandb_mode": "auto"}
    params["output_dir"] = str(tmp_path / "working")
    working = _run_like_kaggle(notebook, params, python, tmp_path, dataset=True)
    metrics = json.loads((working / "metrics.json").read_text())
    assert metrics["template"] == "exp001" and metrics["status"] == "finished"
    sub = pd.read_csv(working / "submission.csv")
    sample = pd.read_csv(small_data_dir / "sample_submission.csv")
    assert sub["id"].tolist() == sample["id"].tolist() and sub["sales"].notna().all()


def test_the_dataset_form_is_a_wheel_the_source_and_metadata_and_a_readable_cell(tmp_path):
    source = bundle.dataset(tmp_path, "tester")
    assert source.name == "store-sales-templates-src"
    meta = json.loads((source / "dataset-metadata.json").read_text())
    assert meta["id"] == "tester/store-sales-templates-src" and meta["licenses"]
    assert len(meta["title"]) >= 6
    wheel = bundle.wheel_in(source)
    assert wheel.name.startswith("store_sales_templates-") and wheel.suffix == ".whl"
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "store_sales/pipeline.py" in names and "store_sales/mlf/tracker.py" in names
    plain = sorted(p.relative_to(source / "src").as_posix() for p in source.rglob("src/**/*.py"))
    assert "store_sales/pipeline.py" in plain and not list(source.rglob("__pycache__"))
    assert (source / "notebooks" / "exp001.ipynb").is_file()
    folder = bundle.bundle("exp001", tmp_path / "build", owner="tester", dataset_folder=source)
    meta = json.loads((folder / "kernel-metadata.json").read_text())
    assert meta["dataset_sources"] == ["tester/store-sales-templates-src"]
    assert bundle.check_metadata(folder)["datasetDataSources"] == meta["dataset_sources"]
    nb = nbformat.read(folder / "exp001.ipynb", as_version=4)
    (boot,) = [c for c in nb.cells if c.get("id") == bundle.BOOTSTRAP_CELL_ID]
    (pip_line,) = [line for line in boot.source.splitlines() if not line.startswith("#")]
    assert pip_line.startswith("%pip install") and "--no-deps" in pip_line
    assert pip_line.endswith(f"/kaggle/input/store-sales-templates-src/{wheel.name}")
    assert max(len(line) for line in boot.source.splitlines()) < 200  # no blob


def test_each_bundle_asks_for_a_gpu_only_if_its_template_uses_one(tmp_path):
    for name, template in TEMPLATES.items():
        folder = bundle.bundle(name, tmp_path / "build", owner="tester")
        meta = json.loads((folder / "kernel-metadata.json").read_text())
        assert meta["enable_gpu"] is template.gpu, name
    assert TEMPLATES["exp003"].gpu and not TEMPLATES["exp001"].gpu


@pytest.mark.e2e
def test_sweep_bundle_runs_like_on_kaggle(kaggle_python, small_data_dir, tmp_path):
    """The sweep notebook on Kaggle: its trials are exp001 kernels started from the bundle."""
    notebook = REPO / "notebooks" / "sweep.ipynb"
    fixed = {"n_origins": 6, "num_boost_round": 60, "early_stopping_rounds": 20}
    params = {
        "data_dir": str(small_data_dir),
        "sweep_dir": str(tmp_path / "working" / "sweep"),
        "count": 2,
        "mode": "local",
        "workers": 1,
        "fixed": fixed,
    }
    working = _run_like_kaggle(notebook, params, kaggle_python, tmp_path)
    sweep_dir = working / "sweep"
    results = pd.read_csv(sweep_dir / "results.csv")
    assert len(results) == 2 and (results["state"] == "finished").all()
    assert (sweep_dir / "best.yaml").is_file()
    trials = sorted((sweep_dir / "trials").iterdir())
    assert len(trials) == 2
    for trial in trials:  # each trial is an exp001 run with its offline W&B run, no refit
        assert json.loads((trial / "metrics.json").read_text())["refit"] == "skipped-sweep-trial"
        assert list(trial.glob("wandb/offline-run-*/run-*.wandb"))
