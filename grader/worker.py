"""The untrusted side: the process that loads a submission and runs its functions.

It runs inside the sandbox (see sandbox.py) as ``python -I worker.py ...`` with private copies of
the worker's files (sandbox.WORKER_FILES: this file, the calls and the channel; worker_load.py,
loading the submission; worker_runtime.py, limits, deadlines and captured output;
worker_zygote.py, a warm sandbox's forking side; wire.py), never the grader package, the checks
or the reference solutions. It answers requests on a channel of its own and sends back data
only. stdin is /dev/null, so a stray ``input()`` meets end-of-file.

Everything here assumes the student's code may do anything to this process; what it cannot do is
reach the grader's memory, which is why every verdict is made on the other side.
"""

from __future__ import annotations

import builtins
import importlib.util
import json
import os
import random
import sys
import time
import types

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
runtime = sys.modules.get("_grader_worker_runtime")
if runtime is None:
    _spec = importlib.util.spec_from_file_location("_grader_worker_runtime",
                                                   os.path.join(_HERE, "worker_runtime.py"))
    runtime = importlib.util.module_from_spec(_spec)
    sys.modules["_grader_worker_runtime"] = runtime
    _spec.loader.exec_module(runtime)
wire = runtime.sibling("wire")
loading = runtime.sibling("worker_load")
Capture, deadline, describe_error = runtime.Capture, runtime.deadline, runtime.describe_error
apply_limits, CallTimeout, CpuLimit = runtime.apply_limits, runtime.CallTimeout, runtime.CpuLimit
limit_error, OUTPUT_CAP, LIMITS = runtime.limit_error, runtime.OUTPUT_CAP, runtime.LIMITS

_real_seed = random.seed
_real_np_seed = np.random.seed


class Worker(loading.Loading):
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
        self.finder = None
        self.shell = loading.FakeShell(self)
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
        """One message to the grader. A value the wire cannot carry (too many items, a frame
        over the limits) is replaced by an error that says so: it costs the student the value,
        never the worker."""
        self.heal()
        try:
            frame = wire.pack(message, values, keep=self.keep)
        except Exception as exc:  # noqa: BLE001 - e.g. a result too large or too odd to encode
            if not values:
                raise
            message = dict(message, error={"type": "BadResult",
                                           "message": f"the result could not be sent: {exc}"})
            frame = wire.pack(message, {}, keep=self.keep)
        wire.write_all(self.write_fd, frame)

    def receive(self) -> dict:
        header, blobs = wire.read_frame(lambda n: wire.read_exact(self.read_fd, n))
        for key in ("args", "kwargs", "value", "random", "np_random"):
            if key in header:
                header[key] = wire.decode(header[key], blobs, resolve=self.object)
        if "attachments" in header:
            header["attachments"] = [blobs[i] for i in header["attachments"]]
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


    def build_callables(self, value, counters: list):
        if isinstance(value, wire.Callback):
            counter = {"name": "f", "calls": 0}
            counters.append(counter)
            return self.make_callback(value, counter)
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

    def make_callback(self, callback: wire.Callback, counter: dict):
        """A function whose every answer the grader computes: what it is built from never
        enters this process. One that draws random numbers draws the student's: the states
        of ``random`` and ``numpy.random`` travel with each call and come back advanced, as if
        it ran here."""
        worker = self

        def f(*args, **kwargs):
            counter["calls"] += 1
            values = {"args": list(args), "kwargs": kwargs}
            if callback.uses_random:
                values.update(random=random.getstate(), np_random=np.random.get_state())
            worker.send({"event": "callback", "id": callback.id}, values)
            reply = worker.receive()
            if reply.get("op") != "callback-result":
                raise RuntimeError(reply.get("message", "the function failed"))
            if callback.uses_random:
                random.setstate(reply["random"])
                np.random.set_state(reply["np_random"])
            return reply["value"]

        return f

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
        self.send(message, values)

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



def main(argv: list[str]) -> None:
    if argv[1] == "zygote":
        runtime.sibling("worker_zygote").zygote_main(argv, Worker)
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
