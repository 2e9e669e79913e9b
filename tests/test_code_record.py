"""The code on record, without a kernel: `pipeline.start` under a faked IPython history keeps
every code cell that ran (the cell calling it included, a cell of computed constants included,
parameter and bundle cells left out) in code.py, and metrics.json's hash is code.py's;
`store-sales runs compare A B` on two hand-made run folders shows A's code as `-` and B's as
`+`, because their notebook hashes differ."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import IPython
import pytest
from helpers import LabelAdapter

from store_sales import cli, codeinfo, pipeline
from store_sales.jsonio import write_json
from store_sales.templates.exp001 import Exp001Config

INJECTED = '# Parameters\ndata_dir = "/kaggle/input/x"\noutput_dir = "/tmp/run"\n'  # papermill's
PARAMETERS = 'learning_rate = 0.05\nnum_leaves = 127\nfeatures = "default"\n'  # the tagged cell
IMPORTS = (
    "import numpy as np\nfrom store_sales import pipeline\n"
    "from store_sales.features import feature\n"
)
CONSTANTS = "WINDOW = 7 * 2\nLAGS = list(range(1, 8))\nSCALE = np.log1p(2.0)\n"  # not parameters
FEATURE = (
    '@feature("mean_window")\ndef mean_window(known):\n'
    "    return np.nanmean(known.y[:, -WINDOW:], axis=1)\n"
)
BUNDLE = "_use_bundled_store_sales('/kaggle/input/store-sales-src')\n"
START = "cfg = Config(**params)\nrun = pipeline.start(cfg, adapter=Model(cfg))\n"


class FakeShell(SimpleNamespace):
    """What `pipeline.start` asks of IPython: the history `In`, and the error hook."""

    def set_custom_exc(self, exc_tuple, handler):
        pass


@pytest.fixture
def started(small_data_dir, tmp_path, monkeypatch):
    """`pipeline.start` run as the last of these notebook cells (IPython's In[0] is '')."""
    history = ["", INJECTED, PARAMETERS, BUNDLE, IMPORTS, CONSTANTS, FEATURE, START]
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell(user_ns={"In": history}))
    cfg = Exp001Config(
        data_dir=str(small_data_dir), output_dir=str(tmp_path / "run"), tracker="none"
    )
    run = pipeline.start(cfg, adapter=LabelAdapter())
    run.finish()
    return run.dir


def test_code_py_holds_every_cell_run_but_parameters_and_its_hash_is_recorded(started):
    code = (started / "code.py").read_text()
    kept = [IMPORTS, CONSTANTS, FEATURE, START]
    assert code == "\n".join(f"# ---- cell {i} ----\n{c}" for i, c in enumerate(kept, 1))
    assert "run = pipeline.start(cfg" in code  # the cell that starts the run is code too
    assert "WINDOW = 7 * 2" in code and "SCALE = np.log1p" in code  # computed, not parameters
    assert "learning_rate" not in code and "/kaggle/input" not in code
    recorded = json.loads((started / "metrics.json").read_text())["code"]
    assert recorded["notebook_cells"] == 4
    assert recorded["notebook_sha256"] == hashlib.sha256(code.encode()).hexdigest()


def test_a_plain_constants_cell_after_the_setup_cell_is_code(tmp_path, monkeypatch):
    """Plain cells before the setup cell (`from_params`) are the config; one after it is the
    experiment's code: an edit of `WINDOW = 14` there shows in code.py and its hash."""
    setup = 'cfg = Exp001Config.from_params(globals(), template="exp001")\n'
    plain = "WINDOW = 14\n"
    history = ["", PARAMETERS, INJECTED, setup, IMPORTS, plain, FEATURE, START]
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell(user_ns={"In": history}))
    cfg = Exp001Config(output_dir=str(tmp_path / "run"), tracker="none")
    run = pipeline.start(cfg, adapter=LabelAdapter())
    run.finish()
    code = (run.dir / "code.py").read_text()
    assert "WINDOW = 14" in code and "learning_rate" not in code and "/kaggle/input" not in code
    assert json.loads((run.dir / "metrics.json").read_text())["code"]["notebook_cells"] == 5


def _run_folder(path, name, learning_rate, val_rmsle, cells):
    """A finished run folder as a run leaves it: config.json, metrics.json, code.py."""
    path.mkdir()
    config = {"run_name": name, "template": "exp001", "learning_rate": learning_rate}
    write_json(path / "config.json", config)
    code = {**codeinfo.record(path, cells), "package_sha256": "p" * 64}  # one package
    metrics = {"run_name": name, "template": "exp001", "status": "finished"}
    write_json(path / "metrics.json", {**metrics, "val_rmsle": val_rmsle, "code": code})
    return code


def test_runs_compare_diffs_a_against_b_when_their_notebook_code_differs(tmp_path, capsys):
    cells = [IMPORTS, FEATURE]
    code_a = _run_folder(tmp_path / "run-a", "run-a", 0.05, 0.5, cells)
    edited = [IMPORTS, FEATURE.replace("-WINDOW:", "-28:")]
    code_b = _run_folder(tmp_path / "run-b", "run-b", 0.1, 0.6, edited)
    assert code_a["notebook_cells"] == code_b["notebook_cells"]
    assert cli.main(["runs", "compare", str(tmp_path / "run-a"), str(tmp_path / "run-b")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("A  run-a  (") and lines[1].startswith("B  run-b  (")
    assert "  learning_rate  0.05000  0.10000" in lines
    assert "(B - A = +0.1)" in out
    code = out[out.index("code:") : out.index("--- ")]
    a, b = code_a["notebook_sha256"][:16], code_b["notebook_sha256"][:16]
    assert f"  notebook_sha256  {a}  {b}" in code.splitlines()
    assert "package_sha256" not in code  # the same package
    diff = out[out.index("--- ") :].splitlines()
    assert diff[:2] == ["--- run-a/code.py", "+++ run-b/code.py"]
    assert "-    return np.nanmean(known.y[:, -WINDOW:], axis=1)" in diff
    assert "+    return np.nanmean(known.y[:, -28:], axis=1)" in diff
