"""The zygote's side of a warm sandbox (grader/zygote.py is the grader's): forks one fresh
worker per request and, between students, kills every other process in the sandbox and cleans
its writable places. Runs only inside the sandbox (see worker.py).
"""

from __future__ import annotations

import json
import os
import re
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


def _mount_points() -> list[str]:
    """Every mount point in this sandbox (/proc/self/mountinfo's fifth field, unescaped)."""
    try:
        with open("/proc/self/mountinfo") as handle:
            rows = handle.read().splitlines()
    except OSError:
        return []
    points = []
    for row in rows:
        fields = row.split()
        if len(fields) > 4:
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def _empty(folder: str) -> list[str]:
    """Empty ``folder`` of whatever a student left there, however deep, and say what is left
    that should not be (an empty list: nothing but mount points and the folders leading to
    them). Without recursion and with at most a few descriptors open: every folder below is
    opened up (chmod 0o700), its subfolders moved up to ``folder`` under fresh names, its other
    entries unlinked, and then it is removed, until no folder is left. A mount point (the
    interpreter's, when it lives under /tmp) and the folders leading to it stay where they are
    (moving one of those would move the mount) and are emptied in place."""
    import stat

    if os.path.islink(folder):
        return []  # /var/tmp: /tmp, emptied as itself
    try:  # the folder itself survives: give it back its mode, time and no extended attributes
        os.chmod(folder, 0o755)
        os.utime(folder)
        for name in os.listxattr(folder):
            os.removexattr(folder, name)
    except OSError:
        pass
    try:
        top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        return [f"{folder}: {exc.strerror}"]
    try:
        device = os.fstat(top).st_dev
        kept: set[tuple[int, int]] = set()  # folders leading to a mount point, by identity
        in_place = [folder]
        for point in _mount_points():
            if not point.startswith(folder.rstrip("/") + "/"):
                continue
            parent = os.path.dirname(point)
            while len(parent) > len(folder):
                try:
                    st = os.lstat(parent)
                except OSError:
                    break
                if (st.st_dev, st.st_ino) not in kept:
                    kept.add((st.st_dev, st.st_ino))
                    in_place.append(parent)
                parent = os.path.dirname(parent)
        fresh = iter(range(1 << 62))

        def move_up(parent_fd: int, name: str) -> str | None:
            """``name`` in ``parent_fd`` moved to ``folder`` under a name nothing has there."""
            for number in fresh:
                new = f".sweep-{number}"
                try:
                    os.lstat(new, dir_fd=top)
                except FileNotFoundError:
                    break
                except OSError:
                    return None
            try:  # a folder moved to another parent needs write permission on itself (its "..")
                os.chmod(name, 0o700, dir_fd=parent_fd)
                os.rename(name, new, src_dir_fd=parent_fd, dst_dir_fd=top)
            except OSError:
                return None
            return new

        def clear(parent_fd: int, queue: list[str] | None) -> None:
            """Unlink ``parent_fd``'s files; its folders go to ``folder`` (their names onto
            ``queue``, or, when ``parent_fd`` is ``top``, left where they are, onto it)."""
            for name in os.listdir(parent_fd):
                try:
                    st = os.lstat(name, dir_fd=parent_fd)
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    try:
                        os.unlink(name, dir_fd=parent_fd)
                    except OSError:
                        pass
                elif st.st_dev != device or (st.st_dev, st.st_ino) in kept:
                    continue  # a mount point, or a folder on the way to one
                elif queue is None:
                    work.append(name)
                else:
                    moved = move_up(parent_fd, name)
                    if moved is not None:
                        queue.append(moved)

        work: list[str] = []
        for path in in_place:  # short, ours: bwrap made them
            try:
                if path != folder:
                    os.chmod(path, 0o755)
                fd = top if path == folder else os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                clear(fd, None if fd == top else work)
            except OSError:
                pass
            finally:
                if fd != top:
                    os.close(fd)
        while work:  # each name is a folder in ``folder``: empty it (its folders moved up), remove it
            name = work.pop()
            try:
                os.chmod(name, 0o700, dir_fd=top)
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            except OSError:
                continue
            try:
                clear(fd, work)
            except OSError:
                pass
            finally:
                os.close(fd)
            try:
                os.rmdir(name, dir_fd=top)
            except OSError:
                pass
        for path, target in _BWRAP_LINKS.items():  # put back what bwrap made there
            if path.startswith(folder.rstrip("/") + "/") and os.path.dirname(path) in in_place:
                try:
                    os.symlink(target, path)
                except OSError:
                    pass
        return _left_in(folder, device, kept, in_place)
    finally:
        os.close(top)


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


# Symbolic links bwrap made in the folders leading to a mount point in a place the sweep empties
# (the interpreter's lib64 when it lives under /tmp): recorded before any student ran, put back.
_BWRAP_LINKS: dict[str, str] = {}


def _record_links(places: tuple[str, ...]) -> None:
    for place in places:
        for point in _mount_points():
            parent = os.path.dirname(point)
            while parent.startswith(place.rstrip("/") + "/"):
                try:
                    names = os.listdir(parent)
                except OSError:
                    names = []
                for name in names:
                    target = _readlink(os.path.join(parent, name))
                    if target is not None:
                        _BWRAP_LINKS[os.path.join(parent, name)] = target
                parent = os.path.dirname(parent)


def _left_in(folder: str, device: int, kept: set, in_place: list[str]) -> list[str]:
    """What is still in ``folder`` and its kept folders that is neither a mount point nor a
    folder leading to one."""
    left = []
    for path in in_place:
        try:
            names = os.listdir(path)
        except OSError:
            continue
        for name in names:
            try:
                st = os.lstat(os.path.join(path, name))
            except OSError:
                continue
            if st.st_dev != device or (st.st_dev, st.st_ino) in kept:
                continue
            if _BWRAP_LINKS.get(os.path.join(path, name), "") == _readlink(os.path.join(path, name)):
                continue
            left.append(os.path.join(path, name))
    return left


def _copy_in(source: str, target: str) -> None:
    """The student's files into the bounded /submission (sandbox.py); what does not fit is left out."""
    import shutil

    if os.path.isdir(source):
        try:
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        except (OSError, shutil.Error):
            pass


PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/submission")  # what the sweep empties


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
        left: list[str] = []
        if request.get("clean"):
            for folder in PLACES:
                left += _empty(folder)
            _remove_ipc()
        if left:  # not fit for another student: the grader starts a fresh sandbox instead
            self.reply({"ok": False, "left": left[:20]})
        else:
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
    _record_links(PLACES)
    sys.argv = ["submission"]
    sys.stdin = open(os.devnull)
    Zygote(control, factories, worker_class).serve()

