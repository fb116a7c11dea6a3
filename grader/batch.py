"""Grade a whole class: ``grader batch SUBMISSIONS_DIR --assignment NAME --out RESULTS_DIR``.

The steps, in order: find the students (``classlist``), decide who needs grading by content hash
against the gradebook (``gradebook``), grade them in parallel (``executors``), record every run
as it finishes (one SQLite transaction each), then write the outputs from the gradebook:

    RESULTS_DIR/gradebook.sqlite          every run ever made (the source of truth)
    RESULTS_DIR/students/ID/report.json   the same report ``grader run --json`` writes
    RESULTS_DIR/students/ID/feedback.md   and feedback.html
    RESULTS_DIR/grades.csv                student, total, one column per problem, status
    RESULTS_DIR/canvas_gradebook.csv      for Canvas's gradebook import
    RESULTS_DIR/report.html               the class at a glance

Every file is written through ``outfile`` (a temporary name renamed into place), and every run is committed
before the next one is counted, so a batch killed at any moment (kill -9 included) loses at most
the submissions in flight, and the next run grades only what is missing or changed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Callable

from grader import __version__, classlist, classreport, feedback_html, markdown, outfile, safetext
from grader import report as reports
from grader.assignment import Assignment
from grader.executors import (STATUS_ERROR, STATUS_GRADED, STATUS_TIMEOUT, DaskExecutor, Job,
                              LocalExecutor, Outcome)
from grader.gradebook import Gradebook, Run, now, valid
from grader.sandbox import hide

DB_NAME = "gradebook.sqlite"


@dataclass
class BatchResult:
    """What one batch did. ``graded + skipped + failed == students``: each student is graded
    now, unchanged since an earlier batch, or could not be graded now."""

    students: int
    graded: int              # graded in this batch
    skipped: int             # unchanged since their last grading: not graded again
    failed: int              # tried in this batch and not graded: unreadable, timeout, grader-error
    wall_seconds: float
    out_dir: str
    not_graded: dict[str, int] = dataclasses.field(default_factory=dict)   # status -> count, of ``failed``


def checks_fingerprint(assignment: Assignment) -> str:
    """What decides a grade besides the submission: assignment.toml, checks, reference, the
    functions handed to the sandbox. When any of it changes, every student is regraded."""
    paths = [os.path.join(assignment.folder, "assignment.toml"), *assignment.check_dirs(False)]
    if assignment.reference_dir:
        paths.append(assignment.reference_dir)
    if assignment.sandbox_functions:
        paths.append(assignment.sandbox_functions)
    return classlist.tree_hash(paths)


def why_grade(entry: classlist.Entry, last: Run | None, fingerprint: str, version: str, *,
              force: bool, retry_errors: bool) -> str | None:
    """The reason to grade this student now, or None when their last run still stands."""
    if last is None:
        return "new"
    if force:
        return "forced"
    if last.content_sha256 != entry.sha256:
        return "submission changed"
    if last.checks_sha256 != fingerprint or last.assignment_version != version:
        return "checks changed"
    if last.grader_version != __version__:
        return "grader changed"
    if retry_errors and last.status in (STATUS_ERROR, STATUS_TIMEOUT):
        return "retry"
    return None


class Progress:
    """tqdm's bar (done, rate, ETA, failures) on a terminal; one plain line per submission otherwise
    (a CI log or a file reads better one finished submission per line than as redrawn bars).
    Every student string goes through ``safetext`` before it is shown."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.failed, self.lost = total, 0, 0, 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.bar = None
        if self.tty and total:
            from tqdm import tqdm

            try:
                size = os.get_terminal_size(self.stream.fileno())
            except (OSError, ValueError, AttributeError):
                size = os.terminal_size((0, 0))
            # a terminal that reports no size (a bare pty) gets 100 x 24, not a hidden bar
            known = size.columns > 0 and size.lines > 0
            self.bar = tqdm(total=total, file=self.stream, unit="submission", smoothing=0.1,
                            dynamic_ncols=known, ncols=None if known else 100, nrows=None if known else 24,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                       "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")

    def update(self, outcome: Outcome) -> None:
        """Count one finished submission and show it."""
        self.done += 1
        if outcome.status != STATUS_GRADED:
            self.failed += 1
        elif outcome.report and outcome.report["score"] < outcome.report["max_score"]:
            self.lost += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"failures {self.failed}, lost points {self.lost}", refresh=False)
            self.bar.update(1)
            if self.done >= self.total:
                self.bar.close()
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        what = (f"{_n(outcome.report['score'])}/{_n(outcome.report['max_score'])}" if outcome.report
                else f"{outcome.status}: {' '.join((outcome.error or '')[:120].split())}")
        # the student id is a file name and the error may quote their code: no escape
        # sequence or CI workflow command may come through
        self.stream.write(f"[{self.done}/{self.total}] {safetext.for_ci_log(' '.join(outcome.job.student.split()))}: "
                          f"{safetext.for_ci_log(what)} "
                          f"({outcome.seconds:.1f} s; failures {self.failed}; ETA {_clock(eta)})\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar (a batch stopped early leaves it drawn as far as it got)."""
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _n(value) -> str:
    value = float(value)
    return str(int(value)) if value == int(value) else f"{value:g}"


def run_batch(submissions_dir: str, assignment: Assignment, out_dir: str, *, assignment_ref: str,
              jobs: int = 0, executor: str = "local", scheduler: str | None = None,
              sandbox_mode: str = "auto", force: bool = False, retry_errors: bool = False,
              progress_stream=None, log=print) -> BatchResult:
    started = time.monotonic()
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    lock = _lock(out_dir)
    try:
        return _run_locked(submissions_dir, assignment, out_dir, started, assignment_ref=assignment_ref,
                           jobs=jobs, executor=executor, scheduler=scheduler, sandbox_mode=sandbox_mode,
                           force=force, retry_errors=retry_errors, progress_stream=progress_stream, log=log)
    finally:
        lock.close()


class BatchBusy(Exception):
    """Another batch is writing to the same results folder."""


def _lock(out_dir: str):
    """One batch per results folder at a time (the lock goes with the process, kill -9 included)."""
    import fcntl

    handle = open(os.path.join(out_dir, ".lock"), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise BatchBusy(f"another grader batch is writing to {out_dir}") from None
    return handle


def _run_locked(submissions_dir: str, assignment: Assignment, out_dir: str, started: float, *,
                assignment_ref: str, jobs: int, executor: str, scheduler: str | None,
                sandbox_mode: str, force: bool, retry_errors: bool, progress_stream, log) -> BatchResult:
    for folder in (out_dir, submissions_dir):  # reports, other students' work: no worker reads them
        hide(folder)
    found = classlist.discover(submissions_dir, staging=os.path.join(out_dir, ".staging"))
    for note in found.skipped:
        log(f"skipped {note}")
    if not found.entries:
        log(f"warning: {submissions_dir} holds no student submissions (one folder, .zip, .py or "
            ".ipynb per student); the outputs say the class is empty")
    fingerprint = checks_fingerprint(assignment)
    jobs = jobs or os.cpu_count() or 1
    with Gradebook(os.path.join(out_dir, DB_NAME)) as book:
        latest = book.latest(assignment.name, reports=False)
        todo: list[tuple[classlist.Entry, str]] = []
        for entry in found.entries:
            reason = why_grade(entry, latest.get(entry.student), fingerprint, assignment.version,
                               force=force, retry_errors=retry_errors)
            if reason:
                todo.append((entry, reason))
        skipped = len(found.entries) - len(todo)
        log(f"{len(found.entries)} students in {submissions_dir}: {len(todo)} to grade, "
            f"{skipped} unchanged since their last grading")
        batch_id = book.begin_batch(submissions_dir=os.path.abspath(submissions_dir),
                                    assignment=assignment.name, executor=executor, jobs=jobs,
                                    students=len(found.entries))
        by_student = {entry.student: (entry, reason) for entry, reason in todo}
        timeout = assignment.submission_seconds + assignment.load_seconds + 60
        job_list = [Job(student=e.student, path=e.path, assignment=assignment_ref,
                        sandbox=sandbox_mode, timeout=timeout) for e, _ in todo]
        progress = Progress(len(job_list), progress_stream)
        warned: set[str] = set()
        not_graded: dict[str, int] = {}

        def done(outcome: Outcome) -> None:
            entry, reason = by_student[outcome.job.student]
            # Student text in the report or error as valid text before any writer sees it.
            outcome.report, outcome.error = valid(outcome.report), valid(outcome.error)
            for warning in outcome.warnings:
                if warning not in warned:
                    warned.add(warning)
                    log(warning)
            if outcome.status != STATUS_GRADED:
                not_graded[outcome.status] = not_graded.get(outcome.status, 0) + 1
            book.record(batch_id=batch_id, student=entry.student, source_path=entry.path,
                        content_sha256=entry.sha256, assignment=assignment.name,
                        assignment_version=assignment.version, checks_sha256=fingerprint,
                        grader_version=__version__, status=outcome.status, report=outcome.report,
                        max_score=assignment.max_score, error=outcome.error, reason=reason,
                        started_at=_iso(outcome.started_at), finished_at=_iso(outcome.finished_at),
                        seconds=outcome.seconds, worker=outcome.worker, meta=entry.meta())
            write_student(out_dir, entry.student, outcome.status, outcome.report, outcome.error)
            progress.update(outcome)

        if job_list:
            runner = (DaskExecutor(scheduler) if executor == "dask"
                      else LocalExecutor(jobs, log_dir=os.path.join(out_dir, "logs")))
            try:
                runner.run(job_list, done)
            finally:
                progress.close()
        wall = time.monotonic() - started
        book.finish_batch(batch_id, graded=len(job_list), skipped=skipped, wall_seconds=wall)
        latest = book.latest(assignment.name, reports=False)
        current = [(entry, latest[entry.student]) for entry in found.entries if entry.student in latest]
        write_outputs(out_dir, assignment, current, book.report, written={job.student for job in job_list},
                      warmups=warmup_runs(book, {run.batch_id for _, run in current}),
                      known=known_diagnoses(assignment, log))
    failed = sum(not_graded.values())
    return BatchResult(students=len(found.entries), graded=len(job_list) - failed, skipped=skipped,
                       failed=failed, wall_seconds=time.monotonic() - started, out_dir=out_dir,
                       not_graded=not_graded)


def warmup_runs(book: Gradebook, batch_ids: set[int | None]) -> set[int]:
    """The ids of the runs each grading process of these batches graded first: their time
    includes the process's warm-up (imports, collecting the checks, starting the sandbox), so
    the class report flags them instead of ranking them among the slowest."""
    ids = sorted(b for b in batch_ids if b is not None)
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    rows = book.db.execute(
        f"SELECT id FROM runs r WHERE batch_id IN ({marks}) AND worker IS NOT NULL AND worker != ''"
        " AND started_at = (SELECT MIN(started_at) FROM runs WHERE batch_id = r.batch_id AND worker = r.worker)",
        ids)
    return {row[0] for row in rows}


def known_diagnoses(assignment: Assignment, log: Callable[[str], None] = print) -> list[classreport.Known]:
    """The diagnoses the assignment's mutants prove (mutants/mutants.toml, read by
    ``grader validate``'s own loader). None when it has no mutants, or when they cannot be
    read: then the class report says every failure is unexplained rather than guess."""
    from grader import validate
    from grader.assignment import AssignmentError

    try:
        return classreport.known_diagnoses(validate.load_mutants(assignment))
    except AssignmentError as exc:
        log(f"warning: no proven diagnoses in the class report: {' '.join(str(exc).split())[:300]}")
        return []


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(timestamp)) + f".{int(timestamp * 1000) % 1000:03d}"


def student_dir(out_dir: str, student: str) -> str:
    return os.path.join(out_dir, "students", student)


def write_student(out_dir: str, student: str, status: str, report: dict | None, error: str | None) -> None:
    folder = student_dir(out_dir, student)
    if report is not None:
        outfile.write(os.path.join(folder, "report.json"), reports.render_json(report))
    else:
        stale = os.path.join(folder, "report.json")
        if os.path.exists(stale):
            os.unlink(stale)
    text = (markdown.render(report) if report is not None
            else feedback_html.not_graded_markdown(student, status, error))
    outfile.write(os.path.join(folder, "feedback.md"), text)
    outfile.write(os.path.join(folder, "feedback.html"), feedback_html.page(student, report, status=status, error=error))


def write_outputs(out_dir: str, assignment: Assignment, current: list[tuple[classlist.Entry, Run]],
                  report_of: Callable[[int], dict | None], written: set[str] = frozenset(),
                  warmups: set[int] = frozenset(), known: list[classreport.Known] | None = None) -> None:
    """Everything derived from the gradebook's latest runs of the students in the folder.

    Reports are read one student at a time (``report_of(run.id)``) and only a summary of each
    is kept, so memory does not grow with the class. A student's own files are checked against
    the gradebook (a batch killed between recording a run and writing its files left them
    stale), except for those this batch has just ``written`` right after recording them."""
    slim = []
    for entry, run in current:
        report = report_of(run.id)
        if entry.student not in written:
            _refresh_student(out_dir, entry.student, run, report)
        slim.append((entry, dataclasses.replace(run, report=_summary(report))))
    current = slim
    outfile.write(os.path.join(out_dir, "grades.csv"), grades_csv(assignment, current))
    outfile.write(os.path.join(out_dir, "canvas_gradebook.csv"), canvas_csv(assignment, current))
    rows = [classreport.Row(student=entry.student, status=run.status, score=run.score,
                            max_score=run.max_score, seconds=run.seconds or 0.0, report=run.report,
                            error=run.error, worker=run.worker, warmup=run.id in warmups)
            for entry, run in current]
    links = {entry.student: f"students/{entry.student}/feedback.html" for entry, _ in current}
    page = classreport.render(rows, title=assignment.title,
                              problems=[(p.id, p.points) for p in assignment.problems],
                              max_score=assignment.max_score, generated=now(), links=links, known=known,
                              similarity="similarity.html" if os.path.isfile(
                                  os.path.join(out_dir, "similarity.html")) else None)
    outfile.write(os.path.join(out_dir, "report.html"), page)
    _sweep(out_dir)


def _refresh_student(out_dir: str, student: str, run: Run, report: dict | None) -> None:
    if report is None:
        if not os.path.exists(os.path.join(student_dir(out_dir, student), "feedback.md")):
            write_student(out_dir, student, run.status, report, run.error)
        return
    try:
        with open(os.path.join(student_dir(out_dir, student), "report.json"), encoding="utf-8") as handle:
            same = handle.read() == reports.render_json(report)
    except OSError:
        same = False
    if not same:
        write_student(out_dir, student, run.status, report, run.error)


def _summary(report: dict | None) -> dict | None:
    """What the class outputs read of a report: problem scores, the failed checks, and every
    check's name and problem (for the failures per check)."""
    if report is None:
        return None
    return {"problems": report["problems"],
            "tests": [{"name": t.get("name"), "status": t["status"], "tags": t.get("tags"),
                       "extra_data": t.get("extra_data")}
                      for t in report["tests"] if t["status"] != "passed"],
            "checks": [(t.get("name"), (t.get("tags") or ["?"])[0]) for t in report["tests"]]}


def _sweep(out_dir: str) -> None:
    """Remove what a killed batch may have left half-made: our temporary files and folders."""
    staging = os.path.join(out_dir, ".staging")
    if os.path.isdir(staging):
        for name in os.listdir(staging):
            if name.startswith((".stage-", ".old-")):
                shutil.rmtree(os.path.join(staging, name), ignore_errors=True)
    for folder in [out_dir] + [os.path.join(out_dir, "students", s) for s in
                               (os.listdir(os.path.join(out_dir, "students"))
                                if os.path.isdir(os.path.join(out_dir, "students")) else [])]:
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if name.startswith(outfile.TEMP_PREFIX) and name.endswith(outfile.TEMP_SUFFIX):
                os.unlink(os.path.join(folder, name))


def grade_status(run: Run) -> str:
    if run.status != STATUS_GRADED:
        return run.status
    return "full marks" if run.score >= run.max_score else "points lost"


def grades_csv(assignment: Assignment, current: list[tuple[classlist.Entry, Run]]) -> str:
    problems = [p.id for p in assignment.problems]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted too
    writer.writerow(["student", "total", *problems, "status"])
    for entry, run in sorted(current, key=lambda item: item[0].student):
        scores = (run.report or {}).get("problems", {})
        row = [entry.student, _n(run.score), *[_n(scores.get(p, {}).get("score", 0)) for p in problems],
               grade_status(run)]
        writer.writerow([safetext.for_csv(cell) for cell in row])
    return buffer.getvalue()


def canvas_csv(assignment: Assignment, current: list[tuple[classlist.Entry, Run]]) -> str:
    """Canvas's gradebook import format: Student, ID, SIS User ID, SIS Login ID, Section, then one
    column per assignment ("Name (id)" in exports; a new name creates a new assignment column), with
    a "Points Possible" row. ID is the Canvas user id when the download gave one; otherwise the
    student id goes in SIS User ID for Canvas to match."""
    column = f"{assignment.title} ({assignment.name})"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted too
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
    writer.writerow(["    Points Possible", "", "", "", "", _n(assignment.max_score)])
    for entry, run in sorted(current, key=lambda item: item[0].student):
        members = entry.members or [{}]
        for member in members:
            name = member.get("name") or entry.name or entry.student
            sis = member.get("sid") or ("" if entry.canvas_id else entry.student)
            # no grade (an empty cell) when the grader could not grade: a 0 would be posted as one
            grade = _n(run.score) if run.status == STATUS_GRADED else ""
            writer.writerow([safetext.for_csv(c) for c in (name, entry.canvas_id, sis, member.get("email", ""), "",
                                                           grade)])
    return buffer.getvalue()


# ------------------------------------------------------------------ history

def history_text(out_dir: str, student: str) -> str | None:
    path = os.path.join(out_dir, DB_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no gradebook at {path}; run grader batch first")
    from grader.gradebook import explain

    with Gradebook(path) as book:
        runs = book.history(student)
        if not runs:
            return None
        lines = [f"history of {student}: {len(runs)} run{'s' if len(runs) != 1 else ''}"]
        for index, run in enumerate(runs):
            lines.append(f"run {run.id}  {run.finished_at}  {run.assignment} {run.assignment_version}"
                         f"  grader {run.grader_version}  content {run.content_sha256[:10]}"
                         f"  {run.status}  {_n(run.score)} / {_n(run.max_score)}  ({run.reason}; "
                         f"{run.seconds or 0:.2f} s)")
            if run.error:
                lines.append(f"    error: {run.error}")
            if index:
                previous = runs[index - 1]
                lines.append(f"    what changed since run {previous.id}, and why:")
                lines += [f"      {line}" for line in explain(previous, run)]
        return "\n".join(lines)
