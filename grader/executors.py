"""Where the submissions of a batch are graded: local grading processes, or a Dask cluster.

Grading runs the assignment's pytest checks inside the calling process, so parallel grading
needs separate processes. Locally, each of N slots keeps one long-lived grading process
(``python -m grader.executors``) that grades one submission per request with the code path
``grader run`` uses (``grade_each``, the same sandbox), all in one pytest session: it saves the
interpreter start, the imports and pytest's collection per submission. A grading process
that dies is replaced and the submission tried once more; one that exceeds the submission's
wall-clock allowance is killed and the submission recorded as ``timeout``. Either way only that
submission is affected.

A grading process imports the grader from this package's own folder, never from the caller's
working directory (a course repository often holds a folder named ``grader``), and keeps its
temporary files (its warm sandbox's too) in a folder of its own that the batch removes when it
stops it, however it ended.

On Dask (``--executor dask --scheduler ADDRESS``) each task receives the submission's bytes
(workers need not share a file system), rebuilds it under its own name in a temporary folder and
runs ``grader run`` there as a subprocess, so the sandbox applies on the worker and the
report is the same as a local one (its ``submission.path`` is set back to the original path).
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

STATUS_GRADED, STATUS_UNREADABLE, STATUS_TIMEOUT, STATUS_ERROR = "graded", "unreadable", "timeout", "grader-error"
RECYCLE_AFTER = 500          # a grading process is replaced after this many submissions (a safety net: its memory stays flat)
STARTUP_SECONDS = 60
STOP_SECONDS = 10            # a grading process told to finish gets this long before SIGKILL
SLOT_PREFIX = "grader-slot-"  # + the batch's pid: a folder whose batch is gone is stale


@dataclass
class Job:
    student: str
    path: str
    assignment: str          # the assignment's folder
    sandbox: str
    timeout: float           # wall-clock seconds allowed for the whole submission


@dataclass
class Outcome:
    job: Job
    status: str
    report: dict | None = None
    error: str | None = None
    seconds: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    worker: str = ""
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ the grading process

def serve() -> None:
    """The grading process: one JSON request per line on stdin, one JSON answer per line on the
    private channel (fd given in GRADER_CHANNEL_FD). Anything else printed goes to stderr.

    Consecutive requests for the same assignment and sandbox are graded in one pytest session
    (``grade_each``: the checks are collected once), each answered before the next is read."""
    channel = os.fdopen(int(os.environ["GRADER_CHANNEL_FD"]), "w", encoding="utf-8")
    os.dup2(2, 1)
    _die_with_parent()
    from grader import assignment as assignments
    from grader import zygote as zygotes
    from grader.grading import GraderFailure, grade_each
    from grader.sandbox import SandboxUnavailable
    from grader.submission import SubmissionError

    def answer(outcome: dict | BaseException, warnings: list[str]) -> None:
        if isinstance(outcome, dict):
            reply = {"status": STATUS_GRADED, "report": outcome}
        elif isinstance(outcome, SubmissionError):
            reply = {"status": STATUS_UNREADABLE, "error": str(outcome)}
        elif isinstance(outcome, (GraderFailure, SandboxUnavailable)):
            reply = {"status": STATUS_ERROR, "error": f"{type(outcome).__name__}: {outcome}"}
        else:  # a bug of ours costs this submission only
            reply = {"status": STATUS_ERROR, "error": f"internal failure: {type(outcome).__name__}: {outcome}"}
        reply["warnings"] = list(warnings)
        channel.write(json.dumps(reply) + "\n")
        channel.flush()

    try:
        _serve(answer, assignments, grade_each)
    finally:
        zygotes.close_all()  # its temporary folder goes with it


def _serve(answer, assignments, grade_each) -> None:
    requests = _Requests(sys.stdin)
    loaded: dict[str, object] = {}
    while (first := requests.peek()) is not None:
        key = (first["assignment"], first["sandbox"])
        warnings: list[str] = []
        try:
            if key[0] not in loaded:
                loaded[key[0]] = assignments.find(key[0])
        except Exception as exc:  # noqa: BLE001
            requests.take()
            answer(exc, warnings)
            continue
        in_flight: list[str] = []

        def paths():
            while (request := requests.peek()) is not None and (request["assignment"], request["sandbox"]) == key:
                requests.take()
                warnings.clear()
                in_flight.append(request["path"])
                yield request["path"]

        def graded(_path, outcome) -> None:
            in_flight.clear()
            answer(outcome, warnings)

        try:
            grade_each(paths(), loaded[key[0]], sandbox_mode=key[1], on_warning=warnings.append,
                       warm=True, on_graded=graded)
        except Exception as exc:  # noqa: BLE001 - e.g. the reference would not load
            if in_flight:
                answer(exc, warnings)


class _Requests:
    """The requests on stdin, one JSON object per line, with a look at the next one."""

    def __init__(self, stream) -> None:
        self.stream, self.next = stream, None

    def peek(self) -> dict | None:
        while self.next is None:
            line = self.stream.readline()
            if not line:
                return None
            if line.strip():
                self.next = json.loads(line)
        return self.next

    def take(self) -> dict | None:
        request, self.next = self.peek(), None
        return request


def python_command(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` for one of our own modules, imported from the package this
    process runs, never from the caller's working directory: a course repository holding a
    folder named ``grader`` must not change what code grades (``-P`` keeps the working directory
    out of sys.path, the explicit entry puts our package first)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
            "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
    return [sys.executable, "-P", "-c", code, root, module, *args]


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the batch process dies (kill -9 included), so nothing lingers."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(0)
    except (OSError, AttributeError):
        pass


class GradingProcess:
    """The batch's handle on one grading process."""

    def __init__(self, name: str, log_path: str | None):
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.channel = None
        self.done = 0
        self.tmpdir: str | None = None
        self.closed = False  # set once the batch is over: no new process may start after it
        self._stopping = threading.Lock()

    def start(self) -> None:
        """Start the grading process with a temporary folder of its own (its TMPDIR), which
        this side removes when it stops, however the process ended (a SIGKILL on timeout
        included): nothing it or its warm sandbox made outlives it."""
        if self.closed:
            raise RuntimeError(f"{self.name} is closed")
        self.tmpdir = tempfile.mkdtemp(prefix=f"{SLOT_PREFIX}{os.getpid()}-")
        read_fd, write_fd = os.pipe()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = dict(os.environ, GRADER_CHANNEL_FD=str(write_fd), PYTHONUNBUFFERED="1",
                   TMPDIR=self.tmpdir)
        try:
            self.process = subprocess.Popen(
                python_command("grader.executors"), stdin=subprocess.PIPE,
                stdout=log, stderr=log, pass_fds=(write_fd,), env=env, start_new_session=True,
                text=True)
        finally:
            os.close(write_fd)
            if log is not subprocess.DEVNULL:
                log.close()
        self.channel = os.fdopen(read_fd, "rb", buffering=0)
        self.done = 0

    def stop(self, grace: float = 0.0) -> None:
        """End the grading process: with ``grace``, first let it finish on end of input (it
        closes its warm sandbox itself); then SIGKILL whatever is left, and remove its
        temporary folder."""
        with self._stopping:
            self._stop_locked(grace)

    def _stop_locked(self, grace: float) -> None:
        process, self.process = self.process, None
        if process is not None:
            ended = False
            if grace and process.stdin:
                try:
                    process.stdin.close()
                    process.wait(timeout=grace)
                    ended = True  # reaped: its pid (and group id) may be anyone's now
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if not ended:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                process.wait()
            if process.stdin:
                try:
                    process.stdin.close()
                except OSError:
                    pass
        if self.channel:
            self.channel.close()
            self.channel = None
        if self.tmpdir:
            from grader.sandbox import remove_tree

            remove_tree(self.tmpdir)
            self.tmpdir = None

    def grade(self, job: Job) -> Outcome:
        started = time.time()
        for attempt in (1, 2):
            if self.process is None or self.process.poll() is not None or self.done >= RECYCLE_AFTER:
                self.stop()
                self.start()
            request = {"path": job.path, "assignment": job.assignment, "sandbox": job.sandbox}
            try:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                line = self._read_line(time.monotonic() + job.timeout)
            except TimeoutError:
                self.stop()
                return _outcome(job, STATUS_TIMEOUT, started, self.name,
                                error=f"grading took longer than {job.timeout:g} s; stopped")
            except (EOFError, BrokenPipeError, OSError) as exc:
                code = self.process.poll() if self.process else None
                self.stop()
                if attempt == 1:
                    continue
                return _outcome(job, STATUS_ERROR, started, self.name,
                                error=f"the grading process died twice (exit {code}; {type(exc).__name__})")
            self.done += 1
            answer = json.loads(line)
            return _outcome(job, answer["status"], started, self.name, report=answer.get("report"),
                            error=answer.get("error"), warnings=answer.get("warnings", []))
        raise AssertionError("unreachable")

    def _read_line(self, deadline: float) -> bytes:
        chunks = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.channel], [], [], left)
            if not ready:
                raise TimeoutError
            chunk = os.read(self.channel.fileno(), 1 << 20)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)


def _outcome(job: Job, status: str, started: float, worker: str, **fields) -> Outcome:
    finished = time.time()
    return Outcome(job=job, status=status, seconds=finished - started, started_at=started,
                   finished_at=finished, worker=worker, **fields)


class LocalExecutor:
    """N slots, each a thread that owns one grading process."""

    name = "local"

    def __init__(self, jobs: int, log_dir: str | None = None):
        self.jobs = max(1, jobs)
        self.log_dir = log_dir
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        self._stop = threading.Event()

    def run(self, jobs: list[Job], on_done) -> None:
        """Grade every job; ``on_done(outcome)`` is called in this thread, one at a time."""
        remove_stale_slots()
        todo: queue.Queue = queue.Queue()
        for job in jobs:
            todo.put(job)
        results: queue.Queue = queue.Queue()
        slots = [GradingProcess(f"local-{i}", os.path.join(self.log_dir, f"grading-{i}.log")
                                if self.log_dir else None) for i in range(min(self.jobs, len(jobs)))]

        def work(slot: GradingProcess) -> None:
            try:
                while not self._stop.is_set():
                    try:
                        job = todo.get_nowait()
                    except queue.Empty:
                        return
                    results.put(slot.grade(job))
            except BaseException as exc:  # noqa: BLE001 - reported to the main thread
                results.put(exc)
            finally:
                slot.stop(grace=STOP_SECONDS)

        threads = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in slots]
        for thread in threads:
            thread.start()
        finished = False
        restore = _exit_on_sigterm()
        try:
            for _ in range(len(jobs)):
                item = results.get()
                if isinstance(item, BaseException):
                    raise item
                on_done(item)
            finished = True
        finally:
            self._stop.set()
            if finished:  # each thread is ending its grading process gently: let it
                for thread in threads:
                    thread.join(timeout=STOP_SECONDS + 5)
            for slot in slots:
                slot.closed = True
                slot.stop()
            for thread in threads:
                thread.join(timeout=5)
            restore()


def remove_stale_slots() -> None:
    """Remove the grading processes' folders that a batch killed with SIGKILL (which can clean
    nothing up) left in the temporary folder: ours, named for a pid that no longer runs."""
    from grader.sandbox import remove_tree

    top = tempfile.gettempdir()
    try:
        names = os.listdir(top)
    except OSError:
        return
    for name in names:
        pid = name[len(SLOT_PREFIX):].split("-", 1)[0]
        if not name.startswith(SLOT_PREFIX) or not pid.isdigit():
            continue
        path = os.path.join(top, name)
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            remove_tree(path)  # its batch is gone
        except OSError:
            continue  # alive (someone else's pid, perhaps): left alone


def _exit_on_sigterm():
    """SIGTERM to the batch (a scheduler's stop, ``kill``) ends it as an exception would, so
    the grading processes are stopped and their temporary folders removed; returns the undo.
    Only where SIGTERM still has its default action and in the main thread."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        return lambda: None

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)


# ------------------------------------------------------------------ Dask

def pack(path: str) -> dict:
    """A submission as data: its name, and each file's relative path and bytes."""
    path = os.path.abspath(path)
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            return {"name": os.path.basename(path), "kind": "file", "files": [["", handle.read()]]}
    files = []
    for top, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(top, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            with open(full, "rb") as handle:
                files.append([os.path.relpath(full, path), handle.read()])
    return {"name": os.path.basename(path.rstrip(os.sep)), "kind": "dir", "files": files}


def grade_packed(packed: dict, assignment: str, sandbox_mode: str, timeout: float) -> dict:
    """Runs on a Dask worker: rebuild the submission in a temporary folder and grade it with
    ``grader run`` in a subprocess (so the sandbox applies and the worker's threads are not
    shared with pytest). Returns a plain dict: status, report, error, seconds, worker."""
    import socket

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="grader-dask-") as temporary:
        target = os.path.join(temporary, packed["name"])
        if packed["kind"] == "file":
            with open(target, "wb") as handle:
                handle.write(packed["files"][0][1])
        else:
            os.makedirs(target)
            for relative, data in packed["files"]:
                full = os.path.join(target, relative)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as handle:
                    handle.write(data)
        out = os.path.join(temporary, "report.json")
        command = python_command("grader", "run", target, "--assignment", assignment,
                                 "--sandbox", sandbox_mode, "--json", out, "--quiet")
        answer: dict = {"worker": f"dask:{socket.gethostname()}:{os.getpid()}"}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        except subprocess.TimeoutExpired:
            answer.update(status=STATUS_TIMEOUT, error=f"grading took longer than {timeout:g} s; stopped")
        else:
            if done.returncode in (0, 1) and os.path.isfile(out):
                with open(out, encoding="utf-8") as handle:
                    answer.update(status=STATUS_GRADED, report=json.load(handle))
            elif done.returncode == 2:
                answer.update(status=STATUS_UNREADABLE, error=_last_line(done.stderr).removeprefix("grader: "))
            else:
                answer.update(status=STATUS_ERROR,
                              error=f"grader run exited {done.returncode}: {_last_line(done.stderr)}")
    answer["seconds"] = time.time() - started
    answer["started_at"] = started
    return answer


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


class DaskExecutor:
    """Every submission a task on a Dask distributed cluster."""

    name = "dask"

    def __init__(self, scheduler: str):
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("--executor dask needs the 'distributed' package: "
                               "pip install 'grader[dask]'") from None
        self.client = Client(scheduler, timeout="30s")

    def run(self, jobs: list[Job], on_done) -> None:
        from distributed import as_completed

        futures = {}
        try:
            for job in jobs:
                future = self.client.submit(grade_packed, pack(job.path), job.assignment, job.sandbox,
                                            job.timeout, key=f"grade-{job.student}-{time.time_ns()}",
                                            pure=False, retries=1)
                futures[future] = job
            for future in as_completed(futures):
                job = futures[future]
                try:
                    answer = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker costs this submission only
                    now = time.time()
                    on_done(Outcome(job=job, status=STATUS_ERROR, error=f"dask task failed: {exc}",
                                    started_at=now, finished_at=now, worker="dask"))
                    continue
                report = answer.get("report")
                if report:
                    report["submission"]["path"] = os.path.abspath(job.path)
                on_done(Outcome(job=job, status=answer["status"], report=report, error=answer.get("error"),
                                seconds=answer["seconds"], started_at=answer["started_at"],
                                finished_at=answer["started_at"] + answer["seconds"],
                                worker=answer["worker"]))
        finally:
            for future in futures:
                future.cancel()
            self.client.close()


if __name__ == "__main__":
    serve()
