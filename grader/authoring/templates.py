"""The text of the files ``grader new`` writes, as format strings (``{name}`` fields).

Kept apart from new.py so that what an author will read and edit is in one place. The
``COMPARE`` helper is written into each generated check file (checks stay self-contained and
plain pytest) and also executed by ``grader new`` to prove the guessed inputs on the reference.
"""

ASSIGNMENT_TOML = '''\
# {name}: scaffolded by `grader new` from {sources}.
# Edit freely; `grader validate PATH/TO/THIS/FOLDER` proves the assignment. Every key is
# described in docs/authoring.md.
name = "{name}"
title = "{title}"
version = "0.1"
# The reference solution's folder, relative to this one (this value is also the default).
reference = "{reference}"

[limits]
# The defaults, written out: per worker process, and per call / cell / whole submission.
memory_mb = {memory_mb}
cpu_seconds = {cpu_seconds}
file_size_mb = {file_size_mb}
open_files = {open_files}
processes = {processes}
call_seconds = 5
load_seconds = 10
submission_seconds = 300

[settings]
# Free-form values handed to checks as the `settings` fixture.

# One problem per top-level function or class of the reference. A problem's points are the sum
# of its checks' points in checks/ and public/ (`grader validate` checks it).
{problems}'''

PROBLEM = '''
[[problems]]
id = "{id}"
title = "{id}"
points = {points}
functions = ["{id}"]
module = "{module}"
'''

COMPARE = '''\
def seeded(function, *args, seed=0):
    """function(*args) with random and numpy.random seeded as the worker seeds them before each
    call of the student's code (the check's @pytest.mark.seed, default 0)."""
    random.seed(seed)
    np.random.seed(seed)
    return function(*args)


def same(got, expected, what="the result"):
    """Numbers (arrays, floats, ints) within rtol 1e-7; tuples, lists and dicts element by
    element; anything else by ==."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            raise CheckFailure(f"{what} is {show(got)}, expected a dict with keys {sorted(expected)}")
        for key in expected:
            same(got[key], expected[key], f"{what}[{key!r}]")
        return
    if isinstance(expected, (tuple, list)) and not _numbers(expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise CheckFailure(f"{what} is {show(got)}, expected {len(expected)} values")
        for index, (mine, theirs) in enumerate(zip(got, expected)):
            same(mine, theirs, f"{what}[{index}]")
        return
    if _numbers(expected):
        assert_close(got, expected, rtol=1e-7, what=what)
    elif got != expected:
        raise CheckFailure(f"{what} is {show(got)}, expected {show(expected)}")


def _numbers(value):
    if isinstance(value, (bool, np.bool_, str)) or value is None:
        return False
    try:
        return np.asarray(value).dtype.kind in "iuf"
    except (ValueError, TypeError):  # ragged
        return False
'''

CHECK_HEAD = '''\
"""{what} checks for {id}, scaffolded by `grader new`.

TODO: adjust inputs. `grader new` guessed them: {guess}.
They pass on the reference, but only you know which inputs and edge cases find the bugs
students make.
"""

import random

import numpy as np
import pytest

from grader.checks import CheckFailure, assert_close, show


'''

HIDDEN_FUNCTION = '''

@pytest.mark.problem("{id}", points=1)
def test_{id}_matches_reference(submission, reference):
    """{id} agrees with the reference on seeded random inputs"""
    rng = np.random.default_rng(0)  # TODO: adjust inputs
    args = [{args}]
    same(submission.{id}(*args), seeded(reference.{id}, *args), "{id}(...)")
'''

PUBLIC_FUNCTION = '''

@pytest.mark.problem("{id}", points=1, visibility="visible")
def test_public_{id}_known_values(submission):
    """public: {id} on a small input gives the values written out here"""
    args = [{args}]  # TODO: adjust inputs
    same(submission.{id}(*args), {expected}, "{id}(...)")
'''

HIDDEN_CLASS = '''

@pytest.mark.problem("{id}", points=1)
def test_{id}_matches_reference(submission, reference):
    """{id}'s methods agree with the reference's, called in the same order on seeded inputs"""
    rng = np.random.default_rng(0)  # TODO: adjust inputs
    args = [{args}]
    calls = [{calls}]
    mine, theirs = submission.{id}(*args), seeded(reference.{id}, *args)
    for method, method_args in calls:
        same(getattr(mine, method)(*method_args), seeded(getattr(theirs, method), *method_args),
             f"{id}.{{method}}(...)")
'''

PUBLIC_CLASS = '''

@pytest.mark.problem("{id}", points=1, visibility="visible")
def test_public_{id}_known_values(submission):
    """public: {id}'s methods give the values written out here"""
    obj = submission.{id}({args})  # TODO: adjust inputs
{steps}'''

RAISES = '''

@pytest.mark.problem("{id}", points=1{visibility})
def test_{prefix}{id}_raises_like_the_reference(submission):
    """{id} raises {error} on these inputs, as the reference does"""
    # TODO: adjust inputs: the reference raised {error} on every input `grader new` guessed, so
    # this check only compares the exception type. Write inputs {id} accepts.
    args = [{args}]
    result = submission.run("{id}", args)
    assert (result.error or {{}}).get("type") == "{error}", f"{id} should raise {error} here"
'''

RUNS = '''

@pytest.mark.problem("{id}", points=1{visibility})
def test_{prefix}{id}_runs(submission):
    """{id} runs on these inputs without raising"""
    # TODO: adjust inputs and compare the result: what the reference returns on the inputs
    # `grader new` guessed is not plain data it can compare, so this check only runs {id}.
    args = [{args}]
    result = submission.run("{id}", args)
    assert result.ok, f"{id} raised {{(result.error or {{}}).get('type')}}: {{(result.error or {{}}).get('message')}}"
'''

MUTANTS = '''\
# Wrong variants of the reference that the checks must catch (`grader validate` grades each).
# Format (docs/authoring.md):
#
# [[mutant]]
# name = "a_plain_name"
# problem = "the problem id it must lose points in"
# bug = "what is wrong, in a sentence"
# feedback = "a phrase the failed checks' feedback must contain"   # optional
#
# [[mutant.change]]
# file = "module.py"          # a file of the reference
# old = \'\'\'a snippet that occurs exactly once\'\'\'
# new = \'\'\'what replaces it\'\'\'
'''

VARIANTS = '''\
# Correct rewrites of the reference that must keep full marks (`grader validate` grades each).
# Format (docs/authoring.md):
#
# [[variant]]
# name = "a_plain_name"
# problems = ["the problem ids whose code it rewrites"]
# why = "why it is correct, and how students write it"
#
# [[variant.change]]
# file = "module.py"
# old = \'\'\'a snippet that occurs exactly once\'\'\'
# new = \'\'\'what replaces it\'\'\'
'''

STARTER_INTRO = '''\
# {title}

Implement the {count} definitions below; keep their names, the grader looks them up by name.

Run `grader run THIS_NOTEBOOK.ipynb --public` to try the public checks.'''
