"""How a worker is confined: the command that starts it, what it can see, and its limits.

Two modes. ``bubblewrap`` (Debian package ``bubblewrap``) gives the worker its own user, PID,
network, IPC and UTS namespaces (no network at all, every process it starts dies with it), no
capabilities, no further user namespaces, no kernel keyrings or POSIX message queues (a seccomp
filter: they would outlive a student in a warm sandbox), a file system holding nothing but the
interpreter and its packages (read-only), and size-bounded private tmpfs for /tmp (/var/tmp is
/tmp), /dev/shm and the submission's copy. Anything secret that happens to live inside a bound
directory (the grader package, every installed assignment, the reference solutions, the
report's folder) is covered by an empty directory.

``process`` is the fallback: the same worker in its own session with the same resource limits,
but able to read and write whatever the grader's user can and to use the network. SECURITY.md
lists what each mode stops. Both modes apply the same resource limits (the worker sets them on
itself before it loads any student code).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass

WORKER_FILES = ("worker.py", "worker_load.py", "worker_runtime.py", "worker_zygote.py", "wire.py")
SANDBOX_ROOT = "/sandbox"
SUBMISSION_DIR = "/submission"
SUBMISSION_SOURCE = "/submission.in"  # the grader's copy, read-only; copied into the bounded /submission
SECCOMP_FILE = "seccomp.bpf"          # in the workdir, beside sandbox/ and submission/
EMPTY_FILE = "empty"                  # in the workdir: what a hidden file is covered with
HIDDEN_ENV = "GRADER_HIDDEN"          # extra paths to hide (os.pathsep-separated), inherited by children


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process (and everything it starts)."""

    memory_mb: int = 1024
    cpu_seconds: int = 120
    file_size_mb: int = 64
    open_files: int = 256
    processes: int = 64
    disk_mb: int = 256  # each of /tmp, /dev/shm and /submission in bubblewrap mode

    def describe_memory(self) -> str:
        return f"{self.memory_mb // 1024} GiB" if self.memory_mb % 1024 == 0 else f"{self.memory_mb} MiB"

    def disk_bytes(self) -> str:
        return str(self.disk_mb * 1024 * 1024)


class SandboxUnavailable(Exception):
    """The requested sandbox cannot run on this machine."""


@functools.lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """None when bubblewrap works here, else one line saying why not. This starts a probe
    sandbox; grading does not wait for one (see ``choose_mode``)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [bwrap, *_bwrap_base_args(), "--", sys.executable, "-I", "-S", "-c", "pass"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        return broken_message(reason[0])
    return None


_seen_broken: list[str] = []  # what bwrap said when it could not start a worker in this process


def broken_message(bwrap_said: str) -> str:
    return f"bwrap does not work here: {bwrap_said} (user namespaces may be disabled)"


def bubblewrap_failed(bwrap_said: str) -> str:
    """Remember that bwrap refused to start a worker here, so this process stops trying."""
    problem = broken_message(bwrap_said)
    if not _seen_broken:
        _seen_broken.append(problem)
    return problem


def choose_mode(requested: str) -> tuple[str, str | None]:
    """The mode to use and, for an automatic fallback, the warning to show.

    An installed bwrap is trusted without a probe sandbox (that probe cost every ``grader
    run`` about 20 ms before the worker could start): a bwrap that cannot start the worker
    says so on its first line, the session raises SandboxUnavailable, and ``grade`` asks
    again, now falling back (or refusing, for ``--sandbox bubblewrap``)."""
    if requested == "process":
        return "process", None
    problem = ("bubblewrap (bwrap) is not installed" if shutil.which("bwrap") is None
               else (_seen_broken or [None])[0])
    if requested == "bubblewrap":
        if problem:
            raise SandboxUnavailable(f"--sandbox bubblewrap: {problem}")
        return "bubblewrap", None
    if problem:
        return "process", (f"warning: {problem}; grading with --sandbox process: student code can "
                           "read and write every file you can (reference solutions and hidden "
                           "checks included), use the network and outlive grading if it escapes; "
                           f"{INSTALL_HINT}")
    return "bubblewrap", None


INSTALL_HINT = ("install bubblewrap for the real sandbox (Debian/Ubuntu: sudo apt-get install "
                "bubblewrap; Fedora: sudo dnf install bubblewrap)")


@functools.lru_cache(maxsize=None)
def _bwrap_supports(option: str) -> bool:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in done.stdout + done.stderr


def disk_bounded() -> bool:
    """Whether this bwrap can size a tmpfs (``--size``, bubblewrap 0.8): older ones still
    sandbox, with /tmp, /dev/shm and /submission bounded only by the host's memory."""
    return _bwrap_supports("--size")


def _limits_json(limits: Limits, disk: bool) -> str:
    """The limits as the worker reads them; disk_mb 0 where nothing bounds the disk, so that a
    full host disk is not reported as the student's limit."""
    return json.dumps({**asdict(limits), "disk_mb": limits.disk_mb if disk else 0})


def hide(path: str) -> None:
    """Hide ``path`` (a report or results folder) from every worker this process and its
    children start, wherever it lies: kept in the environment so that batch grading
    processes inherit it."""
    known = [p for p in os.environ.get(HIDDEN_ENV, "").split(os.pathsep) if p]
    full = os.path.abspath(path)
    if full not in known:
        os.environ[HIDDEN_ENV] = os.pathsep.join([*known, full])


def always_hidden() -> list[str]:
    """Paths the worker must never see even when a bound directory holds them: the grader
    package, for a source checkout the repository around it, every installed assignment
    (hidden checks, mutants) with its reference solutions, whichever one is being graded, and
    the report folders given to ``hide``."""
    package = os.path.dirname(os.path.realpath(__file__))
    paths = [package]
    project = os.path.dirname(package)
    if any(os.path.exists(os.path.join(project, name)) for name in
           ("pyproject.toml", "assignments", "reference_solutions")):
        paths.append(project)
    paths.append(os.path.join(project, "reference_solutions"))
    paths += _installed_assignments()
    paths += [p for p in os.environ.get(HIDDEN_ENV, "").split(os.pathsep) if p]
    return paths


def _installed_assignments() -> list[str]:
    """Every assignment folder on the search path and the reference folder its
    assignment.toml names: a student graded on one must not read another's secrets."""
    import tomllib

    from grader import assignment

    paths: list[str] = []
    for top in assignment.search_path():
        try:
            names = os.listdir(top)
        except OSError:
            continue
        paths.append(top)
        for name in names:
            folder = os.path.join(top, name)
            try:
                with open(os.path.join(folder, "assignment.toml"), "rb") as handle:
                    reference = tomllib.load(handle).get("reference")
            except (OSError, ValueError):
                continue
            paths.append(folder)
            if isinstance(reference, str):
                paths.append(os.path.normpath(os.path.join(folder, reference)))
    return paths


# What a Python prefix holds that the interpreter needs; anything else in it (an assignment or
# a report folder someone put inside the venv) stays outside the sandbox.
_PREFIX_PARTS = ("bin", "lib", "lib32", "lib64", "pyvenv.cfg")


@functools.lru_cache(maxsize=1)
def _python_paths() -> frozenset[str]:
    """The interpreter's folder, its standard library and site-packages, each as written and
    resolved."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths().get(key, ""))
    import site

    paths.update(site.getsitepackages())
    result = set()
    for path in paths:
        if path and os.path.isdir(path):
            result.add(os.path.abspath(path))
            result.add(os.path.realpath(path))
    return frozenset(result)


def _python_dirs() -> list[str]:
    """The interpreter, its standard library and site-packages: all the worker may read."""
    # Keep only outermost directories, so each is bound once.
    ordered = sorted(_python_paths())
    return [p for p in ordered if not any(p != q and p.startswith(q + os.sep) for q in ordered)]


def _python_binds() -> list[tuple[str, str]]:
    """(path, "dir" | "file" | "symlink") for each thing to bind: a prefix only through its
    interpreter parts, any other Python directory whole."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                               sys.base_exec_prefix)}
    prefixes |= {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                               sys.base_exec_prefix)}
    binds: list[tuple[str, str]] = []
    for path in _python_dirs():
        if path not in prefixes:
            binds.append((path, "dir"))
            continue
        for part in _PREFIX_PARTS:
            inner = os.path.join(path, part)
            if os.path.islink(inner):
                binds.append((inner, "symlink"))
            elif os.path.isdir(inner):
                binds.append((inner, "dir"))
            elif os.path.isfile(inner):
                binds.append((inner, "file"))
    return binds


def _bwrap_base_args(hidden: tuple[str, ...] | list[str] = (), limits: Limits | None = None,
                     empty: str | None = None) -> list[str]:
    """Namespaces, identity and the read-only file system. ``hidden`` paths that fall inside a
    bound directory are covered (an empty tmpfs for a folder, /dev/null for a file). /tmp and
    /dev/shm hold at most ``limits.disk_mb`` each (tmpfs is memory: unbounded, one student
    could fill the host's)."""
    size = ["--size", (limits or Limits()).disk_bytes()] if disk_bounded() else []
    args = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    if _bwrap_supports("--disable-userns"):
        args.append("--disable-userns")
    # /dev read-only once built (its own tmpfs, unbounded and never swept: one student's files,
    # or replaced /dev/stdout and /dev/fd links, would reach the next in a warm sandbox); the
    # /dev/shm tmpfs mounted on it stays writable and bounded, the device nodes still work.
    args += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
             *size, "--tmpfs", "/tmp", "--symlink", "/tmp", "/var/tmp"]
    bound = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + top
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
            bound.append(path)
    for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for path, kind in _python_binds():
        if path.startswith("/usr/"):
            continue
        if kind == "symlink":
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
            bound.append(path)
    args += _masks(bound, [*always_hidden(), *hidden], empty)
    return args


def _masks(bound: list[str], hidden: list[str], empty: str | None = None) -> list[str]:
    """bwrap options covering every hidden path that lies inside a bound directory (a file with
    ``empty``, an empty file: the workdir's, which goes with it, when there is one)."""
    args: list[str] = []
    covered: list[str] = []
    for path in sorted({os.path.realpath(p) for p in hidden if p} | {os.path.abspath(p) for p in hidden if p}):
        if not os.path.exists(path) or any(path == c or path.startswith(c + os.sep) for c in covered):
            continue
        if not any(path.startswith(b.rstrip(os.sep) + os.sep) for b in bound):
            continue  # not inside anything the worker can see: nothing to cover
        if any(p == path or p.startswith(path.rstrip(os.sep) + os.sep) for p in _python_paths()):
            continue  # holds the interpreter or site-packages (a report written there): kept
        if os.path.isdir(path):
            args += ["--tmpfs", path, "--remount-ro", path]
        else:
            args += ["--ro-bind", empty or _empty_file(), path]
        covered.append(path)
    return args


@functools.lru_cache(maxsize=1)
def _empty_file() -> str:
    """An empty regular file to cover a hidden file with (/dev/null would be a device node on
    a nodev mount inside the sandbox, which refuses to open instead of reading as empty)."""
    import atexit
    import tempfile

    handle, path = tempfile.mkstemp(prefix="grader-empty-")
    os.close(handle)
    os.chmod(path, 0o444)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


def remove_tree(path: str) -> None:
    """Remove a file or folder whatever modes a student left inside it: a directory chmod-ed to
    0 stops a non-root owner's rmtree, so every directory is opened up (its owner may) before
    the removal."""
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
        return
    folders = [path]
    while folders:  # no recursion: a student may nest folders deeper than Python's stack
        folder = folders.pop()
        try:
            os.chmod(folder, 0o700)
            with os.scandir(folder) as entries:
                folders += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def worker_environment() -> dict[str, str]:
    """A clean environment: nothing of the grader's own (tokens, paths) reaches student code."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def prepare_workdir(workdir: str, factories: str | None) -> None:
    """Copy the worker's own files (and the assignment's sandbox functions) beside the
    submission copy, and the seccomp filter bwrap loads; nothing else of the grader goes in."""
    target = os.path.join(workdir, "sandbox")
    os.makedirs(target, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    for name in WORKER_FILES:
        shutil.copyfile(os.path.join(here, name), os.path.join(target, name))
    if factories:
        shutil.copyfile(factories, os.path.join(target, "sandbox_functions.py"))
    with open(os.path.join(workdir, EMPTY_FILE), "wb"):
        pass
    os.chmod(os.path.join(workdir, EMPTY_FILE), 0o444)
    program = seccomp_program()
    if program is not None:
        with open(os.path.join(workdir, SECCOMP_FILE), "wb") as handle:
            handle.write(program)


# Syscalls refused with EPERM inside the sandbox: kernel keyrings (the user keyring belongs to
# the sandbox's uid, not to a process, so a key would outlive its student in a warm sandbox) and
# POSIX message queues (they live in the sandbox's IPC namespace until unlinked, and nothing
# inside can list them). Nothing numerical needs either.
_BLOCKED = {
    "x86_64": (0xC000003E, {"mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242,
                            "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
                            "add_key": 248, "request_key": 249, "keyctl": 250}),
    "aarch64": (0xC00000B7, {"mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182,
                             "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185,
                             "add_key": 217, "request_key": 218, "keyctl": 219}),
}


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes | None:
    """The classic-BPF seccomp filter for bwrap --seccomp (None on an architecture we have no
    syscall numbers for). Another ABI on the same machine (i386 or x32 on x86_64) gets EPERM
    for everything, so the numbers cannot be dodged."""
    import platform
    import struct

    known = _BLOCKED.get(platform.machine())
    if known is None:
        return None
    arch, numbers = known
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    tests = ([(jge, 0x40000000)] if arch == 0xC000003E else []) + [(jeq, n) for n in sorted(numbers.values())]
    program = [(load, 0, 0, 4), (jeq, 0, len(tests) + 2, arch), (load, 0, 0, 0)]
    for index, (op, value) in enumerate(tests):
        program.append((op, len(tests) - index, 0, value))  # to the deny below
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def _bwrap_prefix(workdir: str, hidden, limits: Limits, busy_fds: tuple[int, ...],
                  extra: tuple[str, ...] = ()) -> list[str]:
    """bwrap and its options up to the command it runs: ``workdir``'s sandbox/ read-only at
    /sandbox, its submission/ read-only at /submission.in (to be copied into the bounded
    /submission tmpfs), nothing else of the host writable. bwrap reads the seccomp filter from
    a descriptor, so a shell opens the file on a free one and execs bwrap (the pid stays
    bwrap's)."""
    empty = os.path.join(workdir, EMPTY_FILE)
    argv = [shutil.which("bwrap") or "bwrap", *extra,
            *_bwrap_base_args(hidden, limits, empty if os.path.isfile(empty) else None),
            "--ro-bind", os.path.join(workdir, "sandbox"), SANDBOX_ROOT,
            *(["--size", limits.disk_bytes()] if disk_bounded() else []), "--tmpfs", SUBMISSION_DIR,
            "--ro-bind", os.path.join(workdir, "submission"), SUBMISSION_SOURCE,
            "--remount-ro", "/",  # the sandbox's own root: nothing to write there either
            "--chdir", SUBMISSION_DIR, "--clearenv"]
    for key, value in worker_environment().items():
        argv += ["--setenv", key, value]
    seccomp = os.path.join(workdir, SECCOMP_FILE)
    if os.path.isfile(seccomp):
        fd = next(n for n in range(5, 10) if n not in busy_fds)
        argv[1:1] = ["--seccomp", str(fd)]
        argv = ["/bin/sh", "-c", f'exec "$@" {fd}<{shlex.quote(seccomp)}', "sh", *argv]
    return argv + ["--"]


# Inside a fresh sandbox: copy the submission into the bounded /submission (what does not fit
# is left out, and the student's code meets the missing files), then start the worker in it.
_COPY_IN = (f'cp -R -p {SUBMISSION_SOURCE}/. {SUBMISSION_DIR}/ 2>/dev/null; '
            'cd "$0" 2>/dev/null; exec "$@"')


def warm_sandbox_problem() -> str | None:
    """None when a warm sandbox can be as fresh as a new one for each student, else why not.
    It needs the seccomp filter (keyrings and message queues would outlive a student) and
    ``--as-pid-1``: the zygote itself is the sandbox's init, non-dumpable, so a student can
    neither ptrace it nor write its memory through /proc/1/mem (bwrap's own init, a process of
    the same uid that survives every student, could be made to keep anything for the next one),
    and a signal from inside cannot kill it."""
    if seccomp_program() is None:
        return "no seccomp filter for this architecture"
    if not _bwrap_supports("--as-pid-1"):
        return "this bwrap has no --as-pid-1"
    return None


def zygote_command(workdir: str, control_fd: int, limits: Limits, has_factories: bool,
                   hidden) -> list[str]:
    """A bubblewrap sandbox whose worker forks one fresh worker per submission (zygote.py), as
    the sandbox's PID 1 (see ``warm_sandbox_problem``)."""
    factories = f"{SANDBOX_ROOT}/sandbox_functions.py" if has_factories else "-"
    return [*_bwrap_prefix(workdir, hidden, limits, (control_fd,), ("--as-pid-1",)),
            sys.executable, "-I", "-B",
            f"{SANDBOX_ROOT}/worker.py", "zygote", str(control_fd), factories,
            _limits_json(limits, disk_bounded())]


def worker_command(mode: str, workdir: str, code_root: str, read_fd: int, write_fd: int,
                   limits: Limits, has_factories: bool,
                   hidden: tuple[str, ...] | list[str] = ()) -> tuple[list[str], str]:
    """The argv that starts a worker, and the directory to start it in.

    ``workdir`` holds ``sandbox/`` (the worker's files) and ``submission/`` (the private copy);
    ``code_root`` is the folder inside the copy where the student's modules live; ``hidden``
    are paths the worker must not see (assignment folder, reference, report folder) even if a
    bound directory contains them. The worker is started from ``workdir`` (or the code root in
    process mode), never from the caller's folder.
    """
    limits_json = _limits_json(limits, mode == "bubblewrap" and disk_bounded())
    relative_root = os.path.relpath(code_root, os.path.join(workdir, "submission"))
    if mode == "bubblewrap":
        inside_root = os.path.normpath(os.path.join(SUBMISSION_DIR, relative_root))
        factories = f"{SANDBOX_ROOT}/sandbox_functions.py" if has_factories else "-"
        argv = [*_bwrap_prefix(workdir, hidden, limits, (read_fd, write_fd)),
                "/bin/sh", "-c", _COPY_IN, inside_root,
                sys.executable, "-I", "-B", f"{SANDBOX_ROOT}/worker.py",
                str(read_fd), str(write_fd), factories, inside_root, limits_json]
        return argv, workdir
    sandbox_dir = os.path.join(workdir, "sandbox")
    factories = os.path.join(sandbox_dir, "sandbox_functions.py") if has_factories else "-"
    argv = [sys.executable, "-I", "-B", os.path.join(sandbox_dir, "worker.py"),
            str(read_fd), str(write_fd), factories, code_root, limits_json]
    return argv, code_root
