"""Find a submission's files and turn them into units of source the worker can run.

A submission is a folder, a single .py or .ipynb file, or a .zip. Nothing here executes student
code: notebooks are read as JSON (with nbformat for older formats), IPython magics are translated
with IPython's own transformer, and files are parsed with ``ast`` so a file that does not parse
costs only itself.
Each module becomes a list of units (a notebook cell, or a top-level statement of a .py file) so
that the worker can run them one by one and a failing one is recorded and skipped.
"""

from __future__ import annotations

import ast
import hashlib
import json
import keyword
import lzma
import os
import re
import shutil
import stat
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field

from grader import safetext

SOURCE_SUFFIXES = (".py", ".ipynb")
JUNK_DIRS = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git", ".hg", ".svn", ".venv",
             "venv", "env", "site-packages", "node_modules", ".idea", ".vscode", ".pytest_cache"}
MAX_FILES = 2000
MAX_SOURCE_FILES = 100
MAX_SOURCE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 5 * MAX_FILES    # folders and skipped junk included
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
            _unzip(origin, temp_dir)
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


ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, lzma.LZMAError,
              NotImplementedError, RuntimeError, ValueError, struct.error, KeyError, IndexError)


def _unzip(archive: str, destination: str) -> None:
    """Extract safely. Everything is decided from the zip's directory before one byte is
    written: entry count, total size (zip bombs), names (absolute, ``..``, links, junk are
    skipped; a name that is both a file and a folder is refused), encryption and compression
    methods. Every failure of the zip library is one SubmissionError."""
    label = safetext.name(os.path.basename(archive))
    try:
        with open_regular(archive, follow=True, shown=label) as raw:
            declared = _declared_entries(raw)
        if declared is not None and declared > MAX_ZIP_ENTRIES:
            raise SubmissionError(f"{label} holds {declared} entries (at most {MAX_ZIP_ENTRIES}); "
                                  "zip only the code")
        with open_regular(archive, follow=True, shown=label) as raw, zipfile.ZipFile(raw) as handle:
            entries = handle.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise SubmissionError(f"{label} holds {len(entries)} entries (at most {MAX_ZIP_ENTRIES}); "
                                      "zip only the code")
            plan = _zip_plan(entries, label)
            for info, parts in plan:
                target = os.path.join(destination, *parts)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with handle.open(info) as source, open(target, "xb") as out:
                    _copy_capped(source, out, info.file_size, label)
    except SubmissionError:
        raise
    except ZIP_ERRORS as exc:
        reason = safetext.text(f"{type(exc).__name__}: {exc}", 200).splitlines()[0]
        raise SubmissionError(f"{label} is not a readable zip file ({reason}); "
                              "zip the folder again and resubmit") from None


def _declared_entries(archive) -> int | None:
    """The entry count the zip's end record declares (zip64 too), read from its last 64 KiB:
    a zip of 300,000 entries is refused before the zip library builds 300,000 objects. None
    when the record is not found (the zip library then decides, and the count is checked
    again on what it read)."""
    if isinstance(archive, (str, bytes, os.PathLike)):   # a path: opened as a student's file
        with open_regular(archive, follow=True) as handle:
            return _declared_entries(handle)
    handle = archive
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - 65_557))
    tail = handle.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) - end < 22:
        return None
    total = struct.unpack("<H", tail[end + 10:end + 12])[0]
    if total != 0xFFFF:
        return total
    end64 = tail.rfind(b"PK\x06\x06", 0, end)
    if end64 < 0 or end - end64 < 56:
        return None
    return struct.unpack("<Q", tail[end64 + 32:end64 + 40])[0]


def _zip_plan(entries: list[zipfile.ZipInfo], label: str) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """The entries to extract, with their path parts, or SubmissionError; no I/O."""
    plan, files, folders, total = [], set(), set(), 0
    for info in entries:
        name = info.filename.replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if (name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts
                or (parts and parts[0] in JUNK_DIRS) or info.is_dir() or not parts):
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            continue  # a symbolic link
        if any("\0" in p or len(os.fsencode(p)) > 255 for p in parts):
            raise SubmissionError(f"{label} has an entry whose name no file system takes; "
                                  "zip the folder again and resubmit")
        if info.flag_bits & 0x1:
            raise SubmissionError(f"{label} is encrypted; zip the folder again without a password")
        if info.compress_type not in ZIP_METHODS:
            raise SubmissionError(f"{label} uses a compression method the grader cannot read "
                                  f"(method {info.compress_type}); zip it again with plain Deflate")
        key = "/".join(parts)
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if key in files:
            continue  # a duplicate name: the first one stands
        if key in folders or prefixes & files:
            raise SubmissionError(f"{label} holds {safetext.name(key)!r} both as a file and as a folder; "
                                  "zip the folder again and resubmit")
        files.add(key)
        folders |= prefixes
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise SubmissionError(f"{label} unpacks to more than {MAX_TOTAL_BYTES // 2**20} MiB; "
                                  "zip only the code")
        if len(plan) >= MAX_FILES:
            raise SubmissionError(f"{label} holds more than {MAX_FILES} files; zip only the code")
        plan.append((info, parts))
    return plan


def _copy_capped(source, out, size: int, label: str) -> None:
    """Copy one entry, refusing one that inflates past the size its header declared."""
    written = 0
    while True:
        block = source.read(1 << 20)
        if not block:
            return
        written += len(block)
        if written > size:
            raise SubmissionError(f"{label} has an entry larger than it declares; zip it again")
        out.write(block)


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
        return _read_notebook(raw, relative)
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
    source.units = _statement_units(tree, text, relative)
    return source


def _decode(raw: bytes, relative: str) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), (
            f"{relative} is not UTF-8; it was read as Windows-1252 (save it as UTF-8)")


def _statement_units(tree: ast.Module, text: str, relative: str, *, cell: tuple[str, str] | None = None) -> list[Unit]:
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


def _read_notebook(raw: bytes, relative: str) -> SourceFile:
    """A notebook's code cells as units. A file that is not a notebook at all (not UTF-8, not
    JSON, not nbformat) raises SubmissionError: it is unreadable, like a broken zip, and must
    not be graded as 47 missing functions. A cell that does not compile costs only itself."""
    source = SourceFile(relative, "ipynb", [])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"{relative} is not a notebook (it is not UTF-8 text); open and save it "
                              "in Jupyter, or hand in the .py file") from None
    cells = _v4_cells(text)
    if cells is None:
        cells = _nbformat_cells(text, relative)
    transform = None
    index = 0  # the code cell's number among code cells: what a student can count (Jupyter
    for cell_type, code in cells:  # numbers no cells, and In [n] changes with every run)
        if cell_type != "code":
            continue
        index += 1
        if not code.strip():
            continue
        label = f"{relative} [code cell {index}]"
        try:
            try:
                compile(code, label, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                # Not plain Python: %magics, !shell escapes, pasted prompts. Translate the cell
                # the way IPython does (importing IPython only for notebooks that need it).
                transform = transform or _magic_transformer()
                try:
                    code = transform(code)
                except Exception as exc:  # noqa: BLE001
                    source.problems.append(f"{label}: could not translate IPython syntax ({exc})")
                    continue
                compile(code, label, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            source.problems.append(syntax_message(exc, code, label))
            continue
        except (RecursionError, MemoryError):
            source.problems.append(f"{label} is too deeply nested to parse")
            continue
        try:
            tree = ast.parse(code, label)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # compiled above; never
            source.units.append(Unit(id=f"{relative}#{index}:1", filename=label, line=1, code=code,
                                     cell=f"{relative}#{index}"))
            continue
        source.units += _statement_units(tree, code, relative, cell=(f"{relative}#{index}", label))
    return source


def _nbformat_cells(text: str, relative: str) -> list[tuple[str, str]]:
    """(cell type, source) of each cell of an older or odd notebook, read by nbformat (which
    converts older formats), or SubmissionError when nbformat cannot read it either."""
    import nbformat

    try:
        notebook = nbformat.reads(text, as_version=4)
        return [(str(cell.get("cell_type")), str(cell.get("source", ""))) for cell in notebook.cells]
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for bad input
        detail = safetext.text(f"{type(exc).__name__}: {exc}", 200).splitlines()[0]
        raise SubmissionError(f"{relative} is not a valid notebook ({detail}); open and save it in "
                              "Jupyter, or hand in the .py file") from None


def _v4_cells(text: str) -> list[tuple[str, str]] | None:
    """(cell type, source) of each cell of a well-formed nbformat 4 notebook (what Jupyter has
    written since 2015), read with json alone: importing nbformat and compiling its schema
    costs more than grading the notebook. None for anything else, which nbformat then reads
    (older formats are converted) or explains (a broken file)."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        return None
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return None
    found = []
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None
        code = cell.get("source", "")
        if isinstance(code, list) and all(isinstance(line, str) for line in code):
            code = "".join(code)
        elif not isinstance(code, str):
            return None
        found.append((cell["cell_type"], code))
    return found


def _magic_transformer():
    """IPython's own translation of %magics and !shell escapes into Python calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell


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
