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

from grader.checks import CheckFailure, StudentError, as_numeric, explain, show
from grader.checks.siblings import sibling


S = sibling(__file__, "_support.py")


@pytest.mark.problem("fit", points=2)
def test_fit_loop(submission, feedback):
    """fit does forward, bce_loss, bce_grad, backward and step(lr) each batch, and returns one loss per epoch"""
    try:
        problem, hint = S.loop_verdict(submission, feedback)
    except S.Unjudgeable as why:
        raise CheckFailure(f"fit cannot be judged: the check could not run your Net and layers on "
                           f"their own ({why})\nhint: fix the layers and Net first") from None
    if problem:
        raise CheckFailure(f"{problem}\nhint: {hint}")


def frozen_fit_data(n_in, n_out, seed):
    """48 examples: six batches of 8, so every shuffle gives batches of the same size."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(48, n_in))
    y = (X[:, :n_out] + 0.5 * rng.normal(size=(48, n_out)) > 0).astype(float)
    return X, y


def frozen_by_lr_zero(net, layers, spec, X, y, batch_size, reference):
    """None when the check's own epoch through the student's Net (forward, bce_grad, backward,
    step(0.0) for each batch in order) leaves the net as it was, else why not (a layer or Net
    that is wrong on its own, judged in its own problem, not fit's)."""
    start_params = S.params_of(layers, spec)
    start_out = as_numeric(net.forward(X), "Net.forward's output")
    if start_out.shape != y.shape:
        return f"Net.forward gave shape {start_out.shape}, not {y.shape}"
    for begin in range(0, len(X), batch_size):
        xb, yb = X[begin:begin + batch_size], y[begin:begin + batch_size]
        y_hat = as_numeric(net.forward(xb), "Net.forward's output")
        net.backward(xb, reference.bce_grad(yb, y_hat))
        net.step(0.0)
    if not (all(S.same(a[0], b[0], 0, 0) and S.same(a[1], b[1], 0, 0)
                for a, b in zip(S.params_of(layers, spec), start_params))
            and S.same(net.forward(X), start_out, 0, 0)):
        return "your Net changes with step(0.0)"
    return None


@pytest.mark.problem("fit", points=1)
def test_epoch_loss_covers_every_batch_once(submission, reference):
    """with lr = 0 (the net never changes) each epoch's loss is the loss on all the training data"""
    # With lr = 0 every batch sees the initial net, so an epoch's mean loss is bce_loss of the
    # net's output on all of X, whatever the shuffle and whether the epoch averages the batch
    # losses or weighs them by batch size (48 = 6 batches of 8, all the same size). The
    # reference bce_loss and bce_grad stand in for the student's (a wrong bce costs problem bce).
    # An epoch that keeps only its last batch's loss, or batches that overlap, show here.
    epochs, batch_size = 3, 8
    standins = {"bce_loss": reference.bce_loss, "bce_grad": reference.bce_grad}
    skipped = []
    for spec, seed in S.FIT_CONFIGS:
        linears = [item for item in spec if item[0] == "Linear"]
        n_in, n_out = (linears[0][1], linears[-1][2]) if linears else (1, 1)
        X, y = frozen_fit_data(n_in, n_out, seed)
        try:
            layers = S.build(submission, spec, seed)
            net = submission.Net(layers)
            why = frozen_by_lr_zero(net, layers, spec, X, y, batch_size, reference)
        except (StudentError, CheckFailure) as exc:
            why = str(exc).splitlines()[0]
        if why is None:
            break
        skipped.append(f"{S.describe(spec)}: {why}")
    else:
        raise CheckFailure("fit cannot be judged: the check could not run your Net on its own ("
                           + "; ".join(skipped) + ")\nhint: fix the layers and Net first")
    p = as_numeric(net.forward(X), "Net.forward's output")
    want = reference.bce_loss(y, p)
    where = (f"fit(net, X, y, epochs={epochs}, lr=0.0, batch_size={batch_size}) with X of shape "
             f"{X.shape} on the network {S.describe(spec)}")
    result = submission.run("fit", [net, X, y, epochs, 0.0, batch_size], standins=standins)
    if not result.ok:
        raise StudentError(explain(result, submission.load_problems_for("fit")), result)
    try:
        losses = as_numeric(result.value, "fit's losses").reshape(-1)
    except CheckFailure:
        losses = None
    if losses is None or losses.size != epochs:
        raise CheckFailure(f"{where} returned {show(result.value, 200)}, expected a list of {epochs} "
                           "losses (one per epoch)\nhint: return the list of the epochs' mean training losses")
    # rtol 1e-7: the same 48 losses summed in another order (by batch, or all at once)
    if np.allclose(losses, want, rtol=1e-7, atol=0):
        return
    worst = losses[np.argmax(np.abs(losses - want))]
    if not S.same(net.forward(X), p, 0, 0):
        hint = "fit changed the net although lr = 0: step with the lr fit was given, net.step(lr)"
    elif worst < want:
        hint = ("the epoch's loss leaves out part of the data: add up every batch's loss "
                "(total += bce_loss(...) * len(batch)) and divide by n, or average the batch losses; "
                "do not overwrite the total with each batch's loss")
    else:
        hint = ("the epoch's loss counts some examples twice: do the batches overlap? Batch k is "
                "order[k * batch_size:(k + 1) * batch_size], each example in exactly one batch")
    raise CheckFailure(f"{where} returned the losses {losses.tolist()}, expected {want:.10g} every "
                       f"epoch (bce_loss of the unchanged net's output on all of X; tolerance rtol 1e-7)"
                       f"\nhint: {hint}")


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
