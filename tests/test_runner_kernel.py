"""The kernel of a run: started before the runner's checks (kernelstart.py), given the run's
environment before its first cell, stopped at the end or on bad input; CurveZMQ encryption
where the kernel supports it, so ipykernel 7 does not warn "Kernel is running over TCP without
encryption" on every run."""

from __future__ import annotations

import pytest

from store_sales import runner


def test_the_kernel_manager_provisions_curve_keys_where_it_can():
    from jupyter_client.manager import KernelManager

    config = runner.kernel_config()
    if "transport_encryption" not in KernelManager.class_trait_names():  # Kaggle's 7.4
        assert config == {}
        return
    assert config.KernelManager.transport_encryption == "auto"
    manager = KernelManager(kernel_name="python3", config=config)
    assert manager.transport_encryption == "auto"


def test_run_passes_the_config_to_papermill(monkeypatch, tmp_path):
    seen = {}

    def execute_notebook(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute_notebook)
    monkeypatch.setenv("STORE_SALES_OUTPUTS", str(tmp_path))
    with pytest.raises(SystemExit):
        runner.run("exp001", {"tracker": "none", "data_dir": "", "wandb_mode": "disabled"})
    assert seen["config"] == runner.kernel_config()


# ---- the kernel starts first (kernelstart.py) ---------------------------------------------------

ENV_PROBE = """import json, os
with open(os.path.join(output_dir, "probe.json"), "w") as fh:
    json.dump({"pid": os.getpid(), "env": dict(os.environ)}, fh)"""


def _probe_notebook(tmp_path):
    """A notebook (not a template) whose cell records its kernel's pid and environment."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell('output_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(ENV_PROBE)]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, str(path))
    return path


def _probe_run(tmp_path, kernel) -> tuple:
    """The probe notebook run by the runner with `kernel`: (run folder, what its cell saw)."""
    import json

    out = runner.run(
        _probe_notebook(tmp_path),
        {"output_dir": str(tmp_path / "runs" / "probe")},
        log_output=False,
        kernel=kernel,
    )
    return out, json.loads((out / "probe.json").read_text())


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is gone too
        return fh.read().split(") ")[-1][0] != "Z"


def test_the_notebook_runs_in_the_kernel_started_first_with_the_runs_environment(
    tmp_path, monkeypatch
):
    """The kernel was started before the run folder existed, yet its cells see the folder the
    runner hands over and the plain progress lines (set in it before the first cell); the
    run ends with it stopped."""

    from store_sales import kernelstart, progress
    from store_sales.rundir import HANDOVER_ENV

    monkeypatch.delenv(progress.ENV, raising=False)
    kernel = kernelstart.Kernel()
    pid = kernel.km.provisioner.process.pid
    assert HANDOVER_ENV not in kernel.env and kernel.km.has_kernel
    out, probe = _probe_run(tmp_path, kernel)
    assert probe["env"][HANDOVER_ENV] == str(out.resolve())
    assert probe["env"][progress.ENV] == "lines"
    assert probe["pid"] == pid  # the cells ran in it, not in a kernel papermill started
    assert not kernel.km.has_kernel and not _alive(pid)
    assert all(not kc.channels_running for kc in kernel.clients)


def test_bad_input_stops_the_kernel_started_for_it(tmp_path):
    from store_sales import kernelstart
    from store_sales.errors import ConfigError

    kernel = kernelstart.Kernel()
    pid = kernel.km.provisioner.process.pid
    with pytest.raises(ConfigError, match="unknown parameter"):
        runner.run("exp001", {"no_such_parameter": 1}, log_output=False, kernel=kernel)
    assert not kernel.km.has_kernel and not _alive(pid)


def test_store_sales_run_imports_neither_sweeps_nor_tuning_nor_bundles():
    """Each subcommand imports its own modules only: `run` does not wait for the others'."""
    import subprocess
    import sys

    code = (
        "import sys; from store_sales import cli; cli.main(['run', '--list']); "
        "print(sorted(m for m in sys.modules if m.startswith(("
        "'store_sales.sweep', 'store_sales.tune', 'store_sales.bundle'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_a_request_the_starting_kernel_lost_is_sent_again(monkeypatch):
    """The first request never reaches the kernel (as one sent before it listens): the
    environment still arrives, by the next one."""
    import os

    from store_sales import kernelstart

    kernel = kernelstart.Kernel()
    make_client = kernel.km.client

    def losing_client(**kwargs):
        kc = make_client(**kwargs)
        send = kc.execute
        calls = []

        def execute(code, **kw):
            calls.append(code)
            return "lost-request" if len(calls) == 1 else send(code, **kw)

        kc.execute = execute
        return kc

    monkeypatch.setattr(kernel.km, "client", losing_client)
    monkeypatch.setenv("STORE_SALES_TEST_HANDOVER", "1")
    try:
        kernel.hand_over_env()  # returns only once the kernel answered
        assert "STORE_SALES_TEST_HANDOVER" in kernel.env
    finally:
        kernel.stop()
    assert os.environ["STORE_SALES_TEST_HANDOVER"] == "1"


def test_a_kernel_that_died_before_the_run_is_replaced_by_papermills(tmp_path):
    import os
    import signal

    from store_sales import kernelstart

    kernel = kernelstart.Kernel()
    dead = kernel.km.provisioner.process.pid
    os.kill(dead, signal.SIGKILL)
    _, probe = _probe_run(tmp_path, kernel)
    assert probe["pid"] != dead and not _alive(probe["pid"])


@pytest.mark.parametrize(
    "found, taken",
    [("0.5.13", False), ("0.6.4", False), ("0.6.5", True), ("0.10.2", True), ("1.0", True)],
)
def test_a_kernel_is_handed_to_nbclient_only_where_it_can_take_one(monkeypatch, found, taken):
    """Kaggle's nbclient 0.5.13 makes a client only for a kernel it starts itself."""
    import importlib.metadata

    from store_sales import kernelstart

    monkeypatch.setattr(importlib.metadata, "version", lambda name: found)
    assert kernelstart.supported() is taken


def test_where_nbclient_cannot_take_it_papermill_starts_the_kernel(tmp_path, monkeypatch):
    from store_sales import kernelstart

    kernel = kernelstart.Kernel()
    early = kernel.km.provisioner.process.pid
    monkeypatch.setattr(runner, "supported", lambda: False)
    _, probe = _probe_run(tmp_path, kernel)
    assert probe["pid"] != early and not _alive(early)  # the early one stopped, unused
