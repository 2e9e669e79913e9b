"""How many threads a model library gets, and how its OpenMP threads wait.

LightGBM, XGBoost and PyTorch on Linux run on GNU OpenMP (libgomp). Every parallel region ends
in a barrier, and libgomp's threads wait there spinning, up to 300,000 times, before they
sleep. Next to other work that is what collapses a fit: a thread whose partner the scheduler has
put aside burns its own time slice waiting, at each of the thousands of barriers a fit has.
Measured here (2 cores, LightGBM, 200k rows x 40, 100 rounds, load average ~4-8 from other
work): 2 threads 56 s with libgomp's spin, 2.7 s with GOMP_SPINCOUNT=1000 and 3.2 s PASSIVE,
1 thread 4.9 s; next to two more busy loops, 2 threads with the short spin 12.5 s, PASSIVE
12.2 s, a 10,000 spin 39 s. Even without the spin, a barrier waits for the partner to be
scheduled again, so a fit that starts next to busy neighbours still runs best with as many
threads as cores are free.

Hence two parts:
- `quiet_waits()`, run when `store_sales` is imported (before a library loads OpenMP; the
  kernels `store-sales run` starts inherit it): GOMP_SPINCOUNT=1000 unless the user set
  OMP_WAIT_POLICY or GOMP_SPINCOUNT. A neighbour that starts mid-fit then slows a fit, it no
  longer stalls it (a full exp001 run with 2 threads once took 575 s that way, against ~60 s).
- `num_threads=0` (auto, `pick`): as many threads as cores are free when a fit starts, up to
  all of them: an idle 2-core machine trains with 2, a 4-core Kaggle VM with 4, a machine with
  two busy neighbours with 1. Until issue 18 it left one core free, so idle 2-core machines
  ran at half speed (exp001 full scale 145 s against 62 s).
LightGBM and XGBoost keep the count for the whole fit (LightGBM ignores a change mid-training,
or re-seeds its bagging on reset_parameter); PyTorch re-checks it every few seconds
(`Governor`), which changes only the speed. A positive `num_threads` is used as is. Thread
counts change sums only in the last bits: 200 LightGBM rounds on full data, 1 vs 2 threads,
differ by 9e-16 in log1p(sales). benchmarks/bench.py --neighbour and docs/benchmarks.md: figures.
"""

from __future__ import annotations

import math
import os
import time

SPINCOUNT = "1000"  # libgomp's spins before a waiting thread sleeps (its default: 300,000)
SAMPLE_S = 0.2  # how long to watch the cores before a fit starts
CHECK_EVERY_S = 2.0  # how often a running fit looks again


def quiet_waits(environ=os.environ) -> None:
    """Short OpenMP waits for this process and the kernels it starts; the user's own setting
    wins. Acts only on OpenMP runtimes loaded after it (libgomp reads it when it loads)."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = SPINCOUNT


def cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" or "<quota> <period>" (docker --cpus, Kaggle)
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return n


def _snapshot() -> tuple[float, float, float] | None:
    """(monotonic time, busy CPU-seconds of our cores, this process's CPU-seconds), or None
    where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    try:
        ours = {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except AttributeError:
        ours = None
    busy = 0
    for line in lines:
        name, *ticks = line.split()
        if not name.startswith("cpu") or name == "cpu" or (ours and name not in ours):
            continue
        # user nice system idle iowait irq softirq steal: idle and iowait are free time
        t = [int(x) for x in ticks[:8]]
        busy += sum(t) - t[3] - t[4]
    own = os.times()
    return time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


def free_cores(before, after) -> float:
    """Cores that other processes left free between two snapshots (our own use counts free)."""
    wall = after[0] - before[0]
    if wall <= 0:
        return float(cores())
    others = ((after[1] - before[1]) - (after[2] - before[2])) / wall
    return cores() - max(0.0, others)


def _fit(free: float) -> int:
    """Threads for `free` free cores: rounded, at least 1, at most all cores."""
    return max(1, min(cores(), math.floor(free + 0.5)))


def pick(requested: int = 0, sample_s: float = SAMPLE_S) -> int:
    """Threads for a fit: `requested` if positive, else the cores free right now."""
    if requested > 0:
        return requested
    before = _snapshot()
    if before is None:  # no /proc: the 1-minute load average is all there is
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        return _fit(cores() - load)
    time.sleep(sample_s)
    return _fit(free_cores(before, _snapshot()))


class Governor:
    """One fit's thread count: picked at the start, re-checked by `check()` every few seconds
    (a neighbour that starts mid-fit). `used` lists every count in the order it was set."""

    def __init__(self, requested: int = 0, every_s: float = CHECK_EVERY_S):
        self.auto = requested <= 0
        self.every_s = every_s
        self.threads = pick(requested)
        self.used = [self.threads]
        self._last = _snapshot() if self.auto else None

    def check(self) -> int | None:
        """The new thread count when the free cores changed since the last look, else None."""
        if self._last is None or time.monotonic() - self._last[0] < self.every_s:
            return None
        now = _snapshot()
        if now is None:
            return None
        free = free_cores(self._last, now)
        self._last = now
        n = _fit(free)
        if n == self.threads:
            return None
        self.threads = n
        self.used.append(n)
        return n
