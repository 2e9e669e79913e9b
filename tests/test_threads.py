"""Thread counts that follow the free cores (store_sales.threads)."""

from __future__ import annotations

import os
import subprocess
import sys

from store_sales import threads


def test_explicit_thread_count_is_used_as_is_and_never_changed():
    governor = threads.Governor(3)
    assert governor.threads == 3
    assert governor.check() is None


def test_auto_picks_between_one_and_all_cores():
    assert 1 <= threads.pick(0, sample_s=0.05) <= threads.cores()


def _machine(monkeypatch, n: int, others_busy: float) -> None:
    """n cores, of which other processes kept `others_busy` busy while pick looked."""
    monkeypatch.setattr(threads, "cores", lambda: n)
    snaps = iter([(0.0, 0.0, 0.0), (0.2, 0.2 * others_busy, 0.0)])
    monkeypatch.setattr(threads, "_snapshot", lambda: next(snaps))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)


def test_an_idle_machine_trains_on_every_core(monkeypatch):
    _machine(monkeypatch, 2, others_busy=0.1)
    assert threads.pick(0) == 2  # idle 2-core machine: 2 threads (until issue 18: 1)
    _machine(monkeypatch, 4, others_busy=0.3)
    assert threads.pick(0) == 4  # a 4-core Kaggle VM: 4


def test_busy_neighbours_leave_one_thread(monkeypatch):
    _machine(monkeypatch, 2, others_busy=2.0)
    assert threads.pick(0) == 1  # two CPU-bound neighbours on 2 cores
    _machine(monkeypatch, 4, others_busy=1.0)
    assert threads.pick(0) == 3


def test_own_cpu_time_counts_as_free_and_others_do_not():
    # over 1 s, the cores were busy for 1.5 CPU-seconds, 0.5 of them ours: others used 1 core
    assert threads.free_cores((0.0, 0.0, 0.0), (1.0, 1.5, 0.5)) == threads.cores() - 1


def test_governor_drops_threads_when_a_neighbour_appears(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    snaps = iter([(0.0, 0.0, 0.0), (0.2, 0.0, 0.0), (0.2, 0.0, 0.0), (10.0, 39.8, 9.8)])
    monkeypatch.setattr(threads, "_snapshot", lambda: next(snaps))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    monkeypatch.setattr(threads.time, "monotonic", lambda: 10.0)
    governor = threads.Governor(0)
    assert governor.threads == 4  # idle while it looked: all cores
    assert governor.check() == 1  # then others kept three cores busy
    assert governor.used == [4, 1]


def test_short_spin_is_set_unless_the_user_chose_a_wait():
    env: dict = {}
    threads.quiet_waits(env)
    assert env == {"GOMP_SPINCOUNT": threads.SPINCOUNT}
    for mine in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}):
        env = dict(mine)
        threads.quiet_waits(env)
        assert env == mine


def test_importing_the_package_sets_it_for_the_kernels_it_starts():
    """A kernel that `store-sales run` starts inherits the CLI's environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    code = "import os, store_sales; print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == threads.SPINCOUNT
