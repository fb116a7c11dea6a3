"""Issue 12, through the real CLI: what a hostile submission prints, raises and names must not
steer a terminal, a CI runner, a Markdown summary, a web page, a spreadsheet or the class
report; output paths that are devices, pipes or folders are handled as such.

One regression test per finding; each was seen failing on the code before the fix (see the
commit that added this file)."""

from __future__ import annotations

import csv
import html.parser
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, run_cli

ESC, BEL, CSI = "\x1b", "\x07", "\x9b"

# A softmax module that plants everything at once: at import (a load error) and in every call
# (printed output and the exception's text): escape sequences (window title, clear screen,
# cursor moves), indented GitHub workflow commands, a Markdown heading after a carriage return,
# an external image, HTML, a hint line, a spreadsheet formula.
ATTACK = r'''
import numpy as np

PLANT = ("\x1b]0;pwned title\x07\x1b[2J\x1b[1;1H\x9b31m"
         "\n  ::error file=q1_softmax.py,line=1::planted command"
         "\n##[error]planted azure command"
         "\r## planted heading: 55 / 55 points"
         "\n![tracker](https://evil.invalid/pixel.png) <img src=https://evil.invalid/x.png>"
         "\n<script>alert('planted')</script>"
         "\nhint: PLANTED DIAGNOSIS"
         "\n=HYPERLINK(\"https://evil.invalid\")")


def softmax(x):
    print(PLANT)
    raise ValueError(PLANT)


raise RuntimeError(PLANT)
'''


def attack_folder(where: Path) -> Path:
    folder = where / "attacker"
    shutil.copytree(FIXTURES / "modules_correct", folder)
    (folder / "q1_softmax.py").write_text(ATTACK)
    return folder


def no_control(text: str) -> None:
    for bad in (ESC, BEL, CSI, "\r"):
        assert bad not in text, f"{bad!r} reached the output: ...{text[max(0, text.find(bad) - 60):text.find(bad) + 60]!r}"


# ------------------------------------------------------------------ finding 1: output targets

def test_dev_null_stays_a_device_in_a_private_dev(tmp_path):
    """--json/--junit/--markdown and gradescope-bundle -o at /dev/null (as root) write into the
    device, never rename a regular file over it. Run in a throwaway mount namespace whose /dev
    is a private devtmpfs, so the host's /dev/null is never at risk."""
    if not shutil.which("bwrap"):
        pytest.skip("needs bubblewrap for a private /dev")
    script = (f"cd {ROOT} && {sys.executable} -m grader run {FIXTURES / 'modules_correct'} --sandbox process "
              "--json /dev/null --junit /dev/null --markdown /dev/null >/dev/stderr; echo run=$?; "
              f"{sys.executable} -m grader gradescope-bundle nn_basics -o /dev/null >/dev/stderr; echo bundle=$?; "
              "stat -c %F /dev/null")
    # a private /tmp too, but the checkout and its venv stay visible when they live under /tmp
    keep = [arg for path in sorted({str(ROOT), sys.prefix}) if path.startswith("/tmp/")
            for arg in ("--bind", path, path)]
    done = subprocess.run(["bwrap", "--dev-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/tmp", *keep,
                           "--die-with-parent", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["run=0", "bundle=0", "character", "special", "file"], done.stdout + done.stderr


def test_fifo_target_is_written_as_a_stream(tmp_path):
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = run_cli("run", str(FIXTURES / "modules_correct"), "--json", str(fifo))
    reader.join(60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(received[0])["score"] == 55
    assert sorted(os.listdir(tmp_path)) == ["report.pipe"]


@pytest.mark.parametrize("option", ["--json", "--junit", "--markdown", "gradescope"])
def test_folder_target_is_one_line_and_exit_2(tmp_path, option):
    target = tmp_path / "out"
    target.mkdir()
    if option == "gradescope":
        done = run_cli("gradescope-bundle", "nn_basics", "-o", str(target))
    else:
        done = run_cli("run", str(FIXTURES / "modules_correct"), option, str(target))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "folder" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert list(target.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ------------------------------------------------------------------ findings 2, 3, 4: run

@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """One grading of the attacking submission under GitHub Actions, with every output."""
    base = tmp_path_factory.mktemp("attack")
    folder = attack_folder(base)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(base), "GITHUB_STEP_SUMMARY": ""}
    done = run_cli("run", str(folder), "--json", str(base / "r.json"), "--junit", str(base / "r.xml"),
                   "--markdown", str(base / "r.md"), env=env)
    assert done.returncode == 1, done.stderr
    plain = run_cli("run", str(folder), env={"GITHUB_ACTIONS": ""})
    assert plain.returncode == 1, plain.stderr
    return {"base": base, "ci": done, "plain": plain}


def test_terminal_gets_no_control_sequences(attacked):
    out = attacked["plain"].stdout + attacked["plain"].stderr
    assert "pwned title" in out and "PLANTED DIAGNOSIS" in out   # shown, as text
    no_control(out)


def test_ci_log_has_no_workflow_command_but_ours(attacked):
    done = attacked["ci"]
    ours = 0
    for line in (done.stdout + done.stderr).splitlines():
        if re.match(r"\s*(::|##\[)", line):
            assert line.startswith(("::error ", "::notice ")), f"a workflow command the grader did not make: {line!r}"
            assert "planted command" not in line.split("::")[1], line   # never in the properties
            ours += 1
    assert ours >= 2
    assert "planted command" in done.stdout      # the student's text is still shown, defused
    no_control(done.stdout + done.stderr)


def test_markdown_summary_has_no_structure_from_student_text(attacked):
    text = (attacked["base"] / "r.md").read_text()
    assert "\r" not in text
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert all("planted" not in line for line in headings), headings
    assert "planted heading" in text        # the text itself is there, as text
    # outside the grader's code blocks (each closed only by its own fence) no image or HTML
    rendered, fence = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence = stripped[:len(stripped) - len(stripped.lstrip("`"))]
            assert stripped == fence + "text", line
        elif fence is not None and stripped == fence:
            fence = None
        elif fence is None:
            rendered.append(line)
    assert fence is None
    outside = "\n".join(rendered)
    for made in (r"(?<!\\)!\[", r"(?<!\\)<img", r"(?<!\\)<script"):   # a backslash makes it text
        assert not re.search(made, outside), made


def test_json_report_is_strict_and_valid(attacked, schema):
    import jsonschema

    def refuse(token):
        raise ValueError(token)

    report = json.loads((attacked["base"] / "r.json").read_text(), parse_constant=refuse)
    jsonschema.validate(report, schema)


def test_junit_parses(attacked):
    from lxml import etree

    etree.parse(str(attacked["base"] / "r.xml"))


# ------------------------------------------------------------------ findings 5, 6, 8, 9: batch

def batch(class_dir: Path, out: Path) -> subprocess.CompletedProcess:
    """``grader batch`` under umask 022, as a course server would run it."""
    return subprocess.run(["sh", "-c", 'umask 022; exec "$0" -m grader batch "$1" --assignment nn_basics '
                           '--out "$2" --jobs 2', sys.executable, str(class_dir), str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    class_dir, out = base / "submissions", base / "results"
    class_dir.mkdir()
    attack_folder(class_dir)
    shutil.copytree(ROOT / "examples" / "nn_basics" / "buggy", class_dir / "buggy")
    shutil.copytree(FIXTURES / "modules_correct", class_dir / "=1+2")
    (class_dir / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    first = batch(class_dir, out)
    assert first.returncode == 0, first.stderr
    # the attacker hands in again, adding a file whose name is an escape sequence
    (class_dir / "attacker" / "\x1b]0;renamed\x07notes.py").write_text("x = 1\n")
    second = batch(class_dir, out)
    assert second.returncode == 0, second.stderr
    return {"out": out, "runs": (first, second)}


def test_batch_progress_and_history_are_terminal_safe(graded):
    for done in graded["runs"]:
        no_control(done.stdout + done.stderr)
    history = run_cli("history", str(graded["out"]), "attacker")
    assert history.returncode == 0, history.stderr
    assert "renamed" in history.stdout
    no_control(history.stdout + history.stderr)


def test_class_report_diagnoses_only_what_the_checks_said(graded):
    page = (graded["out"] / "report.html").read_text()
    bugs = re.search(r'<table id="bugs">(.*?)</table>', page, re.S).group(1)
    assert "PLANTED" not in bugs and "planted" not in bugs
    assert "adds 1e-8 to the denominator" in bugs          # the buggy student's bug, as its mutant names it


def test_class_report_diagnosis_is_linear_in_the_output():
    import time

    from grader import classreport

    test = {"status": "failed", "tags": ["softmax"], "output": " \n" * 40_000 + "x",
            "extra_data": {"hints": [], "failure": "softmax raised ValueError"}}
    started = time.monotonic()
    classreport.diagnose(test, classreport.known_diagnoses([]))
    assert time.monotonic() - started < 0.5


def test_canvas_gets_no_grade_for_the_ungraded(graded):
    grades = {row["student"]: row for row in csv.DictReader(io.StringIO((graded["out"] / "grades.csv").read_text()))}
    assert grades["broken"]["status"] not in ("full marks", "points lost")
    canvas = list(csv.reader(io.StringIO((graded["out"] / "canvas_gradebook.csv").read_text())))
    by_sis = {row[2]: row[5] for row in canvas[2:]}
    assert by_sis["broken"] == ""
    assert by_sis["buggy"] == grades["buggy"]["total"] and by_sis["attacker"] == grades["attacker"]["total"]


def test_csv_cells_are_never_formulas(graded):
    for name in ("grades.csv", "canvas_gradebook.csv"):
        for row in csv.reader(io.StringIO((graded["out"] / name).read_text())):
            for cell in row:
                if cell[:1] in ("=", "+", "-", "@"):
                    float(cell)


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_html_pages_hold_no_student_markup(graded):
    out = graded["out"]
    for page in (out / "report.html", out / "students" / "attacker" / "feedback.html"):
        parser = Tags()
        parser.feed(page.read_text())
        # the class report's one script is its own (the roster's sorting and search)
        assert parser.tags.count("script") == (1 if page.name == "report.html" else 0)
        assert page.read_text().count("<script") == parser.tags.count("script")
        assert parser.tags.count("img") == (2 if page.name == "report.html" else 0)


def test_batch_outputs_get_umask_permissions(graded):
    out = graded["out"]
    for path in [out / "grades.csv", out / "canvas_gradebook.csv", out / "report.html",
                 *(out / "students" / "buggy").iterdir()]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path
    assert not list(out.rglob(".grader-*.part"))


# ------------------------------------------------------------------ finding 7: strict JSON

def test_non_finite_data_is_text_and_json_is_strict(tmp_path, schema):
    import jsonschema

    from grader import report

    done = run_cli("run", str(FIXTURES / "modules_correct"), "--json", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    data["tests"][0]["extra_data"] = {"seed": 1, "got": float("nan"), "range": [float("inf"), -float("inf")]}
    report.write_json(data, str(tmp_path / "again.json"))

    def refuse(token):
        raise ValueError(f"non-strict JSON token {token}")

    again = json.loads((tmp_path / "again.json").read_text(), parse_constant=refuse)
    jsonschema.validate(again, schema)
    assert again["tests"][0]["extra_data"]["range"] == ["Infinity", "-Infinity"]
    data["score"] = float("nan")
    with pytest.raises(ValueError):
        report.write_json(data, str(tmp_path / "bad.json"))
    assert not (tmp_path / "bad.json").exists()


def test_a_hint_planted_in_wrapped_student_text_is_not_a_diagnosis():
    """A check may wrap a student's error in its own CheckFailure (backprop_basics does): the
    hint lines of the student's message or printout are not the check's."""
    import types

    from grader.checks.numeric import CheckFailure
    from grader.checks.plugin import grader_diagnosis
    from grader.checks.proxy import Call, student_strings
    from grader.session import CallResult

    result = CallResult(function="bprop", error={"type": "ValueError", "message": "bad\nhint: planted in raise",
                                                 "traceback": ""}, stdout="hint: planted in print\n")
    proxy = types.SimpleNamespace(calls=[Call("bprop", [], {}, result, student_strings(result))],
                                  _session=types.SimpleNamespace(submission=None, unit_outcomes={}))
    text = ("on your cache: bprop raised ValueError: bad\nhint: planted in raise\nprinted:\n"
            "hint: planted in print\nhint: backpropagate through exactly the forward pass")
    hints, failure = grader_diagnosis(CheckFailure(text), text, proxy)
    assert hints == ["backpropagate through exactly the forward pass"]
    assert failure == "bprop raised ValueError"
