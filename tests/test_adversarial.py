"""Attacks on the grader, each a real submission folder (tests/fixtures/attacks/NAME, which holds
only the attacking modules: the rest comes from tests/fixtures/modules_correct) graded
through the real CLI. Every test asserts that the attacked problems get no points, every other
problem keeps full points, the report is intact and valid, and the grader exits normally (1).

They run under bubblewrap (the default wherever it works; CI installs it) and, for the attacks
the fallback can stop, under ``--sandbox process`` too. SECURITY.md lists the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import threading
import time
import tomllib
import uuid
from pathlib import Path

import jsonschema
import pytest

from conftest import FIXTURES, ROOT, run_cli
from grader.sandbox import bubblewrap_problem

ATTACKS = FIXTURES / "attacks"
HAVE_BWRAP = bubblewrap_problem() is None
MODES = [pytest.param("bubblewrap", marks=pytest.mark.skipif(not HAVE_BWRAP, reason=str(bubblewrap_problem()))),
         "process"]


class Attack:
    """One attack graded once: a private copy of the fixture (with a unique token and the port
    of a listener), an output folder holding a results.json to forge, and the report."""

    def __init__(self, name: str, tmp_path: Path, mode: str, *extra: str, port: int = 9) -> None:
        self.token = uuid.uuid4().hex
        self.folder = tmp_path / "submissions" / name
        shutil.copytree(FIXTURES / "modules_correct", self.folder)  # the problems not attacked
        shutil.copytree(ATTACKS / name, self.folder, dirs_exist_ok=True)
        (self.folder / "token.txt").write_text(self.token)
        (self.folder / "port.txt").write_text(str(port))
        self.before = tree_digest(self.folder)
        self.out = tmp_path / "out"
        self.out.mkdir()
        self.sentinel = self.out / "results.json"
        # The canary (the token) is what overwrite_results looks for before it writes: it
        # never touches a file without it, so the test cannot damage anyone else's files.
        self.sentinel.write_text(json.dumps({"score": 0, "note": "an earlier report",
                                             "canary": self.token}))
        self.report_path = self.out / "report.json"
        started = time.monotonic()
        self.done = run_cli("run", str(self.folder), "--json", str(self.report_path),
                            "--sandbox", mode, *extra)
        self.seconds = time.monotonic() - started
        self.mode = mode
        assert self.done.returncode == 1, f"exit {self.done.returncode}: {self.done.stderr[-2000:]}"
        self.text = self.report_path.read_text()
        self.report = json.loads(self.text)

    def outputs(self, problem: str) -> str:
        return "\n".join(t["output"] for t in self.report["tests"] if problem in t["tags"])


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_contained(attack: Attack, attacked: set[str], schema: dict) -> None:
    report = attack.report
    jsonschema.validate(report, schema)
    assert report["grader"]["sandbox"] == attack.mode
    problems = report["problems"]
    assert attacked <= set(problems)
    for name, problem in problems.items():
        expected = 0 if name in attacked else problem["max_score"]
        assert problem["score"] == expected, (name, problem, attack.outputs(name)[:1500])
    assert report["score"] == pytest.approx(sum(p["score"] for p in problems.values()))
    assert report["max_score"] == pytest.approx(sum(p["max_score"] for p in problems.values()))
    assert report["score"] == pytest.approx(sum(t["score"] for t in report["tests"]))
    assert "FORGED" not in attack.text
    # The submission folder the grader was given is untouched: the worker had a private copy.
    assert tree_digest(attack.folder) == attack.before


def lingering(token: str) -> list[int]:
    """Processes whose command line carries the attack's token."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline:
                found.append(int(name))
    return found


# ---------------------------------------------------------------- attacks both modes stop

@pytest.mark.parametrize("mode", MODES)
def test_patching_numpy_comparisons_and_builtins_fools_nobody(tmp_path, schema, mode):
    attack = Attack("patch_numpy_builtins", tmp_path, mode)
    assert_contained(attack, {"softmax"}, schema)
    assert "differs from the expected values" in attack.outputs("softmax")


@pytest.mark.parametrize("mode", MODES)
def test_exits_at_import_and_in_a_call_cost_only_softmax(tmp_path, schema, mode):
    attack = Attack("exits", tmp_path, mode)
    assert_contained(attack, {"softmax"}, schema)
    assert "exited with code 0" in attack.outputs("softmax")
    assert any("SystemExit" in e or "sys.exit" in e for e in attack.report["submission"]["load_errors"])


@pytest.mark.parametrize("mode", MODES)
def test_allocating_gigabytes_is_reported_as_the_memory_limit(tmp_path, schema, mode):
    attack = Attack("memory_hog", tmp_path, mode)
    assert_contained(attack, {"softmax"}, schema)
    assert "memory limit of 1 GiB exceeded in softmax" in attack.outputs("softmax")


@pytest.mark.parametrize("mode", MODES)
def test_file_size_and_open_file_limits_are_named(tmp_path, schema, mode):
    attack = Attack("file_limits", tmp_path, mode)
    assert_contained(attack, {"softmax", "sigmoid"}, schema)
    assert "file size limit of 64 MiB exceeded in softmax" in attack.outputs("softmax")
    assert "open files limit of 256 exceeded in sigmoid" in attack.outputs("sigmoid")
    assert "raised LimitExceeded" not in attack.outputs("softmax") + attack.outputs("sigmoid")


@pytest.mark.parametrize("mode", MODES)
def test_detached_children_do_not_outlive_grading(tmp_path, schema, mode):
    attack = Attack("linger", tmp_path, mode)
    assert_contained(attack, {"sigmoid"}, schema)
    time.sleep(0.2)
    assert lingering(attack.token) == []
    assert not list(Path("/tmp").glob(f"linger-marker-{attack.token}*"))


@pytest.mark.parametrize("mode", MODES)
def test_100_mb_of_output_costs_the_grader_nothing(tmp_path, schema, mode):
    attack = Attack("stdout_flood", tmp_path, mode)
    assert_contained(attack, {"softmax"}, schema)
    assert attack.seconds < 30, f"grading took {attack.seconds:.1f} s"
    assert len(attack.text) < 1_000_000 and len(attack.done.stdout) < 1_000_000


@pytest.mark.parametrize("mode", MODES)
def test_values_that_lie_about_themselves_fail_clearly(tmp_path, schema, mode):
    attack = Attack("untrusted_values", tmp_path, mode)
    assert_contained(attack, {"softmax", "sigmoid", "sigmoid_grad", "forward_backward_prop"}, schema)
    assert "Anything, not numbers" in attack.outputs("softmax")          # __eq__ always True
    assert "got 0, expected" in attack.outputs("sigmoid")  # ndarray subclass: only its data (zeros) crosses
    assert "non-finite" in attack.outputs("sigmoid_grad")                 # NaN everywhere
    assert "dtype <U3" in attack.outputs("forward_backward_prop")         # non-numeric dtype
    assert "unpickled in the grader" not in attack.done.stdout + attack.done.stderr


@pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap is not available")
def test_an_oversized_array_is_refused_as_too_large(tmp_path, schema):
    folder = tmp_path / "huge"
    shutil.copytree(FIXTURES / "modules_correct", folder)
    (folder / "q2_sigmoid.py").write_text(
        "import numpy as np\n\n"
        "def sigmoid(x):\n    return np.zeros(100 * 1024 * 1024)  # 800 MiB\n\n"
        "def sigmoid_grad(s):\n    return s * (1.0 - s)\n")
    out = tmp_path / "r.json"
    done = run_cli("run", str(folder), "--json", str(out), "--sandbox", "bubblewrap")
    assert done.returncode == 1, done.stderr
    report = json.loads(out.read_text())
    assert report["problems"]["sigmoid"]["score"] == 0
    assert report["problems"]["softmax"]["score"] == report["problems"]["softmax"]["max_score"]
    assert "too large" in " ".join(t["output"] for t in report["tests"] if t["tags"] == ["sigmoid"])


def test_an_infinite_loop_ignoring_sigterm_is_stopped(tmp_path, schema):
    mode = "bubblewrap" if HAVE_BWRAP else "process"
    attack = Attack("sigterm_loop", tmp_path, mode)
    assert_contained(attack, {"sigmoid"}, schema)
    assert "time limit" in attack.outputs("sigmoid")
    assert attack.seconds < 60


def _assignment_copy(tmp_path: Path, **limits: float) -> Path:
    """nn_basics with some [limits] changed (and the sigmoid's call limit raised, so that the
    CPU limit, not the wall-clock deadline, is what stops a busy loop)."""
    source = ROOT / "assignments" / "nn_basics"
    folder = tmp_path / "nn_limits"
    shutil.copytree(source, folder)
    toml = folder / "assignment.toml"
    lines = toml.read_text().splitlines()
    data = tomllib.loads(toml.read_text())
    out, in_sigmoid = [], False
    for line in lines:
        key = line.split("=")[0].strip()
        if key in limits:
            line = f"{key} = {limits[key]}"
        if line.startswith("id = "):
            in_sigmoid = line.strip() == 'id = "sigmoid"'
        if in_sigmoid and key == "call_seconds" and "sigmoid_call_seconds" in limits:
            line = f"call_seconds = {limits['sigmoid_call_seconds']}"
        out.append(line)
        if line.startswith("sandbox_functions") and "reference" not in data:
            out.append(f'reference = "{ROOT / "reference_solutions" / "nn_basics"}"')
    toml.write_text("\n".join(out) + "\n")
    tomllib.loads(toml.read_text())
    return folder


@pytest.mark.parametrize("mode", MODES)
def test_cpu_hog_ignoring_sigxcpu_is_reported_as_the_cpu_limit(tmp_path, schema, mode):
    assignment = _assignment_copy(tmp_path, cpu_seconds=2, sigmoid_call_seconds=30)
    attack = Attack("cpu_hog", tmp_path, mode, "--assignment", str(assignment))
    assert_contained(attack, {"sigmoid"}, schema)
    assert "CPU time limit of 2 s exceeded" in attack.outputs("sigmoid")


def test_whole_submission_budget_ends_grading(tmp_path):
    mode = "bubblewrap" if HAVE_BWRAP else "process"
    assignment = _assignment_copy(tmp_path, submission_seconds=3)
    started = time.monotonic()
    attack = Attack("sigterm_loop", tmp_path, mode, "--assignment", str(assignment))
    assert time.monotonic() - started < 30
    assert "time budget of 3 s was used up" in attack.text


# ---------------------------------------------------------------- attacks only bubblewrap stops

needs_bwrap = pytest.mark.skipif(not HAVE_BWRAP, reason="only bubblewrap stops this attack")


@needs_bwrap
def test_results_files_cannot_be_overwritten(tmp_path, schema):
    attack = Attack("overwrite_results", tmp_path, "bubblewrap")
    assert_contained(attack, {"softmax"}, schema)
    assert "earlier report" in attack.sentinel.read_text()


def test_results_report_stays_intact_in_process_mode(tmp_path, schema):
    # Process mode cannot protect files already on disk (SECURITY.md), but the report is
    # written after the worker and all it started are dead.
    attack = Attack("overwrite_results", tmp_path, "process")
    assert_contained(attack, {"softmax"}, schema)


@needs_bwrap
def test_reference_and_hidden_checks_are_out_of_reach(tmp_path, schema):
    attack = Attack("borrow_reference", tmp_path, "bubblewrap")
    assert_contained(attack, {"forward_backward_prop"}, schema)
    assert "BORROWED" not in attack.text and "HIDDEN CHECKS" not in attack.text
    check_source = (ROOT / "assignments" / "nn_basics" / "checks")
    for path in check_source.glob("test_*.py"):
        first_def = next(line for line in path.read_text().splitlines() if line.startswith("def test_"))
        assert first_def not in attack.text


@needs_bwrap
def test_no_network_not_even_loopback(tmp_path, schema):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                connections.append(conn.recv(100))
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        attack = Attack("network", tmp_path, "bubblewrap", port=port)
    finally:
        stop.set()
        thread.join(2)
        listener.close()
    assert_contained(attack, {"softmax"}, schema)
    assert connections == []


@needs_bwrap
def test_nothing_is_written_outside_the_private_copy(tmp_path, schema):
    import numpy as np

    attack = Attack("scribble", tmp_path, "bubblewrap")
    assert_contained(attack, {"softmax"}, schema)
    site = os.path.dirname(os.path.dirname(np.__file__))
    places = ["/", "/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), "/work", "/work/main",
              "/usr/local/lib", site, os.path.dirname(sys.executable), sys.prefix, sys.base_prefix,
              str(attack.folder.parent), str(attack.folder), "/etc", str(ROOT)]
    written = [p for p in places if os.path.exists(os.path.join(p, f"scribble-{attack.token}.txt"))]
    for path in written:  # never leave them behind, even when the test fails
        os.unlink(os.path.join(path, f"scribble-{attack.token}.txt"))
    assert written == []
    assert "# tampered" not in (ROOT / "grader" / "worker.py").read_text()


# ---------------------------------------------------------------- CI really sandboxes

@pytest.mark.skipif(os.environ.get("CI") != "true", reason="only on CI (CI=true)")
def test_ci_grades_under_bubblewrap(tmp_path):
    out = tmp_path / "r.json"
    done = run_cli("run", str(FIXTURES / "modules_correct"), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["grader"]["sandbox"] == "bubblewrap", done.stderr
