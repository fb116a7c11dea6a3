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

4. Every correct variant in ``assignments/NAME/variants/variants.toml`` keeps full marks: the
   mutants prove the checks catch bugs, the variants prove they do not punish correct work
   written another way (another sound formula, an OrderedDict where a dict is asked, a more
   accurate finite difference, a notebook with its cells in an odd order). A variant is a
   ``[[variant]]`` (``name``, ``problems``: the problems whose code it rewrites, ``why``) built
   by the same machinery as a mutant: ``[[variant.change]]`` snippet edits of the reference,
   and, where a snippet cannot say it, ``add`` (a folder beside variants.toml whose files are
   copied over the reference copy) and ``remove`` (reference files left out, e.g. the modules
   a notebook variant replaces). It is graded in the same pytest session as the mutants.
   A variant may say ``pending = "what it waits for"`` when it proves a fix that lives in
   another change (e.g. the wire carrying an OrderedDict as a dict): it is graded and its lost
   points are printed, but they do not fail validation; once it keeps full marks, validation
   says to remove the ``pending`` line.

5. The starter (``starter/``, what students are handed) is graded like a submission in the same
   session: it must load without errors of its own (a stub's NotImplementedError aside), define
   every name assignment.toml requires, and score 0.

Author errors are found before any grading and named by their real cause, one line each (an
AssignmentError, exit 2): a reference folder that does not exist, a mutant or variant whose
change names a file the reference does not have, a ``functions`` entry that no check mentions or
that the reference does not define, a check calling ``submission.NAME`` for a NAME no problem
lists, a check without a problem marker or naming an unknown problem. Otherwise each would
surface later as something else ("matches the reference 0 times", "was not found in the
submission", "internal failure").
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from typing import Callable

from grader import report
from grader import zygote as zygotes
from grader.assignment import Assignment, AssignmentError, load_reference
from grader.grading import CheckAuthorError, GraderFailure, grade, grade_each

INDEX = "mutants.toml"
VARIANTS = "variants.toml"


@dataclass
class Mutant:
    name: str
    problem: str
    bug: str
    feedback: str | None
    changes: list[tuple[str, str, str]]   # (file, old, new)
    add: str | None = None                # a folder whose files are copied over the reference copy
    remove: list[str] = field(default_factory=list)  # reference files left out


@dataclass
class Variant:
    """A correct rewrite of the reference: it must keep every point."""
    name: str
    problems: list[str]
    why: str
    changes: list[tuple[str, str, str]]
    add: str | None = None
    remove: list[str] = field(default_factory=list)
    pending: str | None = None    # the change elsewhere it waits for; its losses do not fail


@dataclass
class VariantVerdict:
    variant: Variant
    lost: dict[str, float] = field(default_factory=dict)       # problem -> points lost
    checks: list[str] = field(default_factory=list)            # "name -N: first line of output"
    error: str | None = None                                   # could not be graded

    @property
    def full_marks(self) -> bool:
        return not self.lost and self.error is None


@dataclass
class MutantVerdict:
    mutant: Mutant
    caught: bool = False          # lost points in its own problem and nowhere else
    named: bool = True            # the declared diagnosis appeared in the feedback
    lost: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why it does not count as caught / named
    said: list[str] = field(default_factory=list)      # what the feedback did say (for a MISS)


def comparable(result: dict) -> str:
    """A report without the parts that may differ between two gradings (timings)."""
    clean = dict(result)
    clean.pop("execution_time", None)
    return json.dumps(clean, sort_keys=True)


def _read_index(assignment: Assignment, folder: str, index_name: str, key: str) -> tuple[str, list[dict]]:
    index = os.path.join(assignment.folder, folder, index_name)
    if not os.path.isfile(index):
        return index, []
    try:
        with open(index, "rb") as handle:
            return index, tomllib.load(handle).get(key, [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{index} cannot be read: {exc}") from None


def _changes(assignment: Assignment, kind: str, name: str, entry: dict, errors: list[str]) -> list[tuple[str, str, str]]:
    """An entry's snippet edits, each checked to match the reference exactly once."""
    changes = []
    for change in entry.get("change", []):
        file, old, new = change.get("file"), change.get("old"), change.get("new")
        if not all(isinstance(v, str) for v in (file, old, new)) or not old:
            errors.append(f"{kind} {name}: each change needs file, old and new")
            continue
        path = os.path.join(assignment.reference_dir or "", file)
        if not os.path.isfile(path):
            errors.append(f"{kind} {name}: its change names {file}, which the reference "
                          f"({assignment.reference_dir}) does not have (fix `file`)")
        elif (text := open(path).read()).count(old) != 1:
            errors.append(f"{kind} {name}: its change to {file} matches the reference "
                          f"{text.count(old)} times, not once (update `old`)")
        changes.append((file, old, new))
    return changes


def _files(assignment: Assignment, folder: str, kind: str, name: str, entry: dict,
           errors: list[str]) -> tuple[str | None, list[str]]:
    """An entry's whole-file part: the ``add`` folder (absolute) and the ``remove`` list."""
    add, remove = entry.get("add"), entry.get("remove", [])
    if add is not None:
        base = os.path.realpath(os.path.join(assignment.folder, folder))
        add = os.path.realpath(os.path.join(base, str(add)))
        if not add.startswith(base + os.sep) or not os.path.isdir(add):
            errors.append(f"{kind} {name}: add = {entry.get('add')!r} is not a folder inside {folder}/")
    if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
        errors.append(f"{kind} {name}: remove must be a list of file names")
        remove = []
    for file in remove:
        if not os.path.isfile(os.path.join(assignment.reference_dir or "", file)):
            errors.append(f"{kind} {name}: remove names {file!r}, which the reference does not have")
    return add, remove


NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def load_mutants(assignment: Assignment) -> list[Mutant]:
    """The assignment's mutants, in index order; AssignmentError for a malformed index or a
    change that no longer matches the reference."""
    _, entries = _read_index(assignment, "mutants", INDEX, "mutant")
    known = {p.id for p in assignment.problems}
    mutants, errors = [], []
    for entry in entries:
        name, problem = str(entry.get("name", "")), str(entry.get("problem", ""))
        changes = _changes(assignment, "mutant", name, entry, errors)
        add, remove = _files(assignment, "mutants", "mutant", name, entry, errors)
        if not NAME.fullmatch(name):
            errors.append(f"a mutant in {INDEX} has no name or one that is not a plain folder name ({name!r})")
        elif problem not in known:
            errors.append(f"mutant {name}: problem {problem!r} is not in assignment.toml")
        elif not changes and not add and not remove:
            errors.append(f"mutant {name}: no [[mutant.change]]")
        else:
            mutants.append(Mutant(name, problem, str(entry.get("bug", "")),
                                  entry.get("feedback"), changes, add, remove))
    if len({m.name for m in mutants}) != len(mutants):
        errors.append(f"{INDEX} lists a mutant twice")
    if errors:
        raise AssignmentError("; ".join(errors))
    return mutants


def load_variants(assignment: Assignment) -> list[Variant]:
    """The assignment's correct variants, in index order; AssignmentError for a malformed
    index, an unknown problem, a variant that changes nothing, or a change that no longer
    matches the reference (a variant equal to the reference proves nothing)."""
    _, entries = _read_index(assignment, "variants", VARIANTS, "variant")
    known = {p.id for p in assignment.problems}
    variants, errors = [], []
    for entry in entries:
        name = str(entry.get("name", ""))
        problems = entry.get("problems", entry.get("problem", []))
        problems = [problems] if isinstance(problems, str) else [str(p) for p in problems]
        changes = _changes(assignment, "variant", name, entry, errors)
        add, remove = _files(assignment, "variants", "variant", name, entry, errors)
        unknown = [p for p in problems if p not in known]
        if not NAME.fullmatch(name):
            errors.append(f"a variant in {VARIANTS} has no name or one that is not a plain folder name ({name!r})")
        elif not problems or unknown:
            errors.append(f"variant {name}: problems {unknown or problems!r} are not in assignment.toml")
        elif not str(entry.get("why", "")).strip():
            errors.append(f"variant {name}: say `why` it is correct and how students write it")
        elif not changes and not add and not remove:
            errors.append(f"variant {name}: no [[variant.change]], add or remove")
        else:
            pending = entry.get("pending")
            variants.append(Variant(name, problems, str(entry["why"]), changes, add, remove,
                                    str(pending) if pending else None))
    if len({v.name for v in variants}) != len(variants):
        errors.append(f"{VARIANTS} lists a variant twice")
    if errors:
        raise AssignmentError("; ".join(errors))
    return variants


def build_mutant(mutant: Mutant | Variant, reference_dir: str, into: str) -> str:
    """A submission folder: a copy of the reference with the mutant's (or variant's) changes
    made, its ``remove`` files left out and its ``add`` folder copied over it."""
    target = os.path.join(into, mutant.name)
    shutil.copytree(reference_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for file in mutant.remove:
        os.remove(os.path.join(target, file))
    if mutant.add:
        shutil.copytree(mutant.add, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
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
    verdict.said = feedback_said(result, mutant.problem)
    if mutant.feedback:
        outputs = "\n".join(t["output"] for t in result["tests"]
                            if t["tags"] == [mutant.problem] and t["status"] != "passed")
        if mutant.feedback.lower() not in outputs.lower():
            verdict.named = False
            verdict.problems.append(f"the feedback does not say {mutant.feedback!r}")
    return verdict


def feedback_said(result: dict, problem: str, checks: int = 3, lines: int = 3) -> list[str]:
    """The first lines of the feedback of ``problem``'s failed checks (else of any failed
    check, named with its problem): what a MISS is shown, so the author sees what the checks
    did say instead of the phrase they were told to expect."""
    failed = [t for t in result["tests"] if t["status"] != "passed"]
    own = [t for t in failed if t["tags"] == [problem]]
    said = []
    for test in (own or failed)[:checks]:
        head = [line for line in (test.get("output") or "").splitlines() if line.strip()][:lines]
        said.append(f"{test['name']}: " + (" | ".join(line.strip()[:160] for line in head) or test["status"]))
    return said or [f"no check failed ({problem} and every other problem kept full marks)"]


def judge_starter(assignment: Assignment, result: dict) -> list[str]:
    """What is wrong with the starter as students get it: it must load without errors of its
    own (a stub raising NotImplementedError is expected), define every required name and score
    0 (a check that passes on stubs gives points away and proves nothing)."""
    problems = []
    for line in result["submission"]["load_errors"]:
        if "NotImplementedError" not in line:
            problems.append(f"it does not load cleanly: {line}")
    found = result["submission"]["functions"]
    for problem in assignment.problems:
        for name in problem.functions:
            if found.get(name) is None:
                problems.append(f"it does not define {name} (problem {problem.id} requires it)")
    if result["score"]:
        passing = [t["name"] for t in result["tests"] if t["score"]]
        problems.append(f"it scores {result['score']} / {result['max_score']}: checks that pass on "
                        f"stubs give points away ({', '.join(passing[:5])})")
    if result["grader"]["check_errors"]:
        problems.append("checks that errored on it: " + ", ".join(result["grader"]["check_errors"]))
    return problems


PROXY_ATTRIBUTES = frozenset({"run", "has", "load_problems_for", "calls", "timeouts",
                              "last_call_outline", "last_call_text"})


def author_errors(assignment: Assignment) -> list[str]:
    """Mistakes in the assignment's own files that grading would report as something else,
    each as one line naming the cause and the fix. Raises AssignmentError at once for a
    reference folder that does not exist (everything after depends on it)."""
    reference_dir = assignment.reference_dir or ""
    if not os.path.isdir(reference_dir):
        default = os.path.join("..", "..", "reference_solutions", assignment.name)
        raise AssignmentError(f"reference folder {reference_dir} not found: set reference = "
                              f"\"PATH\" in assignment.toml (relative to the assignment folder; "
                              f"default {default})")
    if not assignment.check_dirs():
        raise AssignmentError(f"{assignment.folder} has no checks/ or public/ folder: add the checks "
                              "(grader new scaffolds them)")
    errors = []
    sources = []
    for folder in assignment.check_dirs():
        for root, _dirs, files in os.walk(folder):
            for file in sorted(files):
                if file.endswith(".py"):
                    with open(os.path.join(root, file), encoding="utf-8", errors="replace") as handle:
                        sources.append(handle.read())
    text = "\n".join(sources)
    wanted = {name: p.id for p in assignment.problems for name in p.functions}
    try:
        reference = load_reference(assignment)
    except AssignmentError:
        raise
    except Exception as exc:  # noqa: BLE001 - the author's code: its error is the message
        raise AssignmentError(f"the reference in {reference_dir} cannot be imported "
                              f"({type(exc).__name__}: {exc})") from None
    for name, problem in wanted.items():
        if not re.search(rf"\b{re.escape(name)}\b", text):
            errors.append(f"problem {problem}: its functions entry {name!r} is called by no check "
                          f"(no file in checks/ or public/ mentions it): fix the name in "
                          f"assignment.toml or call submission.{name}(...) in a check")
        if not hasattr(reference, name):
            errors.append(f"problem {problem}: the reference ({reference_dir}) does not define "
                          f"{name!r}, which its functions entry requires: fix the name or the reference")
    called = set(re.findall(r"\bsubmission\.([A-Za-z_]\w*)", text)) - PROXY_ATTRIBUTES
    called |= set(re.findall(r"\bsubmission\.run\(\s*[\"']([A-Za-z_]\w*)[\"']", text))
    for name in sorted(called - set(wanted)):
        errors.append(f"the checks call submission.{name}, which no problem's functions in "
                      f"assignment.toml lists (only listed names are looked up in a submission): "
                      f"add it to its problem's functions")
    return errors


def judge_variant(variant: Variant, expected: dict, result: dict) -> VariantVerdict:
    """Full marks means: the reference's score in every problem; else each check that cost
    points is named with the points lost and the first line of its feedback."""
    verdict = VariantVerdict(variant)
    for problem_id, full in expected["problems"].items():
        got = result["problems"][problem_id]["score"]
        if got != full["score"]:
            verdict.lost[problem_id] = round(full["score"] - got, 4)
    for test in result["tests"]:
        if test["score"] < test["max_score"]:
            output = (test.get("output") or "").strip()
            first = output.splitlines()[0][:160] if output else test["status"]
            verdict.checks.append(f"{test['name']} -{test['max_score'] - test['score']:g}: {first}")
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
    errors = author_errors(assignment)
    if errors:
        raise AssignmentError("\ngrader: ".join(errors))
    mutants = load_mutants(assignment)
    variants = load_variants(assignment)
    try:
        first = grade(assignment.reference_dir, assignment, sandbox_mode=sandbox_mode, on_warning=on_warning)
    except GraderFailure as exc:
        # The checks could not even run (a marker missing or naming no problem, a file that
        # does not import): the author's error, said as such rather than as an internal
        # failure. A bug inside a check (CheckAuthorError) keeps its exit 3 and its message,
        # which names the file and line; a failure of the grader's own stays one.
        setup = "the checks could not run: "
        if isinstance(exc, CheckAuthorError) or not str(exc).startswith(setup):
            raise
        raise AssignmentError(f"the checks are wrong: {str(exc).removeprefix(setup)}") from None
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

    # The reference again, then every mutant, then every variant: one pytest session, each worker
    # forked from a warm sandbox; the reproducibility check then also proves warm and fresh
    # sandboxes grade alike.
    verdicts: list[MutantVerdict] = []
    variant_verdicts: list[VariantVerdict] = []
    reference_again = True
    starter = os.path.join(assignment.folder, "starter")
    starter_pending = os.path.isdir(starter)
    if not starter_pending:
        out("starter: none (add assignments/NAME/starter/ with what students are handed)")

    def graded(_source, outcome) -> None:
        nonlocal reference_again, starter_pending
        if reference_again:
            reference_again = False
            if isinstance(outcome, BaseException):
                raise outcome
            reproducible = comparable(first) == comparable(outcome)
            if not reproducible:
                failures.append("grading the reference twice gave different reports")
            out(f"reproducible: {'yes' if reproducible else 'NO'}")
            return
        if starter_pending:
            starter_pending = False
            graded_starter(outcome)
            return
        if len(verdicts) == len(mutants):
            graded_variant(outcome)
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
        if mark == "MISS":
            for line in verdict.said:
                out(f"       feedback: {line}")

    def graded_starter(outcome) -> None:
        if isinstance(outcome, BaseException):
            problems = [f"it could not be graded ({type(outcome).__name__}: {outcome})"]
        else:
            problems = judge_starter(assignment, outcome)
        if problems:
            out("starter: " + "; ".join(problems))
            failures.extend(f"starter ({starter}): {problem}" for problem in problems)
        else:
            names = sum(len(p.functions) for p in assignment.problems)
            out(f"starter: {outcome['score']} / {outcome['max_score']}, loads, defines all {names} "
                f"required names")

    def graded_variant(outcome) -> None:
        variant = variants[len(variant_verdicts)]
        if isinstance(outcome, BaseException):
            verdict = VariantVerdict(variant, error=f"could not be graded ({type(outcome).__name__}: {outcome})")
            seconds = 0.0
        else:
            verdict, seconds = judge_variant(variant, first, outcome), outcome["execution_time"]
        variant_verdicts.append(verdict)
        if len(variant_verdicts) == 1:
            out("variants (correct rewrites; each must keep full marks):")
        lost = verdict.error or ", ".join(f"{p} -{v:g}" for p, v in verdict.lost.items()) or "full marks"
        mark = "ok  " if verdict.full_marks else "WAIT" if variant.pending else "LOSS"
        if variant.pending:
            lost += (f"  (pending: {variant.pending})" if not verdict.full_marks
                     else "  (marked pending but passes: remove its `pending` line)")
        out(f"  {mark} {variant.name:<40} {seconds:5.2f} s  {lost}")
        for check in verdict.checks:
            out(f"       {check}")

    with tempfile.TemporaryDirectory(prefix="grader-mutants-") as scratch:
        # built lazily, mutants and variants in folders of their own (a name may be in both)
        folders = itertools.chain(
            (build_mutant(m, assignment.reference_dir, os.path.join(scratch, "mutants")) for m in mutants),
            (build_mutant(v, assignment.reference_dir, os.path.join(scratch, "variants")) for v in variants))
        first_sources = [assignment.reference_dir] + ([starter] if starter_pending else [])
        grade_each(itertools.chain(first_sources, folders), assignment,
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
    if variants:
        kept = sum(v.full_marks for v in variant_verdicts)
        waiting = sum(1 for v in variant_verdicts if v.variant.pending and not v.full_marks)
        out(f"variants with full marks: {kept}/{len(variants)}"
            + (f" ({waiting} pending a change elsewhere)" if waiting else ""))
        for verdict in variant_verdicts:
            if not verdict.full_marks and not verdict.variant.pending:
                lost = verdict.error or ", ".join(f"{p} -{v:g}" for p, v in verdict.lost.items())
                failures.append(f"variant {verdict.variant.name} (correct: {verdict.variant.why.strip()[:120]}) "
                                f"lost points: {lost}" + "".join(f"\n    {c}" for c in verdict.checks))
    else:
        out("variants: none (add assignments/NAME/variants/ to prove the checks accept correct work "
            "written another way)")
    for failure in failures:
        out(f"FAIL: {failure}")
    out(f"validate: {'FAILED' if failures else 'ok'} ({time.perf_counter() - started:.1f} s)")
    return not failures
