"""The Gradescope autograder bundle: ``grader gradescope-bundle NAME -o autograder.zip``, and
what runs inside it (``python -m grader.gradescope``).

Gradescope unpacks the zip into /autograder/source, runs setup.sh once to build the image, then
for each submission runs run_autograder, which must grade /autograder/submission and write
/autograder/results/results.json. Our report is a superset of that file, so it is written as is.

The bundle holds the grader's source, the assignment (assignment.toml, hidden and public checks,
the sandbox functions; not its mutants or starter) and the reference solution, laid out as in
this repository so the assignment finds its reference at ../../reference_solutions/NAME. The
reference is read only by the grader's process: under bubblewrap the worker sees the
interpreter and the submission copy, nothing of /autograder. Under ``--sandbox process`` (when
the image cannot run bubblewrap) it can read whatever the grader can; setup.sh makes the
reference and the hidden checks readable by root only, which protects them only from a worker
that does not run as root. AUTOGRADER_ROOT (default /autograder) moves the whole tree, for tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import stat
import sys
import zipfile

from grader import outfile, safetext
from grader import report as reports
from grader.assignment import REPO_ROOT, Assignment, AssignmentError

SKIP_DIRS = {"__pycache__", ".pytest_cache", "mutants", "starter", ".ipynb_checkpoints"}
SKIP_SUFFIXES = (".pyc", ".pyo")

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="${GRADER_VENV:-$ROOT/grader-venv}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON=python3.11
fi
"$PYTHON" -m venv "$VENV"
# Exactly the versions the bundle was built and validated with (constraints.txt, made from the
# builder's installed packages; versions.json says the same, and every report carries it).
export PIP_CONSTRAINT="$SOURCE/constraints.txt"   # also for build environments, where -c does not reach
"$VENV/bin/python" -m pip install -c "$SOURCE/constraints.txt" --upgrade pip
"$VENV/bin/python" -m pip install -c "$SOURCE/constraints.txt" "$SOURCE"
# Only root may read the reference solution and the hidden checks.
chmod -R go-rwx "$SOURCE/reference_solutions" "$SOURCE/assignments/__NAME__/checks"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission: grade $ROOT/submission, write $ROOT/results/results.json.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-$ROOT/grader-venv/bin/python}"
# The bundle's own grader source comes first on the path, whatever else is installed.
export PYTHONPATH="$ROOT/source"
exec "$PYTHON" -m grader.gradescope --root "$ROOT" --assignment "$ROOT/source/assignments/__NAME__"
"""


VERSIONS = "versions.json"
CONSTRAINTS = "constraints.txt"


def _requirement_name(line: str) -> str | None:
    """The distribution a ``Requires-Dist`` line names, or None when only an extra wants it."""
    if re.search(r"""extra\s*==""", line.split(";", 1)[1] if ";" in line else ""):
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return match.group(1) if match else None


def installed_versions(requirements: list[str]) -> dict[str, str]:
    """The installed version of each requirement and of everything it needs, transitively
    (extras left out): what a bundle built here was validated with. Keys are canonical names."""
    from importlib import metadata

    canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731 - PEP 503
    versions: dict[str, str] = {}
    todo = [r for r in (_requirement_name(line) for line in requirements) if r]
    while todo:
        name = canonical(todo.pop())
        if name in versions:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue   # wanted only under a marker that does not hold here
        versions[name] = dist.version
        todo += [r for r in (_requirement_name(line) for line in dist.requires or []) if r]
    return dict(sorted(versions.items()))


def pins() -> dict:
    """versions.json: the Python and the exact package versions of the bundle's build."""
    import tomllib
    from importlib import metadata

    # what setup.sh installs is the bundle's pyproject.toml: its dependencies are the roots
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as handle:
        wanted = tomllib.load(handle)["project"]["dependencies"]
    packages = installed_versions(wanted)
    missing = [n for n in (_requirement_name(line) for line in wanted)
               if n and re.sub(r"[-_.]+", "-", n).lower() not in packages]
    if missing:
        raise AssignmentError(f"cannot pin {', '.join(missing)}: not installed here "
                              "(pip install -e . first; the bundle pins what it was built with)")
    try:
        packages["pip"] = metadata.version("pip")
    except metadata.PackageNotFoundError:
        pass
    return {"python": platform.python_version(), "packages": dict(sorted(packages.items()))}


def constraints_text(pinned: dict) -> str:
    """constraints.txt for ``pip install -c``: one ``name==version`` a line."""
    lines = [f"# the versions this bundle was built and validated with (Python {pinned['python']})"]
    return "\n".join(lines + [f"{n}=={v}" for n, v in pinned["packages"].items()]) + "\n"


def bundle_versions(root: str | None = None) -> dict:
    """The bundle's versions.json (beside its grader/ folder), or {} outside a bundle."""
    path = os.path.join(root or os.path.dirname(os.path.dirname(os.path.abspath(__file__))), VERSIONS)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _files(folder: str, prefix: str):
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.endswith(SKIP_SUFFIXES) or name.startswith("."):
                continue
            full = os.path.join(current, name)
            yield full, os.path.join(prefix, os.path.relpath(full, folder)).replace(os.sep, "/")


def _add_text(archive: zipfile.ZipFile, name: str, text: str, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def build_bundle(assignment: Assignment, output: str) -> list[str]:
    """Write the autograder zip through ``outfile`` (atomic for a file, direct for a device or
    pipe); return the names it holds. Raises ``outfile.OutputError`` for a path it cannot write."""
    reference = assignment.reference_dir or ""
    if not os.path.isdir(reference):
        raise AssignmentError(f"the reference solution of {assignment.name} is not at {reference}; "
                              "the bundle needs it")
    expected = os.path.normpath(os.path.join(assignment.folder, "..", "..", "reference_solutions",
                                             os.path.basename(assignment.folder)))
    if os.path.normpath(reference) != expected:
        raise AssignmentError(f"{assignment.name}: the bundle expects the reference at {expected} "
                              f"(the default layout), not {reference}")
    if not os.path.isdir(os.path.join(assignment.folder, "checks")):
        raise AssignmentError(f"{assignment.folder} has no hidden checks (checks/): a Gradescope "
                              "bundle is built from the instructor's copy")
    folder_name = os.path.basename(assignment.folder)
    entries = list(_files(os.path.join(REPO_ROOT, "grader"), "grader"))
    entries += [(os.path.join(REPO_ROOT, n), n) for n in ("pyproject.toml", "README.md")]
    entries += list(_files(assignment.folder, f"assignments/{folder_name}"))
    entries += list(_files(reference, f"reference_solutions/{folder_name}"))
    buffer = io.BytesIO()  # the bundle is small (source text); built whole, then written once
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", SETUP_SH.replace("__NAME__", folder_name), True)
        _add_text(archive, "run_autograder", RUN_AUTOGRADER.replace("__NAME__", folder_name), True)
        pinned = pins()
        _add_text(archive, CONSTRAINTS, constraints_text(pinned), False)
        _add_text(archive, VERSIONS, json.dumps(pinned, indent=2, sort_keys=True) + "\n", False)
        for full, name in entries:
            archive.write(full, name)
        names = archive.namelist()
    outfile.write(output, buffer.getvalue())
    return names


def failure_results(message: str, max_score: float) -> dict:
    """results.json for a submission that could not be read at all: zero, and why."""
    return {"score": 0, "max_score": max_score, "output": message, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": []}


def run_autograder(root: str, assignment_dir: str, sandbox_mode: str = "auto") -> int:
    """Grade ROOT/submission into ROOT/results/results.json (what run_autograder runs).
    A submission that cannot be read scores 0 with the reason; a failure of the grader itself
    writes nothing and exits 3, so Gradescope shows the run as failed instead of a false 0."""
    import grader
    from grader import assignment as assignments
    from grader.grading import grade
    from grader.submission import SubmissionError

    print(f"grader {grader.__version__} from {os.path.dirname(os.path.abspath(grader.__file__))}")
    results = os.path.join(root, "results", "results.json")
    assignment = assignments.load(assignment_dir)
    try:
        result = grade(os.path.join(root, "submission"), assignment, sandbox_mode=sandbox_mode,
                       on_warning=lambda line: print(line, file=sys.stderr))
    except SubmissionError as exc:
        from grader.student_view import not_graded_reason

        result = failure_results("Your submission could not be read: "
                                 + not_graded_reason("unreadable", str(exc)), assignment.max_score)
    versions = bundle_versions(os.path.join(root, "source"))
    if versions:  # which versions graded it, in every report the bundle writes
        result.setdefault("grader", {}).setdefault("dependencies", versions)
    reports.write_json(result, results)
    print(safetext.for_terminal(result["output"]))
    print(f"sandbox: {result.get('grader', {}).get('sandbox', 'none')}; wrote {results}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope",
                                     description="grade a Gradescope submission (run by run_autograder)")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--sandbox", choices=("auto", "bubblewrap", "process"), default="auto")
    args = parser.parse_args(argv)
    try:
        return run_autograder(args.root, args.assignment, args.sandbox)
    except Exception as exc:  # noqa: BLE001 - any failure of ours: no results, exit 3
        import traceback

        traceback.print_exc()
        print(f"grader: internal failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
