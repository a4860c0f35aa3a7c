"""The run directory: the one place that writes files of a training run.

- Every file is written whole or not at all: to ``.NAME.tmp-PID``, flushed to disk, renamed
  over ``NAME``, then the directory is flushed. A write that fails (a full disk, say)
  removes its temporary file and raises ``RunDirectoryError`` naming the file and the
  cause; the previous version of the file is untouched.
- One writer at a time: ``lock()`` takes an exclusive ``flock`` on ``.lock`` (the kernel
  drops it when the process dies, so a dead run's lock is simply taken over) and records
  the writer's process id for the message a second writer gets.
- ``remove_temporaries()`` deletes what killed writers left behind.

``MLC_KILL_AFTER_WRITES=N`` (fault injection, for the crash-consistency tests) makes the
process SIGKILL itself right after its N-th file write, so a test can stop a real run
between any two writes.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
from pathlib import Path
from typing import Iterator

_writes = 0
_critical = 0
_pending: BaseException | None = None


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A stretch that a signal must not cut (an HDF5 file being built, a file being
    written): an interruption raised through ``interrupt`` waits for its end."""
    global _critical, _pending
    _critical += 1
    try:
        yield
    finally:
        _critical -= 1
        if _critical == 0 and _pending is not None:
            pending, _pending = _pending, None
            raise pending


def interrupt(error: BaseException) -> None:
    """Raise ``error`` now, or at the end of the current critical stretch (for signal handlers:
    an exception raised inside HDF5's C callbacks would come out as an I/O error)."""
    global _pending
    if _critical:
        _pending = error
    else:
        raise error


class RunDirectoryError(OSError):
    """A run directory cannot be used or written (the message names the path and the cause)."""

    def __str__(self) -> str:
        return str(self.strerror)


def _cause(err: OSError) -> str:
    return err.strerror or str(err)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, whole."""
    global _writes
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with critical(), open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RunDirectoryError(err.errno or errno.EIO, f"cannot write {path}: {_cause(err)}; "
                                                        f"the previous {path.name} is unchanged") from None
    _writes += 1
    limit = os.environ.get("MLC_KILL_AFTER_WRITES")
    if limit and _writes >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)
    return path


def check_directory(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` as a run directory to create or use: not a file, not below a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(errno.ENOTDIR, f"{what} {path}: is a file, not a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunDirectoryError(errno.ENOTDIR, f"{what} {path}: {parent} is a file, not a directory")
            break
    return path


class RunDirectory:
    """A run directory, created if needed and locked against a second writer."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = check_directory(path)
        self._lock_file = None

    def lock(self) -> "RunDirectory":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / ".lock", "a+")
        except OSError as err:
            raise RunDirectoryError(err.errno or errno.EIO, f"cannot use run directory {self.path}: "
                                                            f"{_cause(err)}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise RunDirectoryError(errno.EBUSY, f"run directory {self.path} is in use by a running mlc-train "
                                                 f"(process {owner}); use another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle
        return self

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def remove_temporaries(self) -> list[Path]:
        """Delete the temporary files of killed writers (this process holds the lock)."""
        removed = []
        for tmp in self.path.glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        return removed

    def write(self, name: str, data: bytes | str) -> Path:
        return atomic_write(self.path / name, data)
