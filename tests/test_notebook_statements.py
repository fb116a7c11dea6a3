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


def test_after_any_other_error_the_rest_of_the_cell_does_not_run(tmp_path):
    """As in Jupyter: a cell that raises stops there (its later lines would only fail again on
    what it did not define), so a starter's `loss, cache = fprop(...)` / `print(cache)` cell
    reports one NotImplementedError, not a NameError after it."""
    from grader.submission import open_submission

    cells = [nbformat.v4.new_code_cell("import numpy as np\nvalue = undefined_name\nprint(value)\n"
                                       "def softmax(x):\n    return x")]
    notebook = tmp_path / "stops.ipynb"
    notebook.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))
    report, done = grade(notebook, tmp_path)
    loading = report["submission"]["load_errors"]
    assert len(loading) == 1 and "NameError: name 'undefined_name'" in loading[0], loading
    assert report["problems"]["softmax"]["score"] == 0     # defined after the error: never run
    assert [u.cell for u in open_submission(str(notebook)).sources[0].units] == ["stops.ipynb#1"] * 4
