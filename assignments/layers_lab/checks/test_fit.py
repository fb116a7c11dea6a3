"""Hidden checks for fit(net, X, y, epochs, lr, batch_size): minibatch SGD on bce_loss that trains
``net`` in place and returns the epochs' mean training losses.

1. The loop, judged relative to the student's own Net and bce (one batch per epoch, so the
   shuffling does not matter): fit must leave the same weights and report the same losses as the
   check's own forward / bce_grad / backward / step replay.
2. The digits: scikit-learn's bundled digits (load_digits, no download), binary task digit < 5,
   split and standardised here with a fixed seed. The check builds the network from the
   student's classes with its own initial weights, sends it and the training arrays to fit (one
   call in the worker, with the problem's longer time limit) and measures the test accuracy here,
   through the trained net's forward. The required accuracy and the training settings are
   assignment.toml's [settings]. A wrong bce is stood in for by the reference's; a layer class
   shown wrong against the reference (its own problem) does not cost fit the accuracy points
   when fit's loop agrees with the replay.
"""

import functools

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, explain
from grader.checks.siblings import sibling


S = sibling(__file__, "_support.py")


@pytest.mark.problem("fit", points=3)
def test_fit_loop(submission, feedback):
    """fit does forward, bce_loss, bce_grad, backward and step(lr) each batch, and returns one loss per epoch"""
    try:
        problem, hint = S.loop_verdict(submission, feedback)
    except S.Unjudgeable as why:
        raise CheckFailure(f"fit cannot be judged: the check could not run your Net and layers on "
                           f"their own ({why})\nhint: fix the layers and Net first") from None
    if problem:
        raise CheckFailure(f"{problem}\nhint: {hint}")


@functools.lru_cache(maxsize=None)
def digits(test_fraction, seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X, labels = bunch.data.astype(float), bunch.target
    y = (labels < 5).astype(float).reshape(-1, 1)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=labels)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def train_on_digits(submission, settings, standins=None):
    """(test accuracy, None) or (None, why fit failed)."""
    X_train, X_test, y_train, y_test = digits(float(settings["test_fraction"]), int(settings["split_seed"]))
    hidden = int(settings["hidden"])
    spec = [("Linear", X_train.shape[1], hidden), ("ReLU",), ("Linear", hidden, 1), ("Sigmoid",)]
    try:
        layers = S.build(submission, spec, int(settings["init_seed"]))
        net = submission.Net(layers)
    except StudentError as exc:
        return None, f"the network {S.describe(spec)} could not be built: {str(exc).splitlines()[0]}"
    result = submission.run("fit", [net, X_train, y_train, int(settings["epochs"]),
                                    float(settings["lr"]), int(settings["batch_size"])], standins=standins)
    if not result.ok:
        return None, explain(result)
    try:
        p = as_numeric(net.forward(X_test), "the trained net's output on the test set")
    except (StudentError, CheckFailure) as exc:
        return None, str(exc).splitlines()[0]
    if p.shape != y_test.shape:
        return None, f"the trained net's output has shape {p.shape}, expected {y_test.shape}"
    return float(np.mean((p > 0.5) == (y_test > 0.5))), None


@pytest.mark.problem("fit", points=4)
def test_digits_accuracy(submission, reference, settings, feedback):
    """fit trains a 64-hidden-1 net on the digits (digit < 5) to the test accuracy assignment.toml asks"""
    need = float(settings["min_test_accuracy"])
    setup = (f"Net([Linear(64, {settings['hidden']}), ReLU(), Linear({settings['hidden']}, 1), Sigmoid()]), "
             f"fit(net, X_train, y_train, epochs={settings['epochs']}, lr={settings['lr']}, "
             f"batch_size={settings['batch_size']})")
    accuracy, why = train_on_digits(submission, settings)
    if accuracy is not None and accuracy >= need:
        feedback.note(f"test accuracy {accuracy:.4f} (at least {need} needed)")
        return
    first = (f"{setup} reached a test accuracy of {accuracy:.4f}, {need} is needed" if why is None
             else f"{setup} failed: {why}")
    # a wrong bce costs the bce problem, not this one
    standins = {"bce_loss": reference.bce_loss, "bce_grad": reference.bce_grad}
    accuracy, _ = train_on_digits(submission, settings, standins)
    if accuracy is not None and accuracy >= need:
        feedback.note(f"fit reaches a test accuracy of {accuracy:.4f} once the reference bce_loss "
                      "and bce_grad stand in for yours (those lose points in problem bce, not here)")
        return
    why_not_fit = S.forgiven_fit(submission, reference)
    if why_not_fit:
        feedback.note(f"fit's accuracy was not held against fit: {why_not_fit}; once they are "
                      f"fixed, fit must reach {need} ({first})")
        return
    broken = S.components_to_blame(submission, reference)
    hint = ("check the loop (forward, bce_grad, backward, step every batch) and the learning rate"
            if not broken else f"your {', '.join(broken)} disagree(s) with the reference: fix them first")
    raise CheckFailure(f"{first}\nhint: {hint}")
