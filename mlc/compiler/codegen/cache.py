"""The build cache every toolchain shares (C shared objects, CUDA PTX, ...).

An artifact's key is the SHA-256 of its source, the toolchain's identity, the flags, the
target architecture and the mlc version. Writes are atomic (temporary file + rename), a
file lock makes two processes build one key once, and each artifact has a checksum: a
truncated or corrupt one is rebuilt. The cache stays under ``config.cache_max_mb`` (the
least recently used entries go first) and loses the temporary files of killed builds.
A ``cache_dir`` that cannot be used (not a directory, not writable) gives one warning
naming it and the cause, and a private temporary cache for this process.
"""
from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

from ..config import config

builds = 0  # artifacts this process built (the rest came from the cache)
STALE_SECONDS = 600  # a temporary file this old is a killed build's
_roots: dict[str, Path] = {}
_TEMPORARY = re.compile(r"\.tmp(\d+)")


def cache_key(source: str, toolchain: str, flags: Sequence[str], arch: str) -> str:
    """The content hash naming an artifact."""
    from ... import __version__
    h = hashlib.sha256()
    for part in (source, toolchain, " ".join(flags), arch, __version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def cache_root() -> Path:
    """``config.cache_dir`` if it can be written, else (after one warning) a private one."""
    configured = config.cache_dir
    root = _roots.get(configured)
    if root is None:
        root = Path(configured)
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=root, prefix=".probe-")
            probe.close()
        except OSError as err:
            private = Path(tempfile.mkdtemp(prefix="mlc-cache-"))
            atexit.register(shutil.rmtree, private, True)
            warnings.warn(f"config.cache_dir {configured!r} cannot be used ({err.strerror or err}); compiled kernels "
                          f"go to a private temporary cache ({private}) for this process", RuntimeWarning,
                          stacklevel=4)
            root = private
        _roots[configured] = root
    return root


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(path: Path) -> bool:
    check = path.with_name(path.name + ".sha256")
    try:
        return path.exists() and check.exists() and check.read_text().strip() == _digest(path)
    except OSError:
        return False


def cached(key: str, suffix: str) -> bool:
    """Whether the artifact for ``key`` is in the cache, whole (``artifact`` would not build it)."""
    return _valid(cache_root() / key[:2] / f"{key}{suffix}")


def artifact(key: str, suffix: str, build: Callable[[Path, Path], None], source: str = "") -> Path:
    """The cached file for ``key``, built first when missing or corrupt.

    ``build(directory, output)`` must write ``output`` (a temporary name in ``directory``);
    the cache then records its checksum and renames it into place, with ``source`` kept
    beside it for reading."""
    global builds
    directory = cache_root() / key[:2]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}{suffix}"
    if _valid(path):
        os.utime(path)  # recently used: the last to be evicted
        return path
    with open(directory / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _valid(path):  # another process may have built it while we waited
                builds += 1
                tmp = directory / f"{key}.tmp{os.getpid()}{suffix}"
                try:
                    build(directory, tmp)
                    if not tmp.exists():
                        raise FileNotFoundError(f"the build wrote no {tmp.name}")
                    check = directory / f"{key}.tmp{os.getpid()}.sha256"
                    check.write_text(_digest(tmp))
                    os.replace(tmp, path)
                    os.replace(check, path.with_name(path.name + ".sha256"))
                    if source:
                        src = directory / f"{key}.tmp{os.getpid()}.src"
                        src.write_text(source)
                        os.replace(src, directory / f"{key}.src")
                finally:
                    for leftover in directory.glob(f"{key}.tmp{os.getpid()}*"):
                        leftover.unlink(missing_ok=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _keep_under_limit(cache_root(), directory, key)
    return path


_estimates: dict[Path, int] = {}  # bytes in each cache at this process's last scan, plus what it added since


def _keep_under_limit(root: Path, directory: Path, key: str) -> None:
    """``tidy`` the cache when this process's estimate of its size passes the limit (and at
    its first build): a scan reads every file's size, which a cache of thousands of entries
    makes cost more than the build it follows."""
    limit = config.cache_max_mb * 2 ** 20
    added = sum(f.stat().st_size for f in directory.glob(f"{key}.*") if f.exists())
    estimate = _estimates.get(root)
    if estimate is not None and estimate + added <= limit:
        _estimates[root] = estimate + added
        return
    _estimates[root] = tidy(root, limit, keep=key)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stray(path: Path, now: float) -> bool:
    """A temporary file whose build died (its process is gone, or it is old)."""
    match = _TEMPORARY.search(path.name)
    if match is None:
        return False
    try:
        old = now - path.stat().st_mtime > STALE_SECONDS
    except OSError:
        return False
    return old or not _pid_alive(int(match.group(1)))


def tidy(root: Path, limit_bytes: int, keep: str = "") -> int:
    """Remove killed builds' temporary files, then whole entries, least recently used first,
    until the cache holds at most ``limit_bytes`` (never the entry ``keep``); the bytes left."""
    now = time.time()
    entries: dict[str, list] = {}
    for sub in root.glob("??"):
        for f in sub.iterdir():
            if _stray(f, now):
                f.unlink(missing_ok=True)
                continue
            entries.setdefault(f.name.split(".", 1)[0], []).append(f)
    sizes, used = {}, {}
    for key, files in entries.items():
        stats = [(f, f.stat()) for f in files if f.exists()]
        sizes[key] = sum(st.st_size for _, st in stats)
        used[key] = max((st.st_mtime for f, st in stats if not f.name.endswith(".lock")), default=0.0)
    total = sum(sizes.values())
    for key in sorted(entries, key=used.get):
        if total <= limit_bytes:
            break
        if key == keep:
            continue
        for f in entries[key]:
            f.unlink(missing_ok=True)
        total -= sizes[key]
    return total
