"""The zygote's side of a warm sandbox (grader/zygote.py is the grader's): forks one fresh
worker per request and, between students, kills every other process in the sandbox and cleans
its writable places. Runs only inside the sandbox (see worker.py).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

def _set_not_dumpable() -> None:
    """No process of the same user may ptrace us or read our memory (PR_SET_DUMPABLE = 0)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def _remove_ipc() -> None:
    """Delete every System V shared memory segment, message queue and semaphore set."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for kind, remove in (("shm", libc.shmctl), ("msg", libc.msgctl), ("sem", libc.semctl)):
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if kind == "sem":
                remove(ident, 0, 0)  # IPC_RMID
            else:
                remove(ident, 0, None)


def _open_up(path: str) -> None:
    """Give every folder under ``path`` back to its owner (us), before rmtree descends."""
    folders = [path]
    while folders:
        folder = folders.pop()
        try:
            os.chmod(folder, 0o700)
            with os.scandir(folder) as entries:
                folders += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            pass


def _empty(folder: str) -> None:
    import shutil

    try:  # the folder itself survives: give it back its mode, time and no extended attributes
        os.chmod(folder, 0o755)
        os.utime(folder)
        for name in os.listxattr(folder):
            os.removexattr(folder, name)
    except OSError:
        pass
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _open_up(path)  # a folder chmod-ed to 0 would stop rmtree
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _copy_in(source: str, target: str) -> None:
    """The student's files into the bounded /submission (sandbox.py); what does not fit is left out."""
    import shutil

    if os.path.isdir(source):
        try:
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        except (OSError, shutil.Error):
            pass


class Zygote:
    """Forks one worker per request; between students, kills everything else and cleans up."""

    def __init__(self, control: int, factories: str | None, worker_class: type) -> None:
        import socket

        self.worker_class = worker_class
        self.sock = socket.socket(fileno=control)
        self.factories = factories
        self.exits: dict[int, tuple[int, float, int]] = {}

    def reply(self, message: dict) -> None:
        self.sock.send(json.dumps(message).encode())

    def reap(self, pid: int = -1, block: bool = False) -> None:
        while True:
            try:
                found, status, usage = os.wait4(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if not found:
                return
            self.exits[found] = (os.waitstatus_to_exitcode(status),
                                 usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
            if pid != -1:
                return

    def fork(self, request: dict, fds: list[int]) -> None:
        if len(fds) != 3:
            raise ValueError("fork needs three descriptors")
        self.exits.clear()  # every earlier worker was waited for before this one was asked for
        pid = os.fork()
        if pid == 0:
            try:
                self.sock.close()
                read_fd, write_fd, out_fd = fds
                os.dup2(out_fd, 1)
                os.dup2(out_fd, 2)
                os.close(out_fd)
                _copy_in("/submission.in", "/submission")
                os.set_inheritable(read_fd, False)
                os.set_inheritable(write_fd, False)
                self.worker_class(read_fd, write_fd, self.factories, request["root"]).serve()
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        self.reply({"pid": pid})

    def sweep(self, request: dict) -> None:
        me = os.getpid()
        for _ in range(500):
            try:
                os.kill(-1, signal.SIGKILL)  # every process we may signal but us and pid 1
            except ProcessLookupError:
                pass
            self.reap()
            others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
            if not others:
                break
            try:  # a child of ours: wait exactly until it is gone (it was just killed)
                found, status, usage = os.wait4(-1, 0)
                self.exits[found] = (os.waitstatus_to_exitcode(status),
                                     usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
            except ChildProcessError:  # not ours: the sandbox's init reaps them
                time.sleep(0.001)
        if request.get("clean"):
            for folder in ("/tmp", "/var/tmp", "/dev/shm", "/submission"):
                _empty(folder)
            _remove_ipc()
        self.reply({"ok": True})

    def wait(self, request: dict) -> None:
        pid, ends = request["pid"], time.monotonic() + float(request.get("timeout", 2.0))
        while pid not in self.exits and time.monotonic() < ends:
            self.reap(pid)
            if pid not in self.exits:
                time.sleep(0.005)
        code, cpu, rss = self.exits.get(pid, (None, 0.0, 0))
        self.reply({"code": code, "cpu": cpu, "maxrss": rss})

    def serve(self) -> None:
        import socket

        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 3)
            except OSError:
                return
            if not data:
                return
            try:
                request = json.loads(data)
                op = request.get("op")
                if op == "fork":
                    self.fork(request, fds)
                elif op == "sweep":
                    self.sweep(request)
                elif op == "wait":
                    self.wait(request)
                else:
                    self.reply({"ready": True})
            except Exception as exc:  # noqa: BLE001 - answer, so the grader starts a new zygote
                self.reply({"error": f"{type(exc).__name__}: {exc}"})


def zygote_main(argv: list[str], worker_class: type) -> None:
    """``worker.py zygote CONTROL_FD FACTORIES LIMITS``: serve fork requests on CONTROL_FD,
    each fork running ``worker_class`` (worker.py's Worker)."""
    control, factories = int(argv[2]), (argv[3] if argv[3] != "-" else None)
    sys.modules["_grader_worker_runtime"].apply_limits(json.loads(argv[4]))
    _set_not_dumpable()
    sys.argv = ["submission"]
    sys.stdin = open(os.devnull)
    Zygote(control, factories, worker_class).serve()

