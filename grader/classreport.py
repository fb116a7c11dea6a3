"""The class at a glance: one static, self-contained ``report.html`` an instructor can act on.

What it shows, and why each part is built the way it is:

- the statistics are over the graded students only, and say over how many: a submission the
  grader could not read (or that timed out, or met a grader error) has no score, and averaging
  it in as 0 would hide it inside the mean; those students are counted and listed apart;
- a roster of every student (score, status, diagnoses, a link to their feedback), sortable and
  searchable by a small inline script; without the script it is still a complete table;
- diagnosed bugs only where the diagnosis is proven: each mutant in the assignment's
  ``mutants/mutants.toml`` names the ``feedback`` phrase its failed checks print, and
  ``grader validate`` proves it does. A failed check whose grader-written text (its hints and
  one-line summary, never the student's output) holds such a phrase gets that mutant's bug; a
  student counts once per bug however many checks show it. Failures the grader observed itself
  (a time limit, a killed worker, a missing function) are said as such, and everything else is
  one "unexplained failures" row per problem, so nothing is guessed;
- how many students failed each check: the check that fails half the class is hard or wrong;
- the slowest submissions without each grading process's first one (its warm-up: imports,
  pytest's collection), which is flagged instead;
- student ids, never server paths; an empty class says so instead of drawing empty plots.

The page is rendered by Jinja2 (``templates/classreport.html.j2``) with every string going
through ``safetext.for_html``; the plots are matplotlib PNGs embedded as data URIs.
"""

from __future__ import annotations

import base64
import io
import os
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from grader import safetext

STATUS_GRADED = "graded"


@dataclass
class Row:
    """One student's latest run, as the class report needs it."""

    student: str
    status: str              # graded | unreadable | timeout | grader-error
    score: float
    max_score: float
    seconds: float
    report: dict | None      # a summary: "problems", failed "tests", and "checks" (every check's name and problem)
    error: str | None = None
    worker: str | None = None
    warmup: bool = False     # the first submission its grading process graded (imports, collection)


@dataclass(frozen=True)
class Known:
    """A diagnosis proven by a mutant: in ``problem``, a failed check saying ``phrase`` means ``bug``."""

    problem: str
    phrase: str
    bug: str


@dataclass
class Bug:
    """One row of the diagnoses table."""

    problem: str
    diagnosis: str
    kind: str                # "proven" (a mutant's), "observed" (by the grader), "unexplained"
    students: list[str] = field(default_factory=list)


def known_diagnoses(mutants: Iterable) -> list[Known]:
    """The diagnoses an assignment's mutants prove (``validate.load_mutants``' entries: ``problem``,
    ``feedback``, ``bug``). Mutants of one problem that share a phrase cannot be told apart by
    it, so they become one diagnosis naming each bug."""
    bugs: dict[tuple[str, str], list[str]] = defaultdict(list)
    phrases: dict[tuple[str, str], str] = {}
    for mutant in mutants:
        phrase = (getattr(mutant, "feedback", None) or "").strip()
        if not phrase:
            continue
        key = (mutant.problem, phrase.lower())
        phrases.setdefault(key, phrase)
        bug = (getattr(mutant, "bug", "") or "").strip() or phrase
        if bug not in bugs[key]:
            bugs[key].append(bug)
    return [Known(problem, phrases[(problem, low)], "; or ".join(found))
            for (problem, low), found in bugs.items()]


OBSERVED = [
    (re.compile(r"time limit|timed out|ran past", re.I), "ran past its time limit (an endless loop, or far too slow)"),
    (re.compile(r"process (exited|died)|exited with code|was killed|crashed|out of memory|MemoryError", re.I),
     "killed or exited the worker process (os._exit, sys.exit, a crash or too much memory)"),
    (re.compile(r"was not found in the submission", re.I), "missing: not defined in the submission"),
]
SUMMARY_CHARS = 2000  # grader-written hints and summary are a few sentences; never scan more
UNEXPLAINED = "unexplained failures (no proven diagnosis)"


def grader_text(test: dict) -> tuple[list[str], str]:
    """(hints, summary): what the grader itself wrote about a failed check, each whitespace-
    folded and capped. The feedback text is never read here: a student's exception message
    or printout could hold any phrase of its own making."""
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    hints = [" ".join(h[:SUMMARY_CHARS].split()) for h in extra.get("hints") or [] if isinstance(h, str)]
    failure = extra.get("failure") if isinstance(extra.get("failure"), str) else ""
    return [h for h in hints if h], " ".join(failure[:SUMMARY_CHARS].split())


def _leading(sentence: str, candidates: list[Known]) -> Known | None:
    """The diagnosis a sentence leads with: of the proven phrases it holds, the earliest (the
    longest of those overlapping it). Later phrases are advice ("..., not np.random", "keepdims=True"),
    not what the sentence diagnoses."""
    low = sentence.lower()
    found = [(low.find(k.phrase.lower()), len(k.phrase), k) for k in candidates if k.phrase.lower() in low]
    if not found:
        return None
    start, length, _ = min(found, key=lambda item: (item[0], -item[1]))
    # a longer phrase overlapping the first ("cost is averaged ..." over "the cost is") says more
    return max((f for f in found if f[0] < start + length), key=lambda item: (item[1], -item[0]))[2]


def diagnose(test: dict, known: list[Known]) -> tuple[str, list[str]]:
    """(kind, diagnoses) of one failed check. "hint": the bugs its hints lead with (a check's
    hint is its deliberate diagnosis); "summary": else the bug its one-line summary leads with;
    "observed": else what the grader saw (a time limit, a killed worker, a missing function);
    "unexplained": nothing proven."""
    problem = _problem(test)
    candidates = [k for k in known if k.problem == problem]
    hints, summary = grader_text(test)
    from_hints = [k.bug for k in (_leading(h, candidates) for h in hints) if k]
    if from_hints:
        return "hint", list(dict.fromkeys(from_hints))
    leading = _leading(summary, candidates)
    if leading:
        return "summary", [leading.bug]
    for pattern, label in OBSERVED:
        if pattern.search(" ".join([*hints, summary])):
            return "observed", [label]
    return "unexplained", []


def _problem(test: dict) -> str:
    tags = test.get("tags")
    return str(tags[0]) if isinstance(tags, list) and tags else "?"


def student_bugs(row: Row, known: list[Known]) -> dict[tuple[str, str], str]:
    """One student's diagnoses: (problem, diagnosis) -> "proven", "observed" or "unexplained",
    each once however many checks show it. Within a problem, a bug a check's hint names
    outranks one read from another check's summary only (that check's failure is what the
    hinted bug also causes, e.g. "the gradient disagrees with its own cost"); a problem with
    failed checks and no diagnosis at all is "unexplained"."""
    per_problem: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for test in _failed(row):
        kind, names = diagnose(test, known)
        per_problem[_problem(test)][kind] += names
    result: dict[tuple[str, str], str] = {}
    for problem, kinds in per_problem.items():
        proven = kinds["hint"] or kinds["summary"]
        for name in proven:
            result[(problem, name)] = "proven"
        for name in kinds["observed"]:
            result[(problem, name)] = "observed"
        if not proven and not kinds["observed"]:
            result[(problem, UNEXPLAINED)] = "unexplained"
    return result


def common_bugs(rows: list[Row], known: list[Known]) -> list[Bug]:
    """One row per (problem, diagnosis) with the students who have it (each counted once),
    proven first, most common first; "unexplained failures" rows last, one per problem."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows:
        for (problem, name), kind in student_bugs(row, known).items():
            found[(problem, name, kind)].add(row.student)
    order = {"proven": 0, "observed": 1, "unexplained": 2}
    ranked = sorted(found.items(), key=lambda item: (order[item[0][2]], -len(item[1]), item[0][0], item[0][1]))
    return [Bug(problem, name, kind, sorted(who)) for (problem, name, kind), who in ranked]


def _failed(row: Row) -> list[dict]:
    if row.status != STATUS_GRADED or not row.report:
        return []
    return [t for t in row.report.get("tests", []) if t.get("status") != "passed"]


def student_diagnoses(row: Row, known: list[Known]) -> list[str]:
    """The diagnoses of one student, for the roster ("problem: bug")."""
    return [f"{problem}: {name}" for (problem, name), kind in student_bugs(row, known).items()]


def problem_counts(rows: list[Row], problems: list[tuple[str, float]],
                   known: list[Known]) -> dict[str, tuple[int, int, int]]:
    """problem -> (graded students who lost points in it, of them with a diagnosis, without one)."""
    counts = {problem: [0, 0, 0] for problem, _ in problems}
    for row in rows:
        if row.status != STATUS_GRADED or not row.report:
            continue
        found = student_bugs(row, known)
        for problem, points in problems:
            got = row.report.get("problems", {}).get(problem, {}).get("score", 0)
            if got >= points:
                continue
            counts[problem][0] += 1
            kinds = {kind for (p, _), kind in found.items() if p == problem}
            if kinds - {"unexplained"}:
                counts[problem][1] += 1
            else:
                counts[problem][2] += 1
    return {problem: (lost, diagnosed, unexplained) for problem, (lost, diagnosed, unexplained) in counts.items()}


def check_failures(rows: list[Row]) -> list[tuple[str, str, int, int]]:
    """(check, problem, students who failed it, graded students) for every check, most failed first."""
    graded = [r for r in rows if r.status == STATUS_GRADED and r.report]
    checks: dict[str, str] = {}
    for row in graded:
        for name, problem in row.report.get("checks", []):
            checks.setdefault(name, problem)
    failed: dict[str, set[str]] = defaultdict(set)
    for row in graded:
        for test in _failed(row):
            name = str(test.get("name", "?"))
            checks.setdefault(name, _problem(test))
            failed[name].add(row.student)
    result = [(name, problem, len(failed[name]), len(graded)) for name, problem in checks.items()]
    return sorted(result, key=lambda item: (-item[2], item[1], item[0]))


def pass_rates(rows: list[Row], problems: list[tuple[str, float]]) -> list[tuple[str, float, float, int]]:
    """(problem, share with full marks, mean share of its points, graded students counted)."""
    graded = [r for r in rows if r.status == STATUS_GRADED]
    result = []
    for problem, points in problems:
        full, fractions = 0, []
        for row in graded:
            got = (row.report or {}).get("problems", {}).get(problem, {}).get("score", 0)
            fractions.append(got / points if points else 0)
            full += bool(points) and got >= points
        n = len(graded)
        result.append((problem, full / n if n else 0.0, sum(fractions) / n if n else 0.0, n))
    return result


def slowest(rows: list[Row], count: int = 10) -> list[Row]:
    """The slowest submissions, leaving out each grading process's first (its warm-up)."""
    return sorted((r for r in rows if not r.warmup), key=lambda r: -r.seconds)[:count]


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/[^\s/:;,'\"()<>]+){2,}/?")


def no_paths(message: str) -> str:
    """A message without the server's absolute paths: each becomes its last component."""
    return _ABSOLUTE_PATH.sub(lambda m: os.path.basename(m.group().rstrip("/")) or "/", message)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(graded: list[Row], rates, max_score: float) -> dict[str, str]:
    """The score histogram and the pass rate per problem, of graded students (at least one)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    scores = [row.score for row in graded]
    figure = Figure(figsize=(6.4, 3.2))
    axes = figure.subplots()
    top = max(max_score, max(scores, default=0), 1)
    bins = min(25, max(5, int(top) // 2))
    axes.hist(scores, bins=bins, range=(0, top), color="#3b6ea8", edgecolor="white")
    axes.set_xlabel("score")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Score distribution ({len(scores)} graded students, out of {top:g})")
    distribution = _png(figure)

    figure = Figure(figsize=(6.4, 0.5 + 0.45 * max(1, len(rates))))
    axes = figure.subplots()
    names = [r[0] for r in rates][::-1]
    axes.barh(names, [100 * r[2] for r in rates][::-1], color="#c9d7ea", label="mean share of points")
    axes.barh(names, [100 * r[1] for r in rates][::-1], height=0.45, color="#1a7f37", label="full marks")
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of graded students")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.6 / max(1, len(rates))), ncol=2,
                fontsize="small", frameon=False)
    axes.set_title("Pass rate per problem")
    return {"distribution": distribution, "pass_rate": _png(figure)}


def _n(value: float) -> str:
    return f"{value:g}" if float(value) != int(value) else str(int(value))


def _environment():
    import jinja2
    from markupsafe import Markup

    def finalize(value):
        # every string, student's or not, through the one HTML neutraliser; autoescape stays on
        # as a backstop for anything else
        if isinstance(value, str) and not isinstance(value, Markup):
            return Markup(safetext.for_html(value))
        return value

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
        autoescape=True, finalize=finalize, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)


def render(rows: list[Row], *, title: str, problems: list[tuple[str, float]], max_score: float,
           generated: str, links: dict[str, str] | None = None, known: list[Known] | None = None,
           slowest_count: int = 10, similarity: str | None = None) -> str:
    """The page. ``links`` maps a student to their feedback page (relative to report.html);
    ``known`` holds the proven diagnoses (``known_diagnoses``); ``similarity`` is the
    similarity page to link to, when ``grader batch --similarity`` wrote one."""
    links, known = links or {}, known or []
    graded = [r for r in rows if r.status == STATUS_GRADED]
    not_graded = sorted((r for r in rows if r.status != STATUS_GRADED), key=lambda r: (r.status, r.student))
    scores = [r.score for r in graded]
    by_status: dict[str, int] = defaultdict(int)
    for row in not_graded:
        by_status[row.status] += 1
    rates = pass_rates(rows, problems)
    per_problem = problem_counts(rows, problems, known)
    roster = [{"student": r.student, "link": links.get(r.student), "score": r.score,
               "shown_score": f"{_n(r.score)} / {_n(r.max_score)}" if r.status == STATUS_GRADED else "-",
               "status": r.status if r.status != STATUS_GRADED else
               ("full marks" if r.score >= r.max_score else "points lost"),
               "graded": r.status == STATUS_GRADED, "seconds": r.seconds, "warmup": r.warmup,
               "diagnoses": student_diagnoses(r, known)}
              for r in sorted(rows, key=lambda r: r.student)]
    context = {
        "title": title, "generated": generated, "students": len(rows), "graded": len(graded),
        "not_graded_count": len(not_graded), "by_status": sorted(by_status.items()),
        "full_marks": sum(1 for r in graded if r.score >= r.max_score),
        "mean": f"{statistics.fmean(scores):.2f}" if scores else None,
        "median": _n(statistics.median(scores)) if scores else None,
        "stdev": f"{statistics.stdev(scores):.2f}" if len(scores) > 1 else None,
        "max_score": _n(max_score), "images": plots(graded, rates, max_score) if graded else None,
        "rates": [(p, round(100 * full), round(100 * mean), *per_problem[p]) for p, full, mean, _ in rates],
        "bugs": common_bugs(rows, known), "known": len(known), "links": links,
        "checks": check_failures(rows),
        "slowest": [{"student": r.student, "seconds": r.seconds, "score": f"{_n(r.score)} / {_n(r.max_score)}",
                     "status": r.status} for r in slowest(rows, slowest_count)],
        "warmups": sorted((r for r in rows if r.warmup), key=lambda r: r.student),
        "not_graded": [{"student": r.student, "status": r.status,
                        "why": no_paths(" ".join((r.error or "").split()))[:300]} for r in not_graded],
        "roster": roster, "similarity": similarity,
    }
    return _environment().get_template("classreport.html.j2").render(**context)
