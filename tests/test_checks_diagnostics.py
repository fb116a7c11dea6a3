"""Every diagnostic of the nn_basics checks, triggered by a real student-style submission graded
through the real CLI (sandboxed worker and all): the bug costs points in its own problem only,
and the feedback of that problem says which bug it is.

Each case is the reference solution with one module replaced by a buggy one written the way
students write it (not copied from the mutants, so the diagnostics are tested on fresh code).
"""

from __future__ import annotations

import shutil
import textwrap

import pytest

from conftest import ROOT, grade

REFERENCE = ROOT / "reference_solutions" / "nn_basics"

SOFTMAX_HEAD = "import numpy as np\n\n\ndef softmax(x):\n"
SIGMOID_HEAD = "import numpy as np\n\n\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n\n\n"
GRADCHECK = '''
import random

import numpy as np


def gradcheck_naive(f, x):
    rndstate = random.getstate()
    random.setstate(rndstate)
    fx, grad = f(x)
    h = {h}
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        {body}
        reldiff = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))
        if reldiff > 1e-5:
            {fail}
            return
        it.iternext()
    {ok}
'''
CENTRAL = """old = x[ix]
        x[ix] = old + h
        random.setstate(rndstate)
        fxph = f(x)[0]
        x[ix] = old - h
        random.setstate(rndstate)
        fxmh = f(x)[0]
        x[ix] = old
        numgrad = (fxph - fxmh) / (2 * h)"""


def gradcheck(body=CENTRAL, h="1e-4", fail='print("Gradient check failed.")',
              ok='print("Gradient check passed!")'):
    return GRADCHECK.format(body=body, h=h, fail=fail, ok=ok)


NEURAL = '''
import numpy as np

from q1_softmax import softmax
from q2_sigmoid import sigmoid, sigmoid_grad


def forward_backward_prop(data, labels, params, dimensions):
    ofs = 0
    Dx, H, Dy = (dimensions[0], dimensions[1], dimensions[2])
    W1 = np.reshape(params[ofs:ofs + Dx * H], (Dx, H))
    ofs += Dx * H
    b1 = np.reshape(params[ofs:ofs + H], (1, H))
    ofs += H
    W2 = np.reshape(params[ofs:ofs + H * Dy], (H, Dy))
    ofs += H * Dy
    b2 = np.reshape(params[ofs:ofs + Dy], (1, Dy))

    h = sigmoid(np.dot(data, W1) + b1)
    y_hat = softmax(np.dot(h, W2) + b2)
    cost = {cost}
    d3 = {d3}
    gradW2 = {gradW2}
    gradb2 = {gradb2}
    d2 = np.dot(d3, W2.T) * {sig_grad}
    gradW1 = np.dot(data.T, d2)
    gradb1 = np.sum(d2, axis=0)
    grad = np.concatenate((gradW1.flatten(), gradb1.flatten(), {flatW2}, gradb2.flatten()))
    return cost, grad
'''


def neural(cost="-np.sum(labels * np.log(y_hat))", d3="y_hat - labels", gradW2="np.dot(h.T, d3)",
           gradb2="np.sum(d3, axis=0)", sig_grad="sigmoid_grad(h)", flatW2="gradW2.flatten()"):
    return NEURAL.format(cost=cost, d3=d3, gradW2=gradW2, gradb2=gradb2, sig_grad=sig_grad, flatW2=flatW2)


CASES = {
    "overflow_without_max": ("softmax", "q1_softmax.py", SOFTMAX_HEAD + textwrap.indent(textwrap.dedent("""
        e = np.exp(x)
        if x.ndim == 1:
            return e / np.sum(e)
        return e / np.sum(e, axis=1, keepdims=True)
        """), "    "), "without subtracting the max"),
    "wrong_axis": ("softmax", "q1_softmax.py", SOFTMAX_HEAD + textwrap.indent(textwrap.dedent("""
        if x.ndim == 1:
            e = np.exp(x - np.max(x))
            return e / e.sum()
        e = np.exp(x - np.max(x, axis=0))
        return e / e.sum(axis=0)
        """), "    "), "normalised over the wrong axis"),
    "row_for_1d": ("softmax", "q1_softmax.py", SOFTMAX_HEAD + textwrap.indent(textwrap.dedent("""
        x = np.atleast_2d(x)
        e = np.exp(x - np.max(x, axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
        """), "    "), "shape (1, N) came back"),
    "epsilon_in_denominator": ("softmax", "q1_softmax.py", SOFTMAX_HEAD + textwrap.indent(textwrap.dedent("""
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / (e.sum(axis=-1, keepdims=True) + 1e-10)
        """), "    "), "epsilon in the denominator"),
    "sigmoid_grad_of_x": ("sigmoid_grad", "q2_sigmoid.py", SIGMOID_HEAD +
                          "def sigmoid_grad(s):\n    return sigmoid(s) * (1 - sigmoid(s))\n",
                          "given s = sigmoid(x), not x"),
    "forward_difference": ("gradcheck_naive", "q2_gradcheck.py", gradcheck(body="""old = x[ix]
        x[ix] = old + h
        random.setstate(rndstate)
        fxph = f(x)[0]
        x[ix] = old
        numgrad = (fxph - fx) / h"""), "a forward difference or a changed h"),
    "changed_h": ("gradcheck_naive", "q2_gradcheck.py", gradcheck(h="1e-3"),
                  "a forward difference or a changed h"),
    "random_state_not_reset": ("gradcheck_naive", "q2_gradcheck.py",
                               gradcheck(body=CENTRAL.replace("        random.setstate(rndstate)\n", "")),
                               "random state is not reset before each call of f"),
    "x_not_restored": ("gradcheck_naive", "q2_gradcheck.py", gradcheck(body="""x[ix] += h
        random.setstate(rndstate)
        fxph = f(x)[0]
        x[ix] -= 2 * h
        random.setstate(rndstate)
        fxmh = f(x)[0]
        numgrad = (fxph - fxmh) / (2 * h)"""), "x was not restored"),
    "prints_nothing": ("gradcheck_naive", "q2_gradcheck.py", gradcheck(fail="return False", ok="return True"),
                       "printed nothing"),
    "dW2_flattened_transposed": ("forward_backward_prop", "q2_neural.py",
                                 neural(gradW2="np.dot(d3.T, h)"), "dW2 is flattened transposed"),
    "bias_not_summed": ("forward_backward_prop", "q2_neural.py", neural(gradb2="d3"),
                        "the b2 gradient has"),
    "cost_mean_gradient_sum": ("forward_backward_prop", "q2_neural.py",
                               neural(cost="-np.mean(np.sum(labels * np.log(y_hat), axis=1))"),
                               "the cost is averaged over the examples but the gradient is summed"),
    "cost_sum_gradient_mean": ("forward_backward_prop", "q2_neural.py",
                               neural(d3="(y_hat - labels) / data.shape[0]"),
                               "the cost is summed over the examples but the gradient is averaged"),
    "gradient_disagrees_with_cost": ("forward_backward_prop", "q2_neural.py",
                                     neural(sig_grad="sigmoid_grad(np.dot(data, W1) + b1)"),
                                     "the gradient disagrees with its own cost"),
    "np_float_removed": ("forward_backward_prop", "q2_neural.py",
                         neural(cost="-np.sum(labels * np.log(y_hat)).astype(np.float)"),
                         "np.float, np.int and friends were removed in NumPy 1.24"),
}


def submission_with(tmp_path, module, source):
    folder = tmp_path / "submission"
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / module).write_text(source)
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_bug_is_named_in_its_problem_only(case, tmp_path):
    problem, module, source, message = CASES[case]
    report, done = grade(submission_with(tmp_path, module, source), tmp_path)
    lost_in = sorted(name for name, p in report["problems"].items() if p["score"] < p["max_score"])
    assert lost_in == [problem], f"{case} lost points in {lost_in}"
    lost = [t["output"] for t in report["tests"] if t["tags"] == [problem] and t["status"] == "failed"]
    assert any(message in output for output in lost), "\n---\n".join(lost)
    assert message in done.stdout  # the terminal shows the same feedback
    assert done.returncode == 1


def test_verdict_in_any_case_or_as_assertion_error_is_accepted(tmp_path):
    """A checker that raises AssertionError for a failure and shouts its pass keeps full marks."""
    source = gradcheck(fail='raise AssertionError("GRADIENT CHECK FAILED at %s" % str(ix))',
                       ok='print("GRADIENT CHECK PASSED")')
    report, done = grade(submission_with(tmp_path, "q2_gradcheck.py", source), tmp_path)
    assert report["score"] == report["max_score"], done.stdout
    assert done.returncode == 0


def test_hints_are_not_given_for_a_bug_they_do_not_name(tmp_path):
    """A checker with a forward difference fails the random-number check too, but the feedback
    does not blame the random state (the control case without randomness fails as well)."""
    _, module, source, _ = CASES["forward_difference"]
    report, _ = grade(submission_with(tmp_path, module, source), tmp_path)
    outputs = " ".join(t["output"] for t in report["tests"] if t["tags"] == ["gradcheck_naive"])
    assert "a forward difference or a changed h" in outputs
    assert "random state is not reset" not in outputs
