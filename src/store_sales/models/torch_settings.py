"""Where and how a torch fit runs: the device, CPU threads, the seed and deterministic
algorithms, set for one fit and put back afterwards."""

from __future__ import annotations

import os

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """The device a fit runs on for one of DEVICES: asking for cuda without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' but torch sees no CUDA GPU; use device='auto'")
    return device


class TorchSettings:
    """Threads, seed and deterministic algorithms for one fit, put back afterwards: the global
    RNG is forked (a fit does not move the caller's random state) and seeded."""

    def __init__(self, num_threads: int, seed: int | None, device: str):
        self.num_threads = num_threads
        self.seed = seed
        self.device = device

    def __enter__(self):
        self._threads = torch.get_num_threads()
        if self.num_threads > 0:
            torch.set_num_threads(self.num_threads)
        self._deterministic = torch.are_deterministic_algorithms_enabled()
        self._warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        self._fork = None
        if self.seed is not None:
            cuda = self.device == "cuda"
            if cuda:  # cuBLAS is deterministic with a fixed workspace (read at its first use)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            # warn_only: CUDA kernels without a deterministic version warn instead of failing
            torch.use_deterministic_algorithms(True, warn_only=True)
            self._fork = torch.random.fork_rng(
                devices=[torch.cuda.current_device()] if cuda else []
            )
            self._fork.__enter__()
            torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        if self._fork is not None:
            self._fork.__exit__(*exc)
        if self.seed is not None:
            torch.use_deterministic_algorithms(self._deterministic, warn_only=self._warn_only)
        torch.set_num_threads(self._threads)
        return False
