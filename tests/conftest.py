"""Shared helpers: run the real CLI in a subprocess, exactly as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SCHEMA = ROOT / "grader" / "schema" / "report.schema.json"


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """``grader ARGS`` as a separate process (the grader's own process, not ours)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL)


def grade(submission: str | Path, tmp_path: Path, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    """Grade through the CLI and return the JSON report it wrote, with the process result."""
    out = tmp_path / f"report-{abs(hash((str(submission), extra)))}.json"
    done = run_cli("run", str(submission), "--json", str(out), *extra)
    assert done.returncode in (0, 1), f"grader failed ({done.returncode}): {done.stderr}"
    return json.loads(out.read_text()), done


@pytest.fixture(scope="session")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def problem_scores(report: dict) -> dict[str, float]:
    return {name: problem["score"] for name, problem in report["problems"].items()}


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    """A folder holding the given files (a student's submission, say)."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def make_assignment(folder: Path, problems: list[dict], checks: str, reference: dict[str, str],
                    name: str | None = None) -> Path:
    """A small assignment folder: assignment.toml with these problems (id, points, functions,
    module), one check file, and its reference solution in ``ref/``."""
    lines = [f'name = "{name or folder.name}"', 'reference = "ref"']
    for problem in problems:
        functions = ", ".join(f'"{f}"' for f in problem["functions"])
        lines += ["", "[[problems]]", f'id = "{problem["id"]}"', f'points = {problem["points"]}',
                  f"functions = [{functions}]", f'module = "{problem["module"]}"']
    write_folder(folder, {"assignment.toml": "\n".join(lines) + "\n", "checks/test_checks.py": checks})
    write_folder(folder / "ref", reference)
    return folder
