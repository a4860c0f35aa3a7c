"""mlc benchmarks: each workload timed in one process, as the median of repeats, side by side
with NumPy and (when installed) PyTensor, PyTorch (CPU) and JAX; ratios are mlc / peer.

    python benchmarks/run.py                 # all workloads
    python benchmarks/run.py elemwise mlp    # some
    python benchmarks/run.py --json out.json
    python benchmarks/run.py --device opencl   # the MLP step and the fused elementwise workload on a device
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# mlc before NumPy, as mlc-train imports them: OpenBLAS reads mlc's thread timeout as it loads
import mlc  # noqa: E402
import workloads  # noqa: E402


def median_time(fn: Callable[[], object], repeats: int = 7, number: int = 1) -> float:
    """Median over ``repeats`` of the mean time of ``number`` calls (after one warm-up call)."""
    return median_times({"fn": fn}, repeats, number)["fn"]


def median_times(fns: dict[str, Callable[[], object]], repeats: int = 7, number: int = 1) -> dict[str, float]:
    """``median_time`` of each of ``fns``, their samples taken in turn (one of each per round):
    a slow spell of a shared machine then falls on every implementation alike, so the ratios
    hold where the absolute times do not."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(samples) for name, samples in times.items()}


class Timer:
    """What a workload times with: ``timer(fn, number)`` one function, ``timer.together({name:
    fn}, number)`` several taken in turn (the workloads' rows side by side)."""

    def __init__(self, repeats: int) -> None:
        self.repeats = repeats

    def __call__(self, fn: Callable[[], object], number: int = 1) -> float:
        return median_time(fn, self.repeats, number)

    def together(self, fns: dict[str, Callable[[], object]], number: int = 1) -> dict[str, float]:
        return median_times(fns, self.repeats, number)


def versions() -> str:
    """mlc's and the installed peers' versions, as the table is only as good as them."""
    from importlib import metadata
    found = []
    for name in ("mlc", "numpy", "pytensor", "torch", "jax", "mpi4py"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"workloads (default all): {', '.join(workloads.WORKLOADS)}")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", help="run mlc's functions on this device (opencl, openclN, cuda, cudaN); "
                                         "default workloads then: elemwise, mlp (the peers run where they do)")
    args = parser.parse_args(argv)
    names = args.names or (["elemwise", "mlp"] if args.device else list(workloads.WORKLOADS))
    if args.device:
        mlc.config.device, mlc.config.force_device = args.device, True
        print(f"# mlc on device {args.device}; NumPy and the peers on their default devices")
    unknown = set(names) - set(workloads.WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; valid: {', '.join(workloads.WORKLOADS)}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# {versions()}")
    results = {}
    for name in names:
        title, run = workloads.WORKLOADS[name]
        print(f"\n## {name}: {title}", flush=True)
        rows = run(Timer(args.repeats))
        results[name] = rows
        base = rows.get("mlc")
        for impl, seconds in rows.items():
            if isinstance(seconds, (int, float)) and not impl.startswith("info:"):
                ratio = f"  mlc/{impl} = {base / seconds:.2f}x" if base and impl != "mlc" else ""
                unit = (f"{seconds * 1e6:10.2f} us" if seconds < 1e-3 else f"{seconds * 1e3:10.3f} ms")
                print(f"  {impl:24s}{unit}{ratio}")
            else:
                print(f"  {impl:24s}{seconds}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
