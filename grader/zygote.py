"""Warm sandboxes for batch grading: one bubblewrap sandbox whose worker has numpy imported
already forks a fresh worker for each submission, instead of a new sandbox and interpreter
starting every time (about 0.1 s of CPU per submission).

Nothing of one student's run reaches the next: when a submission is done with (and before the
next one's files are copied in, if that did not happen), the zygote kills every other process in
the sandbox's PID namespace, empties /tmp, /dev/shm and /submission (opening up folders a
student chmod-ed to 0 first), removes System V IPC objects, and the grader deletes the host copy
the next worker's /submission is filled from. Kernel keyrings and POSIX message queues, which
nothing inside could list or remove, cannot be created at all (sandbox.py's seccomp filter).
The zygote's temporary folder goes when it is closed, at exit, or with the batch's grading
process's own temporary folder (executors.py). The folders /tmp, /dev/shm and /submission
themselves get back their mode and time and lose any extended attribute. Each worker is a fork
of the zygote as it was before any student code ran. The zygote is the sandbox's PID 1 (bwrap
--as-pid-1: no bwrap init that a student could ptrace and leave something in for the next) and
not dumpable, so a worker can neither ptrace it, nor read or write its memory, nor kill it with a
signal. A zygote lost anyway only ends its student's grading: the grader starts a new one. Where
this cannot be had (sandbox.warm_sandbox_problem), every student gets a fresh sandbox. Used only
in bubblewrap mode (in process mode a worker runs with the grader's own privileges and could
reach the zygote).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import tempfile

from grader import sandbox

REQUEST_SECONDS = 10.0


class ZygoteLost(Exception):
    """The zygote died or stopped answering; the caller falls back to a fresh sandbox."""


class WorkerExit:
    """Exit code and resource usage of a forked worker, as the zygote reaped it."""

    def __init__(self, code: int | None, cpu: float, maxrss_kib: int) -> None:
        self.code = code
        self.ru_utime, self.ru_stime, self.ru_maxrss = cpu, 0.0, maxrss_kib


class Zygote:
    def __init__(self, limits: sandbox.Limits, factories: str | None, hidden: list[str]) -> None:
        self.workdir = tempfile.mkdtemp(prefix="grader-zygote-")
        sandbox.prepare_workdir(self.workdir, factories)
        self.shared = os.path.join(self.workdir, "submission")
        os.makedirs(self.shared)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = sandbox.zygote_command(self.workdir, theirs.fileno(), limits,
                                      factories is not None, hidden)
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                                        start_new_session=True, env=sandbox.worker_environment())
        theirs.close()
        self.sock = ours
        self.alive = True
        self.clean = True  # no worker has run since the last clean sweep (or ever)
        # Its answer is read with the first real request: the zygote imports numpy on one core
        # while the grader goes on (importing pytest, collecting the checks) on the other.
        self._hello = True
        self._send({"op": "hello"}, [])

    def request(self, message: dict, fds: list[int] | None = None) -> dict:
        """One request, one answer; anything odd means the zygote is lost."""
        if not self.alive:
            raise ZygoteLost("the zygote is gone")
        if self._hello:
            self._hello = False
            self._answer()
        self._send(message, fds or [])
        return self._answer()

    def _send(self, message: dict, fds: list[int]) -> None:
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], fds)
        except OSError:
            self._lost("no answer")

    def _answer(self) -> dict:
        try:
            self.sock.settimeout(REQUEST_SECONDS)
            data = self.sock.recv(65536)
            answer = json.loads(data) if data else None
        except (OSError, ValueError):
            answer = None
        if not isinstance(answer, dict) or answer.get("error"):
            self._lost(answer.get("error") if isinstance(answer, dict) else "no answer")
        return answer

    def _lost(self, why: str) -> None:
        self.close()
        raise ZygoteLost(f"the zygote stopped answering ({why})")

    def new_submission_dir(self) -> tuple[str, str]:
        """The folder for the next submission's copy (on the host, inside the sandbox): the
        same /submission a fresh sandbox has, so paths in messages match; emptied by the
        sweep that comes first."""
        if os.listdir(self.shared):
            raise ZygoteLost("the submission folder was not emptied")
        return self.shared, sandbox.SUBMISSION_DIR

    def fork(self, inside_root: str, fds: list[int]) -> int:
        self.clean = False
        answer = self.request({"op": "fork", "root": inside_root}, fds)
        pid = answer.get("pid")
        if type(pid) is not int:
            self.close()
            raise ZygoteLost("the zygote did not fork")
        return pid

    def sweep(self, clean: bool) -> None:
        """Kill every process in the sandbox but the zygote; with ``clean``, also empty its
        writable places and the shared submission folder, ready for another student."""
        self.clean = False
        answer = self.request({"op": "sweep", "clean": clean})
        if answer.get("ok") is not True:  # something survived the cleaning: never reused
            self.close()
            raise ZygoteLost(f"the sweep left {answer.get('left')!r} behind")
        if clean:
            for name in os.listdir(self.shared):
                sandbox.remove_tree(os.path.join(self.shared, name))
            self.clean = True

    def wait(self, pid: int, timeout: float) -> tuple[int | None, WorkerExit | None]:
        answer = self.request({"op": "wait", "pid": pid, "timeout": timeout})
        code = answer.get("code")
        if type(code) is not int:
            return None, None
        cpu, rss = answer.get("cpu", 0.0), answer.get("maxrss", 0)
        usage = WorkerExit(code, float(cpu) if type(cpu) in (int, float) else 0.0,
                           int(rss) if type(rss) is int else 0)
        return code, usage

    def close(self) -> None:
        self.alive = False
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        sandbox.remove_tree(self.workdir)


_WARM: dict[tuple, Zygote] = {}


def warm(limits: sandbox.Limits, factories: str | None, hidden: list[str]) -> Zygote | None:
    """This process's zygote for these settings, started on first use (None if it can't)."""
    if sandbox.warm_sandbox_problem() is not None:
        return None  # it could not be made fresh for each student: a fresh sandbox each time
    key = (limits, factories, tuple(hidden))
    zygote = _WARM.get(key)
    if zygote is not None and zygote.alive and zygote.process.poll() is None:
        return zygote
    try:
        _WARM[key] = Zygote(limits, factories, hidden)
    except (ZygoteLost, OSError):
        _WARM.pop(key, None)
        return None
    return _WARM[key]


def close_all() -> None:
    """Close every zygote of this process, removing its temporary folder."""
    for zygote in _WARM.values():
        zygote.close()
    _WARM.clear()


atexit.register(close_all)  # an exception that ends the process still removes the folders
