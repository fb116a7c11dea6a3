"""Writing one output file: the one way the grader writes what it produces.

A regular file (or a new one) is written atomically: beside the target, then renamed over it, so
a reader sees the old file or the new one, never half; the temporary file is removed on every
path. A device, a FIFO or a socket (``/dev/null``, ``/dev/stdout``, a pipe) is written directly:
renaming over it would replace ``/dev/null`` with a regular file. ``-`` is standard output. A
folder is refused with a one-line error. New files get the process's umask, like any tool's.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile


TEMP_PREFIX, TEMP_SUFFIX = ".grader-", ".part"   # a temporary file's name, for a sweep after kill -9


class OutputError(Exception):
    """The output path cannot be written; the message says why and what to give instead."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check(path: str) -> None:
    """Refuse, before any work is done, a path that ``write`` could never write: a folder, or
    one below something that is not a folder. (Whether the final write succeeds is still only
    known when it happens.)"""
    if path == "-":
        return
    if os.path.isdir(path):
        raise OutputError(f"{path} is a folder; give a file name inside it, e.g. {os.path.join(path, 'out')}")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError(f"cannot write {path}: {parent} is not a folder; give another path")


def write(path: str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` as described above."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return
    try:
        mode = os.stat(path).st_mode           # follows a symbolic link to what it names
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; give another path") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{path} is a folder; give a file name inside it, e.g. {os.path.join(path, 'out')}")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(path, "wb") as out:      # a device, FIFO or socket: write it as it is
                out.write(raw)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from None
        return
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; give another path") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror}") from None
        raise
