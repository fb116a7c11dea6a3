"""The grader's handle on one submission's worker: start it, load the submission, call its
functions with deadlines, and replace it whenever it hangs, dies or misbehaves.

A call that kills the worker loses only itself: the next call starts a fresh worker, which loads
the submission again, skipping any cell or statement that hung or killed the worker last time.

Nothing of a worker outlives it: in bubblewrap mode its PID namespace dies with it, in process
mode grader/processes.py finds and kills its orphans. What the worker sends is read by
grader/messages.py, the one place its bytes become the grader's (capped, plain) data.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Callable

from grader import messages, safetext, sandbox, wire
from grader.messages import CallResult, LoadEvent  # noqa: F401 - imported from here by the checks
from grader.processes import (LIVE_LOCK, LIVE_WORKERS, Drain, become_subreaper, cpu_seconds,
                              descendants, kill_tree, parents, reap, sweep_orphans)
from grader.session_load import GRACE_SECONDS, LoadProtocol, WorkerLost
from grader.submission import Submission
from grader.zygote import Zygote, ZygoteLost

MAX_RESTARTS = 30
LIMIT_MESSAGE = re.compile(r"(file size|disk|open files|process) limit of [0-9]+( [GM]iB)? exceeded")
GRADER_WORDS = {
    "NotFound": "{function} was not found",
    "BadResult": "{function}'s result could not be sent to the grader (too large, too deep or "
                 "not data)",
    "Crashed": "{function} raised an exception called Crashed",
    "Budget": "{function} raised an exception called Budget",
}
STRIKES = 2  # a function that ran past its time limit this often is not run again
STARTUP_SECONDS = 30.0


class _ZygoteChild:
    """A worker forked by a zygote. Its pid is the sandbox's own, not the host's: it is only
    ever handed back to that zygote, never signalled from here."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid, self.returncode = zygote, pid, None


class Session(LoadProtocol):
    """One submission's worker, replaced as often as it dies (see the module's docstring)."""

    def __init__(self, submission: Submission, *, mode: str, limits: sandbox.Limits,
                 factories: str | None, functions: dict[str, list[str]],
                 unit_seconds: float = 10.0, budget_seconds: float = 300.0,
                 hidden_paths: tuple[str, ...] | list[str] = (), zygote=None) -> None:
        self.submission = submission
        self.zygote = zygote if mode == "bubblewrap" else None
        self.mode = mode
        self.limits = limits
        self.factories = factories
        self._factory_module = None
        self.functions_wanted = functions
        self.unit_seconds = unit_seconds
        self.budget_seconds = budget_seconds
        self.hidden_paths = tuple(hidden_paths)
        self._exit: tuple[int | None, object] | None = None
        self.zygote_died = False  # the warm sandbox's zygote died under this submission
        self.unloadable = ""  # why the submission cannot be sent to a worker at all
        self._load_text = 0  # characters of load messages kept so far (see _budgeted)
        self._unshown = 0  # units that failed after that budget was spent
        self._cpu_seen = 0.0  # the worker's CPU time when last sampled (bwrap hides its rusage)
        self.workdir = tempfile.mkdtemp(prefix="grader-")
        self.process: subprocess.Popen | None = None
        self.skip: set[str] = set()
        self.unit_outcomes: dict[str, LoadEvent] = {}
        self.load_notes: list[str] = []
        self.functions: dict[str, dict | None] = {}
        self.restarts = 0
        self.generation = 0  # counts workers started: an object handle lives in one of them
        self._starting = False  # begin() spawned a worker whose start is not read yet
        self.strikes: dict[str, int] = {}
        self.started_at = time.monotonic()
        self.loaded_once = False
        self._workdir_ready = False  # a warm sandbox needs none; made when a fresh one starts
        if self.zygote is not None:
            try:
                if not self.zygote.clean:
                    self.zygote.sweep(clean=True)  # nothing of the previous student is left
                host, self._inside = self.zygote.new_submission_dir()
                submission.copy_to(host)
            except (ZygoteLost, OSError):
                self.zygote = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._kill(final=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill(self, final: bool = False) -> None:
        """Kill the worker with everything it started, and reap it. ``final``: the submission
        is done with, so a warm sandbox is cleaned for the next one now, and the worker's
        last output is not waited for (a death's diagnosis reads it; a finished grading not)."""
        process, self.process = self.process, None
        if process is None:
            return
        for fd in (self._to_worker, self._from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        if isinstance(process, _ZygoteChild):
            try:  # its own zygote: self.zygote is None once that zygote is known to be lost
                process.zygote.sweep(clean=final)
            except ZygoteLost:
                self._zygote_lost()
            self._reap(process, 2.0)
            if not final:
                self._drain.join(timeout=1)
            return
        kill_tree(process, whole_tree=self.mode == "process")
        self._reap(process, 10.0)
        with LIVE_LOCK:
            LIVE_WORKERS.discard(process.pid)
        if self.mode == "process":
            sweep_orphans()
        if not final:
            self._drain.join(timeout=1)

    def _zygote_lost(self) -> None:
        """The warm sandbox's zygote is gone (a student's code may kill it): this submission
        goes on in fresh sandboxes, and the next one gets a new zygote (zygote.warm)."""
        self.zygote = None
        self.zygote_died = True

    def _reap(self, process: subprocess.Popen, timeout: float) -> tuple[int | None, object]:
        """Wait for the worker's exit (up to ``timeout``); its exit code and resource usage."""
        if self._exit is not None and self._exit[0] is not None:
            return self._exit
        if isinstance(process, _ZygoteChild):
            try:
                self._exit = process.zygote.wait(process.pid, timeout)
            except ZygoteLost:
                self._zygote_lost()
                self._exit = (None, None)
            return self._exit
        code, usage = reap(process, timeout)
        if self.mode == "bubblewrap" and code is not None and code > 128:
            code = -(code - 128)  # bwrap exits with 128 + the signal that killed the worker
        self._exit = (code, usage)
        return self._exit

    def _spawn(self, wait: bool = True) -> None:
        self.generation += 1
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        out_r, out_w = os.pipe()
        self._exit = None
        self._cpu_seen = 0.0
        if self.zygote is not None:
            root = os.path.normpath(os.path.join(self._inside, self.submission.code_root_relative))
            try:
                self.process = _ZygoteChild(self.zygote, self.zygote.fork(root, [to_worker_r, from_worker_w, out_w]))
            except ZygoteLost:
                self._zygote_lost()
                for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w, out_r, out_w):
                    os.close(fd)
                return self._spawn(wait)
        else:
            self._start_fresh(to_worker_r, from_worker_w, out_w)
        for fd in (to_worker_r, from_worker_w, out_w):
            os.close(fd)
        self._to_worker, self._from_worker = to_worker_w, from_worker_r
        self._drain = Drain(out_r)
        self._drain.start()
        if wait:
            self._receive(time.monotonic() + STARTUP_SECONDS, "starting")

    def _start_fresh(self, read_fd: int, write_fd: int, out_fd: int) -> None:
        """A new sandbox (or process) for the worker, over this session's own copy of the
        submission (made the first time: a warm sandbox has its own)."""
        if not self._workdir_ready:
            sandbox.prepare_workdir(self.workdir, self.factories)
            self.submission.copy_to(os.path.join(self.workdir, "submission"))
            self._workdir_ready = True
        code_root = os.path.join(self.workdir, "submission", self.submission.code_root_relative)
        argv, cwd = sandbox.worker_command(self.mode, self.workdir, code_root, read_fd, write_fd,
                                           self.limits, self.factories is not None,
                                           hidden=self.hidden_paths)
        if self.mode == "process":
            become_subreaper()
        with LIVE_LOCK:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=sandbox.worker_environment(), stdin=subprocess.DEVNULL,
                stdout=out_fd, stderr=out_fd, pass_fds=(read_fd, write_fd), start_new_session=True,
                close_fds=True)
            LIVE_WORKERS.add(self.process.pid)

    # ------------------------------------------------------------------ channel
    def _send(self, message: dict, values: dict | None = None) -> None:
        self._write(wire.pack(message, values))

    def _write(self, frame: bytes) -> None:
        try:
            wire.write_all(self._to_worker, frame)
        except OSError:
            kind, message = self._death("receiving a request")
            self._kill()
            raise WorkerLost(kind, message) from None

    def _receive(self, deadline: float, doing: str) -> dict:
        def read(size: int) -> bytes:
            chunks = []
            while size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                ready, _, _ = select.select([self._from_worker], [], [], min(left, 0.25))
                if not ready:
                    self._sample_cpu()
                    continue
                chunk = os.read(self._from_worker, min(size, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                size -= len(chunk)
            return b"".join(chunks)

        try:
            return messages.read_message(read)
        except TimeoutError:
            self._kill()
            raise WorkerLost("timeout", f"did not finish {doing}") from None
        except EOFError:
            kind, message = self._death(doing)
            self._kill()
            if doing == "starting":
                self._check_sandbox_started()
            raise WorkerLost(kind, message) from None
        except wire.WireError as exc:
            self._kill()
            raise WorkerLost("bad-result", f"sent something that is not plain data ({exc})") from None

    def _check_sandbox_started(self) -> None:
        """A bwrap that cannot build its sandbox on this machine exits with one "bwrap: ..."
        line before the worker says a word: the machine's fault, not the student's."""
        if self.mode != "bubblewrap" or self.zygote is not None:
            return
        for line in self._drain.tail.decode(errors="replace").splitlines():
            if line.startswith("bwrap: "):
                problem = sandbox.bubblewrap_failed(line[len("bwrap: "):].strip())
                raise sandbox.SandboxUnavailable(f"--sandbox bubblewrap: {problem}")

    def _sample_cpu(self) -> None:
        """Note the CPU time of the worker's processes while we wait for it: in bubblewrap
        mode the worker is a grandchild, so its usage never reaches our wait4()."""
        process = self.process
        if process is not None and process.returncode is None and not isinstance(process, _ZygoteChild):
            pids = [process.pid, *descendants(process.pid, parents())]
            self._cpu_seen = max(self._cpu_seen, cpu_seconds(pids))

    def _death(self, doing: str) -> tuple[str, str]:
        """Why the worker's channel closed, as (kind, message): a tripped resource limit is
        named as such, whoever (the worker or the kernel) noticed it."""
        process = self.process
        code, usage = self._reap(process, 2.0) if process is not None else (None, None)
        cpu = max((usage.ru_utime + usage.ru_stime) if usage is not None else 0.0, self._cpu_seen)
        peak_mib = (usage.ru_maxrss / 1024) if usage is not None else 0.0
        signame = ""
        if code is not None and code < 0:
            signame = (signal.Signals(-code).name if -code in signal.Signals._value2member_map_
                       else f"signal {-code}")
        tail = safetext.text(self._drain.tail).strip().splitlines()[-3:]
        extra = f"; last output: {' | '.join(tail)}" if tail else ""
        if code is not None and code != 0 and cpu >= self.limits.cpu_seconds - 0.25:
            return "cpu", (f"CPU time limit of {self.limits.cpu_seconds} s exceeded while {doing} "
                           f"(the worker was killed after {cpu:.1f} s of CPU time)")
        if signame in ("SIGKILL", "SIGSEGV", "SIGBUS", "SIGABRT") and \
                peak_mib >= 0.8 * self.limits.memory_mb:
            return "memory", (f"memory limit of {self.limits.describe_memory()} exceeded while "
                              f"{doing} (the worker was killed by {signame} at "
                              f"{peak_mib:.0f} MiB)")
        if code is None and isinstance(process, _ZygoteChild) and self.zygote_died:
            how = ("took down the warm sandbox it ran in (its parent process, the zygote, was "
                   "killed)")
        elif code is None:
            how = "closed its channel"
        elif code < 0:
            how = f"was killed by {signame}"
            if signame == "SIGXCPU":
                how += f" (the CPU time limit of {self.limits.cpu_seconds} s)"
            elif signame == "SIGKILL":
                how += " (from outside: the system's out-of-memory killer or an administrator)"
        else:
            how = f"exited with code {code} (os._exit or sys.exit outside the grader's reach)"
        return "crash", f"the worker process {how} while {doing}{extra}"

    # ------------------------------------------------------------------ loading
    def _ensure_started(self) -> None:
        if self._starting:
            self._starting = False
            try:
                self._receive(time.monotonic() + STARTUP_SECONDS, "starting")
                self._read_load()
            except WorkerLost:
                if self.process is not None:
                    self._kill()
        while self.process is None:
            if self.unloadable:
                raise WorkerLost("crash", self.unloadable)
            if self.restarts > MAX_RESTARTS:
                raise WorkerLost("crash", "the worker was restarted too many times; giving up")
            self.restarts += 1
            try:
                self._spawn()
                self._load()
            except WorkerLost:
                if self.process is not None:
                    self._kill()
                continue

    def _load(self) -> None:
        self._send_load()
        self._read_load()

    def start(self) -> None:
        """Start a worker and load the submission (done lazily by the first call otherwise)."""
        try:
            self._ensure_started()
        except WorkerLost:
            pass

    def begin(self) -> None:
        """Start the first worker and queue the load without waiting: the worker imports numpy
        and loads the submission on one core while the grader imports pytest on the other."""
        if self.process is not None or self._starting or self.zygote is not None:
            return  # a warm sandbox forks (in a millisecond) when the worker is first needed
        self.restarts += 1
        try:
            self._spawn(wait=False)
            self._send_load()
            self._starting = True
        except WorkerLost:
            if self.process is not None:
                self._kill()

    # ------------------------------------------------------------------ calls
    def budget_left(self) -> float:
        return self.budget_seconds - (time.monotonic() - self.started_at)

    def call(self, function: str, args: list, kwargs: dict | None = None, *, seed: int = 0,
             time_limit: float = 10.0, standins: dict[str, Callable] | None = None,
             return_args: bool = False, target: wire.Handle | None = None,
             op: str = "call", value: object = None) -> CallResult:
        """Run ``function(*args, **kwargs)`` in the worker; never raises for student faults.

        With ``target`` (an object living in the worker), ``function`` is one of its methods;
        ``op="getattr"`` reads the attribute of that name and ``op="setattr"`` sets it to
        ``value``."""
        label = f"{target.type_name}.{function}" if target is not None else function
        result = CallResult(label)
        if self.budget_left() <= 0:
            result.error = {"type": "Budget", "message": "the submission's time budget of "
                            f"{self.budget_seconds:g} s was used up before this check ran"}
            return result
        try:
            self._ensure_started()
        except WorkerLost as lost:
            result.error = {"type": "Crashed", "message": str(lost)}
            return result
        if target is not None and target.generation != self.generation:
            result.error = {"type": "Crashed", "message": f"the {target.type_name} object was lost "
                            "when the worker was restarted after an earlier failure"}
            return result
        if target is None and self.functions.get(function) is None:
            result.error = {"type": "NotFound", "message": f"{function} is not defined in the submission"}
            return result
        function, method = label, function
        if self.strikes.get(function, 0) >= STRIKES:
            result.error = {"type": "Timeout", "message": f"{function} was not run: it ran past its "
                            f"time limit in {STRIKES} earlier checks"}
            return result
        time_limit = min(time_limit, max(self.budget_left(), 0.05))
        disabled = sorted(n for n in self.strikes if n != function and n not in (standins or {}))
        request = {"op": op, "func": method, "seed": int(seed), "time_limit": time_limit,
                   "standins": sorted(standins or {}), "return_args": return_args,
                   "disabled": disabled, "target": target.id if target is not None else None}
        callbacks: dict[int, Callable] = {}
        payload = {"args": self._grader_side(list(args), callbacks),
                   "kwargs": self._grader_side(dict(kwargs or {}), callbacks)}
        if op == "setattr":
            payload["value"] = value
        deadline = time.monotonic() + time_limit + GRACE_SECONDS
        try:
            self._send(request, payload)
            while True:
                event = self._receive(deadline, f"running {function}")
                if event.get("event") == "standin":
                    self._answer_standin(event, standins or {}, result)
                    continue
                if event.get("event") == "callback":
                    self._answer_callback(event, callbacks)
                    continue
                if event.get("event") != "result":
                    raise WorkerLost("bad-result", "sent an unexpected message")
                break
        except WorkerLost as lost:
            if lost.kind == "timeout":
                self.strikes[function] = self.strikes.get(function, 0) + 1
                result.error = {"type": "Timeout", "message": f"{function} did not finish within "
                                f"its time limit of {time_limit:g} s (it was stopped)"}
            elif lost.kind == "cpu":
                self.strikes[function] = self.strikes.get(function, 0) + 1
                result.error = {"type": "Timeout", "message": f"CPU time limit of "
                                f"{self.limits.cpu_seconds} s exceeded in {function} (it was stopped)"}
            elif lost.kind == "memory":
                result.error = {"type": "MemoryError", "message": f"memory limit of "
                                f"{self.limits.describe_memory()} exceeded in {function} "
                                "(the worker was killed)"}
            elif lost.kind == "bad-result":
                result.error = {"type": "BadResult", "message": f"{function} {lost}"}
            else:
                result.error = {"type": "Crashed", "message": f"{lost}"}
            return result
        result.value = messages.stamp(event.get("value"), self.generation)
        result.method = event.get("method") is True
        result.error = event.get("error")
        if result.error and result.error.get("type") == "Timeout":
            self.strikes[function] = self.strikes.get(function, 0) + 1
            if result.error.get("message", "").startswith("CPU time limit"):
                result.error["message"] = (f"CPU time limit of {self.limits.cpu_seconds} s "
                                           f"exceeded in {function}")
            else:
                result.error["message"] = (f"{function} did not finish within its time limit of "
                                           f"{time_limit:g} s (it was stopped)")
        if result.error and result.error.get("type") == "MemoryError":
            result.error["message"] = (f"memory limit of {self.limits.describe_memory()} exceeded "
                                       f"in {function}")
        if result.error and result.error.get("type") == "LimitExceeded":
            said = result.error.get("message", "")
            if not LIMIT_MESSAGE.fullmatch(said):  # the worker's own wording, or none of it
                said = "a resource limit was exceeded"
            result.error["message"] = f"{said} in {function}"
        if result.error and result.error.get("type") in GRADER_WORDS:
            # Kinds whose message a private check shows as is: only the grader's words, never
            # a message a student's exception (class Crashed) or a forged frame brought along.
            kind = result.error["type"]
            result.error["message"] = GRADER_WORDS[kind].format(function=function)
            result.error["traceback"] = ""
        result.stdout = event.get("stdout", "")
        result.seconds = event.get("seconds", 0.0)
        after = event.get("args_after")
        result.args_after = after if isinstance(after, list) else None
        result.callables = event.get("callables", [])
        return result

    def _grader_side(self, value: object, callbacks: dict[int, Callable]) -> object:
        """The arguments with each sandbox function (a FunctionSpec that builds a callable)
        built here, in the grader, and sent as a ``Callback`` the worker can only call: its
        parameters (the check's knobs) never enter the student's process."""
        if isinstance(value, wire.FunctionSpec):
            built = getattr(self._factories(), value.name)(**value.params)
            if not callable(built):
                return value   # data or a probe object: built in the sandbox, as before
            callbacks[len(callbacks)] = built
            return wire.Callback(len(callbacks) - 1, getattr(built, "uses_random", False) is True)
        if type(value) is list:
            return [self._grader_side(v, callbacks) for v in value]
        if type(value) is tuple:
            return tuple(self._grader_side(v, callbacks) for v in value)
        if type(value) is dict:
            return {k: self._grader_side(v, callbacks) for k, v in value.items()}
        return value

    def _factories(self):
        """The assignment's sandbox_functions.py, imported once into the grader (it is the
        author's code, trusted; the worker has its own copy for what must run there)."""
        if self._factory_module is None:
            import importlib.util

            if not self.factories:
                raise LookupError("this assignment has no sandbox_functions.py")
            spec = importlib.util.spec_from_file_location("_grader_sandbox_functions", self.factories)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._factory_module = module
        return self._factory_module

    def _answer_callback(self, event: dict, callbacks: dict[int, Callable]) -> None:
        """Evaluate a sandbox function for the student's code, with the student's random
        states (set for the call, then handed back advanced; the grader's own are restored)."""
        import random

        import numpy as np

        function = callbacks.get(event.get("id"))
        if function is None:
            self._send({"op": "callback-error", "message": "no such function"})
            return
        args = event.get("args") if isinstance(event.get("args"), list) else []
        kwargs = event.get("kwargs") if isinstance(event.get("kwargs"), dict) else {}
        uses_random = getattr(function, "uses_random", False) is True
        own = random.getstate(), np.random.get_state()
        states: dict = {}
        try:
            if uses_random:
                random.setstate(event.get("random"))
                np.random.set_state(event.get("np_random"))
            value = function(*args, **kwargs)
            if uses_random:
                states = {"random": random.getstate(), "np_random": np.random.get_state()}
        except Exception as exc:  # noqa: BLE001 - the student called f with what f cannot take
            self._send({"op": "callback-error", "message": f"f failed: {type(exc).__name__}: {exc}"})
            return
        finally:
            random.setstate(own[0])
            np.random.set_state(own[1])
        self._send({"op": "callback-result"}, {"value": value, **states})

    def _answer_standin(self, event: dict, standins: dict[str, Callable], result: CallResult) -> None:
        name = event.get("name")
        function = standins.get(name) if isinstance(name, str) else None
        args = event.get("args") if isinstance(event.get("args"), list) else []
        kwargs = event.get("kwargs") if isinstance(event.get("kwargs"), dict) else {}
        result.standins_used.append((name, args, kwargs))
        if function is None:
            self._send({"op": "standin-error", "message": f"no stand-in for {name!r}"})
            return
        try:
            value = function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the reference rejected the student's input
            self._send({"op": "standin-error", "message": f"reference {name} failed: {exc}"})
            return
        self._send({"op": "standin-result"}, {"value": value})

