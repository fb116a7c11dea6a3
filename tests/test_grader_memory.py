"""What a submission returns does not accumulate in the grader's process.

The worker's memory limit bounds the worker, not the grader. A submission whose softmax returns
a 46 MiB array to each of softmax's checks once pushed the grading process past 1.1 GB: every
returned value was kept, with its check's calls, until the submission's grading ended. Now only
the value a check is looking at is alive, so the peak is one result's worth, whatever the count.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import FIXTURES, ROOT

MEASURE = """
import resource, sys
from grader.cli import main
code = main(sys.argv[1:])
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def test_returned_arrays_do_not_pile_up_in_the_grader(tmp_path):
    submission = tmp_path / "big_results"
    shutil.copytree(FIXTURES / "modules_correct", submission)
    (submission / "q1_softmax.py").write_text(
        "import numpy as np\n\ndef softmax(x):\n    return np.ones((6000, 1000))\n")
    done = subprocess.run([sys.executable, "-c", MEASURE, "run", str(submission), "--json",
                           str(tmp_path / "r.json"), "-q"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    peak_mb = int(done.stderr.rsplit("maxrss_kb", 1)[1].split()[0]) / 1024
    # 10 softmax checks of 46 MiB each: 1104 MB when all were kept; about 500 MB now (a few
    # copies of one result while it is read, decoded and compared).
    assert peak_mb < 800, f"grading process peaked at {peak_mb:.0f} MB"
