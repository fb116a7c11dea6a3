"""similarity.html: ranked pairs, what each score is made of, and the two submissions side by side.

The page is static and self-contained (inline CSS, no script, nothing fetched at view time).
Every student-controlled string (ids, file names, code) goes through ``safetext.for_html``, the
grader's one HTML neutraliser: submissions are hostile and a file may be named ``<script>``.
A line is highlighted when a fingerprint the two students share, and few others have, covers it;
the darker, the rarer.
"""

from __future__ import annotations

import datetime
import math
from typing import TYPE_CHECKING

from grader.assignment import Assignment
from grader.safetext import for_html as e
from grader.similarity.extract import StudentCode, extract_path
from grader.similarity.fingerprint import K, fingerprints
from grader.similarity.index import Index, Pair, Settings

if TYPE_CHECKING:
    from grader.similarity.compare import Result

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1500px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.flagged td{background:#fff1f0}
.muted{color:#666}.note{background:#f6f8fa;border-left:4px solid #888;padding:.5em 1em}
.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}
pre.code{background:#fafafa;border:1px solid #ddd;padding:.4em;overflow-x:auto;font-size:12px;margin:0}
pre.code span.line{display:block;white-space:pre}
mark.match{display:block;white-space:pre;background:rgba(255,170,0,var(--w,.5));color:inherit}
section.pair{border-top:2px solid #ccc;margin-top:1.5em;padding-top:.5em}
"""


def render(pairs: list[Pair], index: Index, assignment: Assignment, paths: dict[str, str],
           settings: Settings, result: "Result") -> str:
    """The page for ``pairs`` (already ranked), reading the shown students' code again."""
    cache: dict[str, StudentCode] = {}

    def code_of(student: str) -> StudentCode:
        if student not in cache:
            cache[student] = extract_path(paths[student], assignment, student)
        return cache[student]

    problems = index.problems
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"<h1>{e(assignment.title)}: similarity</h1>",
             f"<p class='muted'>generated {e(generated)}; {result.students} students, "
             f"{result.pairs_compared} pairs; {len(result.flagged)} pairs at or above the threshold "
             f"of {result.threshold:.1f} bits</p>",
             "<p class='note'>A score is evidence for a person to weigh, never a verdict. It is in "
             "bits: how surprising it would be for an independent student to have written what the "
             "two share. Per problem: the share of the smaller version's distinctive passages that "
             "both have (squared), times log2(students / students having all of those passages), "
             "less for very short functions; the problems add up. Code handed out in the starter "
             f"and passages {index.cut:g} or more students wrote (the natural solution) count for "
             "nothing; names, comments, docstrings, layout, the order of independent statements "
             "and dead code are ignored. Among this many pairs, about pairs &times; 2<sup>-score</sup> "
             "would reach a score by chance, hence the threshold log2(pairs) + "
             f"{settings.margin:g}. Students can reach the same rare code independently (a shared "
             "tutorial, a study group); read the code before concluding anything.</p>",
             "<h2>Ranked pairs</h2><table id='pairs'><tr><th>rank</th><th>student</th><th>student</th>"
             "<th>score</th><th>flagged</th>" + "".join(f"<th>{e(p)}</th>" for p in problems) + "</tr>"]
    for rank, pair in enumerate(pairs, start=1):
        flagged = pair.score >= result.threshold
        cells = "".join(f"<td class='n'>{pair.problems[p].score:.1f}</td>" if p in pair.problems
                        else "<td class='muted'>-</td>" for p in problems)
        parts.append(f"<tr class='{'flagged' if flagged else ''}' data-rank='{rank}'>"
                     f"<td class='n'><a href='#pair-{rank}'>{rank}</a></td><td class='student'>{e(pair.a)}</td>"
                     f"<td class='student'>{e(pair.b)}</td><td class='n score'>{pair.score:.1f}</td>"
                     f"<td>{'yes' if flagged else 'no'}</td>{cells}</tr>")
    parts.append("</table>")
    if not pairs:
        parts.append("<p>No pair shares any distinctive code.</p>")
    for rank, pair in enumerate(pairs, start=1):
        parts.append(_pair_section(rank, pair, code_of(pair.a), code_of(pair.b), index, settings))
    if result.notes:
        parts.append("<h2>Not compared</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in result.notes[:200])
                     + "</ul>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(assignment.title)}: similarity</title><style>{CSS}</style></head><body>"
            + "".join(parts) + "</body></html>\n")


def _pair_section(rank: int, pair: Pair, a: StudentCode, b: StudentCode, index: Index,
                  settings: Settings) -> str:
    parts = [f"<section class='pair' id='pair-{rank}'><h2>{rank}. {e(pair.a)} and {e(pair.b)}: "
             f"{pair.score:.1f} bits</h2>",
             "<table class='parts'><tr><th>problem</th><th>bits</th><th>coverage</th>"
             "<th>students having all of it</th></tr>"]
    for problem, part in pair.problems.items():
        parts.append(f"<tr><td>{e(problem)}</td><td class='n'>{part.score:.1f}</td>"
                     f"<td class='n'>{100 * part.coverage:.0f}%</td>"
                     f"<td class='n'>{part.holders or '-'}</td></tr>")
    parts.append("</table>")
    for salt, problem in enumerate(index.problems):
        if problem not in pair.problems or pair.problems[problem].coverage <= 0:
            continue
        left, right = a.problems.get(problem), b.problems.get(problem)
        if not left or not right:
            continue
        prints_a, prints_b = fingerprints(left.tokens, salt), fingerprints(right.tokens, salt)
        shared = [fp for fp in prints_a if fp in prints_b and index.weight(fp) > 0]
        parts.append(f"<h3>{e(problem)} <span class='muted'>({len(shared)} shared passages of {K} "
                     f"tokens)</span></h3><div class='side'>")
        for student, extracted, prints in ((pair.a, left, prints_a), (pair.b, right, prints_b)):
            parts.append(f"<div><p class='muted'>{e(student)}: {e(extracted.file)}</p>"
                         + _code(extracted.text, {fp: prints[fp] for fp in shared}, index) + "</div>")
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _code(text: str, spans: dict[int, tuple[int, int]], index: Index) -> str:
    """The text, one element per line; lines a shared distinctive fingerprint covers are marked,
    more opaque the rarer the rarest fingerprint covering them."""
    strength: dict[int, float] = {}
    students = len(index.students)
    top = math.log2(students / 2) if students > 2 else 1.0
    for fp, (first, last) in spans.items():
        share = min(1.0, math.log2(students / max(2, index.df_of(fp))) / top)
        for line in range(first, last + 1):
            strength[line] = max(strength.get(line, 0.0), share)
    lines = []
    for number, line in enumerate(text.split("\n"), start=1):
        if number in strength:
            lines.append(f"<mark class='match' style='--w:{0.25 + 0.6 * strength[number]:.2f}'>"
                         f"{e(line) or ' '}</mark>")
        else:
            lines.append(f"<span class='line'>{e(line) or ' '}</span>")
    return "<pre class='code'>" + "".join(lines) + "</pre>"
