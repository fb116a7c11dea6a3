"""Each check names its seed; the worker seeds `random` and `numpy.random` before every call."""

from __future__ import annotations

from conftest import grade, make_assignment, write_folder

CHECKS = '''
import random

import numpy as np
import pytest


def expected(seed):
    random.seed(seed)
    np.random.seed(seed)
    return [random.random(), float(np.random.rand())]


@pytest.mark.problem("draw", points=1)
@pytest.mark.seed(7)
def test_seeded_before_every_call(submission):
    """both generators are seeded with the check's seed before each call"""
    assert submission.draw() == expected(7)
    assert submission.draw() == expected(7)  # seeded again, not continued


@pytest.mark.problem("draw", points=1)
def test_default_seed_is_zero(submission):
    """without a seed marker the seed is 0"""
    assert submission.draw() == expected(0)
'''


def test_seeds_reach_the_worker_and_the_report(tmp_path):
    folder = make_assignment(tmp_path / "seeded", [{"id": "draw", "points": 2, "functions": ["draw"],
                                                    "module": "draw"}],
                             CHECKS, {"draw.py": "def draw():\n    return []\n"})
    student = write_folder(tmp_path / "student", {"draw.py": (
        "import random\nimport numpy as np\n\n\ndef draw():\n"
        "    return [random.random(), float(np.random.rand())]\n")})
    report, done = grade(student, tmp_path, "--assignment", str(folder))
    assert report["score"] == 2, done.stdout
    assert [t["extra_data"]["seed"] for t in report["tests"]] == [7, 0]
