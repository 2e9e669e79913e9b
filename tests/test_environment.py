"""What depends on the machine, faked at its boundary: `nvidia-smi` present, failing (no driver:
it prints its complaint on stdout and exits 9) or missing, as a script on PATH; a cgroup CPU
quota (`cpu.max`) smaller than the cores the process may run on; and the progress bar of a
second fold worse than the first, which must show its own best, not the first fold's."""

from __future__ import annotations

import builtins
import io
import os
import stat

import pytest

from store_sales import devices, envinfo, progress, threads
from store_sales.errors import ConfigError
from store_sales.models.base import StepEvent

NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running."
)


@pytest.fixture
def nvidia_smi(tmp_path, monkeypatch):
    """`install(stdout, code)`: PATH holds only an `nvidia-smi` printing `stdout` and exiting
    with `code` (`stdout=None`: no nvidia-smi at all); the GPU cache is cleared around it."""

    def install(stdout: str | None, code: int = 0) -> None:
        folder = tmp_path / "bin"
        folder.mkdir()
        if stdout is not None:
            (folder / "stdout.txt").write_text(stdout + "\n")
            script = folder / "nvidia-smi"  # shell builtins only: PATH has nothing else
            script.write_text(
                "#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\"; done"
                f" < '{folder / 'stdout.txt'}'\nexit {code}\n"
            )
            script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(folder))
        devices.gpu_name.cache_clear()

    yield install
    devices.gpu_name.cache_clear()


def test_a_gpu_nvidia_smi_lists_is_found_recorded_and_taken_by_auto(nvidia_smi, capsys):
    nvidia_smi("Tesla T4\nTesla T4")
    assert devices.gpu_name() == "Tesla T4"
    assert envinfo.environment()["gpu"] == "Tesla T4\nTesla T4"
    assert devices.resolve("auto", "cuda", "XGBoost") == "cuda"
    assert capsys.readouterr().out == (
        "device=auto: XGBoost trains on the GPU (Tesla T4, device 'cuda')\n"
    )


@pytest.mark.parametrize("installed", ["failing", "missing"])
def test_a_failing_or_missing_nvidia_smi_is_no_gpu(nvidia_smi, installed, capsys):
    nvidia_smi(NO_DRIVER if installed == "failing" else None, code=9)
    assert devices.gpu_name() is None
    assert envinfo.environment()["gpu"] is None
    assert devices.resolve("auto", "cuda", "XGBoost") == "cpu"
    assert capsys.readouterr().out == "device=auto: no GPU found, XGBoost trains on the CPU\n"
    with pytest.raises(ConfigError, match="has no GPU"):
        devices.check(type("Cfg", (), {"device": "cuda"})())


# ---- a cgroup CPU quota -------------------------------------------------------------------
@pytest.fixture
def machine(tmp_path, monkeypatch):
    """`setup(affinity, cpu_max)`: the cores this process may run on, and the cgroup's
    cpu.max text (None: no such file, as outside a container)."""
    fake = tmp_path / "cpu.max"

    def opener(path, *args, **kwargs):
        if str(path) == "/sys/fs/cgroup/cpu.max":
            path = fake  # a missing fake raises FileNotFoundError, as a missing file would
        return builtins.open(path, *args, **kwargs)

    def setup(affinity: int, cpu_max: str | None) -> None:
        if cpu_max is not None:
            fake.write_text(cpu_max + "\n")
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)))
        monkeypatch.setattr(threads, "open", opener, raising=False)

    return setup


@pytest.mark.parametrize(
    ("affinity", "cpu_max", "expected"),
    [
        (8, "150000 100000", 2),  # docker --cpus 1.5: two cores' worth, rounded up
        (8, "50000 100000", 1),  # half a core: still one
        (8, "max 100000", 8),  # no quota
        (2, "400000 100000", 2),  # a quota above the affinity: the affinity
        (4, None, 4),  # no cgroup file
    ],
)
def test_a_cgroup_quota_caps_the_threads_of_an_idle_machine(
    machine, monkeypatch, affinity, cpu_max, expected
):
    machine(affinity, cpu_max)
    assert threads.cores() == expected
    snaps = iter([(0.0, 0.0, 0.0), (1.0, 0.0, 0.0)])  # nobody else busy for a second
    monkeypatch.setattr(threads, "_snapshot", lambda: next(snaps))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    assert threads.pick(0) == expected  # what `num_threads=0` gives a fit


# ---- the progress bar's best, per fold ----------------------------------------------------
def test_a_worse_second_fold_shows_its_own_best_not_the_first_folds(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    out = io.StringIO()  # a pipe: one plain line a step
    hook = progress.StepProgress(total=10, stream=out, interval=0.0)
    for fold, scores in ((1, [0.5, 0.4, 0.45]), (2, [0.9, 0.8, 0.85])):
        for step, score in enumerate(scores, start=1):
            hook(StepEvent(fold, step, {"val_rmse": score, "val_rmsle": score}))
    hook.close()
    lines = out.getvalue().splitlines()
    assert lines[2].startswith("fold 1:") and "best=0.40000@2" in lines[2]
    assert lines[-1].startswith("fold 2:") and "best=0.80000@2" in lines[-1]
    assert "best=0.90000@1" in lines[3]  # a new fold starts from its own first score
