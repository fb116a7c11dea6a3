"""The report as JUnit XML, the format GitHub's and GitLab's test reporters read.

One <testsuite> per problem, one <testcase> per check. Points go in <properties> (on the suite
for the problem, on the case for the check); a check that lost its points carries a <failure>
(an <error> when the check itself could not judge) whose text is the feedback. Text from student
code can hold any character, so characters XML 1.0 forbids are replaced.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader import outfile
from grader import student_view as view
from grader.safetext import for_xml as clean


def _properties(parent: ET.Element, values: dict) -> None:
    properties = ET.SubElement(parent, "properties")
    for key, value in values.items():
        ET.SubElement(properties, "property", name=key, value=clean(value))


def build(report: dict) -> ET.Element:
    assignment = report.get("assignment", {}).get("name", "assignment")
    check_errors = set(report.get("grader", {}).get("check_errors", []))
    suites = ET.Element("testsuites", name=clean(f"grader {assignment}"))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for problem_id, problem in report["problems"].items():
        tests = [t for t in report["tests"] if view.problem_of(t) == problem_id]
        errors = [t for t in tests if t["status"] != "passed" and t["name"] in check_errors]
        failures = [t for t in tests if t["status"] != "passed" and t["name"] not in check_errors]
        suite = ET.SubElement(suites, "testsuite", name=clean(f"{assignment}.{problem_id}"),
                              tests=str(len(tests)), failures=str(len(failures)),
                              errors=str(len(errors)), skipped="0", time="0")
        _properties(suite, {"score": view.num(problem["score"]),
                            "max_score": view.num(problem["max_score"])})
        for test in tests:
            case = ET.SubElement(suite, "testcase", name=clean(view.name(test)),
                                 classname=clean(f"{assignment}.{problem_id}"), time="0")
            _properties(case, {"points": view.num(test["max_score"]), "score": view.num(test["score"]),
                               "visibility": test.get("visibility", "visible")})
            if test["status"] != "passed":
                text = clean(view.output(test))
                kind = "error" if test in errors else "failure"
                lost = view.num(test["max_score"] - test["score"])
                first = text.splitlines()[0] if text.strip() else f"lost {lost} point(s)"
                element = ET.SubElement(case, kind, message=view.shorten(first, 500),
                                        type=f"lost {lost} of {view.num(test['max_score'])} points")
                element.text = text
            elif view.output(test):
                ET.SubElement(case, "system-out").text = clean(view.output(test))
        for key, group in (("tests", tests), ("failures", failures), ("errors", errors)):
            totals[key] += len(group)
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", f"{float(report.get('execution_time', 0)):.3f}")
    return suites


def render(report: dict) -> str:
    """The XML document, with its declaration."""
    root = build(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(report: dict, path: str) -> None:
    """Write through ``outfile`` (atomic for a file, direct for a device or pipe)."""
    outfile.write(path, render(report))
