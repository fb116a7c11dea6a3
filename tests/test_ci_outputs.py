"""CI outputs of `grader run`: JUnit (checked against a strict XSD), Markdown (against a
snapshot), GitHub annotations, exit codes, and public versus hidden checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from conftest import FIXTURES, ROOT, grade, run_cli

SNAPSHOTS = ROOT / "tests" / "snapshots"
CORRECT = ROOT / "examples" / "nn_basics" / "correct"
BUGGY = ROOT / "examples" / "nn_basics" / "buggy"
PUBLIC_POINTS = 5


@pytest.fixture(scope="module")
def junit_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SNAPSHOTS / "junit.xsd")))


def strict_parse(path: Path, schema: etree.XMLSchema) -> etree._ElementTree:
    """Parse with a parser that recovers from nothing, then validate against the XSD."""
    parser = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
    tree = etree.parse(str(path), parser)
    assert schema.validate(tree), schema.error_log
    return tree


def variant(tmp_path: Path, name: str, file: str, old: str, new: str, base: Path = CORRECT) -> Path:
    """A copy of the correct example with one line changed: a known bug."""
    folder = tmp_path / name
    shutil.copytree(base, folder)
    text = (folder / file).read_text()
    assert old in text, (file, old)
    (folder / file).write_text(text.replace(old, new))
    return folder


# -- JUnit -------------------------------------------------------------------------------------

def test_junit_is_valid_and_carries_points_and_feedback(tmp_path, junit_schema):
    out = tmp_path / "junit.xml"
    report, done = grade(BUGGY, tmp_path, "--junit", str(out))
    assert done.returncode == 1
    tree = strict_parse(out, junit_schema)
    cases = tree.findall(".//testcase")
    assert len(cases) == len(report["tests"])
    root = tree.getroot()
    assert int(root.get("tests")) == len(report["tests"])
    lost = [t for t in report["tests"] if t["status"] != "passed"]
    assert int(root.get("failures")) + int(root.get("errors")) == len(lost) > 0
    by_name = {t["name"]: t for t in report["tests"]}
    assert sorted(c.get("name") for c in cases) == sorted(by_name)
    for case in cases:
        test = by_name[case.get("name")]
        assert case.get("classname") == f"nn_basics.{test['tags'][0]}"
        props = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
        assert float(props["points"]) == test["max_score"]
        assert float(props["score"]) == test["score"]
        failure = case.find("failure")
        if test["status"] == "passed":
            assert failure is None
        else:
            assert failure.text == test["output"]
            assert failure.get("message") == test["output"].splitlines()[0]
    suites = {s.get("name"): s for s in tree.findall("testsuite")}
    for problem_id, problem in report["problems"].items():
        props = {p.get("name"): p.get("value") for p in suites[f"nn_basics.{problem_id}"].findall("properties/property")}
        assert float(props["score"]) == problem["score"]
        assert float(props["max_score"]) == problem["max_score"]


def test_junit_survives_control_characters_from_student_output(tmp_path, junit_schema):
    """A checker that prints terminal colours and a NUL: the feedback quotes it, the XML stays valid."""
    folder = variant(tmp_path, "colours", "q2_gradcheck.py", 'print("Gradient check failed.")',
                     'print("\\x1b[31mGradient check passed!\\x1b[0m\\x00\\x07")')
    out = tmp_path / "junit.xml"
    report, _ = grade(folder, tmp_path, "--junit", str(out), "--public")
    outputs = " ".join(t["output"] for t in report["tests"])
    assert "\x1b" in outputs or "\\x1b" in outputs, outputs
    tree = strict_parse(out, junit_schema)
    failures = tree.findall(".//failure")
    assert failures and any("Gradient check passed" in (f.text or "") for f in failures)


def test_junit_marks_a_check_error_as_error(junit_schema, tmp_path):
    from grader import junit

    report = json.loads((SNAPSHOTS / "report-buggy.json").read_text())
    broken = next(t for t in report["tests"] if t["status"] != "passed")
    report["grader"]["check_errors"] = [broken["name"]]
    out = tmp_path / "junit.xml"
    junit.write(report, str(out))
    tree = strict_parse(out, junit_schema)
    errors = tree.findall(".//error")
    assert [e.getparent().get("name") for e in errors] == [broken["name"]]


# -- Markdown ----------------------------------------------------------------------------------

def snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


def test_markdown_matches_snapshot():
    from grader import markdown

    report = json.loads((SNAPSHOTS / "report-buggy.json").read_text())
    snapshot("summary-buggy.md", markdown.render(report, assignment_points=55))


def test_markdown_public_only_and_hidden_checks_snapshot():
    """Only the public points ran, and one lost check is not for the student's eyes yet."""
    from grader import markdown

    report = json.loads((SNAPSHOTS / "report-buggy.json").read_text())
    hidden = next(t for t in report["tests"] if t["tags"] == ["gradcheck_naive"] and t["status"] != "passed")
    hidden["visibility"] = "after_due_date"
    text = markdown.render(report, assignment_points=55)
    assert hidden["output"].splitlines()[0] not in text
    snapshot("summary-hidden.md", text)


def test_markdown_option_writes_what_render_makes(tmp_path):
    from grader import markdown

    out = tmp_path / "summary.md"
    out.write_text("stale\n")
    report, done = grade(FIXTURES / "python2_print", tmp_path, "--markdown", str(out), "--public")
    assert done.returncode == 1
    text = out.read_text()
    assert text == markdown.render(report, assignment_points=55)
    assert "| sigmoid | 0 / 1 | 1 | ❌ failed |" in text
    assert "Public checks: 5 of 55 points; the other 50 are graded after submission" in text


def test_markdown_appends_to_the_github_step_summary(tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    done = run_cli("run", str(CORRECT), "--public", "--markdown", str(summary),
                   env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "5 / 5 points (full marks)" in text


# -- exit codes --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, code", [
    (["run", str(CORRECT)], 0),
    (["run", str(BUGGY)], 1),
    (["run", str(BUGGY), "--min-score", "52"], 0),
    (["run", str(BUGGY), "--min-score", "52.5"], 1),
    (["run", str(FIXTURES / "python2_print"), "--public"], 1),
    (["run", str(FIXTURES / "python2_print"), "--public", "--min-score", "3"], 0),
    (["run", str(CORRECT), "--public"], 0),
    (["run", "no/such/folder"], 2),
    (["run", str(CORRECT), "--assignment", "no_such_assignment"], 2),
    (["run", str(CORRECT), "--min-score", "lots"], 2),
    (["run", str(CORRECT), "--no-such-option"], 2),
], ids=["full", "lost", "min-met", "min-missed", "public-lost", "public-min-met", "public-full",
        "no-path", "no-assignment", "bad-number", "bad-option"])
def test_exit_codes_with_ci_outputs(args, code, tmp_path):
    junit_out, md_out = tmp_path / "j.xml", tmp_path / "m.md"
    done = run_cli(*args, "--junit", str(junit_out), "--markdown", str(md_out))
    assert done.returncode == code, done.stderr
    assert junit_out.exists() == md_out.exists() == (code in (0, 1))


# -- GitHub annotations ------------------------------------------------------------------------

def run_in(workspace: Path, *args: str, github: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, GITHUB_WORKSPACE=str(workspace))
    env.pop("GITHUB_ACTIONS", None)
    if github:
        env["GITHUB_ACTIONS"] = "true"
    return subprocess.run([sys.executable, "-m", "grader", "run", *args, "--public"], cwd=workspace,
                          env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A checked-out student repository whose code sits one folder further down than the
    submission path named on the command line (hw/assignment1/, graded as `hw`)."""
    space = tmp_path / "repo"
    wrong = variant(tmp_path, "x", "q2_sigmoid.py", "ds = s * (1.0 - s)",
                    "ds = sigmoid(s) * (1.0 - sigmoid(s))")
    shutil.copytree(wrong, space / "hw" / "assignment1")
    (space / "hw" / "README.txt").write_text("my homework\n")
    return space


def def_line(path: Path, name: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(f"def {name}("))


def test_annotation_points_at_the_function_relative_to_the_workspace(workspace):
    done = run_in(workspace, "hw")
    assert done.returncode == 1, done.stderr
    line = def_line(workspace / "hw" / "assignment1" / "q2_sigmoid.py", "sigmoid_grad")
    errors = [l for l in done.stdout.splitlines() if l.startswith("::error")]
    # the diagnosis first, then each failing check on a line of its own
    assert errors == [f"::error file=hw/assignment1/q2_sigmoid.py,line={line},"
                      f"title=sigmoid_grad%3A 0 / 1 points::sigmoid_grad takes s = sigmoid(x), not x: "
                      f"return s * (1 - s)%0A- public: sigmoid_grad(s) "
                      f"for s = [0.5, 0.25] is s * (1 - s) = [0.25, 0.1875]: "
                      + errors[0].split("[0.25, 0.1875]: ", 1)[1]], errors
    assert "::notice title=grader%3A nn_basics::5 / 6 points" not in done.stdout  # the total is 4 / 5
    assert "::notice title=grader%3A nn_basics::4 / 5 points" in done.stdout


def test_annotation_path_is_the_same_from_another_directory(workspace, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace))
    done = subprocess.run([sys.executable, "-m", "grader", "run", str(workspace / "hw"), "--public"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert "::error file=hw/assignment1/q2_sigmoid.py,line=" in done.stdout, done.stdout


def test_no_annotations_outside_github_actions(workspace):
    done = run_in(workspace, "hw", github=False)
    assert done.returncode == 1
    assert "::error" not in done.stdout and "::notice" not in done.stdout


def test_function_not_found_is_annotated_without_a_file(tmp_path):
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(ROOT)}
    done = run_cli("run", str(FIXTURES / "python2_print"), "--public", env=env)
    errors = [l for l in done.stdout.splitlines() if l.startswith("::error")]
    assert len(errors) == 2, done.stdout
    assert all(e.startswith("::error title=sigmoid") for e in errors), errors
    assert "not found in your files" in errors[0]


# -- public and hidden checks ------------------------------------------------------------------

def test_public_runs_only_public_checks(tmp_path):
    public, _ = grade(CORRECT, tmp_path, "--public")
    full, _ = grade(CORRECT, tmp_path)
    assert public["max_score"] == PUBLIC_POINTS == public["score"]
    assert all(t["name"].split(": ", 1)[1].startswith("public:") for t in public["tests"])
    assert full["max_score"] == 55 and len(full["tests"]) > len(public["tests"])
    public_names = {t["name"] for t in public["tests"]}
    assert public_names <= {t["name"] for t in full["tests"]}
    assert all(t["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
               for t in full["tests"])


def test_students_copy_defaults_to_public_checks_without_a_reference(tmp_path):
    """No checks/ folder and no reference solution: the default is the public checks."""
    from test_ci_workflows import public_copy

    copy = public_copy(tmp_path / "grader-public")
    assert not (copy / "assignments" / "nn_basics" / "checks").exists()
    assert not (copy / "reference_solutions").exists()
    report, done = grade(CORRECT, tmp_path, "--assignment", str(copy / "assignments" / "nn_basics"))
    assert done.returncode == 0, done.stderr
    assert report["max_score"] == report["score"] == PUBLIC_POINTS


@pytest.mark.parametrize("file, old, new, problem", [
    ("q1_softmax.py", "x = x - np.max(x, axis=1, keepdims=True)", "pass", "softmax"),
    ("q1_softmax.py", "x = x / np.sum(x)\n", "x = x / (np.sum(x) + 1e-6)\n", "softmax"),
    ("q2_sigmoid.py", "s = 1.0 / (1.0 + np.exp(-x))", "s = 1.0 / (1.0 + np.exp(x))", "sigmoid"),
    ("q2_sigmoid.py", "ds = s * (1.0 - s)", "ds = sigmoid(s) * (1.0 - sigmoid(s))", "sigmoid_grad"),
    ("q2_gradcheck.py", "if reldiff > 1e-5:", "if reldiff > 1e5:", "gradcheck_naive"),
    ("q2_gradcheck.py", 'print("Gradient check passed!")', 'print("Gradient check failed.")', "gradcheck_naive"),
    ("q2_neural.py", "cost = -np.sum(labels * np.log(y_hat))", "cost = -np.sum(np.log(y_hat))",
     "forward_backward_prop"),
], ids=["softmax-overflow", "softmax-epsilon", "sigmoid-sign", "sigmoid-grad-of-x",
        "gradcheck-never-fails", "gradcheck-never-passes", "neural-cost"])
def test_public_checks_catch_bugs(tmp_path, file, old, new, problem):
    folder = variant(tmp_path, "bug", file, old, new)
    report, done = grade(folder, tmp_path, "--public")
    assert done.returncode == 1
    lost = {p for p, v in report["problems"].items() if v["status"] != "passed"}
    assert lost == {problem}, report["output"]
