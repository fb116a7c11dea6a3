"""``grader validate NAME``: proof that an assignment's checks are right and strong enough.

1. The reference solution gets full marks, twice, with identical reports (timings aside).
2. Each problem's checks add up to the points assignment.toml gives it.
3. Every mutant in ``assignments/NAME/mutants/`` (a wrong variant of the reference) loses points
   in its own problem and nowhere else, and, when its entry names one, the feedback of that
   problem's failed checks contains the diagnosis that names the bug.

Mutant format: ``mutants/mutants.toml`` lists ``[[mutant]]`` entries (``name``, ``problem``,
``bug``, optional ``feedback``), each with one or more ``[[mutant.change]]`` tables (``file``,
``old``, ``new``): ``old`` must occur exactly once in that file of the reference and is replaced
by ``new``. A mutant is graded as a copy of the reference folder with its changes made, in this
process, one after another in one pytest session, exactly like a batch's submissions. A change whose ``old`` no
longer matches (the reference moved on) is an error, not a silently different mutant.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from typing import Callable

from grader import report
from grader import zygote as zygotes
from grader.assignment import Assignment, AssignmentError
from grader.grading import grade, grade_each

INDEX = "mutants.toml"


@dataclass
class Mutant:
    name: str
    problem: str
    bug: str
    feedback: str | None
    changes: list[tuple[str, str, str]]   # (file, old, new)


@dataclass
class MutantVerdict:
    mutant: Mutant
    caught: bool = False          # lost points in its own problem and nowhere else
    named: bool = True            # the declared diagnosis appeared in the feedback
    lost: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why it does not count as caught / named


def comparable(result: dict) -> str:
    """A report without the parts that may differ between two gradings (timings)."""
    clean = dict(result)
    clean.pop("execution_time", None)
    return json.dumps(clean, sort_keys=True)


def load_mutants(assignment: Assignment) -> list[Mutant]:
    """The assignment's mutants, in index order; AssignmentError for a malformed index or a
    change that no longer matches the reference."""
    index = os.path.join(assignment.folder, "mutants", INDEX)
    if not os.path.isfile(index):
        return []
    try:
        with open(index, "rb") as handle:
            entries = tomllib.load(handle).get("mutant", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{index} cannot be read: {exc}") from None
    known = {p.id for p in assignment.problems}
    mutants, errors = [], []
    for entry in entries:
        name, problem = str(entry.get("name", "")), str(entry.get("problem", ""))
        changes = []
        for change in entry.get("change", []):
            file, old, new = change.get("file"), change.get("old"), change.get("new")
            if not all(isinstance(v, str) for v in (file, old, new)) or not old:
                errors.append(f"mutant {name}: each change needs file, old and new")
                continue
            path = os.path.join(assignment.reference_dir or "", file)
            text = open(path).read() if os.path.isfile(path) else ""
            if text.count(old) != 1:
                errors.append(f"mutant {name}: its change to {file} matches the reference "
                              f"{text.count(old)} times, not once (update `old`)")
            changes.append((file, old, new))
        if not name:
            errors.append(f"a mutant in {INDEX} has no name")
        elif problem not in known:
            errors.append(f"mutant {name}: problem {problem!r} is not in assignment.toml")
        elif not changes:
            errors.append(f"mutant {name}: no [[mutant.change]]")
        else:
            mutants.append(Mutant(name, problem, str(entry.get("bug", "")),
                                  entry.get("feedback"), changes))
    if len({m.name for m in mutants}) != len(mutants):
        errors.append(f"{INDEX} lists a mutant twice")
    if errors:
        raise AssignmentError("; ".join(errors))
    return mutants


def build_mutant(mutant: Mutant, reference_dir: str, into: str) -> str:
    """A submission folder: a copy of the reference with the mutant's changes made."""
    target = os.path.join(into, mutant.name)
    shutil.copytree(reference_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for file, old, new in mutant.changes:
        path = os.path.join(target, file)
        with open(path) as handle:
            text = handle.read()
        with open(path, "w") as handle:
            handle.write(text.replace(old, new, 1))
    return target


def judge_mutant(mutant: Mutant, expected: dict, result: dict) -> MutantVerdict:
    """Caught means: fewer points than the reference in its own problem, the same elsewhere."""
    verdict = MutantVerdict(mutant)
    for problem_id, full in expected["problems"].items():
        got = result["problems"][problem_id]["score"]
        if got != full["score"]:
            verdict.lost[problem_id] = round(full["score"] - got, 4)
    others = sorted(p for p in verdict.lost if p != mutant.problem)
    if mutant.problem not in verdict.lost:
        verdict.problems.append(f"kept all points of {mutant.problem}")
    if others:
        verdict.problems.append("also lost points in " + ", ".join(others))
    verdict.caught = not verdict.problems
    if mutant.feedback:
        outputs = "\n".join(t["output"] for t in result["tests"]
                            if t["tags"] == [mutant.problem] and t["status"] != "passed")
        if mutant.feedback.lower() not in outputs.lower():
            verdict.named = False
            verdict.problems.append(f"the feedback does not say {mutant.feedback!r}")
    return verdict


def validate(assignment: Assignment, *, sandbox_mode: str = "auto",
             on_warning: Callable[[str], None] | None = None,
             out: Callable[[str], None] = print) -> bool:
    """Run every step, print what it found; True when the assignment passes validation."""
    try:
        return _validate(assignment, sandbox_mode, on_warning, out)
    finally:
        zygotes.close_all()


def _validate(assignment: Assignment, sandbox_mode: str, on_warning, out) -> bool:
    started = time.perf_counter()
    mutants = load_mutants(assignment)
    first = grade(assignment.reference_dir, assignment, sandbox_mode=sandbox_mode, on_warning=on_warning)
    failures = []
    if first["score"] != first["max_score"]:
        failures.append(f"the reference scored {first['score']} / {first['max_score']}:\n"
                        + report.terminal(first))
    if first["grader"]["check_errors"]:
        failures.append("checks that errored on the reference: " + ", ".join(first["grader"]["check_errors"]))
    for problem in assignment.problems:
        got = first["problems"][problem.id]["max_score"]
        if got != problem.points:
            failures.append(f"problem {problem.id}: its checks add up to {got} points, "
                            f"assignment.toml gives {problem.points:g}")
    out(f"reference: {first['score']} / {first['max_score']} "
        f"({len(first['tests'])} checks, {first['execution_time']:.2f} s, sandbox {first['grader']['sandbox']})")

    # The reference again, then every mutant: one pytest session, each worker forked from a warm
    # sandbox; the reproducibility check then also proves warm and fresh sandboxes grade alike.
    verdicts: list[MutantVerdict] = []
    reference_again = True

    def graded(_source, outcome) -> None:
        nonlocal reference_again
        if reference_again:
            reference_again = False
            if isinstance(outcome, BaseException):
                raise outcome
            reproducible = comparable(first) == comparable(outcome)
            if not reproducible:
                failures.append("grading the reference twice gave different reports")
            out(f"reproducible: {'yes' if reproducible else 'NO'}")
            return
        mutant = mutants[len(verdicts)]
        if isinstance(outcome, BaseException):
            verdict = MutantVerdict(mutant, problems=[f"could not be graded ({type(outcome).__name__}: {outcome})"])
            seconds = 0.0
        else:
            verdict, seconds = judge_mutant(mutant, first, outcome), outcome["execution_time"]
        verdicts.append(verdict)
        lost = ", ".join(f"{p} -{v:g}" for p, v in verdict.lost.items()) or "nothing lost"
        mark = "ok  " if verdict.caught and verdict.named else "MISS"
        out(f"  {mark} {mutant.name:<40} {seconds:5.2f} s  {lost}"
            + (f"  ({'; '.join(verdict.problems)})" if verdict.problems else ""))

    with tempfile.TemporaryDirectory(prefix="grader-mutants-") as scratch:
        folders = (build_mutant(mutant, assignment.reference_dir, scratch) for mutant in mutants)
        grade_each(itertools.chain([assignment.reference_dir], folders), assignment,
                   sandbox_mode=sandbox_mode, warm=True, on_graded=graded)
    if mutants:
        caught = sum(v.caught for v in verdicts)
        named = sum(v.named for v in verdicts if v.mutant.feedback)
        declared = sum(1 for v in verdicts if v.mutant.feedback)
        by_problem = {p.id: sum(1 for m in mutants if m.problem == p.id) for p in assignment.problems}
        out("mutants per problem: " + ", ".join(f"{p} {n}" for p, n in by_problem.items()))
        out(f"mutants caught: {caught}/{len(mutants)}")
        out(f"diagnosis named: {named}/{declared}")
        for verdict in verdicts:
            if not verdict.caught or not verdict.named:
                failures.append(f"mutant {verdict.mutant.name} ({verdict.mutant.bug}): "
                                + "; ".join(verdict.problems))
    else:
        out("mutants: none (add assignments/NAME/mutants/ to prove the checks catch bugs)")
    for failure in failures:
        out(f"FAIL: {failure}")
    out(f"validate: {'FAILED' if failures else 'ok'} ({time.perf_counter() - started:.1f} s)")
    return not failures
