"""One student's feedback as a small self-contained HTML page (the Markdown twin is
``grader/markdown.py``). What a student may see of each check follows ``student_view``, and
everything that came from the submission (names, messages, printed output) is escaped: a
student's exception message is text on the page, never markup.
"""

from __future__ import annotations

from grader import safetext
from grader import student_view as view
from grader.safetext import for_html as e

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin-bottom:.3rem}
.score{font-size:1.3rem;font-weight:600}
table{border-collapse:collapse}td,th{padding:.25rem .7rem;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right}.passed{color:#1a7f37}.failed,.error{color:#b42318}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;font-size:.85rem}
"""


def not_graded_markdown(student: str, status: str, error: str | None) -> str:
    """feedback.md for a submission that got no report: the why, as text only."""
    return (f"## Feedback for {safetext.for_markdown_inline(student)}: not graded "
            f"({safetext.for_markdown_inline(status)})\n\n{safetext.for_markdown_block(error or 'no detail')}\n")


def page(student: str, report: dict | None, *, status: str = "graded", error: str | None = None) -> str:
    """feedback.html: every piece of student text through ``safetext.for_html``."""
    if report is None:
        body = (f"<h1>Feedback for {e(student)}</h1><p class='score error'>Not graded: {e(status)}</p>"
                f"<pre>{e(error or 'no detail')}</pre>")
        return _page(f"Feedback for {student}", body)
    title = report["assignment"].get("title") or report["assignment"]["name"]
    parts = [f"<h1>{e(title)}: feedback for {e(student)}</h1>",
             f"<p class='score'>Score: {view.num(report['score'])} / {view.num(report['max_score'])}</p>",
             "<table><tr><th>problem</th><th>points</th><th>status</th></tr>"]
    for problem_id, problem in report["problems"].items():
        parts.append(f"<tr><td>{e(problem_id)}</td><td class='n'>{view.num(problem['score'])} / "
                     f"{view.num(problem['max_score'])}</td><td class='{e(problem['status'])}'>"
                     f"{e(problem['status'])}</td></tr>")
    parts.append("</table>")
    lost = [t for t in report["tests"] if t["status"] != "passed"]
    if lost:
        parts.append("<h2>Where points were lost</h2>")
        for test in lost:
            text = view.output(test)
            parts.append(f"<h3>{e(view.name(test))} (&minus;{view.num(test['max_score'] - test['score'])})</h3>"
                         + (f"<pre>{e(text)}</pre>" if text else ""))
    loading = report["submission"].get("load_errors") or []
    if loading:
        parts.append("<h2>While loading your files</h2><ul>"
                     + "".join(f"<li>{e(line)}</li>" for line in loading) + "</ul>")
    return _page(f"{title}: {student}", "".join(parts))


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")
