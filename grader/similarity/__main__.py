"""``python -m grader.similarity SUBMISSIONS_DIR --assignment NAME --out DIR``."""

import sys

from grader.similarity.cli import main

sys.exit(main())
