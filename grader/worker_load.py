"""The worker's loading of a submission: its files under every name a student may import them
by, run one unit (a notebook cell or a top-level statement) at a time, IPython's magics, and
the required functions looked up by name. Runs only inside the sandbox (see worker.py).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import linecache
import os
import sys
import time
import types

_runtime = sys.modules.get("_grader_worker_runtime")
if _runtime is None:  # loaded on its own (worker.py loads the runtime first)
    _spec = importlib.util.spec_from_file_location(
        "_grader_worker_runtime", os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_runtime.py"))
    _runtime = importlib.util.module_from_spec(_spec)
    sys.modules["_grader_worker_runtime"] = _runtime
    _spec.loader.exec_module(_runtime)
Capture, deadline, describe_error = _runtime.Capture, _runtime.deadline, _runtime.describe_error
_future_flags = _runtime._future_flags


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
        stopped = None  # a notebook cell where a statement failed: as in Jupyter, the rest of it
        for unit in record["units"]:  # does not run, unless what failed was an import (a package
            if unit["id"] in self.worker.skip or (unit.get("cell") and unit["cell"] == stopped):
                continue              # the grader lacks must not take numpy's import beside it)
            error = self.worker.run_unit(unit, module.__dict__)
            if error and unit.get("cell") and error.get("type") not in ("ModuleNotFoundError", "ImportError"):
                stopped = unit["cell"]



class Loading:
    """The loading half of the Worker (worker.py): what a ``load`` request does."""

    loaded: dict[str, types.ModuleType]
    skip: set[str]
    filenames: set[str]
    functions: dict[str, object]
    finder: SubmissionFinder | None
    root: str

    def run_unit(self, unit: dict, namespace: dict) -> dict | None:
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
        return error

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
        """Load every module of the submission; each module's record (its units' source) comes
        as one attachment of JSON, so no source is too large for the message header."""
        request["modules"] = [json.loads(raw.decode("utf-8")) for raw in request["attachments"]]
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
                try:
                    said = str(exc)[:2000]
                except BaseException:  # noqa: BLE001 - a str() of student objects may do anything
                    said = ""
                self.send({"event": "note", "text": f"importing {record['name']}: "
                           f"{type(exc).__name__[:200]}: {said}"})
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

