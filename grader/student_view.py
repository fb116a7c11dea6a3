"""What a student may see of a report's checks in CI outputs (Markdown, JUnit, annotations).

Visibility uses Gradescope's values. Gradescope applies them itself to results.json; CI knows no
due date, so there a check whose visibility is anything but "visible" is counted (its points
and whether it passed) but not described (no name, no feedback).
"""

from __future__ import annotations


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
