"""The CI files in examples/ci/ run as written: we parse each YAML file, take the commands it
lists and run them in a temporary checkout of a student's repository, with the variables the
CI service would set. Only the install step is replaced (it would clone the course's public
copy of the grader from the network): we build that copy from this repository instead, and put
this venv's `grader` on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lxml import etree

from conftest import ROOT

CI = ROOT / "examples" / "ci"
CORRECT = ROOT / "examples" / "nn_basics" / "correct"


def public_copy(dest: Path) -> Path:
    """What an instructor publishes for students: the grader and the public checks, without the
    hidden checks (checks/), the mutants or the reference solution."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "grader", dest / "grader", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "assignments" / "nn_basics", dest / "assignments" / "nn_basics",
                    ignore=shutil.ignore_patterns("checks", "mutants", "__pycache__", "*.pyc"))
    return dest


def student_repo(tmp_path: Path, sigmoid_grad_bug: bool = False) -> Path:
    repo = tmp_path / "student-repo"
    shutil.copytree(CORRECT, repo)
    (repo / "README.md").write_text("# my nn_basics\n")
    if sigmoid_grad_bug:
        path = repo / "q2_sigmoid.py"
        path.write_text(path.read_text().replace("ds = s * (1.0 - s)", "ds = sigmoid(s) * (1.0 - sigmoid(s))"))
    return repo


def base_env(tmp_path: Path, variables: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "GITLAB_"))}
    env.update({k: str(v) for k, v in variables.items()})
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["HOME"] = str(tmp_path / "home")
    return env


def shell(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


# -- GitHub Actions ----------------------------------------------------------------------------

def github_steps() -> tuple[dict, list[dict]]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    (job,) = workflow["jobs"].values()
    return workflow, job["steps"]


def run_github(tmp_path: Path, repo: Path) -> tuple[list[subprocess.CompletedProcess], Path, str]:
    workflow, steps = github_steps()
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    summary = tmp_path / "step_summary.md"
    summary.write_text("")
    env = base_env(tmp_path, workflow.get("env", {}))
    env.update(GITHUB_ACTIONS="true", CI="true", GITHUB_WORKSPACE=str(repo), RUNNER_TEMP=str(runner_temp),
               GITHUB_STEP_SUMMARY=str(summary))
    results, log = [], ""
    for step in steps:
        if "run" not in step:
            assert step["uses"].split("@")[0] in ("actions/checkout", "actions/setup-python",
                                                  "actions/upload-artifact"), step
            continue
        if step.get("id") == "install":
            public_copy(runner_temp / "grader")   # instead of git clone + pip install
            continue
        # GitHub runs a `run:` block as `bash --noprofile --norc -eo pipefail {0}`.
        done = shell(step["run"], repo, dict(env, **{k: str(v) for k, v in step.get("env", {}).items()}))
        results.append(done)
        log += done.stdout + done.stderr
        if done.returncode != 0:
            break
    return results, summary, log


def test_github_workflow_lists_the_steps_it_promises():
    workflow, steps = github_steps()
    install = next(s for s in steps if s.get("id") == "install")
    assert "pip install" in install["run"]
    run = next(s for s in steps if "grader run" in s.get("run", ""))
    for option in ("--public", '--markdown "$GITHUB_STEP_SUMMARY"', '--min-score "$MIN_SCORE"', "--junit"):
        assert option in run["run"]


def test_github_workflow_full_marks(tmp_path):
    repo = student_repo(tmp_path)
    results, summary, log = run_github(tmp_path, repo)
    assert [r.returncode for r in results] == [0], log
    text = summary.read_text()
    assert "## Neural network basics: 5 / 5 points (full marks)" in text
    assert "| softmax | 1 / 1 |  | ✅ passed |" in text
    assert "::error" not in log and "::notice title=grader%3A nn_basics::5 / 5 points" in log
    junit = etree.parse(str(repo / "grader-junit.xml"), etree.XMLParser(recover=False))
    assert junit.getroot().get("failures") == "0"


def test_github_workflow_fails_under_min_score_and_annotates(tmp_path):
    repo = student_repo(tmp_path, sigmoid_grad_bug=True)
    results, summary, log = run_github(tmp_path, repo)
    assert results[-1].returncode == 1, log
    line = next(i for i, l in enumerate((repo / "q2_sigmoid.py").read_text().splitlines(), 1)
                if l.startswith("def sigmoid_grad("))
    assert f"::error file=q2_sigmoid.py,line={line},title=sigmoid_grad%3A 0 / 1 points::" in log
    text = summary.read_text()
    assert "| sigmoid\\_grad | 0 / 1 | 1 | ❌ failed |" in text
    assert "Public checks: 5 of 55 points; the other 50 are graded after submission" in text


# -- GitLab CI ---------------------------------------------------------------------------------

def gitlab_job() -> dict:
    config = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    (job,) = [v for k, v in config.items() if isinstance(v, dict) and "script" in v]
    return job


def run_gitlab(tmp_path: Path, repo: Path) -> tuple[subprocess.CompletedProcess, str]:
    job = gitlab_job()
    grader_dir = tmp_path / "grader"
    env = base_env(tmp_path, job.get("variables", {}))
    env.update(GITLAB_CI="true", CI="true", CI_PROJECT_DIR=str(repo), GRADER_DIR=str(grader_dir))
    public_copy(grader_dir)   # instead of before_script: git clone + pip install
    # GitLab runs the script lines in one shell and stops at the first failing line.
    done = shell("\n".join(job["script"]), repo, env)
    return done, done.stdout + done.stderr


def test_gitlab_job_lists_the_steps_it_promises():
    job = gitlab_job()
    assert any("pip install" in line for line in job["before_script"])
    assert job["artifacts"]["reports"]["junit"] == "grader-junit.xml"
    assert job["artifacts"]["when"] == "always"
    assert any("--public" in line and '--min-score "$MIN_SCORE"' in line for line in job["script"])


@pytest.mark.parametrize("bug, code", [(False, 0), (True, 1)], ids=["full-marks", "points-lost"])
def test_gitlab_job_runs_and_leaves_its_artifacts(tmp_path, bug, code):
    repo = student_repo(tmp_path, sigmoid_grad_bug=bug)
    done, log = run_gitlab(tmp_path, repo)
    assert done.returncode == code, log
    job = gitlab_job()
    junit_path = repo / job["artifacts"]["reports"]["junit"]
    for artifact in job["artifacts"]["paths"]:
        assert (repo / artifact).is_file(), artifact
    tree = etree.parse(str(junit_path), etree.XMLParser(recover=False))
    report = json.loads((repo / "grader-report.json").read_text())
    lost = [t for t in report["tests"] if t["status"] != "passed"]
    assert int(tree.getroot().get("failures")) == len(lost) == (len(lost) if bug else 0)
    suite = tree.find("testsuite[@name='nn_basics.sigmoid_grad']")
    assert suite.get("failures") == ("1" if bug else "0")
    assert "::error" not in log        # annotations are GitHub's only
    assert ("-- sigmoid_grad" in log or "sigmoid_grad  " in log) and ("Lost points" in log) == bug
