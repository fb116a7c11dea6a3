"""``grader new NAME --from REFERENCE.py...``: an assignment scaffold that validates as generated.

Writing an assignment by hand means seven files whose formats are only in the docs; a scaffold
an author edits is faster and never starts out broken. From the reference's top-level functions
and classes (read with ``ast``, then imported to try inputs on them) it writes:

- ``assignments/NAME/assignment.toml``: one problem per function or class, 2 points each, the
  default limits written out;
- ``reference_solutions/NAME/``: a copy of the reference files;
- ``assignments/NAME/starter/NAME.ipynb``: one code cell per definition, its signature and
  docstring kept and its body ``raise NotImplementedError``;
- one hidden check (``checks/``: the submission against the reference on seeded random inputs)
  and one public check (``public/``: expected values written out) per problem, each marked
  "TODO: adjust inputs": the inputs are guessed (float arrays first, then vectors, floats and
  small ints) and kept only if the reference accepts them and returns plain data;
- empty ``mutants/mutants.toml`` and ``variants/variants.toml`` with their format as comments.

``grader validate`` passes on the scaffold as written.
"""

from __future__ import annotations

import ast
import copy
import inspect
import os
import random
import re
import shutil
import types
from dataclasses import dataclass

import numpy as np

from grader.assignment import AssignmentError, load_reference
from grader.authoring import templates as T
from grader.sandbox import Limits

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
POINTS = 2  # one hidden and one public check, a point each

# Input kinds tried in order: (what the check writes for a seeded value, a literal for the
# public check, a description for the TODO line)
KINDS = {
    "matrix": ("rng.normal(size=(3, 4))", lambda rng: np.round(rng.normal(size=(2, 3)), 2),
               "float arrays of shape (3, 4)"),
    "vector": ("rng.normal(size=5)", lambda rng: np.round(rng.normal(size=4), 2),
               "float vectors of length 5"),
    "float": ("float(rng.normal())", lambda rng: float(np.round(rng.normal(), 2)), "floats"),
    "int": ("int(rng.integers(1, 5))", lambda rng: int(rng.integers(1, 5)), "small ints"),
}


@dataclass
class Definition:
    """One top-level function or class of the reference: one problem."""
    name: str
    module: str
    node: ast.FunctionDef | ast.ClassDef


def _definitions(paths: list[str]) -> tuple[list[Definition], list[str]]:
    """The reference's public top-level definitions, and its import statements (for the
    starter: imports of the reference's own modules left out)."""
    stems = {os.path.splitext(os.path.basename(p))[0] for p in paths}
    found: dict[str, Definition] = {}
    imports: list[str] = []
    for path in paths:
        module = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), filename=path)
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            raise AssignmentError(f"reference {path} cannot be read ({type(exc).__name__}: {exc})") from None
        for node in tree.body:
            if isinstance(node, ast.Import):
                kept = [a for a in node.names if a.name.split(".")[0] not in stems]
                if kept:
                    imports.append(ast.unparse(ast.Import(names=kept)))
            elif isinstance(node, ast.ImportFrom):
                if not node.level and (node.module or "").split(".")[0] not in stems:
                    imports.append(ast.unparse(node))
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                if node.name in found:
                    raise AssignmentError(f"{node.name} is defined in both {found[node.name].module}.py "
                                          f"and {module}.py: one definition per name")
                found[node.name] = Definition(node.name, module, node)
    return list(found.values()), list(dict.fromkeys(imports))


def _required(callable_: object) -> int:
    """How many positional arguments a call needs (those without defaults)."""
    try:
        signature = inspect.signature(callable_)
    except (TypeError, ValueError):
        return 0
    return sum(1 for p in signature.parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


def _is_data(value: object, depth: int = 0) -> bool:
    """What comes back from the worker as itself (so the check can compare it)."""
    if depth > 10:
        return False
    if value is None or isinstance(value, (bool, int, float, str, np.bool_, np.integer, np.floating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if isinstance(value, (list, tuple)):
        return all(_is_data(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_data(v, depth + 1) for k, v in value.items())
    return False


def literal(value: object) -> str:
    """Python source that rebuilds ``value`` (plain data only) in a check file."""
    if isinstance(value, np.ndarray):
        return f"np.array({literal(value.tolist())})"
    if isinstance(value, np.generic):
        return literal(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _compare() -> types.FunctionType:
    """The ``same`` helper the checks use, to prove guessed inputs on the reference here."""
    from grader.checks import CheckFailure, assert_close, show

    scope = {"np": np, "CheckFailure": CheckFailure, "assert_close": assert_close, "show": show}
    exec(T.COMPARE, scope)  # noqa: S102 - our own template text
    return scope["same"]


def _attempt(function: object, args: list) -> tuple[bool, object, str]:
    """(accepted, result, exception type): the reference called on copies of ``args``, twice;
    accepted when it returns plain data that compares equal to itself."""
    same = _compare()
    try:
        first = _seeded_call(function, args)
        again = _seeded_call(function, args)
    except Exception as exc:  # noqa: BLE001 - the reference refusing a guessed input
        return False, None, type(exc).__name__
    if not _is_data(first):
        return False, None, ""
    try:
        same(again, first)
    except AssertionError:
        return False, None, ""  # random inside, or not comparable: not a usable input
    return True, first, ""


def _seeded_call(function: object, args: list) -> object:
    """``function`` on copies of ``args``, seeded as the worker seeds a student's call."""
    random.seed(0)
    np.random.seed(0)
    return function(*copy.deepcopy(args))


def _seeded(kind: str, count: int) -> list:
    """The values the hidden check's ``rng = np.random.default_rng(0)`` lines make."""
    rng = np.random.default_rng(0)
    return [eval(KINDS[kind][0], {"rng": rng})  # noqa: S307 - our own template text
            for _ in range(count)]


def _public(kind: str, count: int, seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    return [KINDS[kind][1](rng) for _ in range(count)]


def _choose(function: object) -> tuple[str, str]:
    """The first input kind on which the reference accepts both the hidden and the public
    inputs, or ("", the exception type it raised on the public float arrays, which the
    fallback check uses; "" when it did not raise there)."""
    count = _required(function)
    for kind in KINDS:
        ok_hidden, _, _ = _attempt(function, _seeded(kind, count))
        ok_public, _, _ = _attempt(function, _public(kind, count))
        if ok_hidden and ok_public:
            return kind, ""
        if count == 0:
            break
    return "", _attempt(function, _public("matrix", count))[2]


def _method_plan(cls: type, ctor_args: list, rng: np.random.Generator, methods: list[str],
                 public: bool) -> list[tuple[str, str, list, object]]:
    """Each method the reference object accepts, in the order of the class body, with the input
    kind, arguments and result: (method, kind, args, result). The arguments come from ``rng``
    after the constructor's, as the check draws them; a method no kind suits is left out (and
    draws nothing), so the check's draws line up with these."""
    plan: list[tuple[str, str, list, object]] = []

    def replay() -> object:
        obj = _seeded_call(cls, ctor_args)
        for method, _, args, _ in plan:
            _seeded_call(getattr(obj, method), args)
        return obj

    for method in methods:
        for kind in KINDS:
            trial = copy.deepcopy(rng)
            try:
                bound = getattr(replay(), method)
            except Exception:  # noqa: BLE001 - the reference's own failure: no more methods
                return plan
            count = _required(bound)
            args = [KINDS[kind][1](trial) if public else eval(KINDS[kind][0], {"rng": trial})  # noqa: S307
                    for _ in range(count)]
            try:
                result = _seeded_call(bound, args)
            except Exception:  # noqa: BLE001 - try the next kind
                if count == 0:
                    break
                continue
            if _is_data(result):
                plan.append((method, kind, args, result))
                rng.bit_generator.state = trial.bit_generator.state
            break
    return plan


def _stub(node: ast.FunctionDef | ast.ClassDef) -> str:
    """The definition with its signature and docstring, its body ``raise NotImplementedError``."""
    node = copy.deepcopy(node)
    raise_ = ast.parse("raise NotImplementedError").body[0]

    def docstring(body: list) -> list:
        first = body[0] if body else None
        keep = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str))
        return [first] if keep else []

    if isinstance(node, ast.ClassDef):
        methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for method in methods:
            method.body = docstring(method.body) + [copy.deepcopy(raise_)]
        node.body = docstring(node.body) + methods or [ast.Pass()]
    else:
        node.body = docstring(node.body) + [raise_]
    return ast.unparse(ast.fix_missing_locations(node))


def _starter(name: str, definitions: list[Definition], imports: list[str], path: str) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    cells = [nbformat.v4.new_markdown_cell(T.STARTER_INTRO.format(title=name, count=len(definitions)))]
    if imports:
        cells.append(nbformat.v4.new_code_cell("\n".join(imports)))
    for number, definition in enumerate(definitions, 1):
        cells.append(nbformat.v4.new_markdown_cell(f"## {number}. {definition.name}"))
        cells.append(nbformat.v4.new_code_cell(_stub(definition.node)))
    notebook.cells = cells
    nbformat.write(notebook, path)


def _checks(definition: Definition, reference: types.SimpleNamespace) -> tuple[str, str]:
    """(hidden check file, public check file) for one problem."""
    target = getattr(reference, definition.name)
    name = definition.name
    if isinstance(target, type):
        return _class_checks(definition, target)
    kind, error = _choose(target)
    count = _required(target)
    guess = KINDS[kind][2] if kind else "none accepted"
    head = {"id": name, "guess": guess}
    if not kind:
        return _fallback(name, error, count, head)
    hidden_args = ", ".join([KINDS[kind][0]] * count)
    public_args = _public(kind, count)
    _, expected, _ = _attempt(target, public_args)
    hidden = T.CHECK_HEAD.format(what="Hidden", **head) + T.COMPARE + T.HIDDEN_FUNCTION.format(
        id=name, args=hidden_args)
    public = T.CHECK_HEAD.format(what="Public", **head) + T.COMPARE + T.PUBLIC_FUNCTION.format(
        id=name, args=", ".join(literal(a) for a in public_args), expected=literal(expected))
    return hidden, public


def _fallback(name: str, error: str, count: int, head: dict) -> tuple[str, str]:
    """Checks for a definition no guessed input suits: the reference raised ``error`` on every
    guess (the checks compare the exception type), or returned nothing comparable (they check
    that it runs). Both pass on the reference and fail on a stub; both say to replace them."""
    template = T.RAISES if error else T.RUNS
    args = ", ".join(literal(v) for v in _public("matrix", count))
    hidden = template.format(id=name, error=error, visibility="", prefix="", args=args)
    public = template.format(id=name, error=error, visibility=', visibility="visible"',
                             prefix="public_", args=args)
    return (T.CHECK_HEAD.format(what="Hidden", **head) + T.COMPARE + hidden,
            T.CHECK_HEAD.format(what="Public", **head) + T.COMPARE + public)


def _class_checks(definition: Definition, cls: type) -> tuple[str, str]:
    name = definition.name
    methods = [m.name for m in definition.node.body
               if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")]
    count = _required(cls)
    kind, error = "", ""
    for candidate in KINDS:
        try:
            _seeded_call(cls, _seeded(candidate, count))
            _seeded_call(cls, _public(candidate, count))
        except Exception:  # noqa: BLE001 - the reference refusing a guessed input
            continue
        kind = candidate
        break
    if not kind:
        try:
            _seeded_call(cls, _public("matrix", count))
        except Exception as exc:  # noqa: BLE001 - what the fallback check compares
            error = type(exc).__name__
    head = {"id": name, "guess": KINDS[kind][2] if kind else "none accepted"}
    if not kind:
        return _fallback(name, error, count, head)
    rng = np.random.default_rng(0)
    hidden_ctor = [eval(KINDS[kind][0], {"rng": rng}) for _ in range(count)]  # noqa: S307
    hidden_plan = _method_plan(cls, hidden_ctor, rng, methods, public=False)
    calls = ", ".join(f"({method!r}, [{', '.join([KINDS[k][0]] * len(args))}])"
                      for method, k, args, _ in hidden_plan)
    hidden = T.CHECK_HEAD.format(what="Hidden", **head) + T.COMPARE + T.HIDDEN_CLASS.format(
        id=name, args=", ".join([KINDS[kind][0]] * count), calls=calls)
    rng = np.random.default_rng(1)
    public_ctor = [KINDS[kind][1](rng) for _ in range(count)]
    public_plan = _method_plan(cls, public_ctor, rng, methods, public=True)
    steps = "".join(f"    same(obj.{method}({', '.join(literal(a) for a in args)}), {literal(result)}, "
                    f"\"{name}.{method}(...)\")\n" for method, _, args, result in public_plan)
    public = T.CHECK_HEAD.format(what="Public", **head) + T.COMPARE + T.PUBLIC_CLASS.format(
        id=name, args=", ".join(literal(a) for a in public_ctor), steps=steps or "    assert obj is not None\n")
    return hidden, public


def scaffold(name: str, references: list[str], into: str = ".") -> tuple[str, str]:
    """Write the scaffold of assignment ``name`` under ``into`` (``into/assignments/NAME`` and
    ``into/reference_solutions/NAME``); returns those two folders. AssignmentError (one line,
    with the fix) for a bad name, a missing reference file or a folder that already exists."""
    if not NAME.fullmatch(name):
        raise AssignmentError(f"assignment name {name!r} is not a plain identifier (letters, digits, _)")
    for path in references:
        if not path.endswith(".py") or not os.path.isfile(path):
            raise AssignmentError(f"reference {path} is not a .py file: pass the reference modules with --from")
    if len({os.path.basename(p) for p in references}) != len(references):
        raise AssignmentError("two reference files share a file name: pass each module once")
    folder = os.path.abspath(os.path.join(into, "assignments", name))
    reference_dir = os.path.abspath(os.path.join(into, "reference_solutions", name))
    for target in (folder, reference_dir):
        if os.path.exists(target):
            raise AssignmentError(f"{target} already exists: choose another NAME or --into DIR")
    definitions, imports = _definitions(references)
    if not definitions:
        raise AssignmentError("the reference defines no public top-level function or class "
                              "(names starting with _ are left out)")
    os.makedirs(reference_dir)
    try:
        for path in references:
            shutil.copy2(path, reference_dir)
        try:
            reference = load_reference(types.SimpleNamespace(name=name, reference_dir=reference_dir))
        except Exception as exc:  # noqa: BLE001 - the author's module failing at import
            raise AssignmentError(f"the reference cannot be imported ({type(exc).__name__}: {exc}): "
                                  "fix it, then run grader new again") from None
        checks = {d.name: _checks(d, reference) for d in definitions}
        for sub in ("checks", "public", "starter", "mutants", "variants"):
            os.makedirs(os.path.join(folder, sub))
        limits = Limits()
        problems = "".join(T.PROBLEM.format(id=d.name, points=POINTS, module=d.module) for d in definitions)
        _write(os.path.join(folder, "assignment.toml"), T.ASSIGNMENT_TOML.format(
            name=name, title=name.replace("_", " "),
            sources=", ".join(os.path.basename(p) for p in references),
            reference=f"../../reference_solutions/{name}", problems=problems,
            **{k: getattr(limits, k) for k in ("memory_mb", "cpu_seconds", "file_size_mb",
                                               "open_files", "processes")}))
        for definition in definitions:
            hidden, public = checks[definition.name]
            _write(os.path.join(folder, "checks", f"test_{definition.name}.py"), hidden)
            _write(os.path.join(folder, "public", f"test_public_{definition.name}.py"), public)
        _write(os.path.join(folder, "mutants", "mutants.toml"), T.MUTANTS)
        _write(os.path.join(folder, "variants", "variants.toml"), T.VARIANTS)
        _starter(name, definitions, imports, os.path.join(folder, "starter", f"{name}.ipynb"))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(reference_dir, ignore_errors=True)
        raise
    return folder, reference_dir


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
