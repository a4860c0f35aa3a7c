"""The build cache every toolchain shares (C shared objects, CUDA PTX, ...).

An artifact's key is the SHA-256 of its source, the toolchain's identity, the flags, the
target architecture and the mlc version. Writes are atomic (temporary file + rename), a
file lock makes two processes build one key once, and each artifact has a checksum: a
truncated or corrupt one is rebuilt.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

from ..config import config

builds = 0  # artifacts this process built (the rest came from the cache)


def cache_key(source: str, toolchain: str, flags: Sequence[str], arch: str) -> str:
    """The content hash naming an artifact."""
    from ... import __version__
    h = hashlib.sha256()
    for part in (source, toolchain, " ".join(flags), arch, __version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(path: Path) -> bool:
    check = path.with_name(path.name + ".sha256")
    try:
        return path.exists() and check.exists() and check.read_text().strip() == _digest(path)
    except OSError:
        return False


def artifact(key: str, suffix: str, build: Callable[[Path, Path], None], source: str = "") -> Path:
    """The cached file for ``key``, built first when missing or corrupt.

    ``build(directory, output)`` must write ``output`` (a temporary name in ``directory``);
    the cache then records its checksum and renames it into place, with ``source`` kept
    beside it for reading."""
    global builds
    directory = Path(config.cache_dir) / key[:2]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}{suffix}"
    if _valid(path):
        return path
    with open(directory / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _valid(path):  # another process may have built it while we waited
                builds += 1
                tmp = directory / f"{key}.tmp{os.getpid()}{suffix}"
                try:
                    build(directory, tmp)
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
    return path
