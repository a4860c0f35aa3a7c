"""CUDA programs to PTX with ``nvcc`` through the shared build cache (the key holds the
target architecture, ``sm_XY``), so a kernel set is compiled once per machine and GPU kind."""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ...codegen import Program
from ...codegen.cache import artifact, cache_key

FLAGS = ("-ptx", "-O3")


class CUDACompileError(RuntimeError):
    """nvcc rejected generated CUDA code (a bug in mlc: please report it)."""


@lru_cache(maxsize=None)
def nvcc_identity() -> str | None:
    """``path`` and version line of ``nvcc``, or None when there is none."""
    path = shutil.which("nvcc")
    if path is None:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True)
    return f"{path}\n{out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''}"


def ptx(program: Program, arch: str) -> Path:
    """The cached PTX of a CUDA ``program`` for ``arch`` (e.g. ``sm_90``)."""
    identity = nvcc_identity()
    if identity is None:
        raise CUDACompileError("nvcc not found: install the CUDA toolkit to build kernels for device=cuda")
    flags = FLAGS + (f"-arch={arch}",)

    def compile_to(directory: Path, output: Path) -> None:
        source = output.with_suffix(".cu")
        source.write_text(program.source)
        result = subprocess.run([identity.split("\n")[0], *flags, str(source), "-o", str(output)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise CUDACompileError(f"nvcc failed on generated code:\n{result.stderr[:4000]}")

    return artifact(cache_key(program.source, identity, flags, arch), ".ptx", compile_to, program.source)
