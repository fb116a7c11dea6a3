"""The command line: ``grader run`` for students and CI, ``grader validate`` for authors.

Exit codes: 0 full marks (or --min-score met), 1 points lost, 2 the request was wrong (no such
path or assignment, bad option), 3 the grader itself failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from grader import __version__, report
from grader import assignment as assignments
from grader.assignment import AssignmentError
from grader.grading import GraderFailure, grade
from grader.sandbox import SandboxUnavailable
from grader.submission import SubmissionError

EXIT_FULL, EXIT_LOST, EXIT_REQUEST, EXIT_FAILED = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="grade one submission (folder, .py, .ipynb or .zip)")
    run.add_argument("submission", help="the folder or file the student handed in")
    run.add_argument("--assignment", "-a", help="assignment name or folder (optional when only one is installed)")
    run.add_argument("--json", metavar="PATH", help="write the JSON report here ('-' for stdout)")
    run.add_argument("--min-score", type=float, metavar="X",
                     help="exit 0 when the score is at least X (default: only full marks)")
    run.add_argument("--sandbox", choices=("auto", "bubblewrap", "process"), default="auto",
                     help="how student code is confined (default: bubblewrap when it works)")
    run.add_argument("--public", action="store_true", help="run only the public checks")
    run.add_argument("--quiet", "-q", action="store_true", help="print only the total")

    validate = commands.add_parser("validate", help="check an assignment: the reference must "
                                   "get full marks, twice, with identical reports")
    validate.add_argument("assignment", help="assignment name or folder")
    validate.add_argument("--sandbox", choices=("auto", "bubblewrap", "process"), default="auto")
    return parser


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    assignment = assignments.find(args.assignment)
    result = grade(args.submission, assignment, sandbox_mode=args.sandbox,
                   public_only=args.public, on_warning=_warn)
    if args.json:
        report.write_json(result, args.json)
    out = sys.stderr if args.json == "-" else sys.stdout
    if args.quiet:
        print(f"{result['score']} / {result['max_score']}", file=out)
    else:
        print(report.terminal(result), file=out)
    enough = result["score"] >= (args.min_score if args.min_score is not None else result["max_score"])
    return EXIT_FULL if enough else EXIT_LOST


def comparable(result: dict) -> str:
    """A report without the parts that may differ between two gradings (timings)."""
    clean = dict(result)
    clean.pop("execution_time", None)
    return json.dumps(clean, sort_keys=True)


def cmd_validate(args: argparse.Namespace) -> int:
    assignment = assignments.find(args.assignment)
    first = grade(assignment.reference_dir, assignment, sandbox_mode=args.sandbox, on_warning=_warn)
    second = grade(assignment.reference_dir, assignment, sandbox_mode=args.sandbox)
    failures = []
    if first["score"] != first["max_score"]:
        failures.append(f"the reference scored {first['score']} / {first['max_score']}:\n"
                        + report.terminal(first))
    if first["grader"]["check_errors"]:
        failures.append("checks that errored on the reference: " + ", ".join(first["grader"]["check_errors"]))
    if comparable(first) != comparable(second):
        failures.append("grading the reference twice gave different reports")
    for problem in assignment.problems:
        got = first["problems"][problem.id]["max_score"]
        if got != problem.points:
            failures.append(f"problem {problem.id}: its checks add up to {got} points, "
                            f"assignment.toml gives {problem.points:g}")
    print(f"reference: {first['score']} / {first['max_score']} "
          f"({len(first['tests'])} checks, {first['execution_time']:.2f} s, sandbox {first['grader']['sandbox']})")
    print(f"reproducible: {'yes' if comparable(first) == comparable(second) else 'NO'}")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("validate: " + ("FAILED" if failures else "ok"))
    return EXIT_LOST if failures else EXIT_FULL


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        return cmd_validate(args)
    except (AssignmentError, SubmissionError, SandboxUnavailable) as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_REQUEST
    except GraderFailure as exc:
        print(f"grader: internal failure: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - any other bug of ours is exit 3, with a line
        import traceback

        traceback.print_exc()
        print(f"grader: internal failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
