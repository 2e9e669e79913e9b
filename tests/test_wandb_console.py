"""W&B's colour codes stay out of redirected output (store_sales.wb.console)."""

from __future__ import annotations

import io
import subprocess
import sys

import click

from store_sales.wb import console


class KernelStream(io.StringIO):
    """Stands in for ipykernel's OutStream: click keeps colour codes for such streams."""


KernelStream.__module__ = "ipykernel.iostream"


def test_caller_stderr_to_a_file_is_no_terminal(monkeypatch, tmp_path):
    with open(tmp_path / "log", "w") as log:
        caller = subprocess.Popen(
            [sys.executable, "-c", "input()"], stdin=subprocess.PIPE, stderr=log
        )
        try:
            monkeypatch.setenv("JPY_PARENT_PID", str(caller.pid))
            assert console.caller_has_terminal() is False
        finally:
            caller.communicate(b"\n")
    monkeypatch.delenv("JPY_PARENT_PID")
    assert console.caller_has_terminal() is None  # not a kernel: unknown, nothing changes


def test_kernel_output_to_no_terminal_loses_its_colour_codes(monkeypatch):
    stream = KernelStream()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(console, "caller_has_terminal", lambda: False)
    undo = console.plain_stderr()
    click.echo(click.style("wandb", fg="blue") + ": plain", file=sys.stderr)
    undo()
    assert sys.stderr is stream
    click.echo(click.style("wandb", fg="blue") + ": coloured", file=sys.stderr)
    assert stream.getvalue() == "wandb: plain\n\x1b[34mwandb\x1b[0m: coloured\n"


def test_a_terminal_keeps_the_colours(monkeypatch):
    stream = KernelStream()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(console, "caller_has_terminal", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    console.plain_stderr()
    assert sys.stderr is stream
