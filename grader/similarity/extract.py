"""Each required function's source from a submission, found the way grading finds it.

Grading looks a function up by name in the problem's conventional module first, then in every
other module in load order, and in a module (or notebook) the last definition stands. The same
order is used here, on the same reading of the files (``grader.submission``: zips, notebooks
with their magics translated, one unit per cell or top-level statement), so what is compared is
what was graded. The student's own helper functions that a required function calls (in the same
file) are taken along: students who split a solution into helpers wrote those lines too.

Nothing here runs student code; it only parses it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from grader.assignment import Assignment
from grader.similarity.normalise import Context, Token, function_tokens, module_aliases
from grader.submission import SourceFile, Submission, SubmissionError, open_submission

MAX_HELPERS = 8


@dataclass
class Extracted:
    """One problem's code of one student: the text shown, and its normalised tokens whose lines
    are lines of ``text`` (1-based)."""

    problem: str
    file: str
    text: str
    tokens: list[Token]


@dataclass
class StudentCode:
    student: str
    path: str
    problems: dict[str, Extracted] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Module:
    source: SourceFile
    defs: dict[str, tuple[ast.AST, str]]   # name -> (node, the unit's code): the last one stands
    aliases: dict[str, str]


def _read_module(source: SourceFile) -> _Module:
    defs: dict[str, tuple[ast.AST, str]] = {}
    aliases: dict[str, str] = {}
    for unit in source.units:
        try:
            tree = ast.parse(unit.code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        aliases.update(module_aliases(tree))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[node.name] = (node, unit.code)
    return _Module(source, defs, aliases)


def _segment(node: ast.AST, code: str) -> tuple[str, int]:
    """The definition's lines (decorators included) and the first line's number in ``code``."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = code.splitlines()
    return "\n".join(lines[start - 1:node.end_lineno]), start


def _called_helpers(node: ast.AST, module: _Module, required: set[str]) -> list[str]:
    """Helper functions of the same file that ``node`` calls, transitively, in call order."""
    found: list[str] = []
    queue = [node]
    while queue and len(found) < MAX_HELPERS:
        current = queue.pop(0)
        for child in ast.walk(current):
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Name)
                    and child.func.id in module.defs and child.func.id not in required
                    and child.func.id not in found):
                found.append(child.func.id)
                queue.append(module.defs[child.func.id][0])
    return found[:MAX_HELPERS]


def extract(submission: Submission, assignment: Assignment, student: str = "",
            starter: bool = False) -> StudentCode:
    """The code of every problem of ``assignment`` in an opened submission (``starter``: the
    handed-out code, read with its placeholders removed and nothing dropped as dead)."""
    result = StudentCode(student=student, path=submission.origin)
    modules = {source.path: _read_module(source) for source in submission.sources}
    records = [r for r in submission.worker_records(0) if not r["is_package"] and r["path"]]
    path_of = {r["name"]: r["path"] for r in records}
    load_order = [r["path"] for r in records]
    required = {name for p in assignment.problems for name in p.functions}
    for problem in assignment.problems:
        hinted = [path_of[n] for n in submission.modules_named(problem.module) if n in path_of]
        order = list(dict.fromkeys(hinted + load_order))
        texts, tokens, files = [], [], []
        offset = 0
        for name in problem.functions:
            for path in order:
                module = modules.get(path)
                if module is None or name not in module.defs:
                    continue
                context = Context(aliases=module.aliases,
                                  helpers=frozenset(set(module.defs) - required),
                                  required=frozenset(required))
                node, code = module.defs[name]
                parts = [module.defs[name]] + [module.defs[h] for h in _called_helpers(node, module, required)]
                for part_node, part_code in parts:
                    text, start = _segment(part_node, part_code)
                    for token in function_tokens(part_node, context, starter):
                        tokens.append(Token(token.text, token.line - start + 1 + offset))
                    texts.append(text)
                    offset += text.count("\n") + 2
                files.append(module.source.path)
                break
        if texts:
            result.problems[problem.id] = Extracted(problem.id, ", ".join(dict.fromkeys(files)),
                                                    "\n\n".join(texts), tokens)
    return result


def extract_path(path: str, assignment: Assignment, student: str = "",
                 starter: bool = False) -> StudentCode:
    """Open, extract and close one submission; an unreadable one gives an empty record with the
    reason (one student's bad zip never stops the class)."""
    try:
        submission = open_submission(path)
    except SubmissionError as exc:
        return StudentCode(student=student, path=path, notes=[str(exc)])
    try:
        return extract(submission, assignment, student, starter)
    except RecursionError:
        return StudentCode(student=student, path=path, notes=["too deeply nested to compare"])
    finally:
        submission.close()
