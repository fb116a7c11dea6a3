"""Mutation testing of an assignment's checks: ``grader mutate NAME`` (``python -m grader.mutation NAME``).

    grader mutate nn_basics [--problem ID] [--limit N] [--operator NAME ...] [--json PATH]

Mutants of the reference solution (one operator at one place of a function the problems name:
operators.py, generate.py) are first replayed against the reference in the sandbox on the
checks' own inputs, random inputs of the same shapes and the inputs magnified; those that
answer alike everywhere are equivalent and set aside (equivalence.py). The rest are graded like
submissions in one pytest session with warm sandboxes, and each survivor is reported with its
diff and the first input that tells it from the reference (run.py). Survivors judged harmless go
in ``assignments/NAME/mutants/survivors.toml``: ``[[survivor]]`` with file, function, operator,
change, line, node and reason (run.survivor_entry writes one).
"""
