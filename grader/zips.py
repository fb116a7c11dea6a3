"""A student's zip, judged from its directory before one byte is written, then extracted.

Split from submission.py (which finds and reads a submission's files): everything about zips
is here. Every failure of the zip library is one SubmissionError, never a traceback.
"""

from __future__ import annotations

import lzma
import os
import re
import struct
import zipfile
import zlib

from grader import safetext
from grader.submission import JUNK_DIRS, MAX_FILES, MAX_TOTAL_BYTES, SubmissionError, open_regular

MAX_ZIP_ENTRIES = 5 * MAX_FILES    # folders and skipped junk included

ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, lzma.LZMAError,
              NotImplementedError, RuntimeError, ValueError, struct.error, KeyError, IndexError)


def unzip(archive: str, destination: str) -> None:
    """Extract safely. Everything is decided from the zip's directory before one byte is
    written: entry count, total size (zip bombs), names (absolute, ``..``, links, junk are
    skipped; a name that is both a file and a folder is refused), encryption and compression
    methods. Every failure of the zip library is one SubmissionError."""
    label = safetext.name(os.path.basename(archive))
    try:
        with open_regular(archive, follow=True, shown=label) as raw:
            declared = declared_entries(raw)
        if declared is not None and declared > MAX_ZIP_ENTRIES:
            raise SubmissionError(f"{label} holds {declared} entries (at most {MAX_ZIP_ENTRIES}); "
                                  "zip only the code")
        with open_regular(archive, follow=True, shown=label) as raw, zipfile.ZipFile(raw) as handle:
            entries = handle.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise SubmissionError(f"{label} holds {len(entries)} entries (at most {MAX_ZIP_ENTRIES}); "
                                      "zip only the code")
            plan = zip_plan(entries, label)
            for info, parts in plan:
                target = os.path.join(destination, *parts)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with handle.open(info) as source, open(target, "xb") as out:
                    copy_capped(source, out, info.file_size, label)
    except SubmissionError:
        raise
    except ZIP_ERRORS as exc:
        reason = safetext.text(f"{type(exc).__name__}: {exc}", 200).splitlines()[0]
        raise SubmissionError(f"{label} is not a readable zip file ({reason}); "
                              "zip the folder again and resubmit") from None


def declared_entries(archive) -> int | None:
    """The entry count the zip's end record declares (zip64 too), read from its last 64 KiB:
    a zip of 300,000 entries is refused before the zip library builds 300,000 objects. None
    when the record is not found (the zip library then decides, and the count is checked
    again on what it read)."""
    if isinstance(archive, (str, bytes, os.PathLike)):   # a path: opened as a student's file
        with open_regular(archive, follow=True) as handle:
            return declared_entries(handle)
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


def zip_plan(entries: list[zipfile.ZipInfo], label: str) -> list[tuple[zipfile.ZipInfo, list[str]]]:
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


def copy_capped(source, out, size: int, label: str) -> None:
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
