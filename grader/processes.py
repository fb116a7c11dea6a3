"""The worker's process tree, seen from the grader: who its processes are, how much CPU they
used, how to kill them all and reap them, and the orphans a process-mode worker may leave.

In process mode the grader makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a
process that detaches from the worker (``start_new_session=True``, a double fork) is re-parented
to the grader instead of init, and is killed with the worker's tree when the worker is replaced
or the submission is done. Such an orphan is told from the grader's other children by its hard
open-files limit: the worker lowered it, and an unprivileged process cannot raise it again.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time


class Drain(threading.Thread):
    """Reads the worker's raw stdout/stderr so it can never block on a full pipe, keeping only
    the last few KiB (shown when the worker dies)."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.tail = b""

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            self.total += len(chunk)
            self.tail = (self.tail + chunk[-4096:])[-4096:]
        os.close(self.fd)

    total = 0


# ---------------------------------------------------------------------- process-tree hygiene

LIVE_LOCK = threading.Lock()
LIVE_WORKERS: set[int] = set()  # pids of workers this process started and has not reaped
_subreaper = False
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of orphans among its descendants (Linux only)."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return _subreaper
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _subreaper = False
    return _subreaper


def parents() -> dict[int, int]:
    """pid -> parent pid for every process we can see."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                data = handle.read()
            table[int(name)] = int(data.rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return table


def descendants(root: int, table: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def hard_open_files(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/limits") as handle:
            for line in handle:
                if line.startswith("Max open files"):
                    value = line.split()[4]
                    return None if value == "unlimited" else int(value)
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by these processes (utime + stime from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / ticks


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def sweep_orphans(rounds: int = 50) -> int:
    """Kill and reap every orphan of a worker that was re-parented to us; return how many."""
    if not _subreaper:
        return 0
    own_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    me, killed = os.getpid(), 0
    for _ in range(rounds):
        table = parents()
        with LIVE_LOCK:
            live = set(LIVE_WORKERS)
        orphans = []
        for pid, ppid in table.items():
            if ppid != me or pid in live:
                continue
            limit = hard_open_files(pid)
            if limit is not None and (own_limit == resource.RLIM_INFINITY or limit < own_limit):
                orphans.append(pid)
        if not orphans:
            break
        for pid in orphans:
            kill_all([*descendants(pid, table), pid])
        for pid in orphans:
            killed += 1
            for _ in range(200):
                try:
                    done, _status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                time.sleep(0.005)
    return killed


def exit_notice(pid: int) -> int | None:
    """A descriptor that becomes readable when our child ``pid`` exits (Linux 5.3's pidfd),
    so a reap waits exactly as long as the exit takes; None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def kill_tree(process: subprocess.Popen, whole_tree: bool) -> None:
    """SIGKILL the worker's process group and (``whole_tree``: process mode, where the worker's
    children are our grandchildren) every descendant; a reaped pid is never signalled, as it
    may belong to someone else by now."""
    alive = process.returncode is None
    tree = descendants(process.pid, parents()) if alive and whole_tree else []
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if alive:
        kill_all([process.pid, *tree])


def reap(process: subprocess.Popen, timeout: float) -> tuple[int | None, object]:
    """Wait up to ``timeout`` for our child's exit: its exit code (None if it has not exited)
    and resource usage (from wait4, so the CPU time and peak memory are the worker's own)."""
    ends = time.monotonic() + timeout
    code, usage, pause = process.returncode, None, 0.0005
    exited = exit_notice(process.pid) if code is None else None
    try:
        while code is None:
            try:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            except ChildProcessError:
                code = process.returncode if process.returncode is not None else -signal.SIGKILL
                break
            if pid:
                code = os.waitstatus_to_exitcode(status)
                process.returncode = code
                break
            left = ends - time.monotonic()
            if left <= 0:
                break
            if exited is not None:  # readable the moment the worker has exited
                select.select([exited], [], [], left)
            else:
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.02)
    finally:
        if exited is not None:
            os.close(exited)
    return code, usage
