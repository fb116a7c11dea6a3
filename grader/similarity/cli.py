"""``grader similarity SUBMISSIONS_DIR --assignment NAME --out DIR``: who wrote whose code.

``add_parser`` adds the subcommand to ``grader``'s parser; ``python -m grader.similarity`` runs
the same thing on its own. Exit codes as everywhere: 0 done, 2 a bad request, 3 our failure.
"""

from __future__ import annotations

import argparse
import os
import sys

from grader import assignment as assignments
from grader.assignment import AssignmentError
from grader.similarity.index import Settings

EXIT_OK, EXIT_REQUEST, EXIT_FAILED = 0, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.add_argument("submissions", help="the folder holding every student's submission "
                        "(the layouts grader batch reads)")
    parser.add_argument("--assignment", "-a", required=True, help="assignment name or folder")
    parser.add_argument("--out", "-o", required=True, metavar="DIR",
                        help="where similarity.html and similarity.csv are written")
    parser.add_argument("--threshold", type=float, default=None, metavar="BITS",
                        help="flag pairs scoring at least BITS (default: log2(pairs) + --margin)")
    parser.add_argument("--margin", type=float, default=defaults.margin, metavar="BITS",
                        help=f"the default threshold's margin over log2(pairs) (default {defaults.margin:g})")
    parser.add_argument("--common", type=float, default=defaults.common, metavar="FRACTION",
                        help="a passage this share of the class (or 8 students) has is no evidence "
                        f"(default {defaults.common})")
    parser.add_argument("--show", type=int, default=30, metavar="N",
                        help="pairs shown side by side in similarity.html (all flagged ones always)")
    parser.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                        help="processes reading submissions (default: one per CPU)")


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add ``similarity`` to ``grader``'s subcommands."""
    parser = subparsers.add_parser("similarity", help="compare every pair of students' code; "
                                   "write similarity.html and similarity.csv (evidence, not a verdict)")
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the comparison was written (flagged pairs or not), 2 for a bad request."""
    from grader.similarity.compare import CSV_NAME, HTML_NAME, compare_class

    if not os.path.isdir(args.submissions):
        print(f"grader: no such folder: {args.submissions}", file=sys.stderr)
        return EXIT_REQUEST
    if (args.threshold is not None and args.threshold <= 0) or not 0 < args.common <= 1:
        print("grader: --threshold must be positive and --common in (0, 1]", file=sys.stderr)
        return EXIT_REQUEST
    try:
        assignment = assignments.find(args.assignment)
    except AssignmentError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_REQUEST
    settings = Settings(threshold=args.threshold, common=args.common, margin=args.margin)
    try:
        result = compare_class(args.submissions, assignment, args.out, settings,
                               jobs=max(0, args.jobs), show=max(0, args.show))
    except OSError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_REQUEST
    print(f"{result.students} students, {result.pairs_compared} pairs: {len(result.flagged)} at or "
          f"above {result.threshold:.1f} bits; {result.seconds:.1f} s")
    print(f"results in {result.out_dir} ({HTML_NAME}, {CSV_NAME}); a score is evidence to weigh, "
          "never a verdict")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.similarity",
                                     description="compare every pair of students' code")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130
