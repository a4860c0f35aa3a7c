"""The README's benchmark table from one ``run.py --json`` file, so the table is one run's
numbers, not a collage: ``python benchmarks/table.py results.json``."""
from __future__ import annotations

import json
import sys

PEERS = (("numpy", "NumPy"), ("pytensor", "PyTensor"), ("torch", "PyTorch"), ("jax", "JAX"))


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def table(results: dict, titles: dict) -> str:
    """Markdown rows: each workload's mlc time and mlc's ratio to each peer ("–": not run)."""
    lines = ["| workload | mlc | " + " | ".join(f"mlc/{name}" for _, name in PEERS) + " |",
             "| --- | --- |" + " --- |" * len(PEERS)]
    for workload, rows in results.items():
        mlc = rows.get("mlc")
        if not isinstance(mlc, (int, float)):
            continue
        ratios = [f"{mlc / rows[key]:.2f}" if isinstance(rows.get(key), (int, float)) else "–" for key, _ in PEERS]
        lines.append(f"| {titles.get(workload, workload)} | {_time(mlc)} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import workloads
    with open(sys.argv[1]) as f:
        print(table(json.load(f), {name: f"`{name}`: {title}" for name, (title, _) in workloads.WORKLOADS.items()}))
