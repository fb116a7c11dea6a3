"""``grader batch`` end to end, through the real CLI, on a generated class of 60 submissions.

The class mixes correct submissions in every container (folder, nested folder, .zip, single .py,
.ipynb), realistic bugs (small mutations of a correct solution), broken ones (syntax errors,
Python 2, nothing implemented, unreadable) and hostile ones (os._exit, an endless loop, a memory
hog, stray processes, patching numpy, writing outside its folder). The expected numbers come
from grading one copy of each kind with ``grader run`` (the single-submission path), and every
other copy differs only by a comment, so it must score the same.

The batch is killed with SIGKILL midway and resumed: nothing finished may be graded twice, and
nothing may be lost.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import nbformat
import pytest

from conftest import FIXTURES, ROOT, run_cli

CORRECT = FIXTURES / "modules_correct"
BUGGY = ROOT / "examples" / "nn_basics" / "buggy"
MODULES = ["q1_softmax.py", "q2_sigmoid.py", "q2_gradcheck.py", "q2_neural.py"]
STRAY_SLEEP = "7345.25"   # the argument of the hostile submission's stray processes


# ------------------------------------------------------------------ building the class

def _modules(**replace: tuple[str, str]) -> dict[str, str]:
    """The correct modules, with (file stem -> (old, new)) text mutations applied."""
    files = {name: (CORRECT / name).read_text() for name in MODULES}
    for stem, (old, new) in replace.items():
        name = stem + ".py"
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new)
    return files


def _write_folder(target: Path, files: dict[str, str]) -> Path:
    target.mkdir(parents=True)
    for name, text in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    return target


def _flat(files: dict[str, str]) -> str:
    """All modules in one file, without their imports of each other."""
    text = "\n\n".join(files[name] for name in MODULES)
    return re.sub(r"^from q\d_\w+ import .*$", "", text, flags=re.M)


def _notebook(files: dict[str, str]) -> str:
    cells = [nbformat.v4.new_markdown_cell("# Assignment 1")]
    for name in MODULES:
        code = re.sub(r"^from q\d_\w+ import .*$", "", files[name], flags=re.M)
        cells.append(nbformat.v4.new_code_cell(code))
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


EPSILON = ("x = x / np.sum(x, axis=1, keepdims=True)", "x = x / (np.sum(x, axis=1, keepdims=True) + 1e-8)")
NO_MAX = ("x = x - np.max(x, axis=1, keepdims=True)", "pass")
GRAD_OF_X = ("ds = s * (1.0 - s)", "ds = (1.0 / (1.0 + np.exp(-s))) * (1.0 - 1.0 / (1.0 + np.exp(-s)))")
HOSTILE_STRAYS = f"""
import subprocess
for _ in range(20):
    try:
        subprocess.Popen(["sleep", "{STRAY_SLEEP}"])
    except OSError:
        break
"""
HOSTILE_TAMPER = """
import os
for target in ["/tmp/grader-forged-by-student.json", os.path.expanduser("~/grader-forged-by-student.json"),
               "../../grader-forged-by-student.json"]:
    try:
        with open(target, "w") as handle:
            handle.write('{"score": 1000}')
    except OSError:
        pass
try:
    leaked = open("/work/main/reference_solutions/nn_basics/q1_softmax.py").read()
except OSError:
    leaked = None
"""
HOSTILE_PATCH = """
import numpy as np
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.isclose = lambda a, b, *args, **k: np.ones(np.shape(a), dtype=bool)
"""


def _kinds() -> list[tuple[str, int, object]]:
    """(kind, copies, builder(target_without_suffix, salt) -> path)."""
    def folder(files_fn):
        def build(target: Path, salt: str) -> Path:
            files = files_fn()
            files["q2_neural.py"] += f"\n# {salt}\n"
            return _write_folder(target, files)
        return build

    def copy_fixture(source: Path, comment_in: str):
        def build(target: Path, salt: str) -> Path:
            shutil.copytree(source, target)
            with open(target / comment_in, "a") as handle:
                handle.write(f"\n# {salt}\n")
            return target
        return build

    def zipped(target: Path, salt: str) -> Path:
        path = target.with_suffix(".zip")
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in _modules().items():
                archive.writestr(f"assignment1/{name}", text + f"\n# {salt}\n")
            archive.writestr("__MACOSX/assignment1/._q1_softmax.py", b"\x00\x05\x16\x07junk")
        return path

    def single_py(target: Path, salt: str) -> Path:
        path = target.with_suffix(".py")
        path.write_text(_flat(_modules()) + f"\n# {salt}\n")
        return path

    def notebook(target: Path, salt: str) -> Path:
        path = target.with_suffix(".ipynb")
        files = _modules()
        files["q2_neural.py"] += f"\n# {salt}\n"
        path.write_text(_notebook(files))
        return path

    def garbage_zip(target: Path, salt: str) -> Path:
        path = target.with_suffix(".zip")
        path.write_bytes(b"this is not a zip file " + salt.encode())
        return path

    def empty_folder(target: Path, salt: str) -> Path:
        target.mkdir()
        (target / "README.txt").write_text(f"I could not do it {salt}\n")
        return target

    def hostile(prefix_stem: str, code: str, **mutations):
        def build(target: Path, salt: str) -> Path:
            files = _modules(**mutations)
            files[prefix_stem + ".py"] = code + "\n" + files[prefix_stem + ".py"] + f"\n# {salt}\n"
            return _write_folder(target, files)
        return build

    return [
        ("correct", 11, folder(_modules)),
        ("correct_zip", 4, zipped),
        ("correct_nested", 3, copy_fixture(FIXTURES / "nested_folder", "assignment1/q2_neural.py")),
        ("correct_notebook", 3, notebook),
        ("correct_single_py", 3, single_py),
        ("buggy_example", 4, copy_fixture(BUGGY, "q2_neural.py")),
        ("epsilon_softmax", 5, folder(lambda: _modules(q1_softmax=EPSILON))),
        ("no_max_softmax", 3, folder(lambda: _modules(q1_softmax=NO_MAX))),
        ("sigmoid_grad_of_x", 3, folder(lambda: _modules(q2_sigmoid=GRAD_OF_X))),
        ("gradcheck_no_setstate", 3, folder(lambda: {
            **_modules(), "q2_gradcheck.py": (BUGGY / "q2_gradcheck.py").read_text()})),
        ("mean_cost", 2, copy_fixture(FIXTURES / "mean_cost", "q2_neural.py")),
        ("syntax_error", 2, copy_fixture(FIXTURES / "syntax_error_softmax", "q2_neural.py")),
        ("python2", 2, copy_fixture(FIXTURES / "python2_print", "q2_neural.py")),
        ("nothing_done", 2, copy_fixture(FIXTURES / "all_wrong", "q1_softmax.py")),
        ("input_at_import", 1, copy_fixture(FIXTURES / "input_at_import", "q2_neural.py")),
        ("sys_exit_at_import", 1, copy_fixture(FIXTURES / "sys_exit_at_import", "q2_neural.py")),
        ("hostile_os_exit", 1, copy_fixture(FIXTURES / "os_exit_softmax", "q2_neural.py")),
        ("hostile_endless_loop", 1, copy_fixture(FIXTURES / "infinite_loop_sigmoid", "q2_neural.py")),
        ("hostile_memory", 1, folder(lambda: _modules(
            q2_sigmoid=("s = 1.0 / (1.0 + np.exp(-x))", "s = np.ones(10**10) if True else None")))),
        ("hostile_strays", 1, hostile("q1_softmax", HOSTILE_STRAYS)),
        ("hostile_tamper", 1, hostile("q1_softmax", HOSTILE_TAMPER)),
        ("hostile_patch_numpy", 1, hostile("q1_softmax", HOSTILE_PATCH, q1_softmax=EPSILON)),
        ("unreadable_zip", 1, garbage_zip),
        ("no_code", 1, empty_folder),
    ]


def build_class(folder: Path) -> dict[str, str]:
    """Write the 60 submissions; return student id -> kind."""
    folder.mkdir(parents=True)
    kinds = {}
    number = 0
    for kind, copies, build in _kinds():
        for copy in range(copies):
            number += 1
            student = f"s{number:02d}_{kind}"
            build(folder / student, f"student {student} copy {copy}")
            kinds[student] = kind
    (folder / "notes.txt").write_text("not a submission\n")
    return kinds


def expected_by_kind(class_dir: Path, kinds: dict[str, str], tmp: Path) -> dict[str, dict]:
    """Grade the first copy of each kind with ``grader run``: its problems' scores, or None for
    a submission that cannot be read (exit 2)."""
    firsts = {}
    for student, kind in sorted(kinds.items()):
        firsts.setdefault(kind, student)

    def one(kind: str) -> tuple[str, dict | None]:
        student = firsts[kind]
        path = next(p for p in class_dir.iterdir() if p.name.split(".")[0] == student)
        out = tmp / f"expected-{kind}.json"
        done = run_cli("run", str(path), "--assignment", "nn_basics", "--json", str(out), "--quiet")
        if done.returncode == 2:
            return kind, None
        assert done.returncode in (0, 1), done.stderr
        report = json.loads(out.read_text())
        return kind, {pid: p["score"] for pid, p in report["problems"].items()}

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, sorted(firsts)))


def strays() -> int:
    done = subprocess.run(["pgrep", "-f", f"sleep {STRAY_SLEEP}"], capture_output=True, text=True)
    return len(done.stdout.split())


def run_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


# ------------------------------------------------------------------ the batch, killed and resumed

@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The 60 graded by ``grader batch``, killed with SIGKILL after some, then resumed."""
    base = tmp_path_factory.mktemp("class")
    class_dir, out = base / "submissions", base / "results"
    kinds = build_class(class_dir)
    assert len(kinds) == 60
    expected = expected_by_kind(class_dir, kinds, base)
    db = out / "gradebook.sqlite"

    started = time.monotonic()
    first = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(class_dir), "--assignment",
                              "nn_basics", "--out", str(out), "--jobs", "2"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while run_count(db) < 20 and first.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.05)
    assert first.poll() is None, f"the batch ended before it could be killed: {first.communicate()}"
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    killed_at = time.monotonic() - started
    time.sleep(0.5)
    finished_before = run_count(db)
    assert 20 <= finished_before < 60

    resumed = run_cli("batch", str(class_dir), "--assignment", "nn_basics", "--out", str(out), "--jobs", "2")
    total = time.monotonic() - started
    assert resumed.returncode == 0, resumed.stderr
    print(f"\n60 submissions: killed after {killed_at:.1f} s with {finished_before} recorded; "
          f"all done after {total:.1f} s in all ({total / 60:.2f} s per submission)\n{resumed.stdout}")
    return {"kinds": kinds, "expected": expected, "out": out, "class_dir": class_dir, "db": db,
            "finished_before": finished_before, "resumed": resumed, "changed": set()}


def test_resume_grades_only_what_was_missing(graded_class):
    before = graded_class["finished_before"]
    resumed = graded_class["resumed"]
    assert f"60 students in" in resumed.stderr
    assert f"{60 - before} to grade, {before} unchanged" in resumed.stderr, resumed.stderr
    with sqlite3.connect(graded_class["db"]) as connection:
        per_student = dict(connection.execute("SELECT student, COUNT(*) FROM runs GROUP BY student"))
        batches = connection.execute("SELECT id, finished_at FROM batches ORDER BY id").fetchall()
    assert sorted(per_student) == sorted(graded_class["kinds"])
    assert set(per_student.values()) == {1}, "a submission finished before the kill was graded again"
    assert batches[0][1] is None and batches[1][1] is not None   # the killed batch never finished
    out = graded_class["out"]
    leftovers = [p for p in out.rglob(".grader-*.part")]
    assert leftovers == []


def test_a_third_run_grades_nothing_and_a_changed_submission_is_regraded(graded_class, tmp_path):
    out, class_dir = graded_class["out"], graded_class["class_dir"]
    again = run_cli("batch", str(class_dir), "--assignment", "nn_basics", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "0 to grade, 60 unchanged" in again.stderr
    assert "0 graded now" in again.stdout
    # A student fixes their epsilon bug: only they are regraded, and history says why.
    student = next(s for s, k in sorted(graded_class["kinds"].items()) if k == "epsilon_softmax")
    graded_class["changed"].add(student)
    softmax = class_dir / student / "q1_softmax.py"
    softmax.write_text(softmax.read_text().replace(*reversed(EPSILON)))
    fixed = run_cli("batch", str(class_dir), "--assignment", "nn_basics", "--out", str(out))
    assert "1 to grade, 59 unchanged" in fixed.stderr, fixed.stderr
    grades = {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert float(grades[student]["softmax"]) == graded_class["expected"]["correct"]["softmax"]
    history = run_cli("history", str(out), student)
    assert history.returncode == 0, history.stderr
    assert "2 runs" in history.stdout
    assert "cause: the submission changed" in history.stdout
    assert re.search(r"problem softmax: [\d.]+ -> [\d.]+", history.stdout), history.stdout
    assert re.search(r"check '.*': failed [\d.]+ -> passed", history.stdout), history.stdout
    unknown = run_cli("history", str(out), "nobody")
    assert unknown.returncode == 2


def test_every_student_has_the_numbers_grader_run_gives(graded_class, schema):
    kinds, expected, out = graded_class["kinds"], graded_class["expected"], graded_class["out"]
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert sorted(rows) == sorted(kinds)            # notes.txt is not a student
    problems = list(next(iter(v for v in expected.values() if v)).keys())
    assert list(next(iter(rows.values())).keys()) == ["student", "total", *problems, "status"]
    for student, kind in kinds.items():
        if student in graded_class["changed"]:
            kind = "correct"      # fixed by test_a_third_run_...
        row, want = rows[student], expected[kind]
        folder = out / "students" / student
        assert (folder / "feedback.md").is_file() and (folder / "feedback.html").is_file()
        if want is None:
            assert row["status"] == "unreadable", (student, row)
            assert float(row["total"]) == 0
            assert not (folder / "report.json").exists()
            continue
        got = {p: float(row[p]) for p in problems}
        assert got == pytest.approx(want), (student, kind, got, want)
        report = json.loads((folder / "report.json").read_text())
        jsonschema.validate(report, schema)
        assert {p: v["score"] for p, v in report["problems"].items()} == pytest.approx(want)
        assert float(row["total"]) == pytest.approx(report["score"])
        assert row["status"] == ("full marks" if report["score"] == report["max_score"] else "points lost")
        assert f"{report['score']:g} / {report['max_score']:g}" in (folder / "feedback.md").read_text().replace("**", "")
    correct = expected["correct"]
    for kind in ("correct_zip", "correct_nested", "correct_notebook", "correct_single_py", "mean_cost",
                 "input_at_import", "sys_exit_at_import", "hostile_tamper", "hostile_strays"):
        assert expected[kind] == correct, kind
    assert expected["epsilon_softmax"]["softmax"] < correct["softmax"]
    assert expected["hostile_patch_numpy"]["softmax"] < correct["softmax"]   # patching numpy gains nothing
    assert expected["hostile_memory"]["sigmoid"] < correct["sigmoid"]
    assert expected["hostile_endless_loop"]["sigmoid"] < correct["sigmoid"]
    assert expected["gradcheck_no_setstate"]["gradcheck_naive"] < correct["gradcheck_naive"]
    assert strays() == 0, "a submission's processes outlived its grading"
    tamper = next(s for s, k in kinds.items() if k == "hostile_tamper")
    report = json.loads((out / "students" / tamper / "report.json").read_text())
    if report["grader"]["sandbox"] == "bubblewrap":
        assert not Path("/tmp/grader-forged-by-student.json").exists()
        assert not (ROOT.parent / "grader-forged-by-student.json").exists()


def test_gradebook_holds_every_run_with_its_tests(graded_class):
    with sqlite3.connect(graded_class["db"]) as connection:
        runs = connection.execute(
            "SELECT id, student, content_sha256, assignment_version, grader_version, status, score,"
            " report_json FROM runs").fetchall()
        for run_id, student, sha, version, grader_version, status, score, report_json in runs:
            assert len(sha) == 64 and version and grader_version
            if status != "graded":
                continue
            report = json.loads(report_json)
            tests = connection.execute("SELECT name, problem, score, status FROM test_results WHERE run_id = ?"
                                       " ORDER BY position", (run_id,)).fetchall()
            assert [(t["name"], t["tags"][0], t["score"], t["status"]) for t in report["tests"]] == tests
            assert sum(t[2] for t in tests) == pytest.approx(score)


def test_canvas_gradebook_csv(graded_class):
    text = (graded_class["out"] / "canvas_gradebook.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5].endswith("(nn_basics)")
    assert rows[1][0].strip() == "Points Possible"
    grades = {row["student"]: row["total"] if row["status"] in ("full marks", "points lost") else ""
              for row in csv.DictReader(io.StringIO((graded_class["out"] / "grades.csv").read_text()))}
    assert {row[2]: row[5] for row in rows[2:]} == grades
    assert "" in grades.values()   # not graded: no grade for Canvas, never a 0


def test_class_report_numbers(graded_class):
    """report.html against the reports themselves: statistics and pass rates over the graded,
    the roster complete, diagnoses from the mutant-proven phrases (each student once per bug),
    what the grader observed (time limits, killed workers), the not graded with no path."""
    import statistics

    from test_classreport import tables

    out, kinds = graded_class["out"], graded_class["kinds"]
    page = (out / "report.html").read_text()
    found = tables(page)
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    graded = [r for r in rows if r["status"] in ("full marks", "points lost")]
    reports = {s: json.loads((out / "students" / s / "report.json").read_text())
               for s in kinds if (out / "students" / s / "report.json").exists()}
    stats = dict(found["stats"])
    assert stats["students"] == "60" and stats["graded"] == str(len(graded)) and len(graded) < 60
    assert stats["mean"] == f"{statistics.fmean(float(r['total']) for r in graded):.2f}"
    assert f"over the {len(graded)} graded students" in page
    for problem, full_pct, _, lost, diagnosed, unexplained in found["pass-rates"][1:]:
        assert int(lost) == sum(1 for r in reports.values()
                                if r["problems"][problem]["score"] < r["problems"][problem]["max_score"])
        assert int(diagnosed) + int(unexplained) == int(lost)
        full = sum(1 for r in reports.values() if r["problems"][problem]["score"] == r["problems"][problem]["max_score"])
        assert int(full_pct.rstrip("%")) == round(100 * full / len(graded)), problem
    assert sorted(r[0] for r in found["roster"][1:]) == sorted(kinds)
    # diagnoses: one row per bug, each student once, and the students with that bug are in it
    bugs = {(row[1], row[2]): (int(row[0]), row[3]) for row in found["bugs"][1:]}
    who = lambda kind: {s for s, k in kinds.items() if k == kind}  # noqa: E731
    expect = {("softmax", "adds 1e-8 to the denominator"): who("epsilon_softmax") | who("buggy_example"),
              ("sigmoid_grad", "treats its argument as x"): who("sigmoid_grad_of_x"),
              ("gradcheck_naive", "never resets the random state"): who("gradcheck_no_setstate") | who("buggy_example")}
    for (problem, start), students in expect.items():
        (count, shown), = [v for (p, d), v in bugs.items() if p == problem and d.startswith(start)]
        assert count >= len(students), (problem, start, count)
        assert all(s in shown for s in sorted(students)[:8]) or count > 8
    correct = who("correct") | who("correct_zip") | who("correct_notebook")
    assert not any(s in row[3].split(", ") for row in found["bugs"][1:] for s in correct)
    assert len({(p, d) for p, d in bugs}) == len(found["bugs"]) - 1       # never the same bug twice
    # what the grader observed
    loops = [count for (problem, d), (count, _) in bugs.items() if problem == "sigmoid" and "time limit" in d]
    assert loops == [len(who("hostile_endless_loop"))]
    exits = [count for (problem, d), (count, _) in bugs.items()
             if problem == "softmax" and "exited the worker process" in d]
    assert exits and exits[0] >= len(who("hostile_os_exit"))
    # the slowest (or, as its process's first, flagged warm-up): the endless loop
    slowest = re.search(r'<h2>Slowest submissions</h2>(.*?)</table>', page, re.S).group(1)
    assert "hostile_endless_loop" in slowest
    # not graded: the unreadable ones, with the reason, no path
    not_graded = {row[0]: row[2] for row in found["not-graded"][1:]}
    assert {"unreadable_zip", "no_code"} <= {kinds[s] for s in not_graded}
    assert str(graded_class["class_dir"]) not in page and str(out) not in page
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == 2
    checks = found["checks"][1:]
    assert len(checks) == len(next(iter(reports.values()))["tests"])
    for failed, of, problem, name in checks:
        assert int(of) == len(graded)
        assert int(failed) == sum(1 for r in reports.values() for t in r["tests"]
                                  if t["name"] == name and t["status"] != "passed"), name


def test_feedback_html_escapes_student_text(graded_class):
    out = graded_class["out"]
    student = next(s for s, k in graded_class["kinds"].items() if k == "buggy_example")
    page = (out / "students" / student / "feedback.html").read_text()
    report = json.loads((out / "students" / student / "report.json").read_text())
    assert "Where points were lost" in page
    lost = next(t for t in report["tests"] if t["status"] != "passed")
    title = lost["name"].split(": ", 1)[1]      # under its problem's heading, without the prefix
    assert title.replace("'", "&#39;") in page or title in page


# ------------------------------------------------------------------ Chromium

def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(graded_class, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required under CI (see .ci/run)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI installs it")
    page = graded_class["out"] / "report.html"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1600"]
    dom = subprocess.run([*flags, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    images = re.findall(r"<img [^>]*>", dom.stdout)
    assert len(images) == 2 and all("data:image/png;base64," in i for i in images)
    shot = tmp_path / "report.png"
    done = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    from matplotlib import image as mpimg

    pixels = mpimg.imread(str(shot))
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 900
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"
    # the plots are drawn: the histogram's blue (#3b6ea8) and the pass-rate green (#1a7f37) show
    rgb = (pixels[..., :3] * 255).round()
    for color in ((0x3B, 0x6E, 0xA8), (0x1A, 0x7F, 0x37)):
        assert (abs(rgb - color).sum(axis=-1) < 12).sum() > 200, f"no pixels of colour {color}"


# ------------------------------------------------------------------ Dask

def test_dask_executor_gives_the_same_grades(graded_class, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    kinds = graded_class["kinds"]
    chosen = []
    for kind in ("correct", "correct_zip", "correct_notebook", "buggy_example", "python2",
                 "unreadable_zip", "hostile_patch_numpy"):
        chosen.append(next(s for s, k in sorted(kinds.items()) if k == kind))
    class_dir = tmp_path / "subset"
    class_dir.mkdir()
    for path in graded_class["class_dir"].iterdir():
        if path.name.split(".")[0] in chosen:
            (shutil.copytree if path.is_dir() else shutil.copyfile)(path, class_dir / path.name)

    out_local, out_dask = tmp_path / "local", tmp_path / "dask"
    local = run_cli("batch", str(class_dir), "--assignment", "nn_basics", "--out", str(out_local), "--jobs", "2")
    assert local.returncode == 0, local.stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        started = time.monotonic()
        remote = run_cli("batch", str(class_dir), "--assignment", "nn_basics", "--out", str(out_dask),
                         "--executor", "dask", "--scheduler", cluster.scheduler_address)
        print(f"\ndask: {len(chosen)} submissions in {time.monotonic() - started:.1f} s\n{remote.stdout}")
    assert remote.returncode == 0, remote.stderr
    assert (out_local / "grades.csv").read_text() == (out_dask / "grades.csv").read_text()
    for student in chosen:
        local_report = out_local / "students" / student / "report.json"
        dask_report = out_dask / "students" / student / "report.json"
        assert local_report.exists() == dask_report.exists()
        if local_report.exists():
            a, b = json.loads(local_report.read_text()), json.loads(dask_report.read_text())
            a.pop("execution_time"), b.pop("execution_time")
            assert a == b, student
    with sqlite3.connect(out_dask / "gradebook.sqlite") as connection:
        workers = {row[0] for row in connection.execute("SELECT worker FROM runs")}
    assert all(w.startswith("dask:") for w in workers), workers


def test_dask_without_scheduler_is_a_bad_request(tmp_path):
    done = run_cli("batch", str(tmp_path), "--out", str(tmp_path / "o"), "--executor", "dask")
    assert done.returncode == 2 and "--scheduler" in done.stderr


# ------------------------------------------------------------------ a small class: summary, arguments

@pytest.fixture
def small_class(tmp_path) -> Path:
    """Four students: correct, buggy, unreadable, a syntax error."""
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copytree(CORRECT, subs / "alice")
    shutil.copytree(BUGGY, subs / "bob")
    (subs / "carol.zip").write_bytes(b"PK\x03\x04 not a zip")
    shutil.copytree(FIXTURES / "syntax_error_softmax", subs / "dan")
    return subs


def _summary(stdout: str) -> tuple[int, int, int, int]:
    found = re.search(r"^(\d+) students: (\d+) graded now, (\d+) unchanged, (\d+) not graded", stdout, re.M)
    assert found, stdout
    return tuple(int(n) for n in found.groups())


def test_the_summary_adds_up_to_the_class(small_class, tmp_path):
    out = tmp_path / "out"
    first = run_cli("batch", str(small_class), "--assignment", "nn_basics", "--out", str(out), "--jobs", "2")
    assert first.returncode == 0, first.stderr
    assert _summary(first.stdout) == (4, 3, 0, 1)
    assert "1 not graded (1 unreadable)" in first.stdout
    lines = [line for line in first.stderr.splitlines() if re.match(r"\[\d/4\] ", line)]
    assert len(lines) == 4, first.stderr            # not a terminal: one line per submission
    bob = small_class / "bob" / "q1_softmax.py"
    bob.write_text(bob.read_text() + "\n# fixed, maybe\n")
    second = run_cli("batch", str(small_class), "--assignment", "nn_basics", "--out", str(out))
    assert _summary(second.stdout) == (4, 1, 3, 0)
    students, graded, unchanged, not_graded = _summary(second.stdout)
    assert graded + unchanged + not_graded == students


def test_the_progress_bar_on_a_terminal(small_class, tmp_path):
    """On a terminal the bar is tqdm's: done of total, and no student's name or text."""
    import pty

    (small_class / "\x1b[2Jevil").mkdir()
    shutil.copytree(CORRECT, small_class / "\x1b[2Jevil", dirs_exist_ok=True)
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(small_class), "--assignment", "nn_basics",
                           "--out", str(tmp_path / "out"), "--jobs", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=follower, stdin=subprocess.DEVNULL, text=True, timeout=300)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert done.returncode == 0, shown.decode(errors="replace")
    text = shown.decode("utf-8", "replace")
    assert "5/5" in text and "failures 1" in text and "submission/s" in text, text
    assert "\x1b[2J" not in text


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "grader: --jobs must be at least 1, not 0"),
    (["--jobs", "-2"], "grader: --jobs must be at least 1, not -2"),
])
def test_bad_batch_arguments_are_one_line_and_exit_2(small_class, tmp_path, args, message):
    done = run_cli("batch", str(small_class), "--assignment", "nn_basics", "--out", str(tmp_path / "o"), *args)
    assert done.returncode == 2 and done.stderr.strip() == message, done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("score", ["-1", "56", "1e9"])
def test_min_score_outside_the_points_is_a_bad_request(score, tmp_path):
    done = run_cli("run", str(CORRECT), "--assignment", "nn_basics", f"--min-score={score}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"grader: --min-score must be between 0 and nn_basics's 55 points, not {float(score):g}"]


def test_min_score_within_the_points_is_taken(tmp_path):
    done = run_cli("run", str(BUGGY), "--assignment", "nn_basics", "--min-score=50", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr


def test_outputs_follow_the_umask(small_class, tmp_path):
    """Files are created as any tool creates them: 0666 less the process's umask (0027 here)."""
    import stat

    out = tmp_path / "out"
    done = subprocess.run(["sh", "-c", 'umask 027; exec "$0" -m grader batch "$1" --assignment nn_basics --out "$2"',
                           sys.executable, str(small_class), str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    files = [out / "report.html", out / "grades.csv", out / "canvas_gradebook.csv",
             *(out / "students" / "alice").iterdir(), *(out / "students" / "carol").iterdir()]
    assert {oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {oct(0o640)}
