"""Mutation operators: the bugs students make in numerical code, as rewrites of one AST node.

Each operator looks at one node of a function the assignment names and proposes replacements
(a new node, or ``None`` for "delete this statement"). The tables of the classic operators
(arithmetic ``+ <-> -``, ``* <-> /``, ``** -> *``, ``+= -> =``; relational ``< <-> <=``,
``== <-> !=``) are those of mutmut; the "one operator, one location" model and the per-operator
examples that the tests run are cosmic-ray's. The numerical ones (axes, keepdims, reductions,
transposes, in-place updates, index shifts, dropped terms) are ours: no mutation library has
them, and they are the bugs an autograder for numerical assignments must catch.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Callable, Iterator

Proposal = tuple[str, "ast.AST | None"]  # (what changed, the replacement; None deletes a statement)


@dataclass(frozen=True)
class Operator:
    name: str
    doc: str
    propose: Callable[[ast.AST, "Context"], Iterator[Proposal]]


@dataclass
class Context:
    """Where a node sits: its parent (for the few operators that need it)."""

    parent: ast.AST | None = None
    field: str = ""


def _u(node: ast.AST) -> str:
    return ast.unparse(node)


def _int_value(node: ast.AST) -> int | None:
    """The integer a node spells (``3``, ``-1``), else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _int_value(node.operand) is not None:
        return -_int_value(node.operand)
    return None


def _int_node(value: int) -> ast.AST:
    return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-value))


# ------------------------------------------------------------------ arithmetic and comparisons

ARITH = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.MatMult], ast.Div: [ast.Mult, ast.FloorDiv],
         ast.Pow: [ast.Mult], ast.FloorDiv: [ast.Div], ast.Mod: [ast.Div], ast.MatMult: [ast.Mult]}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
          ast.Mod: "%", ast.MatMult: "@"}


def arith(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """``a + b -> a - b``, ``* -> /``, ``* -> @`` (elementwise vs matrix), ``/ -> //``; the same
    for augmented assignments, and ``+= -> =`` (the accumulation forgotten)."""
    if isinstance(node, ast.BinOp) and type(node.op) in ARITH:
        for new in ARITH[type(node.op)]:
            yield f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}", ast.BinOp(node.left, new(), node.right)
    elif isinstance(node, ast.AugAssign) and type(node.op) in ARITH:
        for new in ARITH[type(node.op)]:
            if new is not ast.MatMult:
                yield f"{SYMBOL[type(node.op)]}= -> {SYMBOL[new]}=", ast.AugAssign(node.target, new(), node.value)
        yield f"{SYMBOL[type(node.op)]}= -> =", ast.Assign([node.target], node.value)


COMPARE = {ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt],
           ast.GtE: [ast.Gt, ast.LtE], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq],
           ast.Is: [ast.IsNot], ast.IsNot: [ast.Is], ast.In: [ast.NotIn], ast.NotIn: [ast.In]}


def compare(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """``< -> <=`` (a boundary), ``< -> >`` (a direction), ``== <-> !=``, ``and <-> or``, ``not``
    dropped."""
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            for new in COMPARE.get(type(op), []):
                ops = list(node.ops)
                ops[index] = new()
                yield f"{_u(ast.Compare(ast.Name('a'), [op], [ast.Name('b')]))[2:-2]} -> " \
                      f"{_u(ast.Compare(ast.Name('a'), [new()], [ast.Name('b')]))[2:-2]}", \
                      ast.Compare(node.left, ops, node.comparators)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{'and -> or' if isinstance(node.op, ast.And) else 'or -> and'}", ast.BoolOp(other, node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not dropped", node.operand


# ------------------------------------------------------------------ constants

def nudge(value: int | float) -> list[int | float]:
    """1e-4 -> 1e-3 (a step or tolerance off by ten), 1 -> 0, 2 -> 1, 0 -> 1, 0.5 -> 1.5."""
    if type(value) is int:
        return [value - 1] if value != 0 else [1]
    if value == 0:
        return [1.0]
    if abs(value) < 1:
        return [value * 10]
    if float(value).is_integer():
        return [value - 1]
    return [value + 1]


def constant(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """A numeric literal nudged: the wrong step, tolerance, offset or factor."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if isinstance(ctx.parent, ast.keyword) and ctx.parent.arg == "axis":
            return  # the axis operator owns these
        if isinstance(ctx.parent, (ast.Subscript, ast.Slice)):
            return  # the index operator owns these
        for new in nudge(node.value):
            yield f"{node.value!r} -> {new!r}", ast.Constant(new)


# ------------------------------------------------------------------ numpy: axes, reductions

REDUCTIONS = {"sum", "mean", "max", "min", "argmax", "argmin", "amax", "amin", "std", "var",
              "prod", "cumsum", "logsumexp", "concatenate", "stack", "median", "linalg.norm", "norm"}


def _call_name(call: ast.Call) -> tuple[str, bool]:
    """The function's name and whether it is called as ``np.NAME(...)`` (module) rather than
    ``x.NAME(...)`` (method)."""
    func = call.func
    if isinstance(func, ast.Attribute):
        module = isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy")
        return func.attr, module
    if isinstance(func, ast.Name):
        return func.id, False
    return "", False


AXIS_SWAP = {0: [1, -1], 1: [0], -1: [0]}


def axis(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """``axis=0 <-> axis=1``, ``axis=-1 -> 0``, the axis dropped (reduce over everything),
    ``keepdims`` dropped (a shape that no longer broadcasts the way it should)."""
    if not isinstance(node, ast.Call):
        return
    name, module = _call_name(node)
    for index, kw in enumerate(node.keywords):
        rest = node.keywords[:index] + node.keywords[index + 1:]
        if kw.arg == "axis":
            value = _int_value(kw.value)
            for new in AXIS_SWAP.get(value, []) if value is not None else []:
                keywords = rest[:index] + [ast.keyword("axis", _int_node(new))] + rest[index:]
                yield f"axis={value} -> axis={new}", ast.Call(node.func, node.args, keywords)
            yield f"axis={_u(kw.value)} dropped", ast.Call(node.func, node.args, rest)
        elif kw.arg == "keepdims":
            yield "keepdims dropped", ast.Call(node.func, node.args, rest)
    # positional axis: np.sum(x, 1) or x.sum(1)
    position = 1 if module else 0
    if name in REDUCTIONS and len(node.args) > position:
        value = _int_value(node.args[position])
        for new in AXIS_SWAP.get(value, []) if value is not None else []:
            args = list(node.args)
            args[position] = _int_node(new)
            yield f"axis {value} -> {new}", ast.Call(node.func, args, node.keywords)


SWAPS = {"max": ["min"], "min": ["max"], "amax": ["amin"], "amin": ["amax"], "sum": ["mean"],
         "mean": ["sum"], "exp": ["log"], "log": ["exp"], "argmax": ["argmin"], "argmin": ["argmax"],
         "maximum": ["minimum"], "minimum": ["maximum"], "copy": [], "tanh": ["exp"]}


def function(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """``np.max <-> np.min``, ``sum <-> mean`` (a cost summed or averaged), ``exp <-> log``, and
    ``np.exp(x)`` / ``np.log(x)`` dropped to ``x``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return
    name, module = _call_name(node)
    for new in SWAPS.get(name, []):
        yield f"{name} -> {new}", ast.Call(ast.Attribute(node.func.value, new, ast.Load()), node.args, node.keywords)
    if module and name in ("exp", "log") and len(node.args) == 1 and not node.keywords:
        yield f"np.{name}(...) dropped", node.args[0]


# ------------------------------------------------------------------ transposes and products

def _is_dot(node: ast.AST) -> tuple[ast.AST, ast.AST, Callable[[ast.AST, ast.AST], ast.AST]] | None:
    """The two operands of a matrix product (``a @ b``, ``np.dot(a, b)``, ``a.dot(b)``) and how
    to build the product again from two operands."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return node.left, node.right, lambda a, b: ast.BinOp(a, ast.MatMult(), b)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("dot", "matmul"):
        name, module = _call_name(node)
        if module and len(node.args) == 2 and not node.keywords:
            return node.args[0], node.args[1], lambda a, b: ast.Call(node.func, [a, b], [])
        if not module and len(node.args) == 1 and not node.keywords:
            return node.func.value, node.args[0], \
                lambda a, b: ast.Call(ast.Attribute(a, node.func.attr, ast.Load()), [b], [])
    return None


def _transposed(node: ast.AST) -> ast.AST:
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return node.value
    return ast.Attribute(node, "T", ast.Load())


def transpose(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """A ``.T`` removed, a ``.T`` added to a product's operand, a product's operands swapped."""
    if isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
        yield ".T removed", node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "transpose" \
            and not node.args and not node.keywords:
        yield ".transpose() removed", node.func.value
    dot = _is_dot(node)
    if dot is not None:
        left, right, build = dot
        yield "operands swapped", build(right, left)
        if not (isinstance(left, ast.Attribute) and left.attr == "T"):
            yield "left operand transposed", build(_transposed(left), right)
        if not (isinstance(right, ast.Attribute) and right.attr == "T"):
            yield "right operand transposed", build(left, _transposed(right))


# ------------------------------------------------------------------ statements, copies, indices

def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def delete(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """A statement left out: a ``random.setstate``, the restore of ``x[ix]``, a bias update."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)) and not _is_docstring(node):
        yield "statement deleted", None


def _copy_call(node: ast.AST) -> ast.AST | None:
    """What ``x.copy()`` / ``np.copy(x)`` / ``np.array(x)`` copies, else None."""
    if not isinstance(node, ast.Call):
        return None
    name, module = _call_name(node)
    if name == "copy" and not module and not node.args and not node.keywords:
        return node.func.value
    if name in ("copy", "array") and module and len(node.args) == 1 and not node.keywords:
        return node.args[0]
    return None


def inplace(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """An in-place update made a copy (``x += d -> x = x + d``: the caller's array no longer
    changes) and the reverse (``x = x + d -> x += d``: the caller's array changes), a copy
    dropped (``x.copy() -> x``: an alias) or added (``y = x -> y = x.copy()``)."""
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        load = ast.Name(node.target.id, ast.Load())
        yield "in-place update -> copy", ast.Assign([node.target], ast.BinOp(load, node.op, node.value))
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        target, value = node.targets[0].id, node.value
        if isinstance(value, ast.BinOp) and isinstance(value.left, ast.Name) and value.left.id == target:
            yield "copy -> in-place update", ast.AugAssign(ast.Name(target, ast.Store()), value.op, value.right)
        if isinstance(value, ast.Name):
            yield "copy added", ast.Assign(node.targets, ast.Call(ast.Attribute(value, "copy", ast.Load()), [], []))
    copied = _copy_call(node)
    if copied is not None:
        yield "copy dropped", copied
    if isinstance(node, ast.Call):
        name, module = _call_name(node)
        if module and name == "asarray":
            yield "np.asarray -> np.array", ast.Call(ast.Attribute(node.func.value, "array", ast.Load()),
                                                     node.args, node.keywords)


def _shifted(node: ast.AST, by: int) -> ast.AST:
    value = _int_value(node)
    if value is not None:
        return _int_node(value + by)
    return ast.BinOp(node, ast.Add() if by > 0 else ast.Sub(), ast.Constant(abs(by)))


def index(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """An index or a slice bound off by one: ``x[0] -> x[1]``, ``a[i:j] -> a[i + 1:j]``."""
    if not isinstance(node, ast.Subscript):
        return
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    for position, part in enumerate(parts):
        def rebuild(new_part: ast.AST) -> ast.AST:
            new_parts = list(parts)
            new_parts[position] = new_part
            new_slice = ast.Tuple(new_parts, ast.Load()) if isinstance(node.slice, ast.Tuple) else new_part
            return ast.Subscript(node.value, new_slice, node.ctx)

        if isinstance(part, ast.Slice):
            for bound in ("lower", "upper"):
                old = getattr(part, bound)
                if old is None:
                    continue
                for by in (1, -1):
                    new_slice = copy.copy(part)
                    setattr(new_slice, bound, _shifted(old, by))
                    yield f"slice {bound} bound {'+' if by > 0 else '-'}1", rebuild(new_slice)
        elif _int_value(part) is not None:
            value = _int_value(part)
            for new in ([value + 1, value - 1] if value >= 0 else [value + 1]):
                yield f"index {value} -> {new}", rebuild(_int_node(new))


def sign(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """A sign flipped: a unary minus dropped, a returned value or an assigned difference negated."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _int_value(node) is None:
        yield "unary minus dropped", node.operand
    if isinstance(node, ast.Return) and node.value is not None:
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        for position, value in enumerate(values):
            if isinstance(value, ast.Constant) and not isinstance(value.value, (int, float)):
                continue
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
                continue  # dropping that minus is the same mutant
            negated = list(values)
            negated[position] = ast.UnaryOp(ast.USub(), value)
            new_value = ast.Tuple(negated, ast.Load()) if isinstance(node.value, ast.Tuple) else negated[0]
            yield f"returned value {position + 1} negated" if len(values) > 1 else "returned value negated", \
                ast.Return(new_value)
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, (ast.Add, ast.Sub)):
        yield "assigned value negated", ast.Assign(node.targets, ast.UnaryOp(ast.USub(), node.value))


def term(node: ast.AST, ctx: Context) -> Iterator[Proposal]:
    """A term of a sum dropped: ``x @ W + b -> x @ W`` (the bias), ``a - b -> a``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        yield "right term dropped", node.left
        if isinstance(node.op, ast.Add):
            yield "left term dropped", node.right


OPERATORS: list[Operator] = [
    Operator("arith", "arithmetic operator swapped", arith),
    Operator("compare", "comparison or boolean operator swapped", compare),
    Operator("constant", "numeric constant nudged", constant),
    Operator("axis", "axis changed or dropped, keepdims dropped", axis),
    Operator("function", "numpy function swapped or dropped", function),
    Operator("transpose", "transpose added or removed, product operands swapped", transpose),
    Operator("delete", "statement deleted", delete),
    Operator("inplace", "in-place update made a copy or the reverse", inplace),
    Operator("index", "index or slice bound shifted by one", index),
    Operator("sign", "sign flipped", sign),
    Operator("term", "term of a sum dropped", term),
]
BY_NAME = {op.name: op for op in OPERATORS}
