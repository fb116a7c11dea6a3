"""Mutants of the reference solution: one operator at one location of one function the
assignment's problems name, each attributed to that problem.

A mutant's source is the reference file with only the mutated node's text replaced (its span
from the AST's positions, parenthesised when precedence asks for it), so its diff against the
reference is one line, in the author's own formatting. Every spliced file is parsed again and
must give exactly the intended tree; if it cannot, the whole file is unparsed instead (correct,
only a noisier diff). Mutants that come out textually identical are kept once.
"""

from __future__ import annotations

import ast
import copy
import difflib
import os
from dataclasses import dataclass

from grader.assignment import Assignment
from grader.mutation.operators import OPERATORS, Context, Operator


@dataclass
class GeneratedMutant:
    ident: str          # m001, m002, ... in generation order
    problem: str
    file: str           # relative to the reference folder
    function: str       # qualified name: "softmax", "Linear.backward"
    operator: str
    change: str         # "axis=1 -> axis=0"
    line: int
    line_text: str      # the reference's line, stripped
    node_text: str      # the mutated expression or statement as the reference spells it
    original: str       # the whole reference file
    source: str         # the whole mutated file

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """What survivors.toml names a mutant by: no line numbers, so an edit elsewhere in the
        file keeps it; the node's text tells apart two ``+`` on one line."""
        return (self.file, self.function, self.operator, self.change, self.line_text, self.node_text)

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.original.splitlines(True), self.source.splitlines(True),
                                            f"a/{self.file}", f"b/{self.file}", n=1))


def targets(tree: ast.Module, names: set[str]) -> list[tuple[str, ast.AST]]:
    """The top-level functions and classes of a module that the problems name, with their
    qualified names (a class's methods are mutated, each under ``Class.method``)."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and node.name in names:
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append((f"{node.name}.{item.name}", item))
    return found


def _children(function: ast.AST):
    """Every node inside a function's body (not its signature, decorators or docstring), with
    its parent and the field it sits in."""
    stack = [(child, function, "body") for child in reversed(function.body)]
    while stack:
        node, parent, field = stack.pop()
        yield node, parent, field
        for name, value in reversed(list(ast.iter_fields(node))):
            if isinstance(value, list):
                stack.extend((v, node, name) for v in reversed(value) if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append((value, node, name))


def _swap(parent: ast.AST, field: str, old: ast.AST, new: ast.AST | None) -> callable:
    """Put ``new`` where ``old`` is (``None``: a ``pass`` statement); return the undo."""
    value = getattr(parent, field)
    replacement = new if new is not None else ast.Pass()
    if isinstance(value, list):
        index = next(i for i, v in enumerate(value) if v is old)
        value[index] = replacement
        return lambda: value.__setitem__(index, old)
    setattr(parent, field, replacement)
    return lambda: setattr(parent, field, old)


def _offsets(text: str) -> list[int]:
    """Character offset of each line's start (1-based lines)."""
    starts, total = [0, 0], 0
    for line in text.splitlines(True):
        total += len(line)
        starts.append(total)
    return starts


def _char_col(line: str, byte_col: int) -> int:
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))


def splice(source: str, node: ast.AST, text: str) -> str:
    """The source with ``node``'s span replaced by ``text`` (AST columns are UTF-8 bytes)."""
    lines = source.splitlines(True)
    starts = _offsets(source)
    begin = starts[node.lineno] + _char_col(lines[node.lineno - 1], node.col_offset)
    end = starts[node.end_lineno] + _char_col(lines[node.end_lineno - 1], node.end_col_offset)
    return source[:begin] + text + source[end:]


def _placeholders(source: str, new: ast.AST) -> tuple[str, dict[str, str]]:
    """``new`` unparsed with every expression it took from the reference (it still has its
    position) standing as a placeholder name, and each placeholder's original text: so the
    parts a mutation does not touch keep the author's spelling (``1e-5`` stays ``1e-5``)."""
    segments: dict[str, str] = {}

    class Keep(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            if isinstance(node, ast.expr) and hasattr(node, "lineno"):
                text = ast.get_source_segment(source, node)
                if text is not None and "\n" not in text:
                    name = f"__grader_segment_{len(segments)}__"
                    segments[name] = text
                    return ast.Name(name, ast.Load())
            return self.generic_visit(node)

    return ast.unparse(Keep().visit(copy.deepcopy(new))), segments


def _texts(source: str, new: ast.AST | None) -> list[str]:
    """Candidate texts for the replacement, the most faithful to the reference first."""
    if new is None:
        return ["pass"]
    texts = []
    if isinstance(new, ast.expr) and hasattr(new, "lineno"):
        texts.append(ast.get_source_segment(source, new) or "")
    template, segments = _placeholders(source, new)
    for wrap in (False, True):
        text = template
        for name, segment in segments.items():
            atom = segment.isidentifier() or segment.replace(".", "").isalnum()
            text = text.replace(name, f"({segment})" if wrap and not atom else segment)
        texts.append(text)
    texts.append(ast.unparse(new))
    return [t for t in dict.fromkeys(texts) if t and "\n" not in t]


def render(source: str, tree: ast.Module, parent: ast.AST, field: str, node: ast.AST,
           new: ast.AST | None) -> str | None:
    """The mutated file's text, or None when the mutation gives no valid program."""
    for part in ast.walk(new) if new is not None else ():
        if isinstance(part, ast.stmt) and not hasattr(part, "lineno"):
            part.lineno = 0  # a statement an operator built: unparse wants its line
    undo = _swap(parent, field, node, new)
    try:
        expected = ast.dump(tree)
        whole = ast.unparse(tree)
    finally:
        undo()
    statement = new is None or isinstance(new, ast.stmt)
    for text in _texts(source, new):
        for candidate in ([text] if statement else [text, f"({text})"]):
            mutated = splice(source, node, candidate)
            try:
                if ast.dump(ast.parse(mutated)) == expected:
                    return mutated
            except SyntaxError:
                pass
    try:
        if ast.dump(ast.parse(whole)) == expected:
            return whole
    except SyntaxError:
        pass
    return None


def generate(assignment: Assignment, *, problem: str | None = None,
             operators: list[Operator] | None = None) -> list[GeneratedMutant]:
    """Every mutant of the reference in the functions the problems name (one problem's only,
    if asked), in file, line and operator order."""
    reference = assignment.reference_dir
    if not reference or not os.path.isdir(reference):
        return []
    owner = {name: p.id for p in assignment.problems for name in p.functions
             if problem is None or p.id == problem}
    mutants: list[GeneratedMutant] = []
    for root, dirs, files in os.walk(reference):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as handle:
                    source = handle.read()
                mutants += mutate_source(source, os.path.relpath(path, reference), owner, operators,
                                         first=len(mutants) + 1)
    return mutants


def mutate_source(source: str, file: str, owner: dict[str, str], operators: list[Operator] | None = None,
                  first: int = 1) -> list[GeneratedMutant]:
    """The mutants of one file: every operator at every node of the functions (and classes) in
    ``owner`` (name -> problem id), numbered from ``first``; none if the file does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    mutants: list[GeneratedMutant] = []
    seen: set[str] = set()
    for qualname, function in targets(tree, set(owner)):
        problem_id = owner[qualname.split(".")[0]]
        for node, parent, field in list(_children(function)):
            for operator in operators or OPERATORS:
                for change, new in operator.propose(node, Context(parent, field)):
                    mutated = render(source, tree, parent, field, node, new)
                    if mutated is None:
                        continue
                    shape = ast.dump(ast.parse(mutated))
                    if mutated == source or shape in seen:
                        continue
                    seen.add(shape)
                    mutants.append(GeneratedMutant(
                        f"m{first + len(mutants):03d}", problem_id, file, qualname, operator.name,
                        change, node.lineno, lines[node.lineno - 1].strip(),
                        " ".join((ast.get_source_segment(source, node) or "").split()), source, mutated))
    return mutants
