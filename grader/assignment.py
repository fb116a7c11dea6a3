"""An assignment is a folder: assignment.toml, hidden checks, public checks, starter, mutants.

This module finds that folder by name or path and reads assignment.toml into plain data. The
reference solution lives outside it (reference_solutions/NAME) and is loaded only into the
grader's own process, never copied where a worker could see it.
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
import types
from dataclasses import dataclass, field

from grader.sandbox import Limits

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COST_CONVENTIONS = ("either", "sum", "mean")


class AssignmentError(Exception):
    """The assignment cannot be found or is malformed (a bad request: exit code 2)."""


@dataclass
class Problem:
    id: str
    title: str
    points: float
    functions: list[str]
    module: str
    call_seconds: float


@dataclass
class Assignment:
    name: str
    title: str
    version: str
    folder: str
    problems: list[Problem]
    limits: Limits
    call_seconds: float
    load_seconds: float
    submission_seconds: float
    settings: dict = field(default_factory=dict)
    reference_dir: str | None = None
    sandbox_functions: str | None = None

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.problems)

    def problem(self, problem_id: str) -> Problem:
        for problem in self.problems:
            if problem.id == problem_id:
                return problem
        raise KeyError(problem_id)

    def check_dirs(self, public_only: bool = False) -> list[str]:
        """The check folders to run: hidden ``checks/`` and ``public/``, or only ``public/`` when
        asked (``--public``) or when the hidden checks are not installed (a students' copy).
        Both count towards a problem's points, which assignment.toml gives as their sum."""
        names = ["public"] if public_only or not self.has_hidden_checks else ["checks", "public"]
        return [os.path.join(self.folder, n) for n in names if os.path.isdir(os.path.join(self.folder, n))]

    @property
    def has_hidden_checks(self) -> bool:
        return os.path.isdir(os.path.join(self.folder, "checks"))

    def is_public_copy(self, check_dirs: list[str]) -> bool:
        """Only public checks run and no reference solution is installed (a students' copy)."""
        public_only = all(os.path.basename(d) == "public" for d in check_dirs)
        return public_only and not (self.reference_dir and os.path.isdir(self.reference_dir))

    def functions_wanted(self) -> dict[str, list[str]]:
        """Each required function with the conventional module it is looked for first."""
        return {name: [p.module] for p in self.problems for name in p.functions}


def search_path() -> list[str]:
    paths = [p for p in os.environ.get("GRADER_ASSIGNMENTS", "").split(os.pathsep) if p]
    return paths + [os.path.join(REPO_ROOT, "assignments")]


def available() -> list[str]:
    names = []
    for folder in search_path():
        if os.path.isdir(folder):
            names += sorted(n for n in os.listdir(folder)
                            if os.path.isfile(os.path.join(folder, n, "assignment.toml")))
    return list(dict.fromkeys(names))


def find(name_or_path: str | None, submission=None) -> Assignment:
    """The assignment named, or at a path; when none is named, the only one installed or the
    one whose function and class names the submission defines."""
    if name_or_path is None:
        names = available()
        if len(names) == 1:
            name_or_path = names[0]
        elif submission is not None and names:
            return detect(submission, [find(name) for name in names])
        else:
            listing = ", ".join(names) or "none"
            raise AssignmentError(f"several assignments are installed ({listing}); "
                                  "choose one with --assignment NAME")
    if os.path.isfile(os.path.join(name_or_path, "assignment.toml")):
        return load(name_or_path)
    for folder in search_path():
        candidate = os.path.join(folder, name_or_path)
        if os.path.isfile(os.path.join(candidate, "assignment.toml")):
            return load(candidate)
    raise AssignmentError(f"no assignment named {name_or_path!r} (installed: "
                          f"{', '.join(available()) or 'none'}); pass a name or a folder with assignment.toml")


def detect(submission, candidates: list[Assignment]) -> Assignment:
    """The candidate most of whose required names the submission (a path, or a Submission
    already read) defines at top level in any file, when that is unambiguous."""
    from grader.submission import SubmissionError, open_submission

    submission_path = getattr(submission, "origin", submission)
    if isinstance(submission, str):
        try:
            opened = open_submission(submission)
        except SubmissionError:
            return candidates[0]  # grading reports the submission's own problem, with its fix
        try:
            return detect(opened, candidates)
        finally:
            opened.close()
    defined = submission.defined_names()
    modules = {source.module_parts[-1] for source in submission.sources}
    scored = []
    for candidate in candidates:
        # Names defined count most; the conventional file names (q1_softmax.py) break ties and
        # recognise a submission that defines nothing yet.
        wanted = {name for problem in candidate.problems for name in problem.functions}
        files = {problem.module for problem in candidate.problems}
        score = (len(wanted & defined) / len(wanted) if wanted else 0.0,
                 len(files & modules) / len(files) if files else 0.0)
        scored.append((score, candidate.name, candidate))
    scored.sort(key=lambda item: (-item[0][0], -item[0][1], item[1]))
    if not scored or scored[0][0] == (0.0, 0.0) or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        listing = ", ".join(c.name for c in candidates)
        raise AssignmentError(f"cannot tell from its function names which assignment "
                              f"{submission_path} is ({listing}); choose one with --assignment NAME")
    return scored[0][2]


def load(folder: str) -> Assignment:
    folder = os.path.abspath(folder)
    path = os.path.join(folder, "assignment.toml")
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{path} cannot be read: {exc}") from None
    try:
        limits_data = data.get("limits", {})
        limits = Limits(**{k: int(limits_data[k]) for k in
                           ("memory_mb", "cpu_seconds", "file_size_mb", "open_files", "processes",
                            "disk_mb")
                           if k in limits_data})
        call_seconds = float(limits_data.get("call_seconds", 5))
        problems = [Problem(id=str(p["id"]), title=str(p.get("title", p["id"])),
                            points=float(p["points"]), functions=list(p.get("functions", [p["id"]])),
                            module=str(p.get("module", p["id"])),
                            call_seconds=float(p.get("call_seconds", call_seconds)))
                    for p in data["problems"]]
        name = str(data.get("name", os.path.basename(folder)))
        reference = data.get("reference", os.path.join("..", "..", "reference_solutions", name))
        functions_file = data.get("sandbox_functions")
        assignment = Assignment(
            name=name, title=str(data.get("title", name)), version=str(data.get("version", "0")),
            folder=folder, problems=problems, limits=limits, call_seconds=call_seconds,
            load_seconds=float(limits_data.get("load_seconds", 10)),
            submission_seconds=float(limits_data.get("submission_seconds", 300)),
            settings=dict(data.get("settings", {})),
            reference_dir=os.path.normpath(os.path.join(folder, reference)),
            sandbox_functions=os.path.join(folder, functions_file) if functions_file else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise AssignmentError(f"{path} is malformed ({type(exc).__name__}: {exc}); "
                              "see assignments/nn_basics/assignment.toml for the format") from None
    convention = assignment.settings.get("cost_convention", "either")
    if convention not in COST_CONVENTIONS:
        raise AssignmentError(f"{path}: settings.cost_convention must be one of {COST_CONVENTIONS}")
    return assignment


def load_reference(assignment: Assignment) -> types.SimpleNamespace:
    """Import the reference solution into the grader's process, without leaving its module
    names behind (they are the same names student modules use)."""
    folder = assignment.reference_dir
    if not folder or not os.path.isdir(folder):
        raise AssignmentError(f"reference solution for {assignment.name} not found at {folder}")
    names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py")
    before = set(sys.modules)
    sys.path.insert(0, folder)
    namespace = types.SimpleNamespace()
    try:
        for name in names:
            module = importlib.import_module(name)
            for attr, value in vars(module).items():
                if callable(value) and not attr.startswith("_") and not isinstance(value, type(sys)):
                    if getattr(value, "__module__", None) == name or not hasattr(namespace, attr):
                        setattr(namespace, attr, value)
    finally:
        sys.path.remove(folder)
        for name in set(sys.modules) - before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(folder):
                del sys.modules[name]
    return namespace
