import sys

from grader.mutation.cli import main

sys.exit(main())
