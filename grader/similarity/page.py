"""similarity.html: ranked pairs, what each score is made of, and the two submissions side by side.

The page is static and self-contained (inline CSS, no script, nothing fetched at view time).
Every student-controlled string (ids, file names, code) goes through ``safetext.for_html``, the
grader's one HTML neutraliser: submissions are hostile and a file may be named ``<script>``.
A line is highlighted when a fingerprint the two students share, and few others have, covers it;
the darker, the rarer.
"""

from __future__ import annotations

import datetime

from grader.assignment import Assignment
from grader.safetext import for_html as e
from grader.similarity.extract import StudentCode, extract_path
from grader.similarity.fingerprint import K, fingerprints
from grader.similarity.index import Index, Pair, Settings

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1500px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.flagged td{background:#fff1f0}
.muted{color:#666}.note{background:#f6f8fa;border-left:4px solid #888;padding:.5em 1em}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1em}
pre.code{background:#fafafa;border:1px solid #ddd;padding:.4em;overflow-x:auto;font-size:12px;margin:0}
pre.code span.line{display:block;white-space:pre}
mark.match{display:block;white-space:pre;background:rgba(255,170,0,var(--w,.5));color:inherit}
section.pair{border-top:2px solid #ccc;margin-top:1.5em;padding-top:.5em}
"""


def render(pairs: list[Pair], index: Index, assignment: Assignment, paths: dict[str, str],
           settings: Settings, result) -> str:
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
             f"{settings.threshold:g}</p>",
             "<p class='note'>A score is evidence for a person to weigh, never a verdict. It is the "
             "share of the two submissions' distinctive code that they have in common: code handed "
             "out in the starter counts for nothing, and a passage counts for less the more students "
             f"wrote it (nothing once {index.cut:g} or more did). Names, comments, docstrings, "
             "layout, the order of independent statements and dead code are ignored. Two students "
             "can reach the same rare code independently; read the code before concluding "
             "anything.</p>",
             "<h2>Ranked pairs</h2><table id='pairs'><tr><th>rank</th><th>student</th><th>student</th>"
             "<th>score</th><th>flagged</th>" + "".join(f"<th>{e(p)}</th>" for p in problems) + "</tr>"]
    for rank, pair in enumerate(pairs, start=1):
        flagged = pair.score >= settings.threshold
        cells = "".join(f"<td class='n'>{pair.problems[p].score:.2f}</td>" if p in pair.problems
                        else "<td class='muted'>-</td>" for p in problems)
        parts.append(f"<tr class='{'flagged' if flagged else ''}' data-rank='{rank}'>"
                     f"<td class='n'><a href='#pair-{rank}'>{rank}</a></td><td class='student'>{e(pair.a)}</td>"
                     f"<td class='student'>{e(pair.b)}</td><td class='n score'>{pair.score:.3f}</td>"
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
             f"{pair.score:.3f}</h2>",
             "<table class='parts'><tr><th>problem</th><th>score</th><th>shared rare weight</th>"
             "<th>out of</th></tr>"]
    for problem, part in pair.problems.items():
        parts.append(f"<tr><td>{e(problem)}</td><td class='n'>{part.score:.2f}</td>"
                     f"<td class='n'>{part.shared:.1f}</td><td class='n'>{part.denominator:.1f}</td></tr>")
    parts.append("</table><p class='muted'>score = shared rare weight / out of, summed over the "
                 "problems both attempted; \"out of\" is the distinctive weight of the less "
                 "distinctive of the two (at least half the class median).</p>")
    for salt, problem in enumerate(index.problems):
        if problem not in pair.problems or pair.problems[problem].shared <= 0:
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
    """The text, one element per line; lines a shared rare fingerprint covers are marked, more
    opaque the rarer the rarest fingerprint covering them."""
    strength: dict[int, float] = {}
    for fp, (first, last) in spans.items():
        share = min(1.0, index.weight(fp))
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
