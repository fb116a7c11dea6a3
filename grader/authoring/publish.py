"""``grader publish NAME -o DIR``: the public copy students get, built rather than hand-pruned.

A copy made by hand from the repository is one forgotten folder away from handing out the hidden
checks or the reference solution. This writes only what students may have:

- ``grader/``: the grader package itself (``python -m grader run SUBMISSION --public`` works in
  DIR), with ``pyproject.toml`` so ``pip install DIR`` does too;
- ``assignments/NAME/``: assignment.toml rewritten from its parsed values without ``reference``
  and without comments (an author's notes stay behind), ``public/``, ``starter/`` and the
  ``sandbox_functions`` file (it runs inside the sandbox, so it holds no answers);
- a short README.md saying how to run the public checks.

Never ``checks/``, ``mutants/``, ``variants/`` or the reference solution. After writing, every
file is compared byte for byte with every hidden file, and a match is an error (the copy is
removed): a public check that duplicates a hidden helper would otherwise leak it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tomllib

import grader
from grader.assignment import REPO_ROOT, Assignment, AssignmentError

HIDDEN = ("checks", "mutants", "variants")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")

README = """# {title}: public copy

The starter is in `assignments/{name}/starter/`. Try the public checks on your work:

```sh
python -m pip install -e .            # or run from this folder without installing
python -m grader run YOUR_NOTEBOOK.ipynb --public --assignment assignments/{name}
```

The public checks are only part of the grading: the hidden checks test more inputs.
"""


def hidden_files(assignment: Assignment) -> list[str]:
    """Every file students must not get: the hidden checks, mutants, variants, the reference."""
    folders = [os.path.join(assignment.folder, h) for h in HIDDEN]
    if assignment.reference_dir:
        folders.append(assignment.reference_dir)
    found = []
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            found += [os.path.join(root, f) for f in files]
    return found


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise AssignmentError(f"assignment.toml holds a value publish cannot write: {value!r}")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def public_toml(folder: str) -> str:
    """assignment.toml as students get it: its values, without ``reference`` or comments."""
    with open(os.path.join(folder, "assignment.toml"), "rb") as handle:
        data = tomllib.load(handle)
    data.pop("reference", None)
    lines = ["# The public copy's assignment.toml, written by `grader publish`."]
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in data.items()
              if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)}
    for key, value in data.items():
        if key not in tables and key not in arrays:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, table in tables.items():
        lines += ["", f"[{_toml_key(key)}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    for key, items in arrays.items():
        for item in items:
            lines += ["", f"[[{_toml_key(key)}]]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def publish(assignment: Assignment, output: str) -> list[str]:
    """Write the public copy of ``assignment`` to the new folder ``output``; the files written
    (relative paths). AssignmentError when ``output`` exists or a file would leak."""
    if os.path.exists(output):
        raise AssignmentError(f"{output} already exists: publish writes a new folder (remove it or choose another)")
    name = os.path.basename(assignment.folder)
    target = os.path.join(output, "assignments", name)
    try:
        shutil.copytree(os.path.dirname(os.path.abspath(grader.__file__)), os.path.join(output, "grader"),
                        ignore=IGNORE)
        pyproject = os.path.join(REPO_ROOT, "pyproject.toml")
        if os.path.isfile(pyproject):
            shutil.copy2(pyproject, output)
        os.makedirs(target)
        with open(os.path.join(target, "assignment.toml"), "w", encoding="utf-8") as handle:
            handle.write(public_toml(assignment.folder))
        for sub in ("public", "starter"):
            source = os.path.join(assignment.folder, sub)
            if os.path.isdir(source):
                shutil.copytree(source, os.path.join(target, sub), ignore=IGNORE)
        if assignment.sandbox_functions and os.path.isfile(assignment.sandbox_functions):
            relative = os.path.relpath(assignment.sandbox_functions, assignment.folder)
            if relative.startswith(".."):
                raise AssignmentError(f"sandbox_functions {assignment.sandbox_functions} lies outside "
                                      f"{assignment.folder}: move it into the assignment folder")
            os.makedirs(os.path.dirname(os.path.join(target, relative)), exist_ok=True)
            shutil.copy2(assignment.sandbox_functions, os.path.join(target, relative))
        with open(os.path.join(output, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(README.format(title=assignment.title, name=name))
        written = sorted(os.path.relpath(os.path.join(root, f), output)
                         for root, _dirs, files in os.walk(output) for f in files)
        leaks = _leaks(assignment, output, written)
        if leaks:
            raise AssignmentError("the public copy would hold hidden files' contents ("
                                  + ", ".join(leaks[:5]) + "): move them out of public/ or starter/")
    except BaseException:
        shutil.rmtree(output, ignore_errors=True)
        raise
    return written


def _digest(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _leaks(assignment: Assignment, output: str, written: list[str]) -> list[str]:
    """Written files whose bytes equal a hidden file's (empty files leak nothing)."""
    hidden = {}
    for path in hidden_files(assignment):
        if os.path.getsize(path):
            hidden.setdefault(_digest(path), path)
    return [f"{relative} = {hidden[digest]}" for relative in written
            if (digest := _digest(os.path.join(output, relative))) in hidden]
