"""``grader publish``: the public copy holds nothing hidden (no hidden checks, mutants, variants or
reference, not even under another name) and its own grader runs the public checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

ASSIGNMENTS = ("nn_basics", "layers_lab")


def hidden_files(name: str) -> list[Path]:
    folder = ROOT / "assignments" / name
    roots = [folder / "checks", folder / "mutants", folder / "variants", ROOT / "reference_solutions" / name]
    return [p for root in roots for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_public_copy_leaks_no_hidden_file(name, tmp_path):
    out = tmp_path / "public"
    done = run_cli("publish", name, "-o", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert (out / "grader" / "cli.py").is_file() and (out / "assignments" / name / "starter").is_dir()
    assert any(p.parent.name == "public" for p in written)
    hidden = hidden_files(name)
    assert len(hidden) >= 8
    hidden_bytes = {p.read_bytes(): p for p in hidden if p.stat().st_size}
    for path in written:
        relative = path.relative_to(out)
        assert relative.parts[0] != "reference_solutions", relative
        if relative.parts[0] == "assignments":
            assert not {"checks", "mutants", "variants"} & set(relative.parts[:-1]), relative
        assert path.read_bytes() not in hidden_bytes, f"{relative} is {hidden_bytes.get(path.read_bytes())}"
    config = (out / "assignments" / name / "assignment.toml").read_text()
    assert "reference" not in tomllib.loads(config) and "#" not in config.split("\n", 1)[1]
    if name != "nn_basics":
        return
    # no reference function body either (the copy's starter and public checks never hold one)
    secret = (ROOT / "reference_solutions" / "nn_basics" / "q1_softmax.py").read_text()
    body = "shifted = x - np.max(x, axis=1, keepdims=True)"
    assert body in secret and not any(body in p.read_text(errors="replace") for p in written)


def test_the_public_copy_grades_with_its_own_grader(tmp_path):
    out = tmp_path / "public"
    assert run_cli("publish", "nn_basics", "-o", str(out)).returncode == 0
    submission = tmp_path / "student"
    shutil.copytree(ROOT / "reference_solutions" / "nn_basics", submission)
    env = dict(os.environ, PYTHONPATH=str(out))
    for target, score, code in ((submission, "5 / 5", 0), (out / "assignments" / "nn_basics" / "starter", "0 / 5", 1)):
        done = subprocess.run([sys.executable, "-m", "grader", "run", str(target), "--public", "-q",
                               "--sandbox", "process"], cwd=out, env=env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == code and done.stdout.strip() == score, done.stdout + done.stderr
    probe = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], cwd=out, env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == str(out / "grader" / "__init__.py")  # its own copy graded


def test_a_public_file_equal_to_a_hidden_one_is_refused(tmp_path):
    folder = tmp_path / "nn_copy"
    shutil.copytree(ROOT / "assignments" / "nn_basics", folder, ignore=shutil.ignore_patterns("__pycache__"))
    config = folder / "assignment.toml"
    config.write_text(config.read_text().replace(
        'sandbox_functions = "sandbox_functions.py"',
        f'sandbox_functions = "sandbox_functions.py"\nreference = "{ROOT / "reference_solutions" / "nn_basics"}"'))
    shutil.copy(folder / "checks" / "test_softmax.py", folder / "public" / "_helpers.py")
    out = tmp_path / "public"
    done = run_cli("publish", str(folder), "-o", str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "hidden files' contents" in line and "_helpers.py" in line and "test_softmax.py" in line
    assert not out.exists()
    assert run_cli("publish", "nn_basics", "-o", str(tmp_path)).returncode == 2  # an existing folder
