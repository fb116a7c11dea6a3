"""Find the students in a class's download folder: one entry per student, with a content hash.

Three layouts are understood (mixed freely, except that a Gradescope export is taken as a whole):

- plain: every entry of the folder is one student: a folder, a ``.zip``, or a single ``.py`` /
  ``.ipynb`` file; the student id is its name without the extension.
- Gradescope ("Export Submissions"): ``submission_metadata.yml`` beside one folder
  ``submission_<n>/`` per submission. The student id is the first submitter's SID (or e-mail, or
  name); group members are kept as ``members``.
- Canvas ("Download Submissions"): loose files named
  ``<sortablename>[_LATE]_<canvas user id>_<attachment id>_<original file name>``, where Canvas
  adds ``-<n>`` before the extension of a resubmitted file. One student's files are put back
  under their original names in ``RESULTS_DIR/.staging/<student>/`` (atomically) so that modules
  import each other as the student wrote them. The student id is the sortable name (with the
  Canvas user id appended when two students share a name), and the Canvas user id is kept for
  the Canvas gradebook CSV.

Nothing here runs or parses student code; it only reads names and bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field

from grader import safetext
from grader.submission import SubmissionError, open_regular

SOURCE_SUFFIXES = (".py", ".ipynb", ".zip")
SKIP_NAMES = {"__MACOSX", ".DS_Store", "Thumbs.db", "submission_metadata.yml"}
CANVAS_NAME = re.compile(r"^(?P<name>[a-z0-9]+?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<attachment>\d+)_(?P<file>.+)$")
RESUBMISSION_SUFFIX = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[A-Za-z0-9]+)$")


@dataclass
class Entry:
    student: str                 # the id used in every output (safe as a file name, valid text)
    path: str                    # what is graded: a folder, a .zip, .py or .ipynb (may hold
                                 # undecodable bytes as surrogates: a path, never shown as is)
    layout: str                  # "plain", "gradescope" or "canvas"
    sha256: str = ""             # hash of where the entry came from and of every byte in it
    name: str = ""               # a display name when the layout gives one
    canvas_id: str = ""          # Canvas user id, when known
    members: list[dict] = field(default_factory=list)   # group members (Gradescope)
    late: bool = False
    source: str = ""             # the entry's name in the class folder, as valid text

    def meta(self) -> dict:
        return {"layout": self.layout, "name": self.name, "canvas_id": self.canvas_id,
                "members": self.members, "late": self.late}


@dataclass
class ClassList:
    entries: list[Entry]
    skipped: list[str]           # names in the folder that are not a submission, with why


def discover(folder: str, staging: str) -> ClassList:
    """Every student's entry in ``folder``; Canvas files are staged under ``staging``."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder: {folder}")
    folder = os.path.abspath(folder)
    if os.path.isfile(os.path.join(folder, "submission_metadata.yml")):
        result = _gradescope(folder)
    else:
        result = _plain_and_canvas(folder, staging)
    make_unique(result.entries)
    for entry in result.entries:
        entry.sha256 = source_hash(entry)
    result.entries.sort(key=lambda e: e.student)
    return result


def safe_id(text: str | bytes) -> str:
    """A student id for a name from the class folder or a metadata file: valid text (undecodable
    bytes spelled ``\\xNN`` first, so names differing only there stay apart), safe as a file
    name, at most 120 characters."""
    clean = re.sub(r"[^\w.@+-]", "_", safetext.name(text).strip()).strip("._") or "student"
    return clean[:120].rstrip(".") or "student"


def make_unique(entries: list[Entry]) -> None:
    """One student, one id: an entry whose id is already taken gets the first ``-N`` suffix
    that is nobody's id, raw or given (compared case-blind, since results folders may live on
    a case-insensitive disk). Entries are taken in the order of their paths' bytes, so the
    same class folder always gets the same ids, whatever order the folder was listed in."""
    taken = {entry.student.casefold() for entry in entries}
    kept: set[str] = set()
    for entry in sorted(entries, key=lambda e: (os.fsencode(e.path), e.layout, e.student)):
        base = entry.student
        if base.casefold() not in kept:
            kept.add(base.casefold())
            continue
        number = 2
        while f"{base}-{number}".casefold() in taken:
            number += 1
        entry.student = f"{base}-{number}"
        taken.add(entry.student.casefold())
        kept.add(entry.student.casefold())


def source_hash(entry: Entry) -> str:
    """What ties a grading run to the entry it graded: the entry's place in the class folder
    and every byte handed in. Ids may move between entries when the folder changes (a new
    ``alice.zip`` beside ``alice/``); the hash then changes too, so that student is regraded."""
    digest = hashlib.sha256()
    digest.update(f"{entry.layout}\0{entry.source}\0".encode())
    digest.update(content_hash(entry.path).encode())
    return digest.hexdigest()


# ------------------------------------------------------------------ plain and Canvas

def _plain_and_canvas(folder: str, staging: str) -> ClassList:
    entries, skipped = [], []
    canvas: dict[tuple[str, str], list[tuple[str, str, bool]]] = {}
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name in SKIP_NAMES or name.startswith("."):
            continue
        shown = safetext.name(name)
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            continue  # gone since it was listed
        if stat.S_ISLNK(mode):
            skipped.append(f"{shown}: a symbolic link (not followed)")
            continue
        match = CANVAS_NAME.match(name) if stat.S_ISREG(mode) else None
        if match:
            key = (match["name"], match["uid"])
            canvas.setdefault(key, []).append((full, match["file"], bool(match["late"])))
            continue
        # A FIFO, socket or device named like a submission stays an entry: grading refuses it
        # at once, without opening it ('unreadable'), so the student is listed, not lost.
        if stat.S_ISDIR(mode):
            entries.append(Entry(student=safe_id(name), path=full, layout="plain", source=shown))
        elif name.lower().endswith(SOURCE_SUFFIXES):
            entries.append(Entry(student=safe_id(os.path.splitext(name)[0]), path=full, layout="plain",
                                 source=shown))
        else:
            skipped.append(f"{shown}: not a folder, .zip, .py or .ipynb")
    names = [key[0] for key in canvas]
    for (sortable, uid), files in sorted(canvas.items()):
        student = safe_id(sortable if names.count(sortable) == 1 else f"{sortable}_{uid}")
        path = _stage(os.path.join(staging, student), files)
        entries.append(Entry(student=student, path=path, layout="canvas", name=sortable,
                             canvas_id=uid, late=any(late for _, _, late in files),
                             source=f"canvas user {uid}"))
    return ClassList(entries, skipped)


def original_name(canvas_file: str) -> str:
    """The name the student gave the file: Canvas's ``-1`` resubmission suffix removed."""
    match = RESUBMISSION_SUFFIX.match(canvas_file)
    return match["stem"] + match["ext"] if match else canvas_file


def _stage(target: str, files: list[tuple[str, str, bool]]) -> str:
    """Copy one Canvas student's files under their original names into ``target``, atomically
    (built beside it, then renamed). Returns what to grade: the folder, or its only file when
    that is a .zip / notebook / module on its own."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    building = tempfile.mkdtemp(dir=parent, prefix=".stage-")
    chosen: dict[str, str] = {}
    # A later attachment id is a later upload: it wins over an earlier file of the same name.
    for full, canvas_file, _ in sorted(files, key=lambda f: _attachment(f[0])):
        chosen[safe_filename(original_name(canvas_file))] = full
    for name, full in chosen.items():
        try:
            with open_regular(full) as source, open(os.path.join(building, name), "wb") as out:
                shutil.copyfileobj(source, out)
        except SubmissionError:
            continue  # no longer a regular file (swapped since it was listed): never opened
    if os.path.isdir(target):
        old = tempfile.mkdtemp(dir=parent, prefix=".old-")
        os.replace(target, os.path.join(old, "x"))
        os.replace(building, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(building, target)
    names = sorted(chosen)
    if len(names) == 1 and names[0].lower().endswith((".zip", ".ipynb")):
        return os.path.join(target, names[0])
    return target


def _attachment(full: str) -> int:
    match = CANVAS_NAME.match(os.path.basename(full))
    return int(match["attachment"]) if match else 0


def safe_filename(name: str | bytes) -> str:
    """A file name of a Canvas attachment, kept inside the staging folder and valid text."""
    return re.sub(r"[^\w.+-]", "_", os.path.basename(safetext.name(name))).lstrip(".") or "file"


# ------------------------------------------------------------------ Gradescope

def _gradescope(folder: str) -> ClassList:
    try:
        with open_regular(os.path.join(folder, "submission_metadata.yml"), follow=True) as handle:
            metadata = parse_gradescope_metadata(safetext.text(handle.read(64 * 1024 * 1024), 64 * 1024 * 1024))
    except SubmissionError:
        metadata = {}   # not a regular file (a FIFO would block): the folders' names stand
    entries, skipped = [], []
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name in SKIP_NAMES or name.startswith("."):
            continue
        shown = safetext.name(name)
        if not os.path.isdir(full) or os.path.islink(full):
            skipped.append(f"{shown}: not a submission folder of the Gradescope export")
            continue
        members = metadata.get(shown, [])
        first = members[0] if members else {}
        student = first.get("sid") or first.get("email") or first.get("name") or name
        entries.append(Entry(student=safe_id(student), path=full, layout="gradescope",
                             name=", ".join(m.get("name", "") for m in members if m.get("name")),
                             members=members, source=shown))
    return ClassList(entries, skipped)


def parse_gradescope_metadata(text: str) -> dict[str, list[dict]]:
    """``submission_metadata.yml`` of a Gradescope export, read for what batch grading needs:
    each top-level ``submission_<n>:`` key with the ``:name:``, ``:sid:`` and ``:email:`` of its
    ``:submitters:``. (A small reader for this one file's shape, so PyYAML is not required.)"""
    result: dict[str, list[dict]] = {}
    current: list[dict] | None = None
    in_submitters = False
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent == 0:
            key = line.rstrip(":").strip().strip("'\"")
            current = result.setdefault(key, [])
            in_submitters = False
            continue
        if current is None:
            continue
        if line.startswith(":submitters:"):
            in_submitters = True
            continue
        item = line.startswith("- ")
        body = line[2:].strip() if item else line
        field_match = re.match(r"^:(name|sid|email):\s*(.*)$", body)
        if item and in_submitters:
            current.append({})
        elif not item and re.match(r"^:\w+:", body) and not field_match and indent <= 2:
            in_submitters = False
        if in_submitters and field_match and current:
            value = field_match[2].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if value and value not in ("~", "null"):
                current[-1][field_match[1]] = value
    return result


# ------------------------------------------------------------------ content hash

def content_hash(path: str) -> str:
    """SHA-256 over every file handed in (names and bytes; links are not followed).

    Names are hashed as the bytes on disk (``os.fsencode``): a name that is not UTF-8 is
    ordinary input (a Windows zip, a Latin-1 folder) and must neither crash nor collide."""
    digest = hashlib.sha256()
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if not stat.S_ISDIR(mode):   # a file, or a FIFO / device (hashed by kind, never opened)
        digest.update(os.fsencode(os.path.basename(path)) + b"\0")
        digest.update(_file_digest(path, follow=True))
        return digest.hexdigest()
    for top, dirs, names in os.walk(path):
        dirs[:] = sorted((d for d in dirs if d != "__pycache__"), key=os.fsencode)
        for name in sorted(names, key=os.fsencode):
            full = os.path.join(top, name)
            try:
                regular = stat.S_ISREG(os.lstat(full).st_mode)
            except OSError:
                regular = False
            if not regular or name.endswith(".pyc"):
                continue
            digest.update(os.fsencode(os.path.relpath(full, path).replace(os.sep, "/")) + b"\0")
            digest.update(_file_digest(full))
    return digest.hexdigest()


def _file_digest(path: str, follow: bool = False) -> bytes:
    """The file's SHA-256; for what is not a regular file (a FIFO, a device: never opened, so
    nothing blocks or reads forever) a fixed digest of the words saying so."""
    digest = hashlib.sha256()
    try:
        with open_regular(path, follow=follow) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except SubmissionError as exc:
        digest.update(b"\0not a regular file\0" + str(exc).encode("utf-8", "replace"))
    return digest.digest()


def tree_hash(paths: list[str]) -> str:
    """One hash over several files and folders (the assignment's checks, its reference...)."""
    digest = hashlib.sha256()
    for path in paths:
        if os.path.exists(path):
            digest.update(os.fsencode(os.path.basename(path)) + b"\0" + content_hash(path).encode())
    return digest.hexdigest()
