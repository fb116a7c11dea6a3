"""The gradebook: every grading run of every student, in SQLite (stdlib ``sqlite3``).

A run is written in one transaction (the run, its problems, its tests), so after a crash or a
``kill -9`` a run is either wholly there or not there at all. Runs are never updated or deleted:
a regrade adds a run, and :func:`explain` says what changed between two runs and why (the
submission, the checks, the grader, or only the outcome).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from grader import safetext

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
    submissions_dir TEXT, assignment TEXT, executor TEXT, jobs INTEGER,
    students INTEGER, graded INTEGER, skipped INTEGER, wall_seconds REAL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, batch_id INTEGER REFERENCES batches(id),
    student TEXT NOT NULL, source_path TEXT, content_sha256 TEXT NOT NULL,
    submission_sha256 TEXT, assignment TEXT NOT NULL, assignment_version TEXT,
    checks_sha256 TEXT, grader_version TEXT, sandbox TEXT,
    status TEXT NOT NULL,           -- graded | unreadable | timeout | grader-error
    score REAL NOT NULL, max_score REAL NOT NULL, error TEXT, reason TEXT,
    started_at TEXT, finished_at TEXT, seconds REAL, worker TEXT,
    report_json TEXT, meta_json TEXT);
CREATE INDEX IF NOT EXISTS runs_by_student ON runs (assignment, student, id);
CREATE TABLE IF NOT EXISTS problem_results (
    run_id INTEGER NOT NULL REFERENCES runs(id), problem TEXT NOT NULL,
    score REAL, max_score REAL, status TEXT);
CREATE TABLE IF NOT EXISTS test_results (
    run_id INTEGER NOT NULL REFERENCES runs(id), position INTEGER, name TEXT NOT NULL,
    problem TEXT, score REAL, max_score REAL, status TEXT, seed INTEGER, output TEXT);
CREATE INDEX IF NOT EXISTS tests_by_run ON test_results (run_id);
CREATE INDEX IF NOT EXISTS problems_by_run ON problem_results (run_id);
"""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Run:
    """One row of ``runs``, with the report decoded."""

    id: int
    batch_id: int | None
    student: str
    source_path: str
    content_sha256: str
    submission_sha256: str | None
    assignment: str
    assignment_version: str
    checks_sha256: str
    grader_version: str
    sandbox: str | None
    status: str
    score: float
    max_score: float
    error: str | None
    reason: str | None
    started_at: str
    finished_at: str
    seconds: float
    worker: str | None
    report: dict | None
    meta: dict


class Gradebook:
    def __init__(self, path: str):
        self.path = path
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        with self.transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        return _Transaction(self.db)

    # ------------------------------------------------------------------ batches
    def begin_batch(self, *, submissions_dir: str, assignment: str, executor: str, jobs: int,
                    students: int) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO batches (started_at, submissions_dir, assignment, executor, jobs, students)"
                " VALUES (?, ?, ?, ?, ?, ?)", (now(), submissions_dir, assignment, executor, jobs, students))
            return cursor.lastrowid

    def finish_batch(self, batch_id: int, *, graded: int, skipped: int, wall_seconds: float) -> None:
        with self.transaction():
            self.db.execute("UPDATE batches SET finished_at = ?, graded = ?, skipped = ?, wall_seconds = ?"
                            " WHERE id = ?", (now(), graded, skipped, round(wall_seconds, 3), batch_id))

    # ------------------------------------------------------------------ runs
    def record(self, *, batch_id: int | None, student: str, source_path: str, content_sha256: str,
               assignment: str, assignment_version: str, checks_sha256: str, grader_version: str,
               status: str, report: dict | None, max_score: float, error: str | None,
               reason: str, started_at: str, finished_at: str, seconds: float,
               worker: str | None = None, meta: dict | None = None) -> int:
        """Add one grading run, atomically, and return its id.

        Every string is made valid text first (``valid``): the report and the error carry
        student text (exception messages, printed output, file names) and SQLite, like JSON
        readers, refuses a lone surrogate. One student's odd bytes must never stop the batch."""
        student, source_path, error, reason = (valid(v) for v in (student, source_path, error, reason))
        report, meta = valid(report), valid(meta or {})
        score = float(report["score"]) if report else 0.0
        if report:
            max_score = float(report["max_score"])
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (batch_id, student, source_path, content_sha256, submission_sha256,"
                " assignment, assignment_version, checks_sha256, grader_version, sandbox, status,"
                " score, max_score, error, reason, started_at, finished_at, seconds, worker,"
                " report_json, meta_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (batch_id, student, source_path, content_sha256,
                 report["submission"].get("sha256") if report else None, assignment,
                 assignment_version, checks_sha256, grader_version,
                 report["grader"].get("sandbox") if report else None, status, score, max_score,
                 error, reason, started_at, finished_at, round(seconds, 3), worker,
                 json.dumps(report, sort_keys=True) if report else None, json.dumps(meta)))
            run_id = cursor.lastrowid
            if report:
                self.db.executemany(
                    "INSERT INTO problem_results VALUES (?, ?, ?, ?, ?)",
                    [(run_id, pid, p["score"], p["max_score"], p["status"])
                     for pid, p in report["problems"].items()])
                self.db.executemany(
                    "INSERT INTO test_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, i, t["name"], (t.get("tags") or [None])[0], t["score"], t["max_score"],
                      t["status"], (t.get("extra_data") or {}).get("seed"), t.get("output", ""))
                     for i, t in enumerate(report["tests"])])
            return run_id

    def latest(self, assignment: str, reports: bool = True) -> dict[str, Run]:
        """The newest run of every student of this assignment; without ``reports`` each run's
        report is left in the database (``report(run.id)`` reads it): a class's reports take
        far more memory than everything else about it."""
        rows = self.db.execute(
            "SELECT * FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE assignment = ?"
            " GROUP BY student)", (assignment,))
        return {run.student: run for run in (self._run(row, reports) for row in rows)}

    def report(self, run_id: int) -> dict | None:
        row = self.db.execute("SELECT report_json FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def history(self, student: str, assignment: str | None = None) -> list[Run]:
        query, args = "SELECT * FROM runs WHERE student = ?", [student]
        if assignment:
            query += " AND assignment = ?"
            args.append(assignment)
        return [self._run(row) for row in self.db.execute(query + " ORDER BY id", args)]

    def students(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT student FROM runs ORDER BY student")]

    def count_runs(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def _run(self, row, report: bool = True) -> Run:
        names = [d[0] for d in self.db.execute("SELECT * FROM runs LIMIT 0").description]
        data = dict(zip(names, row))
        report_json, meta_json = data.pop("report_json"), data.pop("meta_json")
        report = json.loads(report_json) if report_json and report else None
        meta = json.loads(meta_json or "{}")
        return Run(report=report, meta=meta, **data)


def valid(value: Any) -> Any:
    """``value`` with every string in it (dict keys too) turned into valid text by the one
    policy (``safetext.text``; a lone surrogate becomes ``\\uDNNN``, NUL U+FFFD), so that
    SQLite and JSON readers take it. Nothing is cut: capping is the report's business."""
    if isinstance(value, str):
        return safetext.text(value, 6 * len(value) + 1)
    if isinstance(value, dict):
        return {valid(k) if isinstance(k, str) else k: valid(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid(v) for v in value]
    return value


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


# ------------------------------------------------------------------ what changed, and why

def explain(before: Run, after: Run) -> list[str]:
    """Lines that say what differs between two runs of one student, causes first."""
    lines = []
    if before.content_sha256 != after.content_sha256:
        files_before = set((before.report or {}).get("submission", {}).get("files", []))
        files_after = set((after.report or {}).get("submission", {}).get("files", []))
        detail = []
        if files_after - files_before:
            detail.append("added " + ", ".join(sorted(files_after - files_before)))
        if files_before - files_after:
            detail.append("removed " + ", ".join(sorted(files_before - files_after)))
        lines.append(f"cause: the submission changed (content {before.content_sha256[:10]} -> "
                     f"{after.content_sha256[:10]}" + (f"; {'; '.join(detail)}" if detail else "") + ")")
    if before.assignment_version != after.assignment_version:
        lines.append(f"cause: the assignment changed (version {before.assignment_version} -> "
                     f"{after.assignment_version})")
    elif before.checks_sha256 != after.checks_sha256:
        lines.append(f"cause: the assignment's checks or reference changed (checks "
                     f"{before.checks_sha256[:10]} -> {after.checks_sha256[:10]})")
    if before.grader_version != after.grader_version:
        lines.append(f"cause: the grader changed (version {before.grader_version} -> {after.grader_version})")
    if before.sandbox != after.sandbox and before.sandbox and after.sandbox:
        lines.append(f"cause: the sandbox changed ({before.sandbox} -> {after.sandbox})")
    if not lines:
        lines.append("cause: nothing in the inputs changed (a forced regrade)"
                     if after.reason in ("forced", "retry") else "cause: none recorded")
    if before.status != after.status:
        lines.append(f"status: {before.status} -> {after.status}"
                     + (f" ({after.error})" if after.error else ""))
    if before.score != after.score:
        lines.append(f"total: {_num(before.score)} -> {_num(after.score)} / {_num(after.max_score)}")
    old_problems = (before.report or {}).get("problems", {})
    new_problems = (after.report or {}).get("problems", {})
    for problem in dict.fromkeys([*old_problems, *new_problems]):
        old = old_problems.get(problem, {}).get("score")
        new = new_problems.get(problem, {}).get("score")
        if old != new:
            lines.append(f"problem {problem}: {_fmt(old)} -> {_fmt(new)}")
    old_tests = {t["name"]: t for t in (before.report or {}).get("tests", [])}
    new_tests = {t["name"]: t for t in (after.report or {}).get("tests", [])}
    for name in dict.fromkeys([*old_tests, *new_tests]):
        old, new = old_tests.get(name), new_tests.get(name)
        if old and new and (old["status"], old["score"]) == (new["status"], new["score"]):
            continue
        was = f"{old['status']} {_num(old['score'])}" if old else "absent"
        now_ = f"{new['status']} {_num(new['score'])}" if new else "absent"
        lines.append(f"  check '{name}': {was} -> {now_}")
        why = first_reason(new) if new and new["status"] != "passed" else ""
        if why:
            lines.append("      " + why)
    if len(lines) == 1 and before.report and after.report:
        lines.append("outcome: identical scores and checks")
    return lines


def first_reason(test: dict) -> str:
    """The diagnosed bug of a failed check, in the grader's own words: the check's hint, else
    the grader's one-line summary, else the first line of its output. A ``hint:`` line inside
    the output may be the student's own (a printout, an exception message): never taken."""
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    hints = [h.strip() for h in extra.get("hints") or [] if isinstance(h, str) and h.strip()]
    if hints:
        return "hint: " + hints[0][:200]
    failure = extra.get("failure")
    if isinstance(failure, str) and failure.strip():
        return failure.strip()[:200]
    output = test.get("output") if isinstance(test.get("output"), str) else ""
    return (output.strip().splitlines() or [""])[0][:200]


def _fmt(value) -> str:
    return "absent" if value is None else str(_num(value))


def _num(value: float):
    return int(value) if float(value) == int(value) else round(value, 4)
