"""`device` for exp001 (LightGBM device_type) and exp002 (XGBoost device): cpu by default, auto
falls back to the CPU in one line, an explicit GPU device without a GPU is one error line (in
the runner's checks, before a kernel). No GPU here: the detection is monkeypatched to check
what goes to the library; a GPU run itself is not tested."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from store_sales import devices, runner, templates
from store_sales.errors import ConfigError
from store_sales.templates.exp001 import Exp001Config
from store_sales.templates.exp002 import Exp002Config
from store_sales.templates.exp003 import Exp003Config


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(devices, "gpu_name", lambda: None)


@pytest.fixture
def a_gpu(monkeypatch):
    monkeypatch.setattr(devices, "gpu_name", lambda: "Tesla T4")


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["target"] = frame["a"] + rng.normal(scale=0.1, size=n)
    return frame


def test_cpu_never_looks_for_a_gpu(monkeypatch):
    monkeypatch.setattr(devices, "gpu_name", lambda: pytest.fail("looked for a GPU"))
    assert devices.resolve("cpu", "cuda", "XGBoost") == "cpu"


def test_auto_without_a_gpu_trains_on_the_cpu_and_says_so_in_one_line(no_gpu, capsys):
    assert devices.resolve("auto", "gpu", "LightGBM") == "cpu"
    out = capsys.readouterr().out.splitlines()
    assert out == ["device=auto: no GPU found, LightGBM trains on the CPU"]


def test_auto_with_a_gpu_takes_the_librarys_gpu_device(a_gpu, capsys):
    assert devices.resolve("auto", "gpu", "LightGBM") == "gpu"
    assert devices.resolve("auto", "cuda", "XGBoost") == "cuda"
    assert "Tesla T4" in capsys.readouterr().out


@pytest.mark.parametrize("device", ["gpu", "cuda"])
def test_an_explicit_gpu_device_without_a_gpu_is_one_error_line(no_gpu, device):
    with pytest.raises(ConfigError) as err:
        devices.resolve(device, "gpu", "LightGBM")
    message = str(err.value)
    assert "\n" not in message and f"device={device!r}" in message and "'auto'" in message


def test_no_nvidia_smi_means_no_gpu(monkeypatch):
    monkeypatch.setenv("PATH", "")
    devices.gpu_name.cache_clear()
    try:
        assert devices.gpu_name() is None
    finally:
        devices.gpu_name.cache_clear()


@pytest.mark.parametrize(
    "name,device", [("exp001", "gpu"), ("exp001", "cuda"), ("exp002", "cuda"), ("exp003", "cuda")]
)
def test_the_runner_refuses_a_gpu_device_before_any_kernel(no_gpu, name, device):
    notebook = runner.resolve_notebook(name)
    with pytest.raises(ConfigError, match=rf"^{name}: device='{device}' but this machine"):
        runner.check_config(notebook, {"device": device})
    runner.check_config(notebook, {"device": "auto"})  # auto: the kernel falls back


@pytest.mark.parametrize("name", ["exp001", "exp002"])
def test_an_unknown_device_is_a_config_problem(name):
    with pytest.raises(ConfigError, match="device='tpu' is not one of"):
        runner.check_config(runner.resolve_notebook(name), {"device": "tpu"})


def test_lightgbm_gets_device_type_resolved_once(a_gpu, capsys):
    adapter = templates.adapter("exp001", Exp001Config(device="auto"))
    assert adapter._params("fit_1")["device_type"] == "gpu"
    assert adapter._params("refit")["device_type"] == "gpu"
    assert capsys.readouterr().out.count("device=auto") == 1  # one line per run, not per fit
    for device in ("gpu", "cuda", "cpu"):
        adapter = templates.adapter("exp001", Exp001Config(device=device))
        assert adapter._params("fit_1")["device_type"] == device


def test_lightgbm_on_auto_without_a_gpu_trains_on_the_cpu(no_gpu, capsys):
    cfg = Exp001Config(device="auto", num_boost_round=5, log_period=0)
    adapter = templates.adapter("exp001", cfg)
    fit = adapter.fit(_rows(300, 0), _rows(100, 1), ["a", "b"])
    assert fit.model.params["device_type"] == "cpu"
    assert "no GPU found, LightGBM trains on the CPU" in capsys.readouterr().out


def test_xgboost_gets_cuda_when_there_is_a_gpu_and_a_cuda_build(a_gpu, monkeypatch):
    monkeypatch.setattr(xgb, "build_info", lambda: {"USE_CUDA": True})
    for device, expected in (("auto", "cuda"), ("cuda", "cuda"), ("cpu", "cpu")):
        adapter = templates.adapter("exp002", Exp002Config(device=device))
        assert adapter._params(2)["device"] == expected
        assert adapter._params(2)["nthread"] == 2


def test_xgboost_without_a_cuda_build_says_so(a_gpu, monkeypatch, capsys):
    monkeypatch.setattr(xgb, "build_info", lambda: {"USE_CUDA": False})
    adapter = templates.adapter("exp002", Exp002Config(device="cuda"))
    with pytest.raises(ConfigError, match="CPU-only build"):
        adapter._params(1)
    adapter = templates.adapter("exp002", Exp002Config(device="auto"))
    assert adapter._params(1)["device"] == "cpu"
    assert capsys.readouterr().out.count("\n") == 1


def test_xgboost_on_auto_without_a_gpu_trains_on_the_cpu(no_gpu):
    cfg = Exp002Config(device="auto", num_boost_round=5, log_period=0)
    adapter = templates.adapter("exp002", cfg)
    fit = adapter.fit(_rows(300, 0), _rows(100, 1), ["a", "b"])
    assert '"device":"cpu"' in fit.model.save_config().replace(" ", "")


def test_a_bundle_asks_for_a_gpu_when_the_default_device_is_not_cpu():
    assert not devices.wants_gpu(Exp001Config) and not devices.wants_gpu(Exp002Config)
    assert devices.wants_gpu(Exp003Config)  # device auto (and its GPU flag)
    on_gpu = dataclasses.make_dataclass(
        "OnGpu", [("device", str, dataclasses.field(default="cuda"))], bases=(Exp002Config,)
    )
    assert devices.wants_gpu(on_gpu)
    assert templates.TEMPLATES["exp003"].gpu and not templates.TEMPLATES["exp001"].gpu
