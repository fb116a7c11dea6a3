"""One student's feedback as a small self-contained HTML page (the Markdown twin is
``grader/markdown.py``), rendered from ``templates/feedback.html.j2``.

What a student may see, and in what order, is ``student_view``'s: per problem one diagnosis,
the failing checks one line each, their values folded in ``<details>`` (closed). Everything that
came from the submission (names, messages, printed output) is made valid text by ``safetext``
and escaped by Jinja2's autoescape: a student's exception message is text on the page, never
markup. The page loads nothing (inline CSS, no script, no font), so it reads the same offline.
"""

from __future__ import annotations

import os

import jinja2

from grader import safetext
from grader import student_view as view

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
    autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _clean(value: object) -> object:
    """Every string of the view as valid text (the one policy) with only characters HTML
    takes; escaping is the template's autoescape."""
    if isinstance(value, str):
        return safetext.for_xml(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        for key in value.__dataclass_fields__:
            setattr(value, key, _clean(getattr(value, key)))
    return value


def not_graded_markdown(student: str, status: str, error: str | None) -> str:
    """feedback.md for a submission that got no report: the why, as text only."""
    return (f"## Feedback for {safetext.for_markdown_inline(student)}: not graded "
            f"({safetext.for_markdown_inline(status)})\n\n{safetext.for_markdown_block(view.not_graded_reason(status, error))}\n")


def page(student: str, report: dict | None, *, status: str = "graded", error: str | None = None) -> str:
    """feedback.html for one student; ``report`` None: not graded, ``status`` and ``error`` say why."""
    template = _ENV.get_template("feedback.html.j2")
    student = safetext.for_xml(student)
    if report is None:
        return template.render(fb=None, student=student, status=safetext.for_xml(status),
                               reason=safetext.for_xml(view.not_graded_reason(status, error)),
                               page_title=f"Feedback for {student}", num=view.num, points=view.points)
    fb = _clean(view.feedback(report))
    return template.render(fb=fb, student=student, page_title=f"{fb.title}: {student}",
                           num=view.num, points=view.points)
