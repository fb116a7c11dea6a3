"""What a student sees of a report, decided once for every output (terminal, Gradescope
``output``, Markdown, HTML, JUnit, annotations), so all of them say the same in the same order.

Visibility uses Gradescope's values. Gradescope applies them itself to results.json; CI knows no
due date, so there a check whose visibility is anything but "visible" is counted (its points
and whether it passed) but not described (no name, no feedback).

``feedback(report)`` groups the lost points by problem, in assignment order (the order of
``report["problems"]``), each problem's checks in the order they ran. A problem leads with its
diagnosis (the check's own hint, said once with how many checks share it), then its failing
checks one line each; the values (input, expected, got, traceback) are the checks' details,
which each output shows folded or shortened. Repetition is collapsed: a function that raises
NotImplementedError everywhere is one line, a note that several checks left is said once.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field

from grader import safetext

DETAIL_LINES = 8        # lines of one check's details in text outputs
SUMMARY_CHARS = 140     # one check's one-line summary


def shown(test: dict) -> bool:
    return test.get("visibility", "visible") == "visible"


def name(test: dict) -> str:
    if shown(test):
        return test["name"]
    problem = (test.get("tags") or ["?"])[0]
    return f"{problem}: a hidden check"


def output(test: dict) -> str:
    return test.get("output", "") if shown(test) else ""


def problem_of(test: dict) -> str:
    return (test.get("tags") or [""])[0]


def num(value: float) -> str:
    """Points as people write them: 2, 1.5."""
    value = float(value)
    return str(int(value)) if value == int(value) else f"{value:g}"


def points(value: float) -> str:
    return f"{num(value)} point{'' if float(value) == 1 else 's'}"


def shorten(line: str, limit: int = SUMMARY_CHARS) -> str:
    """One line of at most about ``limit`` characters, cut at a space (never inside a number)."""
    line = " ".join(line[: 8 * limit].split())
    if len(line) > limit:  # long asides first: "(relative error 2.8e+03, allowed 1e-05 ...)"
        line = re.sub(r" \([^()]{20,}\)", "", line)
    if len(line) <= limit:
        return line
    head = line[: limit - 4]
    at = head.rfind(" ")
    return (head[:at] if at > 0 else head).rstrip(",;:") + " ..."


@dataclass
class Check:
    """One failing check as the student reads it."""
    name: str            # without the "problem: " prefix
    lost: float
    summary: str         # one line: what went wrong ('' when the headline says it)
    hint: str            # a hint of its own, when it differs from the problem's headline
    details: list[str]   # input / expected / got / traceback lines


@dataclass
class Problem:
    id: str
    score: float
    max_score: float
    passed: bool
    headline: str = ""                 # the diagnosis, said once
    checks: list[Check] = field(default_factory=list)
    collapsed: str = ""                # e.g. "all 9 checks: softmax raised NotImplementedError"
    not_implemented: str = ""          # the function that raised NotImplementedError everywhere
    hidden: int = 0                    # failing checks not described here

    @property
    def lost(self) -> float:
        return self.max_score - self.score


@dataclass
class Feedback:
    title: str
    score: float
    max_score: float
    coverage: str                      # which checks ran, when not all of them
    problems: list[Problem]
    common: list[str]                  # a message shared by several problems, said once
    loading: list[str]
    notes: list[str]                   # distinct notes, each once, with a count
    hidden: int

    @property
    def lost(self) -> list[Problem]:
        return [p for p in self.problems if p.lost or not p.passed]


_NOT_IMPLEMENTED = re.compile(r"^(?P<function>[\w.]+) raised NotImplementedError\b")


def _summary(test: dict) -> str:
    extra = test.get("extra_data") or {}
    failure = extra.get("failure") if isinstance(extra, dict) else None
    if isinstance(failure, str) and failure.strip():
        return shorten(failure)
    first = next((line for line in output(test).splitlines() if line.strip()), "")
    return shorten(first) if not first.startswith("hint:") else ""


def _hints(test: dict) -> list[str]:
    extra = test.get("extra_data") or {}
    hints = extra.get("hints") if isinstance(extra, dict) else None
    if isinstance(hints, list):
        return [str(h) for h in hints if str(h).strip()]
    return [line[len("hint:"):].strip() for line in output(test).splitlines() if line.startswith("hint:")]


def _details(test: dict, summary: str) -> list[str]:
    """The check's output without what the headline and its line already say."""
    lines = [line for line in output(test).splitlines()
             if line.strip() and not line.startswith("hint:")]
    if lines and shorten(lines[0]) == summary:
        lines = lines[1:]
    return lines


def _title(test: dict, problem: str) -> str:
    text = name(test)
    return text[len(problem) + 2:] if text.startswith(problem + ": ") else text


def feedback(report: dict) -> Feedback:
    """The student's view of ``report``; see the module docstring."""
    tests = report.get("tests", [])
    problems: list[Problem] = []
    notes: Counter[str] = Counter()
    note_problem: dict[str, str] = {}
    for problem_id, entry in report.get("problems", {}).items():
        mine = [t for t in tests if problem_of(t) == problem_id]
        problem = Problem(problem_id, entry.get("score", 0), entry.get("max_score", 0),
                          entry.get("status") == "passed")
        for test in mine:
            # a passing check's output is its notes (a failing one's stay in its details)
            passed = shown(test) and test.get("status") == "passed"
            for note in (line for line in output(test).splitlines() if passed and line.strip()):
                notes[note] += 1
                note_problem.setdefault(note, problem_id)
        failing = [t for t in mine if t.get("status") != "passed"]
        visible = [t for t in failing if shown(t)]
        problem.hidden = len(failing) - len(visible)
        hint_count = Counter(h for t in visible for h in dict.fromkeys(_hints(t)))
        top = hint_count.most_common(1)[0][0] if hint_count else ""
        summaries = [_summary(t) for t in visible]
        for test, summary in zip(visible, summaries):
            own = [h for h in _hints(test) if h != top]
            problem.checks.append(Check(_title(test, problem_id), test.get("max_score", 0) - test.get("score", 0),
                                        summary, "; ".join(own), _details(test, summary)))
        same = len(set(summaries)) == 1 and len(visible) > 1 and not any(c.hint for c in problem.checks)
        if top:
            count = hint_count[top]
            problem.headline = top + (f" ({count} of {len(visible)} failing checks)" if len(visible) > 1 else "")
        elif summaries and (same or len(visible) == 1):
            problem.headline = summaries[0]
        if same:
            match = _NOT_IMPLEMENTED.match(summaries[0])
            if match and not top:
                problem.not_implemented = match["function"]
            everyone = len(visible) == len(mine)
            problem.collapsed = (f"{'all ' if everyone else ''}{len(visible)} checks fail the same way")
            for check in problem.checks:
                check.summary = ""
        elif not top and len(visible) > 1:
            problem.headline = f"{len(visible)} checks failed"
        for check in problem.checks:
            if check.summary == problem.headline:
                check.summary = ""
        problems.append(problem)
    common = []
    missing = [p for p in problems if p.not_implemented]
    if len(missing) > 1:
        functions = list(dict.fromkeys(p.not_implemented for p in missing))
        where = report.get("submission", {}).get("functions", {}) or {}
        places = [f"{f} ({cell_name(where[f].get('file'))})" if isinstance(where.get(f), dict)
                  and cell_name(where[f].get("file")) else f for f in functions]
        common.append(f"NotImplementedError in {len(functions)} function{'s' if len(functions) > 1 else ''}: "
                      f"implement {'them' if len(functions) > 1 else 'it'}: {', '.join(places)}")
        for p in missing:
            p.headline = "not implemented yet"
    distinct = [f"{note_problem[n]}: {n}" + (f" ({c} checks)" if c > 1 else "") for n, c in notes.items()]
    return Feedback(
        title=str(report.get("assignment", {}).get("title") or report.get("assignment", {}).get("name", "")),
        score=report.get("score", 0), max_score=report.get("max_score", 0),
        coverage=coverage(report), problems=problems, common=common,
        loading=[_name_cell(str(line)) for line in (report.get("submission", {}).get("load_errors") or [])],
        notes=distinct, hidden=sum(1 for t in tests if not shown(t)))


def coverage(report: dict) -> str:
    """'public checks: 5 of 55 points; the other 50 are graded after submission' when the run
    covered only part of the assignment (``grader run --public``), else ''."""
    total = report.get("assignment", {}).get("points")
    ran = report.get("max_score", 0)
    if not isinstance(total, (int, float)) or ran >= total:
        return ""
    return (f"public checks: {num(ran)} of {num(total)} points; the other {num(total - ran)} "
            "are graded after submission")


_CELL = re.compile(r"^(?P<file>.+?) \[(?P<label>(?:code )?cell \d+)\]$")


def _name_cell(line: str) -> str:
    """A load line that starts with 'FILE [code cell N]' starts with 'code cell N of FILE' (no
    regular expression: a line is student text of up to 64 KiB)."""
    at = line.find(" [code cell ")
    end = line.find("]", at) if at > 0 else -1
    number = line[at + 12:end] if end > 0 else ""
    return f"code cell {number} of {line[:at]}{line[end + 1:]}" if number.isdigit() else line


def cell_name(file: str | None) -> str:
    """'nn_basics.ipynb [code cell 3]' as a student reads it: 'code cell 3 of nn_basics.ipynb'.
    (A function found in no file, e.g. a class the worker built, has none: '' then.)"""
    if not isinstance(file, str):
        return ""
    match = _CELL.match(file)
    return f"{match['label']} of {match['file']}" if match else file


def text_lines(fb: Feedback, *, details_per_problem: int = 1) -> list[str]:
    """The lost points as plain text (the terminal and Gradescope's ``output``): per problem
    its headline, its failing checks one line each, and the details of the first
    ``details_per_problem`` of them. Not yet made safe for any output: callers neutralise."""
    out: list[str] = []
    if fb.coverage:
        out += [fb.coverage.capitalize(), ""]
    if fb.lost:
        out.append("Lost points:")
    if fb.common:
        out += fb.common + [""]
    for problem in fb.lost:
        head = f"{problem.id} (-{points(problem.lost)})"
        out.append(f"{head}: {problem.headline}" if problem.headline else head)
        if problem.not_implemented and fb.common:
            pass
        elif problem.collapsed:
            out.append(f"  {problem.collapsed}: " + ", ".join(c.name for c in problem.checks[:3])
                       + (f", and {len(problem.checks) - 3} more" if len(problem.checks) > 3 else ""))
            out += [f"    {line}" for line in _cut(problem.checks[0].details)] if details_per_problem else []
        else:
            for index, check in enumerate(problem.checks):
                line = f"  - {check.name} (-{num(check.lost)})"
                line += f": {check.summary}" if check.summary else ""
                line += f"; hint: {check.hint}" if check.hint else ""
                out.append(line)
                if index < details_per_problem:
                    out += [f"      {line}" for line in _cut(check.details)]
        if problem.hidden:
            out.append(f"  and {problem.hidden} check(s) not described here")
    if fb.loading:
        out += ["", "While loading your files:"] + [f"- {line}" for line in fb.loading]
    if fb.notes:
        out += ["", "Notes:"] + [f"- {note}" for note in fb.notes]
    return out


_SHAPE = re.compile(r" with shape \([\d, ]*\)(, dtype \w+)?\)*$")


def detail(line: str, limit: int = 160) -> str:
    """One line of a check's details, shortened at a space; a value's closing ``with shape
    (...)`` is kept, since the shape is what a student checks first."""
    line = " ".join(line.split())
    if len(line) <= limit:
        return line
    tail = _SHAPE.search(line[-100:])
    suffix = tail.group() if tail and len(tail.group()) < limit // 3 else ""
    return shorten(line[: len(line) - len(suffix)], limit - len(suffix)) + suffix


def _cut(lines: list[str], limit: int = DETAIL_LINES) -> list[str]:
    shown_lines = [detail(line) for line in lines[:limit]]
    return shown_lines + ([f"... ({len(lines) - limit} more lines)"] if len(lines) > limit else [])


# A path on the grading machine, and what a student cannot act on (advice to whoever ran it).
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s/:;,'\"()]+){2,}/?")
_ADVICE = re.compile(r";\s*(?:pass|give|run|use|rerun)\b[^;]*$")
_STUDENT_WORDS = {
    "holds no .py or .ipynb files": "Your submission holds no .py or .ipynb files: hand in your "
                                    "notebook (.ipynb) or your .py files.",
    "is not a folder, .py, .ipynb or .zip file": "Your submission is not a notebook, a .py file or "
                                                 "a .zip: hand in your notebook (.ipynb) or your .py files.",
}


def not_graded_reason(status: str, error: str | None) -> str:
    """Why a submission was not graded, in words for its student: no path of the grading
    machine, no advice meant for whoever ran the grader (feedback.md/.html of a batch; the
    Gradescope failure message could use it too)."""
    text = safetext.text(error or "", 2000)  # a reason is a sentence; the patterns stay linear
    for known, words in _STUDENT_WORDS.items():
        if known in text:
            return words
    text = _ADVICE.sub("", _PATH.sub(lambda m: os.path.basename(m.group().rstrip("/")) or "a file", text))
    return text.strip() or f"not graded ({status}); your instructor has the details"
