"""report.html as an instructor sees it: a small class graded by the real CLI, opened in headless
Chromium. The roster holds every student, its script sorts and searches without an error, no
server path shows, and an empty class gets a page that says so."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, run_cli

STUDENTS = {"alice": "modules_correct", "bob": "buggy", "carol": "unreadable", "dan": "syntax_error_softmax",
            "erin": "all_wrong"}


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is required under CI")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Chromium's view of the page: --dump-dom prints the DOM after its scripts ran, and
    --enable-logging=stderr prints the console (an uncaught error included)."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1400,2000"]
    done = subprocess.run([*flags, "--virtual-time-budget=3000", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def small_class(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("small")
    subs, out = base / "submissions", base / "results"
    subs.mkdir()
    for student, kind in STUDENTS.items():
        if kind == "unreadable":
            (subs / f"{student}.zip").write_bytes(b"PK\x03\x04 not a zip")
        elif kind == "buggy":
            shutil.copytree(ROOT / "examples" / "nn_basics" / "buggy", subs / student)
        else:
            shutil.copytree(FIXTURES / kind, subs / student)
    done = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(out), "--jobs", "2")
    assert done.returncode == 0, done.stderr
    return {"base": base, "out": out, "done": done}


def _roster(dom: str) -> list[tuple[str, str, bool]]:
    """(student, score cell, hidden) of each roster row, in the DOM's order."""
    body = re.search(r'<table id="roster">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    rows = re.findall(r'<tr class="student"( hidden="")?><td><a href="[^"]*">([^<]*)</a></td><td class="n"[^>]*>([^<]*)</td>',
                      body)
    return [(student, score, bool(hidden)) for hidden, student, score in rows]


def test_the_roster_holds_every_student_and_no_path(small_class, tmp_path):
    page = small_class["out"] / "report.html"
    done = browse(page, tmp_path, "--dump-dom")
    assert console_errors(done.stderr) == []
    roster = _roster(done.stdout)
    assert sorted(s for s, _, _ in roster) == sorted(STUDENTS)
    assert dict((s, score) for s, score, _ in roster)["carol"] == "-"
    assert "5 of 5 students shown" in done.stdout                  # the script ran
    assert str(small_class["base"]) not in done.stdout and "/tmp/" not in done.stdout
    assert re.search(r"over the 4 graded students", done.stdout)
    for student in STUDENTS:
        assert (small_class["out"] / "students" / student / "feedback.html").is_file()


def test_sorting_and_search_work_in_the_browser(small_class, tmp_path):
    """The page's own script, driven by a line appended for the test: sort by score (twice:
    descending), then search for "unreadable"."""
    page = tmp_path / "report.html"
    page.write_text((small_class["out"] / "report.html").read_text().replace(
        "</body>", "<script>graderRoster.sortBy(1); graderRoster.sortBy(1);</script></body>"))
    done = browse(page, tmp_path, "--dump-dom")
    assert console_errors(done.stderr) == []
    roster = _roster(done.stdout)
    scores = [float(score.split(" / ")[0]) if score != "-" else -1 for _, score, _ in roster]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 2
    assert 'aria-sort="descending"' in done.stdout
    page.write_text((small_class["out"] / "report.html").read_text().replace(
        "</body>", "<script>document.getElementById('search').value = 'UNREADABLE';"
                   " graderRoster.filter();</script></body>"))
    done = browse(page, tmp_path, "--dump-dom")
    shown = [s for s, _, hidden in _roster(done.stdout) if not hidden]
    assert shown == ["carol"] and "1 of 5 students shown" in done.stdout


def test_screenshot_shows_the_report(small_class, tmp_path):
    shot = tmp_path / "report.png"
    browse(small_class["out"] / "report.html", tmp_path, f"--screenshot={shot}")
    from matplotlib import image as mpimg

    pixels = mpimg.imread(str(shot))
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"
    rgb = (pixels[..., :3] * 255).round()
    assert (abs(rgb - (0x3B, 0x6E, 0xA8)).sum(axis=-1) < 12).sum() > 200, "no histogram drawn"


def test_an_empty_class_gets_a_page_that_says_so(tmp_path):
    subs = tmp_path / "empty"
    subs.mkdir()
    done = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "holds no student submissions" in done.stderr
    shown = browse(tmp_path / "out" / "report.html", tmp_path, "--dump-dom")
    assert console_errors(shown.stderr) == []
    assert "No submissions" in shown.stdout and "<img" not in shown.stdout
