"""The class at a glance: one static, self-contained ``report.html``.

Score distribution and pass rate per problem (matplotlib, embedded as base64 PNG), the most
common diagnosed bugs with how many students have each, the slowest submissions, and the
submissions that could not be graded. Diagnoses come from what the grader wrote, never from
the student's text: the hints the checks give, else the kind of failure (time limit, crashed
process, function missing).
"""

from __future__ import annotations

import base64
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from grader.safetext import for_html

STATUS_GRADED = "graded"


@dataclass
class Row:
    """One student's latest run, as the class report needs it."""

    student: str
    status: str              # graded | unreadable | timeout | grader-error
    score: float
    max_score: float
    seconds: float
    report: dict | None
    error: str | None = None


GENERIC = [
    (re.compile(r"time limit|timed out|ran past", re.I), "ran past its time limit (an endless loop, or far too slow)"),
    (re.compile(r"process (exited|died)|exited with code|was killed|crashed|out of memory|MemoryError", re.I),
     "killed or exited the worker process (os._exit, sys.exit, a crash or too much memory)"),
    (re.compile(r"was not found in the submission", re.I), "missing: not defined in the submission"),
]
SUMMARY_CHARS = 300   # a grader-written summary is one short sentence; never scan more
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.I)


def diagnoses(test: dict) -> list[str]:
    """The diagnosed bugs of one failed check, from grader-written text only: the hints the
    check itself gave (``extra_data.hints``), else the kind of failure read from the grader's
    one-line summary (``extra_data.failure``). The feedback text is never read: a student's
    exception message or printout could hold a ``hint:`` line of its own making. Linear in
    the size of the summary, which is capped."""
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    hints = [h.strip()[:SUMMARY_CHARS] for h in extra.get("hints") or [] if isinstance(h, str) and h.strip()]
    if hints:
        return list(dict.fromkeys(hints))
    summary = extra.get("failure") if isinstance(extra.get("failure"), str) else ""
    summary = " ".join(summary[:SUMMARY_CHARS].split())
    if not summary:
        return ["other: no diagnosis recorded" if "failure" not in extra else "other: the check failed"]
    for pattern, label in GENERIC:
        if pattern.search(summary):
            return [label]
    return ["other: " + _NUMBER.sub("#", summary)[:160]]


def common_bugs(rows: list[Row]) -> list[tuple[str, str, int, list[str]]]:
    """(problem, diagnosis, number of students, students) sorted by count: each student is
    counted once per diagnosis however many checks show it."""
    students: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        if not row.report:
            continue
        for test in row.report["tests"]:
            if test["status"] == "passed":
                continue
            problem = (test.get("tags") or ["?"])[0]
            for diagnosis in diagnoses(test):
                students[(problem, diagnosis)].add(row.student)
    ranked = sorted(students.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(problem, diagnosis, len(who), sorted(who)) for (problem, diagnosis), who in ranked]


def pass_rates(rows: list[Row], problems: list[tuple[str, float]]) -> list[tuple[str, float, float, int]]:
    """(problem, share with full marks, mean share of its points, students counted)."""
    result = []
    for problem, points in problems:
        full, fractions = 0, []
        for row in rows:
            got = (row.report or {}).get("problems", {}).get(problem, {}).get("score", 0) if row.report else 0
            fractions.append(got / points if points else 0)
            full += bool(points) and got >= points
        n = len(rows)
        result.append((problem, full / n if n else 0.0, sum(fractions) / n if n else 0.0, n))
    return result


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(rows: list[Row], rates, max_score: float) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    scores = [row.score for row in rows]
    figure = Figure(figsize=(6.4, 3.2))
    axes = figure.subplots()
    top = max(max_score, max(scores, default=0), 1)
    bins = min(25, max(5, int(top) // 2))
    axes.hist(scores, bins=bins, range=(0, top), color="#3b6ea8", edgecolor="white")
    axes.set_xlabel("score")
    axes.set_ylabel("students")
    axes.set_title(f"Score distribution ({len(scores)} students, out of {top:g})")
    distribution = _png(figure)

    figure = Figure(figsize=(6.4, 0.5 + 0.45 * max(1, len(rates))))
    axes = figure.subplots()
    names = [r[0] for r in rates][::-1]
    axes.barh(names, [100 * r[2] for r in rates][::-1], color="#c9d7ea", label="mean share of points")
    axes.barh(names, [100 * r[1] for r in rates][::-1], height=0.45, color="#1a7f37", label="full marks")
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of students")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.6 / max(1, len(rates))), ncol=2,
                fontsize="small", frameon=False)
    axes.set_title("Pass rate per problem")
    passing = _png(figure)
    return {"distribution": distribution, "pass_rate": passing}


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .7rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#666;font-size:.9rem}
img{max-width:100%;height:auto;display:block;margin:.5rem 0}
.stats td{border:none;padding:.1rem .8rem .1rem 0}
"""


def render(rows: list[Row], *, title: str, problems: list[tuple[str, float]], max_score: float,
           generated: str, links: dict[str, str] | None = None, slowest: int = 10) -> str:
    e = for_html
    links = links or {}
    graded = [r for r in rows if r.status == STATUS_GRADED]
    scores = [r.score for r in rows]
    rates = pass_rates(rows, problems)
    images = plots(rows, rates, max_score)
    statuses = Counter(r.status for r in rows)
    stats = [("students", len(rows)), ("graded", len(graded)),
             ("not graded", len(rows) - len(graded)),
             ("full marks", sum(1 for r in graded if r.score >= r.max_score)),
             ("mean", f"{statistics.fmean(scores):.2f}" if scores else "-"),
             ("median", f"{statistics.median(scores):g}" if scores else "-"),
             ("max score", f"{max_score:g}")]
    parts = [f"<h1>{e(title)}: class report</h1><p class='muted'>generated {e(generated)}</p>",
             "<table class='stats'>" + "".join(f"<tr><td>{e(k)}</td><td class='n'>{e(str(v))}</td></tr>"
                                                for k, v in stats) + "</table>",
             "<h2>Score distribution</h2>",
             f"<img id='distribution' alt='score distribution' src='data:image/png;base64,{images['distribution']}'>",
             "<h2>Pass rate per problem</h2>",
             f"<img id='pass-rate' alt='pass rate per problem' src='data:image/png;base64,{images['pass_rate']}'>",
             "<table id='pass-rates'><tr><th>problem</th><th>full marks</th><th>mean share of points</th></tr>"]
    for problem, full, mean, _ in rates:
        parts.append(f"<tr><td>{e(problem)}</td><td class='n'>{100 * full:.0f}%</td>"
                     f"<td class='n'>{100 * mean:.0f}%</td></tr>")
    parts.append("</table><h2>Most common diagnosed bugs</h2>")
    bugs = common_bugs(rows)
    if bugs:
        parts.append("<table id='bugs'><tr><th>students</th><th>problem</th><th>diagnosis</th><th>who</th></tr>")
        for problem, diagnosis, count, who in bugs[:25]:
            shown = ", ".join(_link(s, links, e) for s in who[:6]) + (" ..." if len(who) > 6 else "")
            parts.append(f"<tr><td class='n'>{count}</td><td>{e(problem)}</td><td>{e(diagnosis)}</td>"
                         f"<td>{shown}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No check failed.</p>")
    parts.append("<h2>Slowest submissions</h2><table id='slowest'><tr><th>student</th><th>seconds</th>"
                 "<th>score</th><th>status</th></tr>")
    for row in sorted(rows, key=lambda r: -r.seconds)[:slowest]:
        parts.append(f"<tr><td>{_link(row.student, links, e)}</td><td class='n'>{row.seconds:.2f}</td>"
                     f"<td class='n'>{row.score:g} / {row.max_score:g}</td><td>{e(row.status)}</td></tr>")
    parts.append("</table>")
    failed = [r for r in rows if r.status != STATUS_GRADED]
    if failed:
        parts.append("<h2>Not graded</h2><table id='not-graded'><tr><th>student</th><th>status</th>"
                     "<th>why</th></tr>")
        for row in failed:
            parts.append(f"<tr><td>{_link(row.student, links, e)}</td><td>{e(row.status)}</td>"
                         f"<td>{e((row.error or '')[:300])}</td></tr>")
        parts.append("</table>")
    parts.append(f"<p class='muted'>statuses: {e(', '.join(f'{k} {v}' for k, v in sorted(statuses.items())))}</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(title)}: class report</title><style>{CSS}</style></head><body>"
            + "".join(parts) + "</body></html>\n")


def _link(student: str, links: dict[str, str], e) -> str:
    target = links.get(student)
    return f"<a href='{e(target)}'>{e(student)}</a>" if target else e(student)
