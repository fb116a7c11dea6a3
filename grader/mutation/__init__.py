"""Mutation testing of an assignment's checks: see grader/mutation/run.py."""
