"""How a worker is confined: the command that starts it, what it can see, and its limits.

Two modes. ``bubblewrap`` (Debian package ``bubblewrap``) gives the worker its own user, PID,
network, IPC and UTS namespaces (no network at all, every process it starts dies with it), no
capabilities, no further user namespaces, a file system holding nothing but the interpreter and
its packages (read-only), a private /tmp and a private writable copy of the submission. Anything
secret that happens to live inside a bound directory (the grader package, the assignment folder,
the reference solutions, the report's folder) is covered by an empty directory.

``process`` is the fallback: the same worker in its own session with the same resource limits,
but able to read and write whatever the grader's user can and to use the network. SECURITY.md
lists what each mode stops. Both modes apply the same resource limits (the worker sets them on
itself before it loads any student code).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass

WORKER_FILES = ("worker.py", "worker_load.py", "worker_runtime.py", "worker_zygote.py", "wire.py")
SANDBOX_ROOT = "/sandbox"
SUBMISSION_DIR = "/submission"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process (and everything it starts)."""

    memory_mb: int = 1024
    cpu_seconds: int = 120
    file_size_mb: int = 64
    open_files: int = 256
    processes: int = 64

    def describe_memory(self) -> str:
        return f"{self.memory_mb // 1024} GiB" if self.memory_mb % 1024 == 0 else f"{self.memory_mb} MiB"


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


@functools.lru_cache(maxsize=1)
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


def always_hidden() -> list[str]:
    """Paths the worker must never see even when a bound directory holds them: the grader
    package and, for a source checkout, the repository around it (assignments, reference
    solutions, tests)."""
    package = os.path.dirname(os.path.realpath(__file__))
    paths = [package]
    project = os.path.dirname(package)
    if any(os.path.exists(os.path.join(project, name)) for name in
           ("pyproject.toml", "assignments", "reference_solutions")):
        paths.append(project)
    return paths


def _python_dirs() -> list[str]:
    """The interpreter, its standard library and site-packages: all the worker may read."""
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
    # Keep only outermost directories, so each is bound once.
    ordered = sorted(result)
    return [p for p in ordered if not any(p != q and p.startswith(q + os.sep) for q in ordered)]


def _bwrap_base_args(hidden: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Namespaces, identity and the read-only file system. ``hidden`` paths that fall inside a
    bound directory are covered (an empty tmpfs for a folder, /dev/null for a file)."""
    args = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    if _bwrap_supports("--disable-userns"):
        args.append("--disable-userns")
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var/tmp"]
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
    for path in _python_dirs():
        if not path.startswith("/usr/"):
            args += ["--ro-bind", path, path]
            bound.append(path)
    args += _masks(bound, [*always_hidden(), *hidden])
    return args


def _masks(bound: list[str], hidden: list[str]) -> list[str]:
    """bwrap options covering every hidden path that lies inside a bound directory."""
    args: list[str] = []
    covered: list[str] = []
    for path in sorted({os.path.realpath(p) for p in hidden if p} | {os.path.abspath(p) for p in hidden if p}):
        if not os.path.exists(path) or any(path == c or path.startswith(c + os.sep) for c in covered):
            continue
        if not any(path.startswith(b.rstrip(os.sep) + os.sep) for b in bound):
            continue  # not inside anything the worker can see: nothing to cover
        if os.path.isdir(path):
            args += ["--tmpfs", path, "--remount-ro", path]
        else:
            args += ["--ro-bind", _empty_file(), path]
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
    submission copy; nothing else of the grader goes in."""
    target = os.path.join(workdir, "sandbox")
    os.makedirs(target, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    for name in WORKER_FILES:
        shutil.copyfile(os.path.join(here, name), os.path.join(target, name))
    if factories:
        shutil.copyfile(factories, os.path.join(target, "sandbox_functions.py"))


def _bwrap_prefix(workdir: str, chdir: str, hidden) -> list[str]:
    """bwrap and its options up to the interpreter: ``workdir``'s sandbox/ read-only at
    /sandbox, its submission/ writable at /submission, nothing else of the host writable."""
    argv = [shutil.which("bwrap") or "bwrap", *_bwrap_base_args(hidden),
            "--ro-bind", os.path.join(workdir, "sandbox"), SANDBOX_ROOT,
            "--bind", os.path.join(workdir, "submission"), SUBMISSION_DIR,
            "--remount-ro", "/",  # the sandbox's own root: nothing to write there either
            "--chdir", chdir, "--clearenv"]
    for key, value in worker_environment().items():
        argv += ["--setenv", key, value]
    return argv + ["--", sys.executable, "-I", "-B"]


def zygote_command(workdir: str, control_fd: int, limits: Limits, has_factories: bool,
                   hidden) -> list[str]:
    """A bubblewrap sandbox whose worker forks one fresh worker per submission (zygote.py)."""
    factories = f"{SANDBOX_ROOT}/sandbox_functions.py" if has_factories else "-"
    return [*_bwrap_prefix(workdir, SUBMISSION_DIR, hidden), f"{SANDBOX_ROOT}/worker.py",
            "zygote", str(control_fd), factories, json.dumps(asdict(limits))]


def worker_command(mode: str, workdir: str, code_root: str, read_fd: int, write_fd: int,
                   limits: Limits, has_factories: bool,
                   hidden: tuple[str, ...] | list[str] = ()) -> tuple[list[str], str]:
    """The argv that starts a worker, and the directory to start it in.

    ``workdir`` holds ``sandbox/`` (the worker's files) and ``submission/`` (the private copy);
    ``code_root`` is the folder inside the copy where the student's modules live; ``hidden``
    are paths the worker must not see (assignment folder, reference, report folder) even if a
    bound directory contains them.
    """
    limits_json = json.dumps(asdict(limits))
    relative_root = os.path.relpath(code_root, os.path.join(workdir, "submission"))
    if mode == "bubblewrap":
        inside_root = os.path.normpath(os.path.join(SUBMISSION_DIR, relative_root))
        factories = f"{SANDBOX_ROOT}/sandbox_functions.py" if has_factories else "-"
        argv = [*_bwrap_prefix(workdir, inside_root, hidden), f"{SANDBOX_ROOT}/worker.py",
                str(read_fd), str(write_fd), factories, inside_root, limits_json]
        return argv, workdir
    sandbox_dir = os.path.join(workdir, "sandbox")
    factories = os.path.join(sandbox_dir, "sandbox_functions.py") if has_factories else "-"
    argv = [sys.executable, "-I", "-B", os.path.join(sandbox_dir, "worker.py"),
            str(read_fd), str(write_fd), factories, code_root, limits_json]
    return argv, code_root
