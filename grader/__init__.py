"""grader: an autograder for numerical Python assignments.

Student code only ever runs in a sandboxed worker process; the grader, its checks and the
reference solutions stay on the trusted side of that boundary and receive data, never objects.
"""

__version__ = "0.1.0"
