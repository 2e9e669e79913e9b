"""The kernel papermill starts for a run: CurveZMQ encryption where the kernel supports it, so
ipykernel 7 does not warn "Kernel is running over TCP without encryption" on every run."""

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
