"""Where a model trains: `device` = cpu | auto | a GPU device of the library.

`auto` takes the GPU when there is one and otherwise trains on the CPU, saying so in one line;
an explicit GPU device on a machine without one is a ConfigError (one line), raised by the
runner before any kernel starts and by the adapter before training. A GPU is what `nvidia-smi`
lists (as envinfo records it): Kaggle's GPU sessions and CUDA machines have one.
"""

from __future__ import annotations

from functools import cache

from .errors import ConfigError

CPU, AUTO = "cpu", "auto"
GPU_DEVICES = ("gpu", "cuda")  # LightGBM: gpu (OpenCL) | cuda; XGBoost, torch: cuda


@cache
def gpu_name() -> str | None:
    """The first GPU nvidia-smi lists; None when there is none (or no nvidia-smi)."""
    from .envinfo import command_output

    out = command_output(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    return out.splitlines()[0].strip() if out else None


def no_gpu(device: str) -> ConfigError:
    return ConfigError(
        f"device={device!r} but this machine has no GPU (nvidia-smi finds none): "
        "use device='auto' (GPU when there is one) or 'cpu'"
    )


def resolve(device: str, gpu_device: str, library: str) -> str:
    """The device to pass to `library`: `auto` -> `gpu_device` or cpu (one printed line)."""
    device = str(device or CPU).lower()
    if device == CPU:
        return CPU
    found = gpu_name()
    if device == AUTO:
        if found:
            print(f"device=auto: {library} trains on the GPU ({found}, device {gpu_device!r})")
            return gpu_device
        print(f"device=auto: no GPU found, {library} trains on the CPU")
        return CPU
    if not found:
        raise no_gpu(device)
    return device


def check(cfg) -> None:
    """The runner's check before a kernel starts: an explicit GPU device needs a GPU here."""
    device = str(getattr(cfg, "device", CPU) or CPU).lower()
    if device in GPU_DEVICES and not gpu_name():
        raise no_gpu(device)


def default_device(config_cls) -> str:
    """A config class's default `device` (cpu when it has none)."""
    fields = getattr(config_cls, "__dataclass_fields__", {})
    field = fields.get("device")
    return str(field.default).lower() if field is not None else CPU


def wants_gpu(config_cls) -> bool:
    """Whether a template's Kaggle bundle asks for a GPU session: its `GPU` flag, or a default
    device other than cpu (auto included: on a GPU session it takes the GPU)."""
    return bool(getattr(config_cls, "GPU", False)) or default_device(config_cls) != CPU
