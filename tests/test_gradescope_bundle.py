"""`grader gradescope-bundle` end to end: build the zip with the real CLI, unpack it into a fake
/autograder tree (AUTOGRADER_ROOT), run its run_autograder as Gradescope would, and read
results/results.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from conftest import FIXTURES, ROOT, run_cli

BUGGY = ROOT / "examples" / "nn_basics" / "buggy"
CORRECT = ROOT / "examples" / "nn_basics" / "correct"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    done = run_cli("gradescope-bundle", "nn_basics", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    return out


def autograder_tree(tmp_path: Path, bundle: Path, submission: Path | None) -> Path:
    """/autograder as Gradescope lays it out: source/ (the unpacked zip), submission/, results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():   # zipfile does not restore permissions
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    (root / "submission").mkdir()
    if submission is not None:
        shutil.copytree(submission, root / "submission", dirs_exist_ok=True)
    (root / "results").mkdir()
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


def run_autograder(root: Path, *, sandbox: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRADER_ASSIGNMENTS")}
    env.update(AUTOGRADER_ROOT=str(root), GRADER_PYTHON=sys.executable)
    command = [str(root / "run_autograder")]
    if sandbox:   # run what run_autograder runs, with the sandbox forced
        env["PYTHONPATH"] = str(root / "source")
        command = [sys.executable, "-m", "grader.gradescope", "--root", str(root), "--assignment",
                   str(root / "source" / "assignments" / "nn_basics"), "--sandbox", sandbox]
    return subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


def test_bundle_contents(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "pyproject.toml", "README.md", "grader/cli.py",
            "grader/gradescope.py", "grader/schema/report.schema.json",
            "assignments/nn_basics/assignment.toml", "assignments/nn_basics/sandbox_functions.py",
            "reference_solutions/nn_basics/q1_softmax.py"} <= names
    assert any(n.startswith("assignments/nn_basics/checks/test_") for n in names)
    assert any(n.startswith("assignments/nn_basics/public/test_") for n in names)
    assert not any("/mutants/" in n or "__pycache__" in n or n.startswith("tests/") or n.endswith(".pyc")
                   for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "pip install" in setup and "bubblewrap" in setup
    done = subprocess.run(["bash", "-n", "-c", setup], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _pins(bundle: Path) -> tuple[dict, dict, str]:
    with zipfile.ZipFile(bundle) as archive:
        versions = json.loads(archive.read("versions.json"))
        constraints = archive.read("constraints.txt").decode()
        setup = archive.read("setup.sh").decode()
    pinned = dict(line.split("==") for line in constraints.splitlines() if line and not line.startswith("#"))
    return versions, pinned, setup


def test_bundle_pins_the_versions_it_was_built_with(bundle):
    """constraints.txt and versions.json hold the exact versions installed here, of every
    dependency in pyproject.toml and of what they need; setup.sh installs under them."""
    import re
    import tomllib
    from importlib import metadata

    versions, pinned, setup = _pins(bundle)
    assert pinned == versions["packages"] and versions["python"] == ".".join(map(str, sys.version_info[:3]))
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    roots = [re.match(r"[A-Za-z0-9._-]+", line).group().lower().replace("_", "-") for line in wanted]
    assert set(roots) <= set(pinned), set(roots) - set(pinned)
    assert {"markupsafe", "contourpy", "pluggy"} <= set(pinned)          # transitive ones too
    for name, version in pinned.items():
        assert metadata.version(name) == version, name
    installs = [line for line in setup.splitlines() if "pip install" in line]
    assert len(installs) == 2 and all('-c "$SOURCE/constraints.txt"' in line for line in installs), installs
    assert 'PIP_CONSTRAINT="$SOURCE/constraints.txt"' in setup


def test_pip_obeys_the_bundle_constraints(bundle, tmp_path):
    """The constraints file is one pip reads: with it, the installed versions satisfy pip (no
    index needed); a version that differs makes pip refuse."""
    _, pinned, _ = _pins(bundle)
    with zipfile.ZipFile(bundle) as archive:
        archive.extract("constraints.txt", tmp_path)
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--disable-pip-version-check",
               "-c", str(tmp_path / "constraints.txt"), "jinja2", "numpy"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    wrong = tmp_path / "constraints.txt"
    wrong.write_text(wrong.read_text().replace(f"numpy=={pinned['numpy']}", "numpy==1.0.0"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "numpy" in done.stdout + done.stderr


def test_run_autograder_writes_results(tmp_path, bundle, schema):
    root = autograder_tree(tmp_path, bundle, BUGGY)
    done = run_autograder(root)
    assert done.returncode == 0, done.stdout + done.stderr
    # The bundle's own copy of the grader graded it, not the one this test suite imports.
    assert f"from {root / 'source' / 'grader'}" in done.stdout
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, schema)
    assert (results["score"], results["max_score"]) == (52, 55)
    assert results["problems"]["softmax"]["score"] == 10
    assert results["problems"]["gradcheck_naive"]["score"] == 14
    assert results["submission"]["path"] == str(root / "submission")
    assert results["grader"]["dependencies"] == _pins(bundle)[0]   # which versions graded it
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    public = [t for t in results["tests"] if ": public:" in t["name"]]
    assert len(public) > 0 and len(results["tests"]) > len(public)   # hidden and public both run


def test_run_autograder_full_marks(tmp_path, bundle):
    root = autograder_tree(tmp_path, bundle, FIXTURES / "notebook_magics")
    done = run_autograder(root)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == results["max_score"] == 55


def test_run_autograder_empty_submission_scores_zero_with_a_reason(tmp_path, bundle, schema):
    root = autograder_tree(tmp_path, bundle, None)
    done = run_autograder(root)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["max_score"] == 55
    assert results["output"].startswith("Your submission could not be read:")
    assert results["grader"]["dependencies"] == _pins(bundle)[0]


def test_run_autograder_grader_failure_writes_no_results(tmp_path, bundle):
    """A broken bundle is the grader's fault: no false zero, a failed run Gradescope shows."""
    root = autograder_tree(tmp_path, bundle, CORRECT)
    shutil.rmtree(root / "source" / "reference_solutions")
    done = run_autograder(root)
    assert done.returncode == 3
    assert not (root / "results" / "results.json").exists()


def leak_probe(tmp_path: Path, root: Path) -> Path:
    """A correct submission whose softmax raises if the reference solution is readable."""
    folder = tmp_path / "probe"
    shutil.copytree(CORRECT, folder)
    target = root / "source" / "reference_solutions" / "nn_basics" / "q1_softmax.py"
    source = (folder / "q1_softmax.py").read_text()
    probe = (f"import os as _os\n_REFERENCE = {str(target)!r}\n"
             "def _readable():\n"
             "    try:\n"
             "        with open(_REFERENCE) as handle:\n"
             "            return bool(handle.read(1))\n"
             "    except OSError:\n"
             "        return False\n")
    source = probe + source.replace('    orig_shape = x.shape\n',
                                    '    if _readable():\n        raise RuntimeError("LEAK: read " + _REFERENCE)\n'
                                    '    orig_shape = x.shape\n', 1)
    (folder / "q1_softmax.py").write_text(source)
    return folder


def test_reference_is_not_readable_by_student_code_under_bubblewrap(tmp_path, bundle):
    from grader.sandbox import bubblewrap_problem

    if bubblewrap_problem():
        pytest.skip(f"bubblewrap unavailable: {bubblewrap_problem()}")
    root = tmp_path / "autograder"
    root = autograder_tree(tmp_path, bundle, leak_probe(tmp_path / "p", root))
    done = run_autograder(root, sandbox="bubblewrap")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert "LEAK" not in json.dumps(results)
    assert results["problems"]["softmax"]["score"] == 11


def test_leak_probe_does_see_the_reference_when_nothing_hides_it(tmp_path, bundle):
    """The control for the test above: with --sandbox process (the grader's own user, no mount
    namespace) the probe reads the reference, so its silence under bubblewrap means something."""
    root = tmp_path / "autograder"
    root = autograder_tree(tmp_path, bundle, leak_probe(tmp_path / "p", root))
    done = run_autograder(root, sandbox="process")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert "LEAK: read" in json.dumps(results)
    assert results["problems"]["softmax"]["score"] < 11
