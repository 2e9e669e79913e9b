"""Thread counts that follow the free cores (store_sales.threads)."""

from __future__ import annotations

from store_sales import threads


def test_explicit_thread_count_is_used_as_is_and_never_changed():
    governor = threads.Governor(3)
    assert governor.threads == 3
    assert governor.check() is None


def test_auto_picks_between_one_and_all_cores_but_one():
    assert 1 <= threads.pick(0, sample_s=0.05) <= max(1, threads.cores() - 1)


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
    assert governor.threads == 3  # idle while it looked: all cores but one
    assert governor.check() == 1  # then others kept three cores busy
    assert governor.used == [3, 1]
