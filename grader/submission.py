"""Find a submission's files and turn them into units of source the worker can run.

A submission is a folder, a single .py or .ipynb file, or a .zip. Nothing here executes student
code: notebooks are read as JSON (with nbformat for older formats), IPython magics are translated
with IPython's own transformer, and files are parsed with ``ast`` so a file that does not parse
costs only itself.
Each module becomes a list of units (a top-level statement; in a notebook, of one cell) so that
the worker can run them one by one and a failing one is recorded and skipped. Zips are read by
zips.py, notebooks by notebooks.py.
"""

from __future__ import annotations

import ast
import hashlib
import keyword
import os
import re
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field

from grader import safetext

SOURCE_SUFFIXES = (".py", ".ipynb")
JUNK_DIRS = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git", ".hg", ".svn", ".venv",
             "venv", "env", "site-packages", "node_modules", ".idea", ".vscode", ".pytest_cache"}
MAX_FILES = 2000
MAX_SOURCE_FILES = 100
MAX_SOURCE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
RESERVED_NAMES = set(sys.stdlib_module_names) | {
    "numpy", "scipy", "matplotlib", "IPython", "nbformat", "import_ipynb", "pytest", "grader",
    "pandas", "sklearn", "torch", "_grader_wire", "_grader_factories"}


class SubmissionError(Exception):
    """The submission cannot be read at all (a bad request: exit code 2)."""


@dataclass
class Unit:
    """One piece of student code run as a whole: a notebook cell or a top-level statement."""

    id: str
    filename: str
    line: int
    code: str
    future: list[str] = field(default_factory=list)
    cell: str | None = None   # the notebook cell this statement belongs to (None in a .py file)


@dataclass
class SourceFile:
    path: str          # relative to the code root, with forward slashes
    kind: str          # "py" or "ipynb"
    units: list[Unit]
    problems: list[str] = field(default_factory=list)   # load-time messages for the student

    @property
    def module_parts(self) -> list[str]:
        stem = self.path[: -len(".ipynb")] if self.kind == "ipynb" else self.path[: -len(".py")]
        return [identifier(part) for part in stem.split("/")]


@dataclass
class Submission:
    origin: str              # what the user named
    top: str                 # the folder on disk whose files are copied into the sandbox
    code_root_relative: str  # where the modules are, relative to top ("." or "assignment1")
    copy_files: list[str]    # relative to top
    sources: list[SourceFile]
    package: str
    sha256: str
    temp_dir: str | None = None
    sandbox_names: dict[str, str] = field(default_factory=dict)   # copy_files -> name in the sandbox
    follow_links: bool = False   # a single-file submission named through a symbolic link

    @property
    def file_names(self) -> list[str]:
        return [s.path for s in self.sources]

    @property
    def problems(self) -> list[str]:
        """Load-time messages for the student, as valid capped text (they quote student code)."""
        return [safetext.text(p, 2000) for s in self.sources for p in s.problems]

    def defined_names(self) -> set[str]:
        """Names defined at the top level of any file (def, class, assignment): what the
        assignment is recognised by."""
        names: set[str] = set()
        for source in self.sources:
            for unit in source.units:
                try:
                    tree = ast.parse(unit.code)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue
                for node in tree.body:
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        names.add(node.name)
                    elif isinstance(node, ast.Assign):
                        names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return names

    def close(self) -> None:
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None

    def copy_to(self, destination: str) -> None:
        """The private copy the worker may read and write."""
        os.makedirs(destination, exist_ok=True)
        os.makedirs(os.path.join(destination, self.code_root_relative), exist_ok=True)
        for relative in self.copy_files:
            target = os.path.join(destination, self.sandbox_names.get(relative, relative))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open_regular(os.path.join(self.top, relative), follow=self.follow_links) as source, \
                    open(target, "wb") as out:
                shutil.copyfileobj(source, out)

    def modules_named(self, hint: str) -> list[str]:
        """Canonical names of the modules a problem's conventional module name may refer to."""
        names = []
        for record in self.worker_records(0):
            if record["name"].split(".")[-1] == hint and not record["is_package"]:
                names.append(record["name"])
        return names

    def worker_records(self, unit_seconds: float) -> list[dict]:
        """Module records for the worker's importer: one per file and one per folder."""
        records: dict[str, dict] = {}
        root = self.package

        def package_record(parts: list[str]) -> dict:
            name = ".".join([root, *parts])
            if name not in records:
                alias = ".".join(parts)
                records[name] = {"name": name, "aliases": _aliases(alias), "package": name,
                                 "is_package": True, "dir": "/".join(parts) or ".",
                                 "path": None, "units": []}
            return records[name]

        package_record([])
        for source in self.sources:
            parts = source.module_parts
            for depth in range(1, len(parts)):
                package_record(parts[:depth])
            units = [dict(vars(u), time_limit=unit_seconds) for u in source.units]
            if parts[-1] == "__init__":
                package_record(parts[:-1]).update(units=units, path=source.path)
                continue
            name = ".".join([root, *parts])
            records[name] = {"name": name, "aliases": _aliases(".".join(parts)),
                             "package": ".".join([root, *parts[:-1]]), "is_package": False,
                             "dir": None, "path": source.path, "units": units}
        # Flat names also reach modules in sub-folders when no top-level module has them.
        flat_taken = {a for r in records.values() for a in r["aliases"]}
        by_base: dict[str, list[dict]] = {}
        for record in records.values():
            if not record["is_package"]:
                by_base.setdefault(record["name"].split(".")[-1], []).append(record)
        for base, group in by_base.items():
            if base not in flat_taken and len(group) == 1 and base not in RESERVED_NAMES:
                group[0]["aliases"].append(base)
        return list(records.values())


def identifier(name: str) -> str:
    """A module name for a file name, the way a student would spell it in an import."""
    clean = re.sub(r"\W", "_", name)
    if not clean or clean[0].isdigit() or keyword.iskeyword(clean):
        clean = "_" + clean
    return clean


def _aliases(dotted: str) -> list[str]:
    if not dotted or dotted.split(".")[0] in RESERVED_NAMES:
        return []
    return [dotted]


# ------------------------------------------------------------------ opening a student's file

def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, words in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return words
    return "not a file"


def not_regular(shown: str, mode: int) -> SubmissionError:
    return SubmissionError(f"{shown} is not a regular file: it is {file_kind(mode)}; "
                           "pass the folder or file the student handed in")


def open_regular(path: str, *, follow: bool = False, shown: str | None = None):
    """A student's file opened for reading (binary), or SubmissionError when it is not a
    regular file: a FIFO, socket or device is never opened for reading (a FIFO would block
    forever, /dev/zero never ends). The file is looked at (``os.stat``, not following a link
    unless ``follow``) before it is opened, opened with O_NONBLOCK (so a FIFO swapped in since
    cannot block), and checked again on the open descriptor."""
    label = shown or safetext.name(os.path.basename(path))
    try:
        mode = os.stat(path, follow_symlinks=follow).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(label, mode)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        if not follow:
            flags |= getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        raise SubmissionError(f"{label} cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(label, mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# ------------------------------------------------------------------ finding the files

def open_submission(path: str) -> Submission:
    """Read a submission from a folder, a .py or .ipynb file, or a .zip.

    Raises SubmissionError (exit 2, status ``unreadable``) for what cannot be read at all: a
    zip that is broken, encrypted, too big or too many files; a notebook that is not a
    notebook when nothing else was handed in. A zip's temporary folder is removed on every
    path out of here but success (then ``Submission.close`` removes it)."""
    shown = safetext.text(os.fsencode(path))
    try:
        mode = os.stat(path).st_mode   # the path named: a symbolic link to it is followed
    except OSError:
        raise SubmissionError(f"no such file or folder: {shown}") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):   # a FIFO, socket or device: never opened
        raise not_regular(safetext.name(os.path.basename(path.rstrip(os.sep)) or path), mode)
    origin = os.path.abspath(path)
    temp_dir = None
    try:
        if origin.endswith(".zip") and not stat.S_ISDIR(mode):
            temp_dir = tempfile.mkdtemp(prefix="grader-zip-")
            from grader.zips import unzip   # here: zips.py imports this module

            unzip(origin, temp_dir)
        return _open(path, origin, temp_dir)
    except BaseException:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise


def _open(path: str, origin: str, temp_dir: str | None) -> Submission:
    shown = safetext.text(os.fsencode(path))
    name = safetext.name(os.path.basename(origin.rstrip(os.sep)))
    follow = False   # files inside a folder or zip: a symbolic link is never followed
    if temp_dir:
        top, files = temp_dir, _walk(temp_dir)
        name = name[: -len(".zip")]
    elif os.path.isdir(origin):
        top, files = origin, _walk(origin)
    elif origin.endswith(SOURCE_SUFFIXES):
        top, files = os.path.dirname(origin), [os.path.basename(origin)]
        name = os.path.splitext(name)[0]
        follow = True   # the file named (a link to it is followed, like the path itself)
    else:
        raise SubmissionError(f"{shown} is not a folder, .py, .ipynb or .zip file; "
                              "pass the folder or file the student handed in")
    shown_names = sandbox_names(files)
    sources_rel = [f for f in files if f.endswith(SOURCE_SUFFIXES)]
    if not sources_rel:
        raise SubmissionError(f"{shown} holds no .py or .ipynb files; pass the folder that has them")
    code_root = _common_dir([shown_names[f] for f in sources_rel])
    sources, unreadable = [], []
    for relative in sorted(sources_rel, key=os.fsencode)[:MAX_SOURCE_FILES]:
        inside = shown_names[relative][len(code_root) + 1:] if code_root else shown_names[relative]
        try:
            sources.append(read_source(os.path.join(top, relative), inside, follow=follow))
        except SubmissionError as exc:
            # A broken notebook beside files that load costs only itself; a submission
            # made of broken notebooks alone is unreadable (not a score of 0).
            unreadable.append(exc)
            sources.append(SourceFile(inside, "ipynb", [], [str(exc)]))
    if len(unreadable) == len(sources):
        raise unreadable[0]
    package = identifier(os.path.basename(code_root) if code_root else name)
    if package in RESERVED_NAMES or package.startswith("_grader"):
        package = "submission"
    return Submission(origin=safetext.text(os.fsencode(origin)), top=top,
                      code_root_relative=code_root or ".", copy_files=files, sources=sources,
                      package=package, sha256=_digest(top, files, follow), temp_dir=temp_dir,
                      sandbox_names=shown_names, follow_links=follow)


def sandbox_names(files: list[str]) -> dict[str, str]:
    """The name each file gets in the sandbox's copy, the report and module names: valid text
    (each part through ``safetext.name``), at most 255 bytes a part, and distinct (a name that
    only ``\\xNN`` escaping made equal to another gets ``~N``). On the host the file keeps its
    own bytes (``Submission.copy_files``)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for relative in sorted(files, key=os.fsencode):
        shown = "/".join(safetext.name(part) for part in relative.split("/"))
        if shown in used:
            stem, ext = os.path.splitext(shown)
            number = 2
            while f"{stem}~{number}{ext}" in used:
                number += 1
            shown = f"{stem}~{number}{ext}"
        used.add(shown)
        names[relative] = shown
    return names


def _walk(top: str) -> list[str]:
    files, total = [], 0
    for folder, dirs, names in os.walk(top):
        dirs[:] = sorted((d for d in dirs if d not in JUNK_DIRS and not d.startswith(".")), key=os.fsencode)
        for name in sorted(names, key=os.fsencode):
            full = os.path.join(folder, name)
            if name.startswith("."):
                continue
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue  # links, FIFOs, sockets, devices: never opened
            total += info.st_size
            if total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
                raise SubmissionError(f"the submission is larger than {MAX_TOTAL_BYTES // 2**20} MiB or "
                                      f"{MAX_FILES} files; remove data sets and virtual environments")
            files.append(os.path.relpath(full, top).replace(os.sep, "/"))
    return files


def _common_dir(files: list[str]) -> str:
    dirs = [f.split("/")[:-1] for f in files]
    common = dirs[0]
    for parts in dirs[1:]:
        while parts[: len(common)] != common:
            common = common[:-1]
    return "/".join(common)


def _digest(top: str, files: list[str], follow: bool = False) -> str:
    """SHA-256 over the names (their bytes on disk) and contents of the files handed in."""
    digest = hashlib.sha256()
    for relative in sorted(files, key=os.fsencode):
        digest.update(os.fsencode(relative) + b"\0")
        with open_regular(os.path.join(top, relative), follow=follow) as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


# ------------------------------------------------------------------ reading one file

def read_source(full_path: str, relative: str, *, follow: bool = False) -> SourceFile:
    """One file's units. SubmissionError when it is not a regular file (never opened then)."""
    kind = "ipynb" if relative.endswith(".ipynb") else "py"
    with open_regular(full_path, follow=follow, shown=relative) as handle:
        if os.fstat(handle.fileno()).st_size > MAX_SOURCE_BYTES:
            return SourceFile(relative, kind, [], [f"{relative} is larger than "
                                                   f"{MAX_SOURCE_BYTES // 2**20} MiB and was not loaded"])
        raw = handle.read(MAX_SOURCE_BYTES + 1)
    if len(raw) > MAX_SOURCE_BYTES:
        return SourceFile(relative, kind, [], [f"{relative} is larger than "
                                               f"{MAX_SOURCE_BYTES // 2**20} MiB and was not loaded"])
    if kind == "ipynb":
        from grader.notebooks import read_notebook   # here: notebooks.py imports this module

        return read_notebook(raw, relative)
    text, note = _decode(raw, relative)
    source = SourceFile(relative, "py", [])
    if note:
        source.problems.append(note)
    try:
        tree = ast.parse(text, relative)
    except (SyntaxError, ValueError) as exc:
        source.problems.append(syntax_message(exc, text, relative))
        return source
    except (RecursionError, MemoryError):
        source.problems.append(f"{relative} is too deeply nested to parse")
        return source
    source.units = statement_units(tree, text, relative)
    return source


def _decode(raw: bytes, relative: str) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), (
            f"{relative} is not UTF-8; it was read as Windows-1252 (save it as UTF-8)")


def statement_units(tree: ast.Module, text: str, relative: str, *, cell: tuple[str, str] | None = None) -> list[Unit]:
    """Top-level statements, grouped where they share a line, each with its first line. A
    notebook cell is split the same way (``cell``: its unit id and label), so that one failing
    line of a cell (an ``import pandas`` the grader lacks) costs that line, not the
    ``import numpy`` beside it: a cell loads as a .py file does."""
    lines = text.splitlines(keepends=True)
    future = [a.name for node in tree.body if isinstance(node, ast.ImportFrom)
              and node.module == "__future__" for a in node.names]
    spans: list[list[int]] = []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    unit_id, filename = cell or (relative, relative)
    return [Unit(id=f"{unit_id}:{start}", filename=filename, line=start,
                 code="".join(lines[start - 1:end]), future=future, cell=cell and unit_id)
            for start, end in spans]


PY2_PATTERNS = [
    (re.compile(r"^\s*print(\s*>>|\s*[\"']|\s+[\w`])"), "a print statement"),
    (re.compile(r"^\s*exec\s+[\"'\w]"), "an exec statement"),
    # Linear: after each comma only spaces and one word are tried, and those stop at the next
    # comma (``except`` + a million spaces once backtracked for minutes). Lines are also cut
    # at PY2_SCAN characters before any pattern sees them.
    (re.compile(r"^[ \t]*except[ \t(][^:\n]*,[ \t]*\w+[ \t]*:"), "'except X, e:'"),
    (re.compile(r"^\s*raise\s+\w+\s*,"), "'raise E, message'"),
    (re.compile(r"(?<![\w.])0[0-7]+\b(?![.eEjJ])"), "an old-style octal literal"),
    (re.compile(r"`[^`\n]+`"), "backticks"),
    (re.compile(r"<>"), "the <> operator"),
]


PY2_SCAN = 400   # characters of each line the Python 2 detector looks at


def syntax_message(exc: BaseException, text: str, label: str) -> str:
    """One line for a file that does not parse; Python 2 code gets told so by name."""
    line_no = getattr(exc, "lineno", None) or 0
    lines = [line[:PY2_SCAN] for line in text.splitlines()]
    candidates = [line_no] + [n for n in range(1, len(lines) + 1) if n != line_no]
    for number in candidates:
        if not 1 <= number <= len(lines):
            continue
        patterns = PY2_PATTERNS if number == line_no else PY2_PATTERNS[:4]
        for pattern, what in patterns:
            if pattern.search(lines[number - 1]):
                return (f"{label} is written for Python 2 ({what} on line {number}); the grader "
                        "runs Python 3: use print(...), 'except X as e:' and friends")
        if number == line_no and "Missing parentheses in call to 'print'" in str(exc):
            return (f"{label} is written for Python 2 (a print statement on line {number}); "
                    "the grader runs Python 3: use print(...)")
    kind = "mixes tabs and spaces" if isinstance(exc, TabError) else "does not parse"
    message = getattr(exc, "msg", str(exc))
    return f"{label} {kind}: {message} on line {line_no}; it was not loaded"
