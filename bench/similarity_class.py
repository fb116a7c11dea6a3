"""A synthetic nn_basics class for measuring `grader similarity`: independent students and planted copies.

Each function has several genuinely different implementations (loops, vectorised, helper
functions, different formulas, some with the classic bugs), each with random choice points
(equivalent spellings, temporaries, asserts, names, comments) so that two independent students
who chose the same approach still differ the way real students do. A student picks one
implementation per function at random and a layout (four modules, one module, a notebook).

A planted copy takes another student's files and applies disguises (``DISGUISES``), each a
transformation of the source text that keeps it valid Python.

Used by bench/similarity.py and tests/test_similarity.py.
"""

from __future__ import annotations

import ast
import io
import json
import os
import random
import re
import tokenize

NAMES = {
    "x": ["x", "z", "logits", "scores", "arr", "inp", "X", "a"],
    "m": ["m", "mx", "row_max", "maxes", "c", "shift", "xmax", "biggest"],
    "e": ["e", "exps", "ex", "exp_x", "numer", "num", "expd", "t"],
    "s": ["s", "total", "denom", "norm", "sums", "Z", "den", "partition"],
    "out": ["out", "result", "res", "probs", "y", "ans", "output", "p"],
    "i": ["i", "k", "r", "row", "idx", "j", "n", "ii"],
    "h": ["h", "eps", "step", "delta_h", "hh"],
    "tmp": ["tmp", "temp", "buf", "val", "v", "old", "orig", "saved"],
}


def _n(rng: random.Random, kind: str) -> str:
    return rng.choice(NAMES[kind])


def _c(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def _comment(rng: random.Random, text: str) -> str:
    return f"  # {text}" if rng.random() < 0.3 else ""


# ------------------------------------------------------------------ softmax

def softmax_vector(rng):
    x, m, e = _n(rng, "x"), _n(rng, "m"), _n(rng, "e")
    keep = _c(rng, "axis=-1, keepdims=True", "axis=1, keepdims=True", "axis=x.ndim - 1, keepdims=True".replace("x", x))
    maxf = _c(rng, f"np.max({x}, {keep})", f"{x}.max({keep})", f"np.amax({x}, {keep})")
    sumf = _c(rng, f"np.sum({e}, {keep})", f"{e}.sum({keep})")
    cast = _c(rng, f"    {x} = np.asarray({x}, dtype=float)\n", f"    {x} = np.array({x}, dtype=np.float64)\n", "")
    return (f"def softmax({x}):\n{cast}"
            f"    {m} = {maxf}{_comment(rng, 'for stability')}\n"
            f"    {e} = np.exp({x} - {m})\n"
            f"    return {e} / {sumf}\n")


def softmax_ndim_branch(rng):
    x, m, e, s = _n(rng, "x"), _n(rng, "m"), _n(rng, "e"), _n(rng, "s")
    test = _c(rng, f"len({x}.shape) > 1", f"{x}.ndim == 2", f"{x}.ndim > 1")
    return (f"def softmax({x}):\n"
            f"    if {test}:\n"
            f"        {m} = np.max({x}, axis=1).reshape(-1, 1)\n"
            f"        {e} = np.exp({x} - {m})\n"
            f"        {s} = np.sum({e}, axis=1).reshape(-1, 1)\n"
            f"        {x} = {e} / {s}\n"
            f"    else:\n"
            f"        {m} = np.max({x})\n"
            f"        {e} = np.exp({x} - {m})\n"
            f"        {x} = {e} / np.sum({e})\n"
            f"    return {x}\n")


def softmax_rows_loop(rng):
    x, out, i, m, e = _n(rng, "x"), _n(rng, "out"), _n(rng, "i"), _n(rng, "m"), _n(rng, "e")
    alloc = _c(rng, f"np.zeros_like({x}, dtype=float)", f"np.zeros({x}.shape)", f"np.empty_like({x}, dtype=float)")
    return (f"def softmax({x}):\n"
            f"    {x} = np.atleast_2d(np.asarray({x}, dtype=float))\n"
            f"    {out} = {alloc}\n"
            f"    for {i} in range({x}.shape[0]):\n"
            f"        {m} = {_c(rng, f'np.max({x}[{i}])', f'max({x}[{i}])', f'{x}[{i}].max()')}\n"
            f"        {e} = np.exp({x}[{i}] - {m})\n"
            f"        {out}[{i}] = {e} / {_c(rng, f'np.sum({e})', f'{e}.sum()', f'sum({e})')}\n"
            f"    {_c(rng, f'return {out}.reshape(np.shape(orig))', f'return {out}.reshape(orig.shape)')}\n"
            ).replace("def softmax(" + x + "):\n", f"def softmax({x}):\n    orig = np.asarray({x})\n")


def softmax_helper(rng):
    x, e = _n(rng, "x"), _n(rng, "e")
    helper = _c(rng, "stable_exp", "_shifted_exp", "exp_normalize", "safe_exp")
    keep = _c(rng, "axis=-1, keepdims=True", "axis=len(v.shape) - 1, keepdims=True")
    return (f"def {helper}(v):\n"
            f"    return np.exp(v - np.max(v, {keep}))\n\n\n"
            f"def softmax({x}):\n"
            f"    {e} = {helper}({x})\n"
            f"    return {e} / np.sum({e}, {keep.replace('v.shape', e + '.shape')})\n")


def softmax_logsumexp(rng):
    x, m = _n(rng, "x"), _n(rng, "m")
    lse = _c(rng, "lse", "log_z", "logsum", "log_norm")
    return (f"def softmax({x}):\n"
            f"    {x} = np.asarray({x}, dtype=float)\n"
            f"    {m} = np.max({x}, axis=-1, keepdims=True)\n"
            f"    {lse} = {m} + np.log(np.sum(np.exp({x} - {m}), axis=-1, keepdims=True))\n"
            f"    return np.exp({x} - {lse})\n")


def softmax_transpose(rng):
    x, e = _n(rng, "x"), _n(rng, "e")
    return (f"def softmax({x}):\n"
            f"    if {x}.ndim == 1:\n"
            f"        {x} = {x} - {x}.max()\n"
            f"        return np.exp({x}) / np.exp({x}).sum()\n"
            f"    {x} = ({x}.T - {x}.max(axis=1)).T\n"
            f"    {e} = np.exp({x})\n"
            f"    return ({e}.T / {e}.sum(axis=1)).T\n")


def softmax_no_shift_bug(rng):
    x, e = _n(rng, "x"), _n(rng, "e")
    return (f"def softmax({x}):\n"
            f"    {e} = np.exp({x})\n"
            f"    return {e} / np.sum({e}, axis={_c(rng, '-1', '1')}, keepdims=True)\n")


def softmax_list_comp(rng):
    x, r = _n(rng, "x"), _c(rng, "row", "r", "vec", "line")
    return (f"def softmax({x}):\n"
            f"    {x} = np.asarray({x}, dtype=float)\n"
            f"    if {x}.ndim == 1:\n"
            f"        {x} = {x} - np.max({x})\n"
            f"        return np.exp({x}) / np.sum(np.exp({x}))\n"
            f"    return np.array([np.exp({r} - {r}.max()) / np.exp({r} - {r}.max()).sum() for {r} in {x}])\n")


# ------------------------------------------------------------------ sigmoid, sigmoid_grad

def sigmoid_plain(rng):
    x = _n(rng, "x")
    body = _c(rng, f"1 / (1 + np.exp(-{x}))", f"1.0 / (1.0 + np.exp(-{x}))", f"np.reciprocal(1 + np.exp(-{x}))")
    if rng.random() < 0.5:
        out = _n(rng, "out")
        return f"def sigmoid({x}):\n    {out} = {body}\n    return {out}\n"
    return f"def sigmoid({x}):\n    return {body}\n"


def sigmoid_tanh(rng):
    x = _n(rng, "x")
    return f"def sigmoid({x}):\n    return 0.5 * (1 + np.tanh({_c(rng, '0.5', '1 / 2')} * {x}))\n"


def sigmoid_stable(rng):
    x, out = _n(rng, "x"), _n(rng, "out")
    return (f"def sigmoid({x}):\n"
            f"    {x} = np.asarray({x}, dtype=float)\n"
            f"    {out} = np.empty_like({x})\n"
            f"    pos = {x} >= 0\n"
            f"    {out}[pos] = 1 / (1 + np.exp(-{x}[pos]))\n"
            f"    ez = np.exp({x}[~pos])\n"
            f"    {out}[~pos] = ez / (1 + ez)\n"
            f"    return {out}\n")


def sigmoid_loop(rng):
    x, out, i = _n(rng, "x"), _n(rng, "out"), _n(rng, "i")
    return (f"def sigmoid({x}):\n"
            f"    {x} = np.asarray({x}, dtype=float)\n"
            f"    {out} = np.zeros({x}.shape)\n"
            f"    for {i} in np.ndindex({x}.shape):\n"
            f"        {out}[{i}] = 1 / (1 + math.exp(-{x}[{i}]))\n"
            f"    return {out}\n")


def sigmoid_exp_ratio(rng):
    x = _n(rng, "x")
    return f"def sigmoid({x}):\n    return np.exp({x}) / (1 + np.exp({x}))\n"


def sigmoid_grad_plain(rng):
    s = _c(rng, "s", "f", "sig", "y", "a")
    body = _c(rng, f"{s} * (1 - {s})", f"(1 - {s}) * {s}", f"{s} - {s} ** 2", f"{s} - {s} * {s}", f"np.multiply({s}, 1 - {s})")
    if rng.random() < 0.4:
        return f"def sigmoid_grad({s}):\n    ds = {body}\n    return ds\n"
    return f"def sigmoid_grad({s}):\n    return {body}\n"


def sigmoid_grad_bug(rng):
    s = _c(rng, "s", "f", "x")
    return f"def sigmoid_grad({s}):\n    return sigmoid({s}) * (1 - sigmoid({s}))\n"


# ------------------------------------------------------------------ gradcheck_naive

_GC_HEAD = ('def gradcheck_naive(f, x):\n'
            '    """Check the gradient f returns against central differences."""\n'
            '    rndstate = random.getstate()\n'
            '    random.setstate(rndstate)\n'
            '    fx, grad = f(x)\n'
            '    h = 1e-4  # do not change this\n\n'
            '    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])\n'
            '    while not it.finished:\n'
            '        ix = it.multi_index\n')
_GC_TAIL = ('        it.iternext()\n\n'
            '    print("Gradient check passed!")\n')
_GC_FAIL = ('            print("Gradient check failed.")\n'
            '            print("First gradient error found at index %s" % str(ix))\n'
            '            print("Your gradient: %f \\t Numerical gradient: %f" % (grad[ix], numgrad))\n'
            '            return\n')


def gradcheck_textbook(rng):
    tmp = _n(rng, "tmp")
    plus, minus = _c(rng, ("fplus", "fminus"), ("f_plus", "f_minus"), ("fxph", "fxmh"), ("up", "down"))
    rel = _c(rng, "reldiff", "rel_error", "err", "diff")
    return (_GC_HEAD +
            f"        {tmp} = x[ix]\n"
            f"        x[ix] = {tmp} + h\n"
            f"        random.setstate(rndstate)\n"
            f"        {plus} = f(x)[0]\n"
            f"        x[ix] = {tmp} - h\n"
            f"        random.setstate(rndstate)\n"
            f"        {minus} = f(x)[0]\n"
            f"        x[ix] = {tmp}\n"
            f"        numgrad = ({plus} - {minus}) / (2 * h)\n\n"
            f"        {rel} = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))\n"
            f"        if {rel} > 1e-5:\n" + _GC_FAIL + _GC_TAIL)


def gradcheck_copy_arrays(rng):
    xp, xm = _c(rng, ("xp", "xm"), ("x_plus", "x_minus"), ("xh1", "xh2"))
    return (_GC_HEAD +
            f"        {xp} = x.copy()\n"
            f"        {xp}[ix] += h\n"
            f"        {xm} = x.copy()\n"
            f"        {xm}[ix] -= h\n"
            f"        random.setstate(rndstate)\n"
            f"        a = f({xp})[0]\n"
            f"        random.setstate(rndstate)\n"
            f"        b = f({xm})[0]\n"
            f"        numgrad = (a - b) / {_c(rng, '(2 * h)', '(2.0 * h)', 'h / 2')}\n"
            f"        reldiff = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))\n"
            f"        if reldiff > 1e-5:\n" + _GC_FAIL + _GC_TAIL)


def gradcheck_helper(rng):
    helper = _c(rng, "eval_at", "f_at", "probe", "cost_at")
    return (f"def {helper}(f, x, ix, value, state):\n"
            f"    old = x[ix]\n"
            f"    x[ix] = value\n"
            f"    random.setstate(state)\n"
            f"    out = f(x)[0]\n"
            f"    x[ix] = old\n"
            f"    return out\n\n\n" + _GC_HEAD +
            f"        numgrad = ({helper}(f, x, ix, x[ix] + h, rndstate) - {helper}(f, x, ix, x[ix] - h, rndstate)) / (2 * h)\n"
            f"        reldiff = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))\n"
            f"        if reldiff > 1e-5:\n" + _GC_FAIL + _GC_TAIL)


def gradcheck_no_setstate_bug(rng):
    tmp = _n(rng, "tmp")
    return (_GC_HEAD +
            f"        {tmp} = x[ix]\n"
            f"        x[ix] = {tmp} + h\n"
            f"        fp = f(x)[0]\n"
            f"        x[ix] = {tmp} - h\n"
            f"        fm = f(x)[0]\n"
            f"        x[ix] = {tmp}\n"
            f"        numgrad = (fp - fm) / (2 * h)\n"
            f"        reldiff = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))\n"
            f"        if reldiff > 1e-5:\n" + _GC_FAIL + _GC_TAIL)


def gradcheck_np_functions(rng):
    tmp = _n(rng, "tmp")
    return (_GC_HEAD +
            f"        {tmp} = float(x[ix])\n"
            f"        np.put(x, np.ravel_multi_index(ix, x.shape), {tmp} + h)\n"
            f"        random.setstate(rndstate)\n"
            f"        hi = f(x)[0]\n"
            f"        np.put(x, np.ravel_multi_index(ix, x.shape), {tmp} - h)\n"
            f"        random.setstate(rndstate)\n"
            f"        lo = f(x)[0]\n"
            f"        np.put(x, np.ravel_multi_index(ix, x.shape), {tmp})\n"
            f"        numgrad = np.divide(hi - lo, 2 * h)\n"
            f"        reldiff = np.abs(numgrad - grad[ix]) / np.max([1, np.abs(numgrad), np.abs(grad[ix])])\n"
            f"        if reldiff > 1e-5:\n" + _GC_FAIL + _GC_TAIL)


def gradcheck_forward_diff_bug(rng):
    return (_GC_HEAD +
            f"        x[ix] += h\n"
            f"        random.setstate(rndstate)\n"
            f"        fxh = f(x)[0]\n"
            f"        x[ix] -= h\n"
            f"        numgrad = (fxh - fx) / h\n"
            f"        reldiff = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))\n"
            f"        if reldiff > {_c(rng, '1e-5', '0.00001')}:\n" + _GC_FAIL + _GC_TAIL)


# ------------------------------------------------------------------ forward_backward_prop

_FB_HEAD = ('def forward_backward_prop(data, labels, params, dimensions):\n'
            '    """Cost and gradient of a sigmoid-hidden, softmax-output network."""\n'
            '    Dx, H, Dy = dimensions\n'
            '    ofs = 0\n'
            '    W1 = np.reshape(params[ofs:ofs + Dx * H], (Dx, H))\n'
            '    ofs += Dx * H\n'
            '    b1 = np.reshape(params[ofs:ofs + H], (1, H))\n'
            '    ofs += H\n'
            '    W2 = np.reshape(params[ofs:ofs + H * Dy], (H, Dy))\n'
            '    ofs += H * Dy\n'
            '    b2 = np.reshape(params[ofs:ofs + Dy], (1, Dy))\n\n')
_FB_TAIL = ('\n    grad = np.concatenate((gradW1.flatten(), gradb1.flatten(),\n'
            '                           gradW2.flatten(), gradb2.flatten()))\n'
            '    return cost, grad\n')


def _fb_names(rng):
    return (_c(rng, "h", "hidden", "a1", "z1s", "act"), _c(rng, "yhat", "probs", "a2", "pred", "out"),
            _c(rng, "delta", "d2", "err", "dscores", "dz2"), _c(rng, "dh", "d1", "delta1", "dhidden", "dz1"))


def fb_dot(rng):
    h, y, d2, d1 = _fb_names(rng)
    cost = _c(rng, f"-np.sum(labels * np.log({y}))", f"-np.sum(np.log({y}[labels == 1]))",
              f"-np.sum(labels * np.log({y} + 1e-12))")
    gb2 = _c(rng, f"np.sum({d2}, axis=0, keepdims=True)", f"{d2}.sum(axis=0, keepdims=True)", f"np.sum({d2}, axis=0)")
    gb1 = _c(rng, f"np.sum({d1}, axis=0, keepdims=True)", f"{d1}.sum(axis=0)")
    return (_FB_HEAD +
            f"    {h} = sigmoid(data.dot(W1) + b1)\n"
            f"    {y} = softmax({h}.dot(W2) + b2)\n"
            f"    cost = {cost}\n\n"
            f"    {d2} = {y} - labels\n"
            f"    gradW2 = {h}.T.dot({d2})\n"
            f"    gradb2 = {gb2}\n"
            f"    {d1} = {d2}.dot(W2.T) * sigmoid_grad({h})\n"
            f"    gradW1 = data.T.dot({d1})\n"
            f"    gradb1 = {gb1}\n" + _FB_TAIL)


def fb_matmul(rng):
    h, y, d2, d1 = _fb_names(rng)
    z1, z2 = _c(rng, ("z1", "z2"), ("s1", "s2"), ("pre1", "pre2"))
    return (_FB_HEAD +
            f"    {z1} = data @ W1 + b1\n"
            f"    {h} = sigmoid({z1})\n"
            f"    {z2} = {h} @ W2 + b2\n"
            f"    {y} = softmax({z2})\n"
            f"    cost = -np.sum(np.multiply(labels, np.log({y})))\n"
            f"    {d2} = {y} - labels\n"
            f"    {d1} = ({d2} @ W2.T) * {_c(rng, f'{h} * (1 - {h})', f'sigmoid_grad({h})')}\n"
            f"    gradW2 = {h}.T @ {d2}\n"
            f"    gradb2 = {d2}.sum(0, keepdims=True)\n"
            f"    gradW1 = data.T @ {d1}\n"
            f"    gradb1 = {d1}.sum(0, keepdims=True)\n" + _FB_TAIL)


def fb_np_functions(rng):
    h, y, d2, d1 = _fb_names(rng)
    return (_FB_HEAD +
            f"    {h} = sigmoid(np.add(np.dot(data, W1), b1))\n"
            f"    {y} = softmax(np.add(np.dot({h}, W2), b2))\n"
            f"    cost = np.sum(-np.log(np.sum({y} * labels, axis=1)))\n"
            f"    {d2} = np.subtract({y}, labels)\n"
            f"    gradW2 = np.dot(np.transpose({h}), {d2})\n"
            f"    gradb2 = np.sum({d2}, axis=0)\n"
            f"    {d1} = np.multiply(np.dot({d2}, np.transpose(W2)), sigmoid_grad({h}))\n"
            f"    gradW1 = np.dot(np.transpose(data), {d1})\n"
            f"    gradb1 = np.sum({d1}, axis=0)\n" + _FB_TAIL)


def fb_helpers(rng):
    h, y, d2, d1 = _fb_names(rng)
    fw, bw = _c(rng, ("forward", "backward"), ("_fwd", "_bwd"), ("layer_forward", "layer_backward"))
    return (f"def {fw}(data, W1, b1, W2, b2):\n"
            f"    {h} = sigmoid(data.dot(W1) + b1)\n"
            f"    return {h}, softmax({h}.dot(W2) + b2)\n\n\n"
            f"def {bw}(data, labels, {h}, {y}, W2):\n"
            f"    {d2} = {y} - labels\n"
            f"    {d1} = {d2}.dot(W2.T) * sigmoid_grad({h})\n"
            f"    return data.T.dot({d1}), {d1}.sum(axis=0), {h}.T.dot({d2}), {d2}.sum(axis=0)\n\n\n" +
            _FB_HEAD +
            f"    {h}, {y} = {fw}(data, W1, b1, W2, b2)\n"
            f"    cost = -np.sum(labels * np.log({y}))\n"
            f"    gradW1, gradb1, gradW2, gradb2 = {bw}(data, labels, {h}, {y}, W2)\n" + _FB_TAIL)


def fb_loop_examples(rng):
    h, y, d2, d1 = _fb_names(rng)
    n = _c(rng, "n", "i", "ex", "t")
    return (_FB_HEAD +
            f"    cost = 0.0\n"
            f"    gradW1 = np.zeros_like(W1)\n"
            f"    gradb1 = np.zeros_like(b1)\n"
            f"    gradW2 = np.zeros_like(W2)\n"
            f"    gradb2 = np.zeros_like(b2)\n"
            f"    for {n} in range(data.shape[0]):\n"
            f"        xi = data[{n}:{n} + 1]\n"
            f"        {h} = sigmoid(xi.dot(W1) + b1)\n"
            f"        {y} = softmax({h}.dot(W2) + b2)\n"
            f"        cost -= np.sum(labels[{n}] * np.log({y}))\n"
            f"        {d2} = {y} - labels[{n}:{n} + 1]\n"
            f"        gradW2 += {h}.T.dot({d2})\n"
            f"        gradb2 += {d2}\n"
            f"        {d1} = {d2}.dot(W2.T) * sigmoid_grad({h})\n"
            f"        gradW1 += xi.T.dot({d1})\n"
            f"        gradb1 += {d1}\n" + _FB_TAIL)


def fb_mean_bug(rng):
    h, y, d2, d1 = _fb_names(rng)
    N = _c(rng, "N", "m", "batch", "num")
    return (_FB_HEAD +
            f"    {N} = data.shape[0]\n"
            f"    {h} = sigmoid(np.dot(data, W1) + b1)\n"
            f"    {y} = softmax(np.dot({h}, W2) + b2)\n"
            f"    cost = -np.sum(labels * np.log({y})) / {N}\n"
            f"    {d2} = ({y} - labels)\n"
            f"    gradW2 = np.dot({h}.T, {d2})\n"
            f"    gradb2 = np.sum({d2}, axis=0)\n"
            f"    {d1} = np.dot({d2}, W2.T) * sigmoid_grad({h})\n"
            f"    gradW1 = np.dot(data.T, {d1})\n"
            f"    gradb1 = np.sum({d1}, axis=0)\n" + _FB_TAIL)


IMPLEMENTATIONS = {
    "softmax": [softmax_vector, softmax_ndim_branch, softmax_rows_loop, softmax_helper,
                softmax_logsumexp, softmax_transpose, softmax_no_shift_bug, softmax_list_comp],
    "sigmoid": [sigmoid_plain, sigmoid_tanh, sigmoid_stable, sigmoid_loop, sigmoid_exp_ratio],
    "sigmoid_grad": [sigmoid_grad_plain, sigmoid_grad_bug],
    "gradcheck_naive": [gradcheck_textbook, gradcheck_copy_arrays, gradcheck_helper,
                        gradcheck_no_setstate_bug, gradcheck_np_functions, gradcheck_forward_diff_bug],
    "forward_backward_prop": [fb_dot, fb_matmul, fb_np_functions, fb_helpers, fb_loop_examples, fb_mean_bug],
}
MODULES = {"softmax": "q1_softmax", "sigmoid": "q2_sigmoid", "sigmoid_grad": "q2_sigmoid",
           "gradcheck_naive": "q2_gradcheck", "forward_backward_prop": "q2_neural"}
IMPORTS = {"q1_softmax": "import numpy as np\n",
           "q2_sigmoid": "import math\n\nimport numpy as np\n",
           "q2_gradcheck": "import random\n\nimport numpy as np\n",
           "q2_neural": "import numpy as np\n\nfrom q1_softmax import softmax\nfrom q2_sigmoid import sigmoid, sigmoid_grad\n"}


CHECKS = ["{p} = np.asarray({p})", "assert {p} is not None", "{p} = np.array({p}, dtype=float)",
          "if not isinstance({p}, np.ndarray):\n        {p} = np.array({p})",
          "assert isinstance({p}, np.ndarray)", "{p} = np.asarray({p}, dtype=np.float64)",
          "assert np.all(np.isfinite({p}))", "{p} = {p}.astype(float)"]
DEBUG = ["print({p}.shape)", "print('debug', {p})", "print(type({p}))", "# print({p})"]


def _style(text: str, name: str, rng: random.Random) -> str:
    """What independent students add of their own: an input check or cast at the top, a debug
    print left in."""
    tree = ast.parse(text)
    func = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == name)
    param = func.args.args[0].arg
    lines = text.splitlines(keepends=True)
    first = func.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(func.body) > 1:
        first = func.body[1]
    inserts = []
    if rng.random() < 0.5:
        inserts.append((first.lineno, "    " + rng.choice(CHECKS).format(p=param) + "\n"))
    if rng.random() < 0.25:
        inserts.append((rng.choice(func.body).lineno, "    " + rng.choice(DEBUG).format(p=param) + "\n"))
    for lineno, line in sorted(inserts, reverse=True):
        lines.insert(lineno - 1, line)
    return "".join(lines)


# Equivalent spellings a student picks occurrence by occurrence (each survives normalisation:
# they are different code, only the same arithmetic).
_DOT = re.compile(r"(?<![\w.])(\w+(?:\.T)?)\.dot\(([\w.]+)\)")
_NPDOT = re.compile(r"np\.dot\(([\w.]+), ([\w.]+)\)")
_TRANSPOSE = re.compile(r"(?<![\w.])(\w+)\.T\b(?!\.dot)")
_NPSUM = re.compile(r"np\.sum\((\w+), axis=(-?\d)")
_ABS = re.compile(r"(?<![\w.])abs\(")
_TWO_H = re.compile(r"\(2 \* h\)")


def _vary(text: str, rng: random.Random) -> str:
    text = _DOT.sub(lambda m: rng.choice([m.group(0), f"np.dot({m[1]}, {m[2]})", f"{m[1]} @ {m[2]}"]), text)
    text = _NPDOT.sub(lambda m: rng.choice([m.group(0), f"{m[1]}.dot({m[2]})", f"np.matmul({m[1]}, {m[2]})"]), text)
    text = _TRANSPOSE.sub(lambda m: rng.choice([m.group(0), m.group(0), f"np.transpose({m[1]})", f"{m[1]}.transpose()"]), text)
    text = _NPSUM.sub(lambda m: rng.choice([m.group(0), f"{m[1]}.sum(axis={m[2]}"]), text)
    text = _ABS.sub(lambda m: rng.choice(["abs(", "np.abs(", "np.absolute("]), text)
    text = _TWO_H.sub(lambda m: rng.choice(["(2 * h)", "(2.0 * h)", "(h * 2)", "(h + h)"]), text)
    return text


def student_code(rng: random.Random) -> dict[str, str]:
    """Function name -> source (helpers included) for one independent student."""
    code = {}
    for name, impls in IMPLEMENTATIONS.items():
        text = _style(_vary(rng.choice(impls)(rng), rng), name, rng)
        if rng.random() < 0.4:  # a docstring of the student's own
            text = re.sub(r"(def " + name + r"\([^)]*\):\n)(?!    \"\"\")",
                          lambda m: m.group(1) + f'    """{rng.choice(["my", "the", "a"])} {name}"""\n', text, count=1)
        code[name] = text
    return code


def write_student(folder: str, code: dict[str, str], layout: str) -> str:
    """Write one student's code as ``layout`` (modules / single / notebook); returns the path."""
    if layout == "modules":
        os.makedirs(folder, exist_ok=True)
        files: dict[str, list[str]] = {}
        for name, text in code.items():
            files.setdefault(MODULES[name], []).append(text)
        for module, texts in files.items():
            with open(os.path.join(folder, module + ".py"), "w", encoding="utf-8") as handle:
                handle.write(IMPORTS[module] + "\n\n" + "\n\n".join(texts))
        return folder
    header = "import math\nimport random\n\nimport numpy as np\n"
    if layout == "single":
        path = folder + ".py"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(header + "\n\n" + "\n\n".join(code.values()))
        return path
    path = folder + ".ipynb"
    cells = [header] + list(code.values()) + ["print(softmax(np.array([[1001, 1002], [3, 4]])))\n"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                           "id": f"c{i}", "source": cell} for i, cell in enumerate(cells)]}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(notebook, handle)
    return path


# ------------------------------------------------------------------ disguises (source to source)

def _functions(tree: ast.AST) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def rename(code: str, rng: random.Random) -> str:
    """Every local name, parameter and helper function renamed, in place (layout kept)."""
    tree = ast.parse(code)
    required = set(IMPLEMENTATIONS)
    defined = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)} - required
    mapping = {name: f"{rng.choice(['my', 'the', 'v', 'tmp', 'q'])}_{name.lower()}_{rng.randrange(99)}" for name in defined}
    spans = []
    for func in _functions(tree):
        local = {a.arg for a in func.args.args} | {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for name in local:
            mapping.setdefault(name, f"{rng.choice(['val', 'w', 'arr', 'res', 'q'])}{rng.randrange(1000)}_{len(mapping)}")
        for node in ast.walk(func):
            if isinstance(node, ast.Name) and (node.id in local or node.id in defined):
                spans.append((node.lineno, node.col_offset, node.end_col_offset, mapping[node.id]))
            elif isinstance(node, ast.arg) and node.arg in local:
                spans.append((node.lineno, node.col_offset, node.col_offset + len(node.arg), mapping[node.arg]))
    lines = code.splitlines(keepends=True)
    for func in tree.body:
        if isinstance(func, ast.FunctionDef) and func.name in defined:
            line = lines[func.lineno - 1]
            col = line.index("def " + func.name) + 4
            spans.append((func.lineno, col, col + len(func.name), mapping[func.name]))
    for lineno, start, end, new in sorted(set(spans), reverse=True):
        line = lines[lineno - 1]
        lines[lineno - 1] = line[:start] + new + line[end:]
    return "".join(lines)


def reformat(code: str, rng: random.Random) -> str:
    """Re-laid out by ``ast.unparse`` (quotes, parentheses, spacing, blank lines; comments go)."""
    return ast.unparse(ast.parse(code)) + "\n"


def comments(code: str, rng: random.Random) -> str:
    """Existing comments removed, new ones added."""
    out = []
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    comment_lines = {t.start[0]: t.start[1] for t in tokens if t.type == tokenize.COMMENT}
    for number, line in enumerate(code.splitlines(), start=1):
        if number in comment_lines:
            line = line[: comment_lines[number]].rstrip()
            if not line.strip():
                continue
        stripped = line.strip()
        if stripped and rng.random() < 0.3 and not stripped.startswith(("\"", "'")) and not line.rstrip().endswith(("\\", ",", "(")):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# {rng.choice(['compute', 'step', 'now', 'here we go', 'update the value'])}")
        out.append(line)
    return "\n".join(out) + "\n"


def _simple_reads_writes(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    reads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    writes = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            inner = node.value
            while isinstance(inner, (ast.Subscript, ast.Attribute)):
                inner = inner.value
            if isinstance(inner, ast.Name):
                writes.add(inner.id)
    return reads, writes


def reorder(code: str, rng: random.Random) -> str:
    """Adjacent independent assignments swapped (their lines exchanged)."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    swaps = []
    for func in _functions(tree):
        for block in [func.body] + [n.body for n in ast.walk(func) if isinstance(n, (ast.If, ast.For, ast.While)) and n is not func]:
            i = 0
            while i < len(block) - 1:
                a, b = block[i], block[i + 1]
                if all(isinstance(s, (ast.Assign, ast.AugAssign)) for s in (a, b)) and a.end_lineno < b.lineno:
                    ra, wa = _simple_reads_writes(a)
                    rb, wb = _simple_reads_writes(b)
                    has_call = any(isinstance(n, ast.Call) and not (isinstance(n.func, ast.Attribute)) and getattr(n.func, "id", "") not in ("len", "max", "abs", "sum", "float")
                                   for s in (a, b) for n in ast.walk(s)) and ("random" in ast.unparse(a) + ast.unparse(b) or "f(" in ast.unparse(a) + ast.unparse(b))
                    if not (wa & (rb | wb) or ra & wb or has_call) and b.end_lineno == b.lineno and a.end_lineno == a.lineno:
                        swaps.append((a.lineno, b.lineno))
                        i += 2
                        continue
                i += 1
    if not swaps:
        return code
    for la, lb in swaps:
        lines[la - 1], lines[lb - 1] = lines[lb - 1], lines[la - 1]
    return "".join(lines)


DEAD = ["{v} = {p} * 2", "_unused = len({p}) if hasattr({p}, '__len__') else 0", "debug = False",
        "if False:\n{i}    print('debug', {p})", "{v} = np.zeros(3)", "pass"]


def deadcode(code: str, rng: random.Random) -> str:
    """Statements that change nothing inserted into every function body."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    inserts = []
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef) or not func.args.args:
            continue
        body = func.body[1:] if isinstance(func.body[0], ast.Expr) and isinstance(func.body[0].value, ast.Constant) and len(func.body) > 1 else func.body
        for _ in range(rng.randint(1, 2)):
            target = rng.choice(body)
            indent = lines[target.lineno - 1][: len(lines[target.lineno - 1]) - len(lines[target.lineno - 1].lstrip())]
            template = rng.choice(DEAD)
            text = template.format(v=f"unused_{rng.randrange(100)}", p=func.args.args[0].arg, i=indent)
            inserts.append((target.lineno, indent + text + "\n"))
    for lineno, text in sorted(inserts, reverse=True):
        lines.insert(lineno - 1, text)
    return "".join(lines)


def vector_to_loop(code: str, rng: random.Random) -> str:
    """An element-wise vectorised line turned into a loop over rows: ``return 1 / (1 + np.exp(-x))``
    becomes ``out = np.empty_like(x)``, ``for i in range(len(x)): out[i] = 1 / (1 + np.exp(-x[i]))``."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef) or func.name not in ("sigmoid", "sigmoid_grad") or not func.args.args:
            continue
        param = func.args.args[0].arg
        for stmt in func.body:
            value = stmt.value if isinstance(stmt, (ast.Return, ast.Assign)) else None
            if (not isinstance(value, ast.BinOp) or (isinstance(stmt, ast.Assign) and ast.unparse(stmt.targets[0]) == param)
                    or not any(isinstance(n, ast.Name) and n.id == param for n in ast.walk(value))):
                continue
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) for n in ast.walk(value)) or stmt.lineno != stmt.end_lineno:
                continue
            indent = lines[stmt.lineno - 1][: len(lines[stmt.lineno - 1]) - len(lines[stmt.lineno - 1].lstrip())]
            expr = re.sub(rf"(?<![\w.]){re.escape(param)}(?!\w)", f"{param}[k]", ast.unparse(value))
            target = "out_arr" if isinstance(stmt, ast.Return) else ast.unparse(stmt.targets[0])
            new = (f"{indent}{target} = np.empty_like({param}, dtype=float)\n"
                   f"{indent}for k in range(len({param})):\n"
                   f"{indent}    {target}[k] = {expr}\n")
            if isinstance(stmt, ast.Return):
                new += f"{indent}return {target}\n"
            lines[stmt.lineno - 1] = new
            break
    return "".join(lines)


DISGUISES = {"rename": rename, "reformat": reformat, "comments": comments, "reorder": reorder,
             "deadcode": deadcode, "loop": vector_to_loop}


def disguise(code: dict[str, str], names: list[str], rng: random.Random) -> dict[str, str]:
    out = {}
    for function, text in code.items():
        for name in names:
            text = DISGUISES[name](text, rng)
        out[function] = text
    return out


def make_class(folder: str, students: int, copies: list[list[str]], seed: int = 0) -> dict:
    """Write ``students`` independent students and one planted copy per entry of ``copies``
    (the disguises applied to it) into ``folder``; returns the truth: layouts and planted pairs."""
    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    codes = {}
    layouts = {}
    for index in range(students):
        sid = f"s{index:04d}"
        codes[sid] = student_code(rng)
        layouts[sid] = rng.choices(["modules", "single", "notebook"], weights=[5, 2, 3])[0]
        write_student(os.path.join(folder, sid), codes[sid], layouts[sid])
    planted = []
    originals = rng.sample(sorted(codes), len(copies))
    for index, (original, names) in enumerate(zip(originals, copies)):
        sid = f"c{index:04d}"
        layout = rng.choice(["modules", "single", "notebook"])
        write_student(os.path.join(folder, sid), disguise(codes[original], names, rng), layout)
        planted.append({"original": original, "copy": sid, "disguises": names})
    return {"planted": planted, "layouts": layouts}
