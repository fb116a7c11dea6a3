"""Student ids from hostile class folders: unique by construction, valid text, the same ids
whatever order the folder is listed in, and content hashes over raw bytes (never a crash)."""

from __future__ import annotations

import os
import random
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from grader import classlist

# Names that collide once normalised: a folder, a zip and a module of one student, a name that
# is another's suffixed id, case twins, Latin-1 bytes (a Windows zip unpacked on Linux), names
# that normalise to nothing.
NAMES = [b"a", b"a-2", b"a-3", b"a.zip", b"a.py", b"a.ipynb", b"a-2.zip", b"A", b"a-2-2",
         b"caf\xe9", b"caf\xe9.zip", b"caf\\xe9", b"caf_xe9", b"caf\xc3\xa9", b"\xff\xfe",
         b"-.zip", b"_", b"student", b"a b", b"a_b", b"x" * 200,
         # Canvas downloads: two students sharing a sortable name, and a plain folder whose
         # name is the id Canvas's rule gives one of them.
         b"smith_1001_500_q1_softmax.py", b"smith_1002_600_q1_softmax.py", b"smith_1001_501_q\xe9.py",
         b"smith_1001", b"smith"]


def _make(folder: bytes, names: list[bytes]) -> None:
    for raw in names:
        path = os.path.join(folder, raw)
        if raw.endswith((b".zip", b".py", b".ipynb")):
            with open(path, "wb") as handle:
                handle.write(b"# " + raw + b"\n")
        else:
            os.mkdir(path)
            with open(os.path.join(path, b"q\xe9.py"), "wb") as handle:   # not UTF-8 inside
                handle.write(raw)


def _ids(folder: bytes) -> dict[tuple[str, bytes], str]:
    staging = os.fsdecode(folder) + "-staging"
    found = classlist.discover(os.fsdecode(folder), staging)
    return {(e.layout, os.path.basename(os.fsencode(e.path))): e.student for e in found.entries}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=10, unique=True), st.randoms())
def test_ids_are_unique_valid_and_independent_of_listing_order(names, rnd):
    with tempfile.TemporaryDirectory() as tmp:
        first, second = os.path.join(os.fsencode(tmp), b"one"), os.path.join(os.fsencode(tmp), b"two")
        os.mkdir(first)
        os.mkdir(second)
        _make(first, names)
        shuffled = list(names)
        rnd.shuffle(shuffled)
        _make(second, shuffled)
        ids = _ids(first)
        plain = {n for n in names if not classlist.CANVAS_NAME.match(os.fsdecode(n))}
        assert {name for layout, name in ids if layout == "plain"} == plain   # every entry is a student
        folded = [s.casefold() for s in ids.values()]
        assert len(set(folded)) == len(folded), ids       # one student, one id
        for student in ids.values():
            student.encode("utf-8")                       # valid text
            assert student and "/" not in student and student not in (".", "..") and "\0" not in student
            assert len(student) <= 130
        assert _ids(second) == ids                        # same folder, same ids


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "a-2", "a-3", "A", "b", "a-2-2", "caf\udce9"]),
                          st.sampled_from(["plain", "canvas", "gradescope"])),
                min_size=1, max_size=12), st.randoms())
def test_make_unique_never_reuses_an_id_and_ignores_order(raw, rnd):
    def entries(order):
        return [classlist.Entry(student=classlist.safe_id(student), path=f"/class/{index}-{layout}",
                                layout=layout) for index, (student, layout) in order]

    numbered = list(enumerate(raw))
    one = entries(numbered)
    classlist.make_unique(one)
    rnd.shuffle(numbered)
    two = entries(numbered)
    classlist.make_unique(two)
    assert len({e.student.casefold() for e in one}) == len(one)
    assert {e.path: e.student for e in one} == {e.path: e.student for e in two}
    # An id that was a raw name of the class is only ever given to an entry of that name.
    raw_ids = {classlist.safe_id(student) for student, _ in raw}
    for entry, (student, _) in zip(one, raw):
        if entry.student in raw_ids:
            assert entry.student == classlist.safe_id(student)


def test_a_suffixed_id_never_takes_another_students_name(tmp_path):
    """The issue-12 case: ``alice/`` + ``alice.zip`` made ``alice-2``, like the folder ``alice-2/``."""
    for name in ("alice", "alice-2"):
        (tmp_path / "class" / name).mkdir(parents=True)
        (tmp_path / "class" / name / "q1_softmax.py").write_text("x = 1\n")
    (tmp_path / "class" / "alice.zip").write_bytes(b"PK")
    found = classlist.discover(str(tmp_path / "class"), str(tmp_path / "staging"))
    assert {os.path.basename(e.path): e.student for e in found.entries} == {
        "alice": "alice", "alice-2": "alice-2", "alice.zip": "alice-3"}


def test_hashes_take_raw_bytes_and_tie_the_id_to_its_source(tmp_path):
    folder = os.path.join(os.fsencode(str(tmp_path)), b"class")
    os.mkdir(folder)
    _make(folder, [b"caf\xe9", b"caf\xe9.zip", b"bob"])
    found = classlist.discover(os.fsdecode(folder), str(tmp_path / "staging"))
    assert len({e.sha256 for e in found.entries}) == 3
    assert classlist.tree_hash([e.path for e in found.entries])
    # Same bytes under another name: another source, so another hash.
    bob = next(e for e in found.entries if e.student == "bob")
    moved = classlist.Entry(student="bob", path=bob.path, layout="plain", source="robert")
    assert classlist.source_hash(moved) != bob.sha256


def test_gradescope_metadata_in_latin1_is_read(tmp_path):
    (tmp_path / "gs" / "submission_1").mkdir(parents=True)
    (tmp_path / "gs" / "submission_1" / "q1_softmax.py").write_text("x = 1\n")
    (tmp_path / "gs" / "submission_metadata.yml").write_bytes(
        b"submission_1:\n  :submitters:\n  - :name: Jos\xe9\n    :sid: '\xe91'\n")
    found = classlist.discover(str(tmp_path / "gs"), str(tmp_path / "staging"))
    assert [(e.student, e.name) for e in found.entries] == [("xe91", "Jos\\xe9")]


def test_random_order_of_entries_is_deterministic():
    names = [f"s{i}" for i in range(5)] * 3
    random.Random(1).shuffle(names)
    entries = [classlist.Entry(student=n, path=f"/c/{i}", layout="plain") for i, n in enumerate(names)]
    classlist.make_unique(entries)
    assert sorted(e.student for e in entries) == sorted(
        [f"s{i}" for i in range(5)] + [f"s{i}-2" for i in range(5)] + [f"s{i}-3" for i in range(5)])
