"""The CPU toolchain: the system C compiler builds a C ``Program`` into a shared library
(through the shared build cache) and cffi loads it. Without a compiler
(``config.cxx = ''`` or none found) mlc warns once and runs every node's Python ``perform``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...codegen import Program
from ...codegen.cache import artifact, cache_key, cache_root, cached
from ...config import config
from ..backend import warn_once
from . import native

# Idle OpenMP threads spin briefly, then sleep: the next kernel of a step starts without a
# wake-up, and a busy machine loses little. (They no longer share the cores with OpenBLAS's
# threads: mlc runs every product single-threaded in BLAS, split over these threads, see
# ``codegen.c_gemm``.) Read when libgomp loads, so set before any kernel library is opened;
# a user's setting wins.
os.environ.setdefault("GOMP_SPINCOUNT", "20000")

BASE_FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math",
              "-ffp-contract=off", "-std=gnu11")
_loaded: dict[str, Any] = {}  # loaded libraries by their key and by the keys of the programs they hold
_found: dict[tuple[Path, str], str] = {}  # (cache root, key) -> the key of the cached library holding it


class CompileError(RuntimeError):
    """The C compiler rejected generated code (a bug in mlc: please report it)."""


@lru_cache(maxsize=None)
def _compiler_identity(cxx: str) -> str | None:
    """The compiler's real file, size and modification time (as ccache checks a compiler):
    an upgrade changes them, and reading them costs no run of the compiler."""
    path = shutil.which(cxx) if cxx else None
    if path is None:
        return None
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return None
    return f"{real}|{st.st_size}|{st.st_mtime_ns}"


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
def machine_identity() -> str:
    """The CPU's model and features: ``-march=native`` code must not move to another CPU
    through a shared cache directory."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = []
    return platform.machine() + "".join(lines)


@lru_cache(maxsize=None)
def _feature_flags(cxx: str) -> tuple[tuple[str, ...], bool, int]:
    """OpenMP and libmvec flags that this compiler accepts, whether vector math works, and
    the bytes of the vectors it targets; probed once per compiler and remembered in the
    cache directory."""
    key = hashlib.sha256(f"{_compiler_identity(cxx)}|{config.openmp}|{BASE_FLAGS}|{machine_identity()}".encode()
                         ).hexdigest()[:16]
    record = cache_root() / f"features-{key}.json"
    try:
        flags, vector, width = json.loads(record.read_text())
        return tuple(flags), bool(vector), int(width)
    except (OSError, ValueError, TypeError):
        pass
    flags, vector = _probe_features(cxx)
    width = _probe_vector_bytes(cxx)
    tmp = record.with_suffix(f".tmp{os.getpid()}")
    try:  # remembering is an optimisation: a full disk must not stop compilation
        tmp.write_text(json.dumps([list(flags), vector, width]))
        os.replace(tmp, record)
    except OSError:
        tmp.unlink(missing_ok=True)
    return flags, vector, width


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


def _probe_vector_bytes(cxx: str) -> int:
    """The widest float vector the compiler targets with BASE_FLAGS (its predefined macros:
    a preprocessor run, no compilation)."""
    run = subprocess.run([cxx, *BASE_FLAGS, "-dM", "-E", "-x", "c", os.devnull], capture_output=True, text=True)
    macros = set(line.split()[1] for line in run.stdout.splitlines() if line.startswith("#define "))
    return 64 if "__AVX512F__" in macros else 32 if "__AVX__" in macros else 16


_probing = threading.Lock()  # one probe at a time: a caller waits for the one under way


def features() -> tuple[tuple[str, ...], bool]:
    """``(extra flags, vector math available)`` for the configured compiler."""
    cxx = compiler()
    if not cxx:
        return (), False
    with _probing:
        return _feature_flags(cxx)[:2]


def vector_bytes() -> int:
    """The bytes of the float vectors that compiled code uses (64 with AVX-512, 32 with AVX,
    16 otherwise or without a compiler)."""
    cxx = compiler()
    if not cxx:
        return 16
    with _probing:
        return _feature_flags(cxx)[2]


def probe_in_background() -> None:
    """Find the compiler's features on another thread, where this process has not yet: in
    an empty cache the probe (a compiler run, 50-80 ms) then overlaps a first function's
    rewriting instead of delaying its build."""
    if config.cxx and _feature_flags.cache_info().currsize == 0 and not _probing.locked():
        threading.Thread(target=features, daemon=True, name="mlc-compiler-probe").start()


def signatures(program: Program) -> dict[str, str]:
    """The C function-pointer type of each entry point (buffers and shapes as ``void*``)."""
    return {entry.name: f"void(*)({', '.join(ctype if kind == 'int' else 'void*' for kind, ctype in entry.args)})"
            for entry in program.entries}


# Libraries built at the same time for one function (its missing kernels shared among them).
PARALLEL_BUILDS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _run_all(commands: list[list[str]], cxx: str) -> None:
    """Run compiler commands at the same time; ``CompileError`` with the first failure's output."""
    running = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cmd in commands]
    failures = []
    for proc in running:
        _, err = proc.communicate()
        if proc.returncode != 0:
            failures.append(err)
    if failures:
        raise CompileError(f"{cxx} failed on generated code:\n{failures[0][:4000]}")


def _flags_and_key(program: Program, cxx: str) -> tuple[tuple[str, ...], str]:
    flags = BASE_FLAGS + features()[0]
    return flags, cache_key(program.source, _compiler_identity(cxx) or cxx, flags, machine_identity())


def _pieces(program: Program) -> tuple[Program, ...]:
    """What is cached on its own: each unit (one kernel) of a program that has units."""
    return program.units or (program,)


def _library_of(key: str) -> str | None:
    """The key of the cached library holding the program of ``key``: its own, or the one
    that its ``.ref`` names (a library built for several kernels at once); None if neither
    is whole in the cache. Remembered for this process: a function's kernels share a few
    libraries, each checked (read and hashed) once."""
    root = cache_root()
    found = _found.get((root, key))
    if found is not None:
        return found
    if cached(key, ".so"):
        found = key
    else:
        ref = root / key[:2] / f"{key}.ref"
        try:
            found = ref.read_text().strip()
        except OSError:
            return None
        if not (len(found) == len(key) and found.isalnum() and ((root, found) in _found or cached(found, ".so"))):
            return None
        os.utime(ref)  # recently used: the last to be evicted
    _found[root, key] = _found[root, found] = found
    return found


def built(program: Program) -> bool:
    """Whether ``load(program)`` needs no compiler run (loaded, or in the cache, or no compiler)."""
    cxx = compiler()
    return cxx is None or all(key in _loaded or _library_of(key) is not None
                              for key in (_flags_and_key(p, cxx)[1] for p in _pieces(program)))


def _build(pieces: list[tuple[Program, str]], cxx: str, flags: tuple[str, ...]) -> None:
    """Build ``(program, key)`` pieces as one library; each piece of several gets a ``.ref``
    to it, so later functions find their kernels there."""
    source = "\n".join(p.source for p, _ in pieces)
    key = pieces[0][1] if len(pieces) == 1 else cache_key(source, _compiler_identity(cxx) or cxx, flags,
                                                           machine_identity())

    def compile_to(directory: Path, output: Path) -> None:
        c_file = output.with_suffix(".c")
        c_file.write_text(source)
        libs = [f for f in flags if f.startswith("-l")]
        _run_all([[cxx, *[f for f in flags if not f.startswith("-l")], str(c_file), "-o", str(output), *libs, "-lm"]],
                 cxx)
        c_file.unlink(missing_ok=True)
        if not output.exists():
            raise CompileError(f"C compiler {cxx!r} reported success but wrote no library")

    artifact(key, ".so", compile_to, source)
    for _, piece_key in pieces if len(pieces) > 1 else ():
        ref = cache_root() / piece_key[:2] / f"{piece_key}.ref"
        tmp = ref.with_name(f"{piece_key}.tmp{os.getpid()}.ref")
        try:  # a lost ref costs a rebuild of its kernel later, nothing more
            ref.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(key)
            os.replace(tmp, ref)
        except OSError:
            tmp.unlink(missing_ok=True)


def _groups(pieces: list[tuple[Program, str]], count: int) -> list[list[tuple[Program, str]]]:
    """``pieces`` shared among ``count`` libraries of about the same amount of code."""
    groups: list[list[tuple[Program, str]]] = [[] for _ in range(max(1, min(count, len(pieces))))]
    for piece in sorted(pieces, key=lambda p: len(p[0].source), reverse=True):  # the longest first, to the lightest
        min(groups, key=lambda g: sum(len(p.source) for p, _ in g)).append(piece)
    return groups


def load(program: Program) -> Any:
    """``(ffi, lib)`` for a C ``program``, its pieces from the cache or freshly built (those
    missing at the same time, in up to ``PARALLEL_BUILDS`` libraries); None when there is
    no compiler."""
    cxx = compiler()
    if cxx is None:
        return None
    flags = BASE_FLAGS + features()[0]
    pieces = [(p, _flags_and_key(p, cxx)[1]) for p in _pieces(program)]
    missing = [piece for piece in pieces if piece[1] not in _loaded and _library_of(piece[1]) is None]
    groups = _groups(missing, PARALLEL_BUILDS) if missing else []
    if len(groups) > 1:
        from concurrent.futures import ThreadPoolExecutor  # only to build: 5 ms to import
        with ThreadPoolExecutor(len(groups)) as workers:  # each thread waits on its compiler
            list(workers.map(lambda g: _build(g, cxx, flags), groups))
    elif groups:
        _build(groups[0], cxx, flags)
    libraries = []
    for piece, key in pieces:
        library = _loaded.get(key)
        if library is None:
            holder = _library_of(key)
            if holder is None:
                raise CompileError(f"the library built for {key} is not in the cache {cache_root()}")
            path = cache_root() / holder[:2] / f"{holder}.so"
            try:
                library = _loaded.get(holder) or native.dlopen(str(path), {})
                library.load(signatures(piece))
            except (OSError, AttributeError) as err:
                raise CompileError(f"cannot load the library {cxx!r} built ({path}): {err}") from None
            _loaded[holder] = _loaded[key] = library
        libraries.append(library)
    if len(libraries) == 1:
        return native.ffi, libraries[0]
    return native.ffi, native.Functions(list({id(lib): lib for lib in libraries}.values()))
