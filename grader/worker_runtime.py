"""The worker's runtime, shared by its loading and its calls: resource limits and how a tripped
one is said, soft deadlines raised into student code, capped capture of printed output, and an
exception described as text. Runs only inside the sandbox (see worker.py).

The worker's files are loaded by path under private names (``sibling``), never imported by
name: ``python -I`` puts no folder of ours on sys.path, and a student's file called
``worker_runtime.py`` must not stand in for this one.
"""

from __future__ import annotations

import __future__
import importlib.util
import io
import os
import signal
import sys
import time
import traceback
import types

_HERE = os.path.dirname(os.path.abspath(__file__))


def sibling(name: str) -> types.ModuleType:
    """The worker-side module ``name`` (``wire``, ``worker_load``, ...) from this folder, loaded
    once under the private name ``_grader_<name>``."""
    private = f"_grader_{name}"
    module = sys.modules.get(private)
    if module is None:
        spec = importlib.util.spec_from_file_location(private, os.path.join(_HERE, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[private] = module
        spec.loader.exec_module(module)
    return module


OUTPUT_CAP = 32 * 1024


class CallTimeout(BaseException):
    """Raised into student code when its time is up (the grader kills us shortly after)."""


class CpuLimit(BaseException):
    """Raised into student code on SIGXCPU: the worker's CPU-time limit is reached (the kernel
    kills us a moment later if the code carries on)."""


LIMITS: dict = {}  # what apply_limits set, for messages


def _mib(value: int) -> str:
    return f"{value // 1024} GiB" if value % 1024 == 0 and value >= 1024 else f"{value} MiB"


def limit_error(exc: BaseException) -> dict | None:
    """A tripped resource limit, said as such (the grader adds the function's name)."""
    import errno

    message = None
    if isinstance(exc, MemoryError):
        kind, message = "MemoryError", f"memory limit of {_mib(LIMITS.get('memory_mb', 0))} exceeded"
    elif isinstance(exc, CpuLimit):
        kind, message = "Timeout", f"CPU time limit of {LIMITS.get('cpu_seconds', 0)} s exceeded"
    elif isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        kind, message = "LimitExceeded", f"file size limit of {_mib(LIMITS.get('file_size_mb', 0))} exceeded"
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) and LIMITS.get("disk_mb"):
        kind, message = "LimitExceeded", f"disk limit of {_mib(LIMITS['disk_mb'])} exceeded"
    elif isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        kind, message = "LimitExceeded", f"open files limit of {LIMITS.get('open_files', 0)} exceeded"
    elif isinstance(exc, OSError) and exc.errno == errno.EAGAIN and "fork" in "".join(
            traceback.format_tb(exc.__traceback__)[-3:]):
        kind, message = "LimitExceeded", f"process limit of {LIMITS.get('processes', 0)} exceeded"
    if message is None:
        return None
    return {"type": kind, "message": message, "traceback": ""}


class CappedText(io.TextIOBase):
    """Keeps the first OUTPUT_CAP characters written and counts the rest, so a flood of prints
    costs the student their time, not the grader's memory."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept < OUTPUT_CAP:
            piece = text[: OUTPUT_CAP - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        body = "".join(self.parts)
        if self.total > self.kept:
            body += f"\n... ({self.total - self.kept} more characters not shown)"
        return body


class Capture:
    """Point sys.stdout/sys.stderr at one capped buffer for the span of a call or a cell."""

    def __enter__(self) -> CappedText:
        self.saved = sys.stdout, sys.stderr
        self.buffer = CappedText()
        sys.stdout = sys.stderr = self.buffer
        return self.buffer

    def __exit__(self, *exc) -> None:
        sys.stdout, sys.stderr = self.saved


def _on_alarm(signum, frame):
    raise CallTimeout()


class deadline:
    """A soft time limit raised inside student code; nests (a cell that imports a module whose
    cells have limits of their own gets its remaining time back afterwards)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(seconds, 0.001)

    def __enter__(self) -> None:
        signal.signal(signal.SIGALRM, _on_alarm)
        self.started = time.monotonic()
        self.outer, _ = signal.setitimer(signal.ITIMER_REAL, self.seconds)
        if self.outer and self.outer < self.seconds:
            signal.setitimer(signal.ITIMER_REAL, self.outer)

    def __exit__(self, *exc) -> None:
        if self.outer:
            left = self.outer - (time.monotonic() - self.started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _future_flags(names: list[str]) -> int:
    flags = 0
    for name in names:
        feature = getattr(__future__, name, None)
        flags |= getattr(feature, "compiler_flag", 0)
    return flags


def describe_error(exc: BaseException, filenames: set[str]) -> dict:
    """The exception as text, with the traceback cut down to the student's own frames."""
    if isinstance(exc, CallTimeout):
        return {"type": "Timeout", "message": "time limit exceeded", "traceback": ""}
    limit = limit_error(exc)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in filenames]
    lines = traceback.format_list(frames[-8:])
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = ""
    kind = " ".join(str(type(exc).__name__)[:200].split())
    if isinstance(exc, SystemExit):
        try:
            code = repr(exc.code)[:200]
        except BaseException:  # noqa: BLE001 - an exit code whose repr misbehaves
            code = "..."
        message = f"sys.exit({code}) was called"
    location = None
    if frames:
        location = {"file": frames[-1].filename, "line": frames[-1].lineno}
    if limit is not None:
        limit["traceback"] = "".join(lines)[-4000:]
        limit["location"] = location
        return limit
    return {"type": kind, "message": message[:2000], "traceback": "".join(lines)[-4000:],
            "location": location}



def apply_limits(limits: dict) -> None:
    """Set our own resource limits before any student code runs; children inherit them."""
    import resource

    LIMITS.update(limits)
    mib = 1024 * 1024
    wanted = {
        resource.RLIMIT_AS: (limits["memory_mb"] * mib,) * 2,
        # SIGXCPU at the soft limit (raised into student code as CpuLimit), SIGKILL at the hard
        # one two seconds later for code that ignores it.
        resource.RLIMIT_CPU: (limits["cpu_seconds"], limits["cpu_seconds"] + 2),
        resource.RLIMIT_FSIZE: (limits["file_size_mb"] * mib,) * 2,
        resource.RLIMIT_NOFILE: (limits["open_files"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    if os.getuid() != 0:
        wanted[resource.RLIMIT_NPROC] = (limits["processes"],) * 2
    for key, (soft, hard) in wanted.items():
        _, current_hard = resource.getrlimit(key)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(key, (soft, hard))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write fails instead of killing us
    signal.signal(signal.SIGXCPU, _on_xcpu)


def _on_xcpu(signum, frame):
    raise CpuLimit()

