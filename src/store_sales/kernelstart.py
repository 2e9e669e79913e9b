"""The kernel a run's notebook executes in, started before the runner's imports and checks.

A Jupyter kernel takes ~0.5 s to start (Python, IPython, ZMQ), and `store-sales run` takes
about as long to import papermill and the templates and to check its input: started first, the
kernel comes up beside that work instead of after it. papermill then executes the notebook in
it (nbclient runs in a kernel manager that already has its kernel: `km=`). What the runner
puts in its environment after the start (the run folder it hands over, the progress mode) is
set in the kernel before the first cell, so the cells see what a kernel started later would.

Imports only jupyter_client: `store-sales run` starts the kernel before anything heavier.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from queue import Empty
from typing import Any

KERNEL_NAME = "python3"  # the kernelspec of every template; another notebook starts its own
# as nbclient starts its kernels: no IPython history database written by a run
EXTRA_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
READY_S = 60.0  # as papermill's default start_timeout
RESEND_S = 0.2  # a request the starting kernel lost is sent again after this


def _run_sync(coro):
    try:  # jupyter_core >= 5 (nbclient 0.10 uses it); Kaggle's nbclient 0.5 has its own
        from jupyter_core.utils import run_sync
    except ImportError:
        from nbclient.util import run_sync
    return run_sync(coro)


def supported() -> bool:
    """Whether papermill's nbclient runs a notebook in a kernel it is handed: nbclient 0.6.5
    and later make their client for it; older ones (Kaggle's 0.5.13) make a client only for a
    kernel they start themselves, so there papermill starts the kernel, as it always did."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version("nbclient"))
    except PackageNotFoundError:
        return False
    return found is not None and tuple(int(p or 0) for p in found.groups()) >= (0, 6, 5)


def notebook_kernel(path: str | Path) -> str:
    """The kernelspec name a notebook asks for (papermill's choice), "" if it names none."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return ""
    return str((meta.get("kernelspec") or {}).get("name") or "")


def kernel_config():
    """nbclient's config for the kernel papermill starts: CurveZMQ encryption where the kernel
    supports it. ipykernel 7 warns on every start ("[IPKernelApp] WARNING | Kernel is running
    over TCP without encryption ...") when the kernel manager gives it no Curve keys;
    jupyter_client 8.10's `transport_encryption="auto"` gives them to every kernel whose
    kernelspec declares `supported_encryption: curve` (ipykernel 7's does), which removes the
    cause, not just the line. Older jupyter_client (Kaggle's 7.4) has no such option and its
    ipykernel no such warning: the config is empty there, so traitlets warns of nothing."""
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    config = Config()
    if "transport_encryption" in KernelManager.class_trait_names():
        import zmq

        if zmq.has("curve"):  # "auto" refuses a libzmq without CurveZMQ
            config.KernelManager.transport_encryption = "auto"
    return config


class KernelLost(RuntimeError):
    """The kernel started early died or never answered: the runner lets papermill start one."""


class Kernel:
    """A started kernel for papermill's `km=`; `stop()` ends it (and the clients it gave)."""

    def __init__(self, config: Any = None, name: str = KERNEL_NAME):
        """Starts it now; `config`: the kernel manager's (default `kernel_config()`)."""
        from jupyter_client.manager import AsyncKernelManager

        class Manager(AsyncKernelManager):
            """Keeps the clients it makes: nbclient leaves a kernel it does not own, and its
            client's channels, open."""

            def client(self, **kwargs):
                kc = super().client(**kwargs)
                clients.append(kc)
                return kc

        clients: list = []
        self.name = name
        self.env = dict(os.environ)  # what the kernel starts with
        self.clients = clients
        self.km = Manager(kernel_name=name, config=kernel_config() if config is None else config)
        _run_sync(self.km.start_kernel)(extra_arguments=list(EXTRA_ARGUMENTS))

    def hand_over_env(self) -> None:
        """Set in the kernel what changed in os.environ since it started (nothing if nothing
        did), before papermill's first cell."""
        changed = {k: v for k, v in os.environ.items() if self.env.get(k) != v}
        removed = sorted(set(self.env) - set(os.environ))
        if changed or removed:
            code = (
                f"__import__('os').environ.update({changed!r}); "
                f"[__import__('os').environ.pop(k, None) for k in {removed!r}]"
            )
            _run_sync(self._execute)(code)
            self.env = dict(os.environ)

    async def _execute(self, code: str) -> None:
        """`code` run silently (no output, no execution count, no history). Sent at once and
        sent again every RESEND_S until the kernel answers, not after `wait_for_ready` (whose
        IOPub flush alone takes 0.2 s, and nbclient's own follows): a request that reaches the
        kernel before it listens is lost, which is why `wait_for_ready` resends too. The code
        only sets variables, so running it twice does no harm."""
        kc = self.km.client()
        kc.start_channels()
        try:
            deadline = time.monotonic() + READY_S
            sent = set()
            while True:
                sent.add(kc.execute(code, silent=True, store_history=False))
                try:
                    reply = await kc.get_shell_msg(timeout=RESEND_S)
                except Empty:
                    if not await self.km.is_alive():
                        raise KernelLost("the run's kernel died while it started") from None
                    if time.monotonic() > deadline:
                        raise KernelLost(
                            f"the run's kernel did not answer in {READY_S:.0f} s"
                        ) from None
                    continue
                if reply["parent_header"].get("msg_id") in sent:
                    break
        finally:
            kc.stop_channels()
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel did not take the run's environment: {reply['content']}")

    def stop(self) -> None:
        """The kernel stopped at once (its cells, if any ran, have recorded how the run ended),
        every client's channels closed."""
        for kc in self.clients:
            if kc.channels_running:
                kc.stop_channels()
        if self.km.has_kernel:
            _run_sync(self.km.shutdown_kernel)(now=True)
