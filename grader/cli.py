"""The command line: ``grader run`` for students and CI, ``grader validate`` for authors.

Exit codes: 0 full marks (or --min-score met), 1 points lost, 2 the request was wrong (no such
path or assignment, bad option), 3 the grader itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys

from grader import __version__, outfile, report, safetext
from grader import assignment as assignments
from grader.assignment import AssignmentError
from grader.grading import GraderFailure, grade
from grader.outfile import OutputError
from grader.sandbox import SandboxUnavailable, hide
from grader.submission import SubmissionError, open_submission

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
    run.add_argument("--junit", metavar="PATH", help="write JUnit XML here (GitHub/GitLab test reports)")
    run.add_argument("--markdown", metavar="PATH",
                     help="write a Markdown summary here (e.g. \"$GITHUB_STEP_SUMMARY\")")

    validate = commands.add_parser("validate", help="check an assignment: the reference must "
                                   "get full marks, twice, with identical reports")
    validate.add_argument("assignment", help="assignment name or folder")
    validate.add_argument("--sandbox", choices=("auto", "bubblewrap", "process"), default="auto")
    bundle = commands.add_parser("gradescope-bundle", help="build a Gradescope autograder zip "
                                 "(setup.sh, run_autograder, the grader, the assignment, its reference)")
    bundle.add_argument("assignment", help="assignment name or folder")
    bundle.add_argument("-o", "--output", default="autograder.zip", help="the zip to write")

    batch = commands.add_parser("batch", help="grade a whole class: one entry (folder, .zip, .py, "
                                ".ipynb; Gradescope and Canvas downloads too) per student")
    batch.add_argument("submissions", help="the folder holding every student's submission")
    batch.add_argument("--assignment", "-a", help="assignment name or folder")
    batch.add_argument("--out", "-o", required=True, metavar="RESULTS_DIR",
                       help="where reports, gradebook, CSVs and report.html go (reused to resume)")
    batch.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                       help="submissions graded at once (default: the number of CPUs)")
    batch.add_argument("--executor", choices=("local", "dask"), default="local")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler (with --executor dask)")
    batch.add_argument("--sandbox", choices=("auto", "bubblewrap", "process"), default="auto")
    batch.add_argument("--force", action="store_true", help="regrade everyone, changed or not")
    batch.add_argument("--retry-errors", action="store_true",
                       help="regrade submissions whose last grading timed out or failed")
    batch.add_argument("--similarity", action="store_true",
                       help="also compare every pair of students' code (similarity.html, similarity.csv)")

    new = commands.add_parser("new", help="scaffold an assignment from its reference solution "
                              "(assignment.toml, checks, public checks, starter, mutants, variants)")
    new.add_argument("name", help="the assignment's name (a plain identifier)")
    new.add_argument("--from", dest="references", nargs="+", required=True, metavar="REFERENCE.py",
                     help="the reference solution's modules")
    new.add_argument("--into", default=".", metavar="DIR",
                     help="writes DIR/assignments/NAME and DIR/reference_solutions/NAME (default: .)")
    publish = commands.add_parser("publish", help="build the public copy students get (starter, "
                                  "public checks, the grader; no hidden checks, mutants or reference)")
    publish.add_argument("assignment", help="assignment name or folder")
    publish.add_argument("-o", "--output", required=True, metavar="DIR", help="a new folder to write")

    history = commands.add_parser("history", help="every grading of one student in a batch's "
                                  "gradebook, and what changed between them and why")
    history.add_argument("results", metavar="RESULTS_DIR")
    history.add_argument("student")
    from grader.mutation import cli as mutation_cli
    from grader.similarity import cli as similarity_cli

    mutation_cli.add_parser(commands)
    similarity_cli.add_parser(commands)
    return parser


def _safe(text: str) -> str:
    """What the grader prints, made safe for where it goes: no control sequence for a terminal
    and, under GitHub Actions (which reads stdout and stderr for workflow commands), no line a
    runner would take for a command. Line by line, so a long report is not cut as one text."""
    neutralise = safetext.for_ci_log if os.environ.get("GITHUB_ACTIONS") == "true" else safetext.for_terminal
    return "\n".join(neutralise(line) for line in str(text).split("\n"))


def _say(message: str, file=None) -> None:
    """Print one message (any text that may hold a student's bytes) through ``_safe``."""
    _emit(_safe(message), file or sys.stdout)


def _emit(text: str, file) -> None:
    """Print and flush. A reader that went away (``grader run ... | head``) stops the printing,
    not the run: the stream is pointed at os.devnull (as Python's documentation on SIGPIPE
    advises, so the flush at exit cannot fail either) and the run ends with its own exit code."""
    try:
        print(text, file=file)
        file.flush()
    except BrokenPipeError:
        _silence(file)


def _silence(file) -> None:
    """Send everything still to be written to ``file`` (a closed pipe) to os.devnull."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, file.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _warn(message: str) -> None:
    _say(message, sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    for path in (args.json, args.junit, args.markdown):
        if path:
            outfile.check(path)   # a bad output path is refused before the grading, not after
    submission = open_submission(args.submission)  # read once: detection and grading share it
    try:
        assignment = assignments.find(args.assignment, submission=submission)
    except BaseException:
        submission.close()
        raise
    if args.min_score is not None and not 0 <= args.min_score <= assignment.max_score:
        submission.close()
        raise AssignmentError(f"--min-score must be between 0 and {assignment.name}'s "
                              f"{assignment.max_score:g} points, not {args.min_score:g}")
    if args.json and args.json != "-":  # the report and its folder: no worker reads them
        for path in (os.path.abspath(args.json), os.path.dirname(os.path.abspath(args.json))):
            hide(path)
    result = grade(submission, assignment, sandbox_mode=args.sandbox,
                   public_only=args.public, on_warning=_warn)
    if args.json:
        try:
            report.write_json(result, args.json)
        except BrokenPipeError:   # --json - into a reader that went away: the grade still stands
            _silence(sys.stdout)
    _ci_outputs(args, assignment, result)
    out = sys.stderr if args.json == "-" else sys.stdout
    if args.quiet:
        _say(f"{result['score']} / {result['max_score']}", out)
    else:
        _say(report.terminal(result), out)
    enough = result["score"] >= (args.min_score if args.min_score is not None else result["max_score"])
    return EXIT_FULL if enough else EXIT_LOST


def _ci_outputs(args: argparse.Namespace, assignment, result: dict) -> None:
    """JUnit, Markdown and (under GitHub Actions) annotations: see grader/junit.py,
    grader/markdown.py, grader/annotations.py."""
    if args.junit:  # each imported only when asked for: xml.etree alone costs ~5 ms a run
        from grader import junit

        junit.write(result, args.junit)
    if args.markdown:
        from grader import markdown

        markdown.write(result, args.markdown, assignment_points=assignment.max_score)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from grader import annotations

        functions_of = {p.id: p.functions for p in assignment.problems}
        out = sys.stderr if args.json == "-" else sys.stdout
        for line in annotations.github(result, functions_of):
            _emit(line, out)  # a workflow command on purpose, its values escaped by annotations


def cmd_gradescope_bundle(args: argparse.Namespace) -> int:
    from grader import gradescope

    outfile.check(args.output)
    assignment = assignments.find(args.assignment)
    names = gradescope.build_bundle(assignment, args.output)
    _say(f"wrote {args.output}: setup.sh, run_autograder and {len(names) - 2} files "
         f"(grader, assignments/{os.path.basename(assignment.folder)}, its reference solution)")
    return EXIT_FULL


def cmd_validate(args: argparse.Namespace) -> int:
    """The reference gets full marks twice, identically; every mutant is caught (grader/validate.py)."""
    from grader import validate

    assignment = assignments.find(args.assignment)
    ok = validate.validate(assignment, sandbox_mode=args.sandbox, on_warning=_warn)
    return EXIT_FULL if ok else EXIT_LOST


def cmd_batch(args: argparse.Namespace) -> int:
    """Exit 0 when the batch ran to the end (students whose code could not be graded are listed
    in the outputs), 2 for a bad request, 3 when the grader itself failed."""
    from grader import batch

    if not os.path.isdir(args.submissions):
        _say(f"grader: no such folder: {args.submissions}", sys.stderr)
        return EXIT_REQUEST
    if args.jobs is not None and args.jobs < 1:
        _say(f"grader: --jobs must be at least 1, not {args.jobs}", sys.stderr)
        return EXIT_REQUEST
    if args.executor == "dask" and not args.scheduler:
        _say("grader: --executor dask needs --scheduler ADDRESS", sys.stderr)
        return EXIT_REQUEST
    assignment = assignments.find(args.assignment)
    if args.similarity:
        # Before grading, so that report.html can link to similarity.html.
        from grader.similarity.compare import compare_class

        found = compare_class(args.submissions, assignment, args.out, jobs=args.jobs or 0)
        _say(f"similarity: {len(found.flagged)} of {found.pairs_compared} pairs at or above "
             f"{found.threshold:.1f} bits in similarity.html (evidence to weigh, never a verdict)")
    try:
        result = batch.run_batch(args.submissions, assignment, args.out,
                                 assignment_ref=args.assignment or assignment.folder, jobs=args.jobs or 0,
                                 executor=args.executor, scheduler=args.scheduler, sandbox_mode=args.sandbox,
                                 force=args.force, retry_errors=args.retry_errors,
                                 progress_stream=sys.stderr, log=_warn)
    except batch.BatchBusy as exc:
        _say(f"grader: {exc}", sys.stderr)
        return EXIT_REQUEST
    tried = result.graded + result.failed
    why = ", ".join(f"{count} {status}" for status, count in sorted(result.not_graded.items()))
    _say(f"{result.students} students: {result.graded} graded now, {result.skipped} unchanged, "
         f"{result.failed} not graded{f' ({why})' if why else ''}; {result.wall_seconds:.1f} s"
         + (f" ({result.wall_seconds / tried:.2f} s per submission)" if tried else ""))
    _say(f"results in {result.out_dir} (grades.csv, canvas_gradebook.csv, report.html, "
          f"{batch.DB_NAME}, students/)")
    return EXIT_FULL


def cmd_history(args: argparse.Namespace) -> int:
    from grader import batch

    try:
        text = batch.history_text(args.results, args.student)
    except FileNotFoundError as exc:
        _say(f"grader: {exc}", sys.stderr)
        return EXIT_REQUEST
    if text is None:
        _say(f"grader: no runs of {args.student!r} in {args.results}", sys.stderr)
        return EXIT_REQUEST
    _say(text)
    return EXIT_FULL


def cmd_new(args: argparse.Namespace) -> int:
    """Scaffold an assignment that ``grader validate`` passes as written (grader/authoring/new.py)."""
    from grader.authoring import new

    folder, reference = new.scaffold(args.name, args.references, args.into)
    _say(f"wrote {folder} (assignment.toml, checks/, public/, starter/, mutants/, variants/) "
         f"and {reference}")
    _say(f"next: edit the checks marked 'TODO: adjust inputs', then: grader validate {folder}")
    return EXIT_FULL


def cmd_publish(args: argparse.Namespace) -> int:
    """The public copy students get (grader/authoring/publish.py)."""
    from grader.authoring import publish

    assignment = assignments.find(args.assignment)
    files = publish.publish(assignment, args.output)
    _say(f"wrote {args.output}: {len(files)} files (the grader, assignments/{assignment.name}: "
         f"assignment.toml, public/, starter/); students run: python -m grader run SUBMISSION --public")
    return EXIT_FULL


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code = _main(args)
    for stream in (sys.stdout, sys.stderr):   # what is still buffered, while a closed pipe
        try:                                  # can still be sent to os.devnull
            stream.flush()
        except BrokenPipeError:
            _silence(stream)
        except (OSError, ValueError):
            pass
    return code


def _main(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "gradescope-bundle":
            return cmd_gradescope_bundle(args)
        if args.command == "batch":
            return cmd_batch(args)
        if args.command == "history":
            return cmd_history(args)
        if args.command == "mutate":
            from grader.mutation import cli as mutation_cli

            return mutation_cli.run(args)
        if args.command == "similarity":
            from grader.similarity import cli as similarity_cli

            return similarity_cli.run(args)
        if args.command == "new":
            return cmd_new(args)
        if args.command == "publish":
            return cmd_publish(args)
        return cmd_validate(args)
    except (AssignmentError, SubmissionError, SandboxUnavailable) as exc:
        _say(f"grader: {exc}", sys.stderr)
        return EXIT_REQUEST
    except OutputError as exc:  # an output path that cannot be written: one line, exit 2
        _say(f"grader: {' '.join(str(exc).split())}", sys.stderr)
        return EXIT_REQUEST
    except GraderFailure as exc:
        _say(f"grader: internal failure: {exc}", sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - any other bug of ours is exit 3, with a line
        import traceback

        _say(traceback.format_exc().rstrip(), sys.stderr)
        _say(f"grader: internal failure: {type(exc).__name__}: {exc}", sys.stderr)
        return EXIT_FAILED
