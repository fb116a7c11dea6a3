"""Objects of a student's class live in the worker; checks hold handles, never the objects."""

from __future__ import annotations

from conftest import grade, make_assignment, write_folder


CHECKS = '''
import numpy as np
import pytest

from grader.checks import assert_close


@pytest.mark.problem("layer", points=1)
def test_forward_with_weights_set_by_the_check(submission, reference):
    """forward uses the weights it holds"""
    layer = submission.Layer(3, 2)
    W = np.arange(6.0).reshape(3, 2)
    layer.W = W
    x = np.ones((4, 3))
    assert_close(layer.forward(x), x @ W)
    assert_close(layer.W, W)


@pytest.mark.problem("layer", points=1)
def test_backward_sets_gradient_attributes(submission):
    """backward stores dW on the object"""
    layer = submission.Layer(2, 2)
    layer.W = np.eye(2)
    x = np.array([[1.0, 2.0]])
    layer.forward(x)
    layer.backward(x, np.array([[1.0, 1.0]]))
    assert_close(layer.dW, x.T @ np.array([[1.0, 1.0]]))


@pytest.mark.problem("net", points=1)
def test_objects_go_back_as_arguments(submission):
    """a net built from the student's own layers runs them in order"""
    first, second = submission.Layer(2, 2), submission.Layer(2, 1)
    first.W = np.eye(2)
    second.W = np.ones((2, 1))
    net = submission.Net([first, second])
    assert_close(net.forward(np.array([[1.0, 2.0]])), np.array([[3.0]]))
    assert len(net.layers) == 2 and repr(net.layers[0]).startswith("<Layer object")
    assert_close(submission.run_net(net, np.array([[1.0, 1.0]])), np.array([[2.0]]))


@pytest.mark.problem("net", points=1)
def test_a_crash_loses_the_objects_of_that_worker(submission):
    """objects made before the worker died are reported lost, not silently wrong"""
    layer = submission.Layer(2, 2)
    submission.run("crash", [])
    result = submission.run("forward", [np.ones((1, 2))], target=object.__getattribute__(layer, "_handle"))
    assert not result.ok and "lost when the worker was restarted" in result.error["message"]
'''

STUDENT = '''
import os
import numpy as np


class Layer:
    def __init__(self, n_in, n_out):
        self.W = np.zeros((n_in, n_out))

    def forward(self, x):
        return x @ self.W

    def backward(self, x, dy):
        self.dW = x.T @ dy
        return dy @ self.W.T


class Net:
    def __init__(self, layers):
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x


def run_net(net, x):
    return net.forward(x)


def crash():
    os._exit(3)
'''


def test_checks_use_student_objects_through_handles(tmp_path):
    folder = make_assignment(tmp_path / "layers", [
        {"id": "layer", "points": 2, "functions": ["Layer"], "module": "layers"},
        {"id": "net", "points": 2, "functions": ["Net", "run_net", "crash"], "module": "layers"},
    ], CHECKS, {"layers.py": STUDENT})
    student = write_folder(tmp_path / "student", {"layers.py": STUDENT})
    report, done = grade(student, tmp_path, "--assignment", str(folder))
    assert report["score"] == 4, done.stdout
    wrong = write_folder(tmp_path / "wrong", {"layers.py": STUDENT.replace(
        "self.dW = x.T @ dy", "self.dW = dy.T @ x * 2")})
    report, done = grade(wrong, tmp_path, "--assignment", str(folder))
    assert report["problems"]["layer"]["score"] == 1 and report["problems"]["net"]["score"] == 2, done.stdout
