"""``grader mutate NAME``: how strong are an assignment's checks against the bugs students make?

Exit codes: 0 every non-equivalent mutant was killed or is listed in survivors.toml, 1 new
survivors, 2 the request was wrong (no such assignment, problem or operator), 3 the grader failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from grader.assignment import AssignmentError

EXIT_OK, EXIT_SURVIVORS, EXIT_REQUEST, EXIT_FAILED = 0, 1, 2, 3


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The ``mutate`` subcommand, for grader/cli.py's parser (and our own ``main``)."""
    parser = subparsers.add_parser("mutate", help="mutants of the reference: which bugs do the checks miss?")
    parser.add_argument("assignment", help="assignment name or folder")
    parser.add_argument("--problem", metavar="ID", help="only mutants of this problem's functions")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N mutants")
    parser.add_argument("--operator", action="append", metavar="NAME",
                        help="only this operator (repeatable): arith, compare, constant, axis, function, "
                             "transpose, delete, inplace, index, sign, term")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON here ('-' for stdout)")
    parser.add_argument("--sandbox", choices=("auto", "bubblewrap", "process"), default="auto")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``grader mutate`` with parsed arguments; the exit code."""
    from grader import assignment as assignments
    from grader.grading import GraderFailure
    from grader.mutation.run import MutationError, mutate, render
    from grader import outfile
    from grader.sandbox import SandboxUnavailable

    say = (lambda text: print(text, file=sys.stderr)) if args.json == "-" else print
    if args.limit is not None and args.limit < 1:
        print("grader mutate: --limit must be at least 1", file=sys.stderr)
        return EXIT_REQUEST
    try:
        assignment = assignments.find(args.assignment)
        report = mutate(assignment, problem=args.problem, limit=args.limit, operators=args.operator,
                        sandbox_mode=args.sandbox, out=say,
                        on_warning=lambda m: print(m, file=sys.stderr))
    except AssignmentError as exc:
        print(f"grader mutate: {exc}", file=sys.stderr)
        return EXIT_REQUEST
    except (MutationError, GraderFailure, SandboxUnavailable) as exc:
        print(f"grader mutate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    say(render(report))
    if args.json:
        text = json.dumps(report.as_dict(), indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            outfile.write(args.json, text)
    return EXIT_SURVIVORS if report.new_survivors() else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.mutation NAME ...`` until grader/cli.py wires ``grader mutate``."""
    parser = argparse.ArgumentParser(prog="grader", description=__doc__.splitlines()[0])
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mutate", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug of ours: exit 3 with one line (as grader.cli)
        print(f"grader mutate: internal failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
