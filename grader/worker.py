"""The untrusted side: the process that loads a submission and runs its functions.

It runs inside the sandbox (see sandbox.py) as ``python -I worker.py ...`` with a private copy of
this file and wire.py, never the grader package, the checks or the reference solutions. It
answers requests on a channel of its own (fd 3 in, fd 4 out) and sends back data only. stdin is
/dev/null, so a stray ``input()`` meets end-of-file.

Everything here assumes the student's code may do anything to this process; what it cannot do is
reach the grader's memory, which is why every verdict is made on the other side.
"""

from __future__ import annotations

import __future__
import builtins
import importlib.abc
import importlib.util
import io
import json
import linecache
import os
import random
import signal
import sys
import time
import traceback
import types

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_grader_wire", os.path.join(_HERE, "wire.py"))
wire = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wire)

OUTPUT_CAP = 32 * 1024
_real_seed = random.seed
_real_np_seed = np.random.seed


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
    kind = type(exc).__name__
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


# ------------------------------------------------------------------ IPython magics

class FakeShell:
    """What ``get_ipython()`` returns: enough of IPython for the code its transformer emits.

    Cell magics that only measure or capture (``%%time``, ``%%capture``) run their body; shell
    escapes (``!pip install``) are not run; anything else is skipped with a note in the output.
    """

    BODY_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit"}

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.user_ns: dict = {}

    def _caller(self) -> tuple[dict, dict]:
        frame = sys._getframe(2)
        return frame.f_globals, frame.f_locals

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1):
        globs, locs = self._caller()
        if name in self.BODY_MAGICS and line.strip():
            body = line
            if name == "timeit":
                body = " ".join(w for w in line.split() if not w.startswith("-"))
            exec(compile(body, "<magic>", "exec"), globs, locs)
            return None
        if name == "run":
            self.worker.run_magic(line, globs)
            return None
        if name not in {"matplotlib", "load_ext", "autoreload", "config", "reload_ext", "pylab",
                        "precision", "env", "who", "whos", "pwd", "ls", "cd"}:
            print(f"[grader] line magic %{name} ignored")
        return None

    def run_cell_magic(self, name: str, line: str, cell: str):
        globs, locs = self._caller()
        if name in self.BODY_MAGICS:
            exec(compile(cell, "<magic>", "exec"), globs, locs)
        elif name == "writefile":
            path = line.split()[-1] if line.split() else ""
            if path:
                with open(path, "a" if "-a" in line.split() else "w") as handle:
                    handle.write(cell)
        else:
            print(f"[grader] cell magic %%{name} skipped")
        return None

    def system(self, command: str, *args) -> None:
        print(f"[grader] shell command not run: !{command}")

    def getoutput(self, command: str, *args) -> list:
        print(f"[grader] shell command not run: !{command}")
        return []

    def magic(self, line: str):
        name, _, rest = line.partition(" ")
        return self.run_line_magic(name.lstrip("%"), rest)

    def __getattr__(self, name):
        return lambda *a, **k: None


# ------------------------------------------------------------------ loading the submission

class SubmissionFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the submission's files by every name a student may use for them.

    ``q1_softmax``, ``assignment1.q1_softmax`` and ``.q1_softmax`` all land on one module whose
    code runs unit by unit (a notebook cell or a top-level statement), so one failing unit is
    recorded and the rest still load.
    """

    def __init__(self, worker: "Worker", modules: list[dict]) -> None:
        self.worker = worker
        self.records: dict[str, dict] = {}
        for record in modules:
            for name in [record["name"], *record.get("aliases", [])]:
                self.records[name] = record

    def find_spec(self, fullname, path=None, target=None):
        record = self.records.get(fullname)
        if record is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, is_package=record["is_package"])
        spec.origin = self.path(record, "path")
        spec.has_location = bool(spec.origin)
        if record["is_package"]:
            spec.submodule_search_locations = [self.path(record, "dir")]
        return spec

    def path(self, record: dict, key: str) -> str | None:
        relative = record.get(key)
        return None if relative is None else os.path.normpath(os.path.join(self.worker.root, relative))

    def create_module(self, spec):
        record = self.records[spec.name]
        existing = self.worker.loaded.get(record["name"])
        return existing  # None means: make a fresh module

    def exec_module(self, module):
        record = self.records[module.__spec__.name]
        if record["name"] in self.worker.loaded:
            return
        self.worker.loaded[record["name"]] = module
        module.__package__ = record["package"]
        if record.get("path"):
            module.__file__ = self.path(record, "path")
        if record["is_package"]:
            module.__path__ = [self.path(record, "dir")]
        for name in [record["name"], *record.get("aliases", [])]:
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:
                setattr(sys.modules[parent], child, module)
        for unit in record["units"]:
            if unit["id"] not in self.worker.skip:
                self.worker.run_unit(unit, module.__dict__)


class Worker:
    def __init__(self, read_fd: int, write_fd: int, factories_path: str | None, root: str) -> None:
        self.root = root
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.loaded: dict[str, types.ModuleType] = {}
        self.skip: set[str] = set()
        self.filenames: set[str] = set()
        self.functions: dict[str, object] = {}
        self.factories = None
        if factories_path:
            spec = importlib.util.spec_from_file_location("_grader_factories", factories_path)
            self.factories = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self.factories)
        self.finder: SubmissionFinder | None = None
        self.shell = FakeShell(self)
        builtins.get_ipython = lambda: self.shell
        if not hasattr(builtins, "display"):
            builtins.display = print
        self.pristine_builtins = dict(builtins.__dict__)
        self.objects: list = []          # student objects the grader holds handles to
        self.object_ids: dict[int, int] = {}

    def heal(self) -> None:
        """Put back any builtin the student's code replaced (``builtins.any = ...``), so the
        worker's own protocol code keeps working: such a patch may fool the student's own code,
        never the grader, which judges data in its own process. Names the student added stay."""
        current = builtins.__dict__
        for name, value in self.pristine_builtins.items():
            if current.get(name, self) is not value:
                current[name] = value

    # -- channel
    def send(self, message: dict, values: dict | None = None) -> None:
        self.heal()
        wire.write_all(self.write_fd, wire.pack(message, values, keep=self.keep))

    def receive(self) -> dict:
        header, blobs = wire.read_frame(lambda n: wire.read_exact(self.read_fd, n))
        for key in ("args", "kwargs", "value"):
            if key in header:
                header[key] = wire.decode(header[key], blobs, resolve=self.object)
        return header

    # -- objects the grader holds by handle
    def keep(self, value: object) -> int | None:
        """A handle number for an instance of a class the submission defines (else None:
        other objects go back as opaque descriptions)."""
        module = getattr(type(value), "__module__", None)
        if module is None or sys.modules.get(module) not in self.loaded.values():
            return None
        ident = self.object_ids.get(id(value))
        if ident is None:
            ident = len(self.objects)
            self.objects.append(value)
            self.object_ids[id(value)] = ident
        return ident

    def object(self, ident: int) -> object:
        if not 0 <= ident < len(self.objects):
            raise wire.WireError(f"no object #{ident} in this worker")
        return self.objects[ident]

    # -- loading
    def run_unit(self, unit: dict, namespace: dict) -> None:
        filename = unit["filename"]
        self.filenames.add(filename)
        lines = unit["code"].splitlines(keepends=True)
        if unit.get("register_lines", True):
            full = [""] * (unit["line"] - 1) + lines
            cached = linecache.cache.get(filename)
            if cached and unit["line"] > 1:
                full = list(cached[2][: unit["line"] - 1]) + [""] * max(0, unit["line"] - 1 - len(cached[2])) + lines
            linecache.cache[filename] = (sum(map(len, full)), None, full, filename)
        self.send({"event": "unit-start", "unit": unit["id"]})
        error = None
        started = time.perf_counter()
        with Capture() as out:
            try:
                with deadline(unit.get("time_limit", 10.0)):
                    code = compile("\n" * (unit["line"] - 1) + unit["code"], filename, "exec",
                                   flags=_future_flags(unit.get("future", [])), dont_inherit=True)
                    exec(code, namespace)
            except BaseException as exc:  # noqa: BLE001 - a failing unit is data, not our end
                error = describe_error(exc, self.filenames)
        self.send({"event": "unit-done", "unit": unit["id"], "error": error,
                   "stdout": out.text(), "seconds": time.perf_counter() - started})

    def run_magic(self, line: str, namespace: dict) -> None:
        target = line.split()[-1] if line.split() else ""
        name = os.path.splitext(os.path.basename(target))[0]
        record = self.finder.records.get(name) if self.finder else None
        if record is None:
            print(f"[grader] %run {target}: not part of the submission, skipped")
            return
        module = importlib.import_module(record["name"])
        namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})

    def load(self, request: dict) -> None:
        self.skip = set(request.get("skip", []))
        root = self.root
        os.chdir(root)
        if root not in sys.path:
            sys.path.insert(0, root)
        self.finder = SubmissionFinder(self, request["modules"])
        sys.meta_path.insert(0, self.finder)
        for record in request["modules"]:
            if record["name"] in self.loaded:
                continue
            try:
                importlib.import_module(record["name"])
            except BaseException as exc:  # noqa: BLE001
                self.send({"event": "note", "text": f"importing {record['name']}: "
                           f"{type(exc).__name__}: {exc}"})
            finally:
                if sys.meta_path[:1] != [self.finder]:
                    sys.meta_path[:] = [self.finder] + [f for f in sys.meta_path if f is not self.finder]
        found = {}
        for name, hints in request.get("functions", {}).items():
            found[name] = self.resolve(name, hints, [m["name"] for m in request["modules"]])
        self.send({"event": "loaded", "functions": found})

    def resolve(self, name: str, hints: list[str], order: list[str]) -> dict | None:
        """The conventional module first, then every other module in load order."""
        for module_name in [*hints, *order]:
            module = self.loaded.get(module_name)
            candidate = getattr(module, name, None) if module else None
            if callable(candidate):
                self.functions[name] = candidate
                code = getattr(candidate, "__code__", None)
                return {"module": module_name,
                        "file": code.co_filename if code else None,
                        "line": code.co_firstlineno if code else None}
        return None

    # -- calls
    def build_callables(self, value, counters: list):
        if isinstance(value, wire.FunctionSpec):
            factory = getattr(self.factories, value.name, None)
            if factory is None:
                raise LookupError(f"no sandbox function named {value.name}")
            inner = factory(**value.params)
            if not callable(inner):
                return inner  # a value built in the sandbox (a probe object, data) goes as is
            counter = {"name": value.name, "calls": 0}
            counters.append(counter)

            def counted(*args, **kwargs):
                counter["calls"] += 1
                return inner(*args, **kwargs)

            counted.__name__ = "f"
            return counted
        if type(value) is list:
            return [self.build_callables(v, counters) for v in value]
        if type(value) is tuple:
            return tuple(self.build_callables(v, counters) for v in value)
        if type(value) is dict:
            return {k: self.build_callables(v, counters) for k, v in value.items()}
        return value

    def make_standin(self, name: str):
        """A function that asks the grader for the reference's answer: the reference itself
        never enters this process."""
        worker = self

        def standin(*args, **kwargs):
            worker.send({"event": "standin", "name": name}, {"args": list(args), "kwargs": kwargs})
            reply = worker.receive()
            if reply.get("op") != "standin-result":
                raise RuntimeError(reply.get("message", "stand-in failed"))
            return reply["value"]

        standin.__name__ = name
        return standin

    def make_tripwire(self, name: str):
        """Stands in for a function that already ran past its time limit, so a function that
        calls it fails at once instead of hanging again."""

        def tripwire(*args, **kwargs):
            raise RuntimeError(f"{name} was stopped in an earlier check for running past its "
                               "time limit, so it is not run again")

        tripwire.__name__ = name
        return tripwire

    def install(self, replacements: dict, target) -> list[tuple[dict, str, object]]:
        """Swap names in every loaded module (and define them for ``target`` if an import of
        them failed); return what to put back."""
        missing = object()
        saved = []
        namespaces = [m.__dict__ for m in self.loaded.values()]
        target_globals = getattr(target, "__globals__", None)
        if isinstance(target_globals, dict) and all(target_globals is not n for n in namespaces):
            namespaces.append(target_globals)
        for namespace in namespaces:
            for name, replacement in replacements.items():
                if name in namespace or namespace is target_globals:
                    saved.append((namespace, name, namespace.get(name, missing)))
                    namespace[name] = replacement
        return [(ns, name, None if value is missing else value, value is missing)
                for ns, name, value in saved]

    def restore(self, saved) -> None:
        for namespace, name, value, was_missing in reversed(saved):
            if was_missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value

    def attribute(self, request: dict) -> None:
        """Read (op getattr) or set (op setattr) an attribute of an object held by handle."""
        target, name = self.object(request["target"]), request["func"]
        result, error, method = None, None, False
        with Capture() as out:
            try:
                with deadline(request.get("time_limit", 10.0)):
                    if request["op"] == "setattr":
                        setattr(target, name, request.get("value"))
                    else:
                        result = getattr(target, name)
                        if callable(result) and not isinstance(result, (np.ndarray, np.generic)):
                            result, method = None, True
            except BaseException as exc:  # noqa: BLE001
                error = describe_error(exc, self.filenames)
        self.send({"event": "result", "error": error, "stdout": out.text(), "method": method},
                  {"value": result})

    def call(self, request: dict) -> None:
        name = request["func"]
        counters: list = []
        if request.get("target") is not None:
            function = getattr(self.object(request["target"]), name, None)
        else:
            function = self.functions.get(name)
        if not callable(function):
            self.send({"event": "result", "error": {"type": "NotFound", "message": f"{name} not found"}})
            return
        args = self.build_callables(request.get("args", []), counters)
        kwargs = self.build_callables(request.get("kwargs", {}), counters)
        seed = request.get("seed", 0)
        _real_seed(seed)
        _real_np_seed(seed)
        replacements = {name: self.make_tripwire(name) for name in request.get("disabled", [])}
        replacements.update({name: self.make_standin(name) for name in request.get("standins", [])})
        saved = self.install(replacements, function)
        result, error = None, None
        started = time.perf_counter()
        with Capture() as out:
            try:
                with deadline(request.get("time_limit", 10.0)):
                    result = function(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001
                error = describe_error(exc, self.filenames)
        seconds = time.perf_counter() - started
        self.restore(saved)
        values = {"value": result}
        if request.get("return_args"):
            values["args_after"] = list(args)
        message = {"event": "result", "error": error, "stdout": out.text(), "seconds": seconds,
                   "callables": counters}
        try:
            self.send(message, values)
        except Exception as exc:  # noqa: BLE001 - e.g. a result too large to encode
            message["error"] = {"type": "BadResult", "message": f"result could not be sent: {exc}"}
            self.send(message, {})

    def serve(self) -> None:
        self.send({"event": "ready", "python": sys.version.split()[0], "numpy": np.__version__})
        while True:
            try:
                request = self.receive()
            except EOFError:
                return
            op = request.get("op")
            if op == "load":
                self.load(request)
            elif op == "call":
                self.call(request)
            elif op in ("getattr", "setattr"):
                self.attribute(request)
            elif op == "exit":
                return
            else:
                self.send({"event": "error", "message": f"unknown op {op!r}"})


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


# ------------------------------------------------------------------ the zygote (zygote.py)

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

    def __init__(self, control: int, factories: str | None) -> None:
        import socket

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
                Worker(read_fd, write_fd, self.factories, request["root"]).serve()
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


def zygote_main(argv: list[str]) -> None:
    control, factories = int(argv[2]), (argv[3] if argv[3] != "-" else None)
    apply_limits(json.loads(argv[4]))
    _set_not_dumpable()
    sys.argv = ["submission"]
    sys.stdin = open(os.devnull)
    Zygote(control, factories).serve()


def main(argv: list[str]) -> None:
    if argv[1] == "zygote":
        zygote_main(argv)
        return
    read_fd, write_fd = int(argv[1]), int(argv[2])
    factories = argv[3] if argv[3] != "-" else None
    root = argv[4]
    apply_limits(json.loads(argv[5]))
    os.set_inheritable(read_fd, False)
    os.set_inheritable(write_fd, False)
    sys.argv = ["submission"]
    sys.stdin = open(os.devnull)
    Worker(read_fd, write_fd, factories, root).serve()


if __name__ == "__main__":
    main(sys.argv)
