"""Compiling C through the system compiler and loading it with cffi, with a disk cache.

A library's key is the SHA-256 of its source, the compiler's identity, the flags, the
mlc version and the CPU (the code is built for the machine it runs on). Writes are atomic (temporary file + rename) and a file lock makes two
processes build one key once. A cached library whose checksum does not match (truncated,
corrupt) is rebuilt. Without a compiler (``config.cxx = ''`` or none found) mlc warns once
and runs every node's Python ``perform``.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import config

# Idle OpenMP threads must sleep, not spin: they share the cores with BLAS's threads, and
# spinning ones slow a train step several times over on small machines. Read when libgomp
# loads, so it is set before any kernel library is opened (a user's setting wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BASE_FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math",
              "-ffp-contract=off", "-std=gnu11")
_loaded: dict[str, Any] = {}
_warned: set[str] = set()
builds = 0  # libraries this process compiled (the rest came from the cache)


class CompileError(RuntimeError):
    """The C compiler rejected generated code (a bug in mlc: please report it)."""


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


@lru_cache(maxsize=None)
def _compiler_identity(cxx: str) -> str | None:
    path = shutil.which(cxx) if cxx else None
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{path}\n{out.stdout.splitlines()[0] if out.stdout else ''}"


def compiler() -> str | None:
    """The C compiler to use, or None (after one warning) when there is none."""
    cxx = config.cxx
    if not cxx:
        warn_once("no-cxx", "config.cxx is empty: mlc runs every node with its Python perform (slow)")
        return None
    if _compiler_identity(cxx) is None:
        warn_once("no-cxx", f"C compiler {cxx!r} not found: mlc runs every node with its Python perform "
                             "(slow); install gcc or set config.cxx")
        return None
    return cxx


@lru_cache(maxsize=None)
def _feature_flags(cxx: str) -> tuple[tuple[str, ...], bool]:
    """OpenMP and libmvec flags that this compiler accepts, and whether vector math works;
    probed once per compiler and remembered in the cache directory."""
    import json
    key = hashlib.sha256(f"{_compiler_identity(cxx)}|{config.openmp}|{BASE_FLAGS}|{_machine_identity()}".encode()
                         ).hexdigest()[:16]
    record = Path(config.cache_dir) / f"features-{key}.json"
    try:
        flags, vector = json.loads(record.read_text())
        return tuple(flags), bool(vector)
    except (OSError, ValueError):
        pass
    flags, vector = _probe_features(cxx)
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps([list(flags), vector]))
    os.replace(tmp, record)
    return flags, vector


def _probe_features(cxx: str) -> tuple[tuple[str, ...], bool]:
    src = ("#include <math.h>\n#pragma omp declare simd notinbranch\nfloat expf(float);\n"
           "void f(long n, float* x) {\n#pragma omp parallel for simd\nfor (long i = 0; i < n; i++) x[i] = expf(x[i]);}\n")
    with tempfile.TemporaryDirectory() as tmp:
        c = Path(tmp) / "probe.c"
        c.write_text(src)
        for flags, vector in ((("-fopenmp", "-lmvec"), True), (("-fopenmp",), False), ((), False)):
            if not config.openmp and "-fopenmp" in flags:
                continue
            cmd = [cxx, *BASE_FLAGS, str(c), "-o", str(Path(tmp) / "probe.so"), *flags, "-lm"]
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                return flags, vector
    return (), False


def features() -> tuple[tuple[str, ...], bool]:
    cxx = compiler()
    return _feature_flags(cxx) if cxx else ((), False)


@lru_cache(maxsize=None)
def _machine_identity() -> str:
    """The CPU's model and features: ``-march=native`` code must not move to another CPU
    through a shared cache directory."""
    import platform
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = []
    return platform.machine() + "".join(lines)


def cache_key(source: str, cxx: str, flags: tuple[str, ...]) -> str:
    from ... import __version__
    h = hashlib.sha256()
    for part in (source, _compiler_identity(cxx) or cxx, " ".join(flags), __version__, _machine_identity()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(lib: Path) -> bool:
    check = lib.with_suffix(".sha256")
    try:
        return lib.exists() and check.exists() and check.read_text().strip() == _digest(lib)
    except OSError:
        return False


def build(source: str, cdefs: str) -> Any:
    """``(ffi, lib)`` for ``source`` (declared by ``cdefs``), from the cache or freshly built;
    None when there is no compiler."""
    import cffi
    cxx = compiler()
    if cxx is None:
        return None
    flags, _ = features()
    all_flags = BASE_FLAGS + flags
    key = cache_key(source, cxx, all_flags)
    if key in _loaded:
        return _loaded[key]
    directory = Path(config.cache_dir) / key[:2]
    directory.mkdir(parents=True, exist_ok=True)
    lib_path = directory / f"{key}.so"
    if not _valid(lib_path):
        with open(directory / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not _valid(lib_path):  # another process may have built it while we waited
                    _compile(cxx, all_flags, source, directory, lib_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    ffi = cffi.FFI()
    ffi.cdef(cdefs)
    _loaded[key] = (ffi, ffi.dlopen(str(lib_path)))
    return _loaded[key]


def _compile(cxx: str, flags: tuple[str, ...], source: str, directory: Path, lib_path: Path) -> None:
    global builds
    builds += 1
    fd, tmp_c = tempfile.mkstemp(suffix=".c", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(source)
    tmp_so = tmp_c[:-2] + ".so"
    libs = [f for f in flags if f.startswith("-l")]
    cmd = [cxx, *[f for f in flags if not f.startswith("-l")], tmp_c, "-o", tmp_so, *libs, "-lm"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise CompileError(f"{cxx} failed on generated code:\n{result.stderr[:4000]}")
        digest = _digest(Path(tmp_so))
        os.replace(tmp_so, lib_path)
        check_tmp = lib_path.with_suffix(".sha256.tmp")
        check_tmp.write_text(digest)
        os.replace(check_tmp, lib_path.with_suffix(".sha256"))
        os.replace(tmp_c, lib_path.with_suffix(".c"))
    finally:
        for leftover in (tmp_c, tmp_so):
            if os.path.exists(leftover):
                os.unlink(leftover)
