"""feedback.html as a browser reads it (headless Chromium's DOM, after parsing): the values of
each failing check are folded (no <details> open), the diagnosis is shown once per problem, the
page names no path of the grading machine and loads nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from lxml import html as lxml_html

from conftest import FIXTURES, run_cli

from grader import feedback_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
HINT = "sigmoid_grad takes s, not z1"


def dump_dom(page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", "--dump-dom",
                               page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def dom(tmp_path_factory) -> lxml_html.HtmlElement:
    base = tmp_path_factory.mktemp("z1")
    student = base / "alice"
    shutil.copytree(FIXTURES / "modules_correct", student)
    source = (student / "q2_neural.py").read_text()
    (student / "q2_neural.py").write_text(source.replace("sigmoid_grad(h)", "sigmoid_grad(z1)"))
    done = run_cli("run", str(student), "--assignment", "nn_basics", "--json", str(base / "r.json"))
    assert done.returncode == 1, done.stderr
    page = base / "feedback.html"
    page.write_text(feedback_html.page("alice", json.loads((base / "r.json").read_text())))
    return lxml_html.fromstring(dump_dom(page))


def test_details_are_collapsed(dom):
    details = dom.xpath("//details")
    assert len(details) == 7
    assert all(d.get("open") is None for d in details)
    assert all(d.xpath("./summary") for d in details)


def test_the_hint_is_shown_once_for_the_problem(dom):
    body = dom.xpath("//body")[0].text_content()
    assert body.count(HINT) == 1
    fixes = dom.xpath("//p[@class='fix']")
    assert len(fixes) == 1 and HINT in fixes[0].text_content()


def test_no_path_and_nothing_loaded(dom):
    body = dom.xpath("//body")[0].text_content()
    for path in ("/tmp/", "/work/", "site-packages", "/home/"):
        assert path not in body
    assert not dom.xpath("//script | //link | //img | //iframe")
