"""The grader's handle on one submission's worker: start it, load the submission, call its
functions with deadlines, and replace it whenever it hangs, dies or misbehaves.

A call that kills the worker loses only itself: the next call starts a fresh worker, which loads
the submission again, skipping any cell or statement that hung or killed the worker last time.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from grader import sandbox, wire
from grader.submission import Submission

MAX_RESTARTS = 30
STRIKES = 2  # a function that ran past its time limit this often is not run again
STARTUP_SECONDS = 30.0
GRACE_SECONDS = 1.0


class WorkerLost(Exception):
    """The worker died, hung or broke the protocol; the message says which, for the student."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class CallResult:
    """What one call of a student function did, as data."""

    function: str
    value: object = None
    error: dict | None = None
    stdout: str = ""
    seconds: float = 0.0
    args_after: list | None = None
    callables: list = field(default_factory=list)
    standins_used: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class LoadEvent:
    unit: str
    error: dict | None
    stdout: str


class _Drain(threading.Thread):
    """Reads the worker's raw stdout/stderr so it can never block on a full pipe, keeping only
    the last few KiB (shown when the worker dies)."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.tail = b""

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.tail = (self.tail + chunk)[-4096:]
        os.close(self.fd)


class Session:
    def __init__(self, submission: Submission, *, mode: str, limits: sandbox.Limits,
                 factories: str | None, functions: dict[str, list[str]],
                 unit_seconds: float = 10.0, budget_seconds: float = 300.0) -> None:
        self.submission = submission
        self.mode = mode
        self.limits = limits
        self.factories = factories
        self.functions_wanted = functions
        self.unit_seconds = unit_seconds
        self.budget_seconds = budget_seconds
        self.workdir = tempfile.mkdtemp(prefix="grader-")
        self.process: subprocess.Popen | None = None
        self.skip: set[str] = set()
        self.unit_outcomes: dict[str, LoadEvent] = {}
        self.load_notes: list[str] = []
        self.functions: dict[str, dict | None] = {}
        self.restarts = 0
        self.strikes: dict[str, int] = {}
        self.started_at = time.monotonic()
        self.loaded_once = False
        sandbox.prepare_workdir(self.workdir, factories)
        submission.copy_to(os.path.join(self.workdir, "submission"))

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        for fd in (self._to_worker, self._from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._drain.join(timeout=1)

    def _spawn(self) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        out_r, out_w = os.pipe()
        code_root = os.path.join(self.workdir, "submission", self.submission.code_root_relative)
        argv, cwd = sandbox.worker_command(self.mode, self.workdir, code_root, to_worker_r,
                                           from_worker_w, self.limits, self.factories is not None)
        env = sandbox.worker_environment()
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
            pass_fds=(to_worker_r, from_worker_w), start_new_session=True, close_fds=True)
        for fd in (to_worker_r, from_worker_w, out_w):
            os.close(fd)
        self._to_worker, self._from_worker = to_worker_w, from_worker_r
        self._drain = _Drain(out_r)
        self._drain.start()
        self._receive(time.monotonic() + STARTUP_SECONDS, "starting")

    # ------------------------------------------------------------------ channel
    def _send(self, message: dict, values: dict | None = None) -> None:
        try:
            wire.write_all(self._to_worker, wire.pack(message, values))
        except OSError:
            raise WorkerLost("crash", self._death_message("receiving a request")) from None

    def _receive(self, deadline: float, doing: str) -> dict:
        def read(size: int) -> bytes:
            chunks = []
            while size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                ready, _, _ = select.select([self._from_worker], [], [], left)
                if not ready:
                    raise TimeoutError
                chunk = os.read(self._from_worker, min(size, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                size -= len(chunk)
            return b"".join(chunks)

        try:
            header, blobs = wire.read_frame(read)
            for key in ("value", "args_after", "args", "kwargs"):
                if key in header:
                    header[key] = wire.decode(header[key], blobs)
            return header
        except TimeoutError:
            self._kill()
            raise WorkerLost("timeout", f"did not finish {doing}") from None
        except EOFError:
            message = self._death_message(doing)
            self._kill()
            raise WorkerLost("crash", message) from None
        except wire.WireError as exc:
            self._kill()
            raise WorkerLost("bad-result", f"sent something that is not plain data ({exc})") from None

    def _death_message(self, doing: str) -> str:
        process = self.process
        code = None
        if process is not None:
            try:
                code = process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        if code is None:
            how = "closed its channel"
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            how = "was killed by " + name + (" (probably the memory or CPU limit)" if name in ("SIGKILL", "SIGXCPU", "SIGSEGV") else "")
        else:
            how = f"exited with code {code} (os._exit or sys.exit outside the grader's reach)"
        tail = self._drain.tail.decode(errors="replace").strip().splitlines()[-3:] if self.process else []
        extra = f"; last output: {' | '.join(tail)}" if tail else ""
        return f"the worker process {how} while {doing}{extra}"

    # ------------------------------------------------------------------ loading
    def _ensure_started(self) -> None:
        while self.process is None:
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
        self._send({"op": "load", "modules": self.submission.worker_records(self.unit_seconds),
                    "skip": sorted(self.skip), "functions": self.functions_wanted})
        stack: list[str] = []
        while True:
            try:
                event = self._receive(time.monotonic() + self.unit_seconds + GRACE_SECONDS, "loading")
            except WorkerLost as lost:
                if not stack:
                    self.load_notes.append(f"loading the submission failed: {lost}")
                    raise
                culprit = stack[-1]
                self.skip.add(culprit)
                what = ("did not finish within its time limit of "
                        f"{self.unit_seconds:g} s" if lost.kind == "timeout" else str(lost))
                self.unit_outcomes[culprit] = LoadEvent(
                    culprit, {"type": "Timeout" if lost.kind == "timeout" else "Crashed",
                              "message": f"{what}; it was skipped", "traceback": ""}, "")
                raise
            kind = event.get("event")
            if kind == "unit-start":
                stack.append(str(event.get("unit")))
            elif kind == "unit-done":
                unit = str(event.get("unit"))
                if stack and stack[-1] == unit:
                    stack.pop()
                if not self.loaded_once or unit not in self.unit_outcomes:
                    self.unit_outcomes[unit] = LoadEvent(unit, _error_dict(event.get("error")),
                                                         _text(event.get("stdout")))
            elif kind == "note":
                if not self.loaded_once:
                    self.load_notes.append(_text(event.get("text")))
            elif kind == "loaded":
                found = event.get("functions")
                if isinstance(found, dict):
                    self.functions = {str(k): v if isinstance(v, dict) else None for k, v in found.items()}
                self.loaded_once = True
                return
            else:
                raise WorkerLost("bad-result", f"unexpected message while loading: {kind!r}")

    def start(self) -> None:
        """Start a worker and load the submission (done lazily by the first call otherwise)."""
        try:
            self._ensure_started()
        except WorkerLost:
            pass

    # ------------------------------------------------------------------ calls
    def budget_left(self) -> float:
        return self.budget_seconds - (time.monotonic() - self.started_at)

    def call(self, function: str, args: list, kwargs: dict | None = None, *, seed: int = 0,
             time_limit: float = 10.0, standins: dict[str, Callable] | None = None,
             return_args: bool = False) -> CallResult:
        """Run ``function(*args, **kwargs)`` in the worker; never raises for student faults."""
        result = CallResult(function)
        if self.budget_left() <= 0:
            result.error = {"type": "Budget", "message": "the submission's time budget of "
                            f"{self.budget_seconds:g} s was used up before this check ran"}
            return result
        try:
            self._ensure_started()
        except WorkerLost as lost:
            result.error = {"type": "Crashed", "message": str(lost)}
            return result
        if self.functions.get(function) is None:
            result.error = {"type": "NotFound", "message": f"{function} is not defined in the submission"}
            return result
        if self.strikes.get(function, 0) >= STRIKES:
            result.error = {"type": "Timeout", "message": f"{function} was not run: it ran past its "
                            f"time limit in {STRIKES} earlier checks"}
            return result
        time_limit = min(time_limit, max(self.budget_left(), 0.05))
        disabled = sorted(n for n in self.strikes if n != function and n not in (standins or {}))
        request = {"op": "call", "func": function, "seed": int(seed), "time_limit": time_limit,
                   "standins": sorted(standins or {}), "return_args": return_args,
                   "disabled": disabled}
        deadline = time.monotonic() + time_limit + GRACE_SECONDS
        try:
            self._send(request, {"args": list(args), "kwargs": dict(kwargs or {})})
            while True:
                event = self._receive(deadline, f"running {function}")
                if event.get("event") == "standin":
                    self._answer_standin(event, standins or {}, result)
                    continue
                if event.get("event") != "result":
                    raise WorkerLost("bad-result", "sent an unexpected message")
                break
        except WorkerLost as lost:
            if lost.kind == "timeout":
                self.strikes[function] = self.strikes.get(function, 0) + 1
                result.error = {"type": "Timeout", "message": f"{function} did not finish within "
                                f"its time limit of {time_limit:g} s (it was stopped)"}
            elif lost.kind == "bad-result":
                result.error = {"type": "BadResult", "message": f"{function} {lost}"}
            else:
                result.error = {"type": "Crashed", "message": f"{lost}"}
            return result
        result.value = event.get("value")
        result.error = _error_dict(event.get("error"))
        if result.error and result.error.get("type") == "Timeout":
            self.strikes[function] = self.strikes.get(function, 0) + 1
            result.error["message"] = (f"{function} did not finish within its time limit of "
                                       f"{time_limit:g} s (it was stopped)")
        if result.error and result.error.get("type") == "MemoryError":
            result.error["message"] = (f"memory limit of {self.limits.describe_memory()} exceeded "
                                       f"in {function}")
        result.stdout = _text(event.get("stdout"))
        seconds = event.get("seconds")
        result.seconds = float(seconds) if type(seconds) in (int, float) else 0.0
        after = event.get("args_after")
        result.args_after = after if isinstance(after, list) else None
        callables = event.get("callables")
        if isinstance(callables, list):
            result.callables = [c for c in callables if isinstance(c, dict)]
        return result

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


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _error_dict(value: object) -> dict | None:
    if not isinstance(value, dict):
        return None
    clean = {k: _text(value.get(k)) for k in ("type", "message", "traceback")}
    location = value.get("location")
    if isinstance(location, dict) and isinstance(location.get("file"), str) \
            and type(location.get("line")) is int:
        clean["location"] = {"file": location["file"], "line": location["line"]}
    return clean
