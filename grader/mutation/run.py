"""``grader mutate NAME``: generate mutants of the reference, set the equivalent ones aside, grade
the rest like submissions, and report what survived with the input that tells it apart.

The order: (1) grade the reference, recording every call the checks make into the worker;
(2) replay those calls, random-input variants of them and their data magnified, on the reference in the sandbox
(twice: what is not reproducible is compared with nothing); (3) replay them on each mutant in
its own sandboxed worker: no difference anywhere means equivalent; (4) grade every other mutant
in one pytest session with warm sandboxes (grader.grading.grade_each, as ``grader validate``
does, with its build_mutant and judge_mutant). A mutant is killed when it loses points in its
own problem. Survivors an author judged harmless are listed in
``assignments/NAME/mutants/survivors.toml`` and reported apart, so a run shows only new ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from grader import zygote as zygotes
from grader.assignment import Assignment, AssignmentError
from grader.grading import _Jobs, grade, grade_each
from grader.mutation import equivalence
from grader.mutation.generate import GeneratedMutant, generate
from grader.mutation.operators import BY_NAME
from grader.session import Session
from grader.validate import Mutant, build_mutant, judge_mutant

SURVIVORS = "survivors.toml"
KEY_FIELDS = ("file", "function", "operator", "change", "line", "node")


class MutationError(Exception):
    """The run cannot start: the reference does not get full marks."""


@dataclass
class MutantResult:
    mutant: GeneratedMutant
    status: str = "pending"   # equivalent | killed | survived | error
    difference: equivalence.Difference | None = None
    lost: dict[str, float] = field(default_factory=dict)
    reason: str | None = None  # survivors.toml's reason, for a survivor judged harmless
    note: str = ""

    def as_dict(self) -> dict:
        m = self.mutant
        data = {"id": m.ident, "problem": m.problem, "file": m.file, "function": m.function,
                "operator": m.operator, "change": m.change, "line": m.line, "line_text": m.line_text,
                "node": m.node_text, "status": self.status, "lost": self.lost}
        if self.status in ("survived", "error"):
            data["diff"] = m.diff()
            data["known_harmless"] = self.reason
        if self.difference is not None:
            data["distinguishing_input"] = self.difference.as_dict()
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class MutationReport:
    assignment: str
    results: list[MutantResult]
    seconds: dict[str, float]

    def per_problem(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = table.setdefault(r.mutant.problem, {"generated": 0, "equivalent": 0, "killed": 0,
                                                      "survived": 0, "known": 0, "error": 0})
            row["generated"] += 1
            row[r.status] += 1
            row["known"] += r.status == "survived" and r.reason is not None
        return table

    def new_survivors(self) -> list[MutantResult]:
        return [r for r in self.results if r.status in ("survived", "error") and r.reason is None]

    def as_dict(self) -> dict:
        problems = {}
        for problem, row in self.per_problem().items():
            counted = row["generated"] - row["equivalent"]
            problems[problem] = {**row, "score": round(row["killed"] / counted, 4) if counted else None}
        return {"assignment": self.assignment, "seconds": self.seconds, "problems": problems,
                "mutants": [r.as_dict() for r in self.results]}


# ------------------------------------------------------------------ survivors.toml

def load_survivors(assignment: Assignment) -> dict[tuple, str]:
    """Survivors judged harmless: their stable key -> the reason given (AssignmentError for a
    malformed file: an author's mistake, reported like a malformed mutants.toml)."""
    path = os.path.join(assignment.folder, "mutants", SURVIVORS)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, "rb") as handle:
            entries = tomllib.load(handle).get("survivor", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{path} cannot be read: {exc}") from None
    known = {}
    for number, entry in enumerate(entries, 1):
        missing = [k for k in (*KEY_FIELDS, "reason") if not isinstance(entry.get(k), str) or not entry.get(k)]
        if missing:
            raise AssignmentError(f"{path}: survivor {number} needs {', '.join(missing)}")
        known[tuple(entry[k] for k in KEY_FIELDS)] = entry["reason"]
    return known


def survivor_entry(mutant: GeneratedMutant, reason: str) -> str:
    """A survivors.toml entry for a mutant (what an author pastes, with a reason)."""
    values = dict(zip(KEY_FIELDS, mutant.key))
    lines = ["[[survivor]]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines + [f"reason = {json.dumps(reason)}"]) + "\n"


# ------------------------------------------------------------------ the run

@contextlib.contextmanager
def _sandboxed(jobs: _Jobs, folder: str) -> Iterator[Session]:
    """A worker (forked from the warm sandbox) with ``folder`` loaded as the submission."""
    job = jobs.prepare(folder)
    try:
        if job.error is not None:
            raise job.error
        yield jobs.start(job)
    finally:
        job.close()


def _owner(assignment: Assignment) -> Callable[[equivalence.Call], str | None]:
    owner = {name: p.id for p in assignment.problems for name in p.functions}

    def problem_of(call: equivalence.Call) -> str | None:
        name = call.target.type_name if call.target is not None else call.function
        return owner.get(name)

    return problem_of


def mutate(assignment: Assignment, *, problem: str | None = None, limit: int | None = None,
           operators: list[str] | None = None, sandbox_mode: str = "auto",
           on_warning: Callable[[str], None] | None = None,
           out: Callable[[str], None] = print) -> MutationReport:
    """Run the whole pipeline and print progress; the report (see the module's docstring)."""
    try:
        return _mutate(assignment, problem, limit, operators, sandbox_mode, on_warning, out)
    finally:
        zygotes.close_all()


def _mutate(assignment, problem, limit, operators, sandbox_mode, on_warning, out) -> MutationReport:
    started = time.perf_counter()
    if problem is not None and problem not in {p.id for p in assignment.problems}:
        raise AssignmentError(f"{assignment.name} has no problem {problem!r}")
    unknown = [o for o in operators or [] if o not in BY_NAME]
    if unknown:
        raise AssignmentError(f"no mutation operator {', '.join(unknown)} (known: {', '.join(BY_NAME)})")
    if not assignment.reference_dir or not os.path.isdir(assignment.reference_dir):
        raise AssignmentError(f"{assignment.name} has no reference solution")
    known = load_survivors(assignment)
    mutants = generate(assignment, problem=problem,
                       operators=[BY_NAME[o] for o in operators] if operators else None)[:limit]
    results = [MutantResult(m) for m in mutants]
    seconds = {"generate": time.perf_counter() - started}
    out(f"{assignment.name}: {len(mutants)} mutants generated"
        + (f" in problem {problem}" if problem else "") + f" ({seconds['generate']:.2f} s)")

    clock = time.perf_counter()
    with equivalence.recording() as calls:
        expected = grade(assignment.reference_dir, assignment, sandbox_mode=sandbox_mode,
                         on_warning=on_warning, warm=True)
    if expected["score"] != expected["max_score"] or expected["grader"]["check_errors"]:
        raise MutationError(f"the reference scored {expected['score']} / {expected['max_score']}"
                            " (run grader validate first)")
    jobs = _Jobs(assignment, sandbox_mode, True, on_warning)
    base = equivalence.baseline(lambda: _sandboxed(jobs, assignment.reference_dir), calls)
    seconds["reference"] = time.perf_counter() - clock
    out(f"reference: full marks; {len(calls)} calls recorded, replayed with "
        f"{len(base.sequences) - 2} random variants and magnified ({seconds['reference']:.2f} s, "
        f"{len(base.unstable)} not reproducible)")

    problem_of = _owner(assignment)
    with tempfile.TemporaryDirectory(prefix="grader-mutate-") as scratch:
        clock = time.perf_counter()
        folders: dict[str, str] = {}
        for result in results:
            m = result.mutant
            folders[m.ident] = build_mutant(Mutant(m.ident, m.problem, m.change, None, [(m.file, m.original, m.source)]),
                                            assignment.reference_dir, scratch)
            try:
                with _sandboxed(jobs, folders[m.ident]) as worker:
                    result.difference = equivalence.first_difference(
                        worker, base, lambda call, p=m.problem: problem_of(call) == p)
            except Exception as exc:  # noqa: BLE001 - costs this mutant only: it is graded
                result.note = f"not probed ({type(exc).__name__}: {exc})"
            if result.difference is None and not result.note:
                result.status = "equivalent"
        seconds["equivalence"] = time.perf_counter() - clock
        graded = [r for r in results if r.status != "equivalent"]
        out(f"equivalent: {len(results) - len(graded)} of {len(results)} ({seconds['equivalence']:.2f} s)")

        clock = time.perf_counter()
        pending = iter(graded)

        def on_graded(_source, outcome) -> None:
            result = next(pending)
            m = result.mutant
            if isinstance(outcome, BaseException):
                result.status, result.note = "error", f"could not be graded ({type(outcome).__name__}: {outcome})"
            else:
                verdict = judge_mutant(Mutant(m.ident, m.problem, m.change, None, []), expected, outcome)
                result.lost = verdict.lost
                result.status = "killed" if m.problem in verdict.lost else "survived"
                if result.status == "survived" and verdict.lost:
                    result.note = "lost points only in " + ", ".join(sorted(verdict.lost))
            if result.status in ("survived", "error"):
                result.reason = known.get(m.key)

        grade_each((folders[r.mutant.ident] for r in graded), assignment, sandbox_mode=sandbox_mode,
                   warm=True, on_warning=on_warning, on_graded=on_graded)
        seconds["grading"] = time.perf_counter() - clock
    seconds["total"] = time.perf_counter() - started
    report = MutationReport(assignment.name, results, {k: round(v, 2) for k, v in seconds.items()})
    out(f"graded: {len(graded)} mutants in one session ({seconds['grading']:.2f} s)")
    return report


def render(report: MutationReport) -> str:
    """The terminal report: the score per problem, then each new survivor with its diff and the
    input that tells it apart (the check an author should add)."""
    lines = [f"{'problem':<24}{'generated':>10}{'equivalent':>11}{'killed':>8}{'survived':>9}"
             f"{'(known)':>8}{'score':>8}"]
    totals = dict.fromkeys(("generated", "equivalent", "killed", "survived", "known", "error"), 0)
    for problem, row in report.per_problem().items():
        counted = row["generated"] - row["equivalent"]
        score = f"{row['killed'] / counted:.0%}" if counted else "-"
        lines.append(f"{problem:<24}{row['generated']:>10}{row['equivalent']:>11}{row['killed']:>8}"
                     f"{row['survived'] + row['error']:>9}{row['known']:>8}{score:>8}")
        for key in totals:
            totals[key] += row[key]
    counted = totals["generated"] - totals["equivalent"]
    lines.append(f"{'all':<24}{totals['generated']:>10}{totals['equivalent']:>11}{totals['killed']:>8}"
                 f"{totals['survived'] + totals['error']:>9}{totals['known']:>8}"
                 f"{(totals['killed'] / counted if counted else 1):>8.0%}")
    for result in report.new_survivors():
        m = result.mutant
        lines += ["", f"SURVIVOR {m.ident} [{m.problem}] {m.function}: {m.operator} ({m.change}), "
                  f"{m.file}:{m.line}" + (f" - {result.note}" if result.note else ""),
                  m.diff().rstrip()]
        if result.difference is not None:
            lines.append("  differs from the reference on: " + result.difference.text())
    known = [r for r in report.results if r.reason is not None]
    if known:
        lines.append(f"\n{len(known)} survivor(s) judged harmless in {SURVIVORS} not shown")
    lines.append(f"\n{len(report.results)} mutants, {report.seconds['total']:.1f} s "
                 f"(reference {report.seconds['reference']:.1f}, equivalence {report.seconds['equivalence']:.1f}, "
                 f"grading {report.seconds['grading']:.1f})")
    return "\n".join(lines)
