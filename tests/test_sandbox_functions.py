"""The f a check hands to a student's gradcheck_naive carries none of the check's knobs.

A hostile review found a checker that computed no gradient at all: it read the hidden check's
parameters (``error``, ``sign``, ``scale``) from the closure of the f it was given, which the
worker had built in the student's own process, and printed the verdict they implied: 16 of 16
points. Now the grader builds f on its own side and the worker holds only a stub that asks for
each answer; whatever the student's code searches (closures, attributes, every object in the
process), the parameters are not there.
"""

from __future__ import annotations

import json
import shutil

from conftest import FIXTURES, grade

CLOSURE_ORACLE = '''
def _knobs(g):
    out = {}
    for n, c in zip(g.__code__.co_freevars, getattr(g, "__closure__", None) or ()):
        v = c.cell_contents
        out.update(_knobs(v)) if callable(v) and hasattr(v, "__code__") else out.__setitem__(n, v)
    return out

def gradcheck_naive(f, x):
    k = _knobs(f)
    bad = k.get("error", 0.0) != 0.0 or k.get("sign", 1.0) != 1.0 or k.get("scale", 1.0) != 1.0
    print("Gradient check failed." if bad else "Gradient check passed!")
'''

MEMORY_ORACLE = '''
import gc
import types

def gradcheck_naive(f, x):
    knobs = {}
    for thing in gc.get_objects():   # every function in the process, and every spec-like object
        if isinstance(thing, types.FunctionType) and thing.__closure__ and thing is not gradcheck_naive:
            for n, c in zip(thing.__code__.co_freevars, thing.__closure__):
                try:
                    knobs.setdefault(n, []).append(c.cell_contents)
                except ValueError:
                    pass
        try:
            params = getattr(thing, "params", None) if not isinstance(thing, type) else None
        except Exception:
            params = None
        if isinstance(params, dict):
            for n, v in params.items():
                knobs.setdefault(n, []).append(v)
    odd = lambda n, plain: any(isinstance(v, (int, float)) and v != plain for v in knobs.get(n, []))
    bad = odd("error", 0) or odd("sign", 1) or odd("scale", 1)
    print("Gradient check failed." if bad else "Gradient check passed!")
'''


def _failing_checks_caught(tmp_path, oracle: str, name: str) -> list[str]:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / "modules_correct", folder)
    (folder / "q2_gradcheck.py").write_text(oracle)
    report, _ = grade(folder, tmp_path)
    return [t["name"] for t in report["tests"] if "gradcheck_naive" in t["tags"]
            and "fail" in t["name"].lower() and t["status"] == "passed"]


def test_a_checker_cannot_read_the_verdict_from_fs_closure(tmp_path):
    assert _failing_checks_caught(tmp_path, CLOSURE_ORACLE, "closure") == []


def test_a_checker_cannot_find_the_checks_parameters_in_memory(tmp_path):
    assert _failing_checks_caught(tmp_path, MEMORY_ORACLE, "memory") == []
