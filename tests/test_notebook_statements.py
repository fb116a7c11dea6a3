"""A notebook cell loads statement by statement, as a .py file does.

A real student's first cell read ``import pandas as pd`` / ``import numpy as np`` / ``import
random``. pandas is not installed where the grader runs, so the whole cell was skipped, numpy
was never imported, and 49 of 55 points were lost for code that runs on the student's machine
(the same lines at the top of a .py file lost nothing). Now only the failing line is skipped,
and the feedback names that line.
"""

from __future__ import annotations

import re

import nbformat

from conftest import FIXTURES, grade

MODULES = ["q1_softmax.py", "q2_sigmoid.py", "q2_gradcheck.py", "q2_neural.py"]


def test_a_missing_package_in_the_import_cell_costs_only_that_line(tmp_path):
    cells = [nbformat.v4.new_code_cell("import pandas_that_is_not_installed as pd\nimport numpy as np\n"
                                       "import random\nprint('imports done')")]
    for name in MODULES:
        code = (FIXTURES / "modules_correct" / name).read_text()
        cells.append(nbformat.v4.new_code_cell(re.sub(r"^from q\d_\w+ import .*$", "", code, flags=re.M)))
    notebook = tmp_path / "assignment1.ipynb"
    notebook.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))
    report, done = grade(notebook, tmp_path)
    assert report["score"] == report["max_score"] == 55, done.stdout
    assert "code cell 1 of assignment1.ipynb, line 1: ModuleNotFoundError" in done.stdout, done.stdout
