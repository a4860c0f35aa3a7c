"""The MLP train step on a busy machine: the ``mlp`` workload timed again while other processes
keep every core busy (one spinning process per core). What matters is each library's slowdown
(loaded / quiet): threads that wait for each other at every GEMM or parallel loop lose their
turn on busy cores, so a step can take many times longer than its arithmetic."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def busy_cores(n: int):
    """``n`` processes that spin until the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()


def under_load(timer):
    import workloads
    quiet = workloads.mlp(timer)
    with busy_cores(os.cpu_count() or 1):
        loaded = workloads.mlp(timer)
    rows = {impl: seconds for impl, seconds in loaded.items() if not impl.startswith("info:")}
    rows["info:slowdown loaded/quiet"] = ", ".join(f"{impl} {loaded[impl] / quiet[impl]:.1f}x" for impl in rows)
    return rows
