"""Tools for assignment authors: ``grader new`` (a scaffold that validates as generated) and
``grader publish`` (the public copy students get). See docs/authoring.md."""
