"""What the layers_lab checks share: building the student's layers in the worker with weights the
check chooses, numerical gradients through handles, and "replays" that judge Net and fit relative
to the student's own layers.

Nothing here is an answer: it is loaded by the hidden checks (by path: the checks run with
pytest's importlib mode, so a sibling module is not importable by name) and holds only logic.

How one broken class is kept from sinking the others
----------------------------------------------------
Reference objects cannot enter the worker, so Net and fit are judged *relative to the student's
own layers*: the check builds two identical copies ("twins") of the same network from the
student's classes with weights it sets itself, hands one to the student's ``Net``/``fit`` and
drives the other one itself, layer by layer, in the right order (``replay_*``). Whatever the
student's Linear computes, a correct Net computes the same composition of it. When the student's
layers raise on their own (so the check cannot drive them), the next network in ``NET_CONFIGS``
is tried, down to one made of activations only. fit's accuracy on the digits is judged end to
end; when it is missed, the reference ``bce_loss``/``bce_grad`` stand in for the student's, and
if it is still missed while a layer class is shown to be wrong against the reference
(``broken_components``) and fit's own loop agrees with the replay, the accuracy is not held
against fit (the note says which class to fix).
"""

from __future__ import annotations

import numpy as np

from grader.checks import CheckFailure, StudentError, as_numeric, as_scalar, show

ACTIVATIONS = ("ReLU", "Sigmoid")

# Networks to judge Net on, best first: later ones avoid classes that may fail on their own.
NET_CONFIGS = [
    [("Linear", 3, 4), ("ReLU",), ("Linear", 4, 2), ("Sigmoid",)],
    [("Linear", 3, 3), ("Sigmoid",), ("Linear", 3, 3)],
    [("Linear", 3, 4), ("Linear", 4, 2)],
    [("ReLU",), ("Sigmoid",)],
]
# For step: networks that end in a Linear, so a step loop that misses the last layer shows.
STEP_CONFIGS = [
    [("Linear", 3, 4), ("ReLU",), ("Linear", 4, 2)],
    [("Linear", 3, 3), ("Sigmoid",), ("Linear", 3, 3)],
    [("Linear", 3, 4), ("Linear", 4, 2)],
    [("ReLU",), ("Sigmoid",)],
]


def weights(spec, seed):
    """The weights the check gives each Linear of ``spec`` (None for an activation)."""
    rng = np.random.default_rng(seed)
    out = []
    for item in spec:
        if item[0] == "Linear":
            n_in, n_out = item[1], item[2]
            out.append((rng.normal(size=(n_in, n_out)) / np.sqrt(n_in), rng.normal(size=n_out) * 0.1))
        else:
            out.append(None)
    return out


def build(submission, spec, seed):
    """The student's layers for ``spec``, in the worker, with the check's weights set."""
    layers = []
    for item, params in zip(spec, weights(spec, seed)):
        if item[0] == "Linear":
            layer = submission.Linear(item[1], item[2])
            layer.W, layer.b = params
        else:
            layer = getattr(submission, item[0])()
        layers.append(layer)
    return layers


def describe(spec) -> str:
    return "[" + ", ".join(f"{i[0]}({', '.join(map(str, i[1:]))})" for i in spec) + "]"


def replay_forward(layers, x):
    """The layers applied in order by the check: (output, the input each layer got)."""
    inputs = []
    for layer in layers:
        inputs.append(x)
        x = as_numeric(layer.forward(x), "a layer's forward output")
    return x, inputs


def replay_backward(layers, x, dy):
    """dL/dx through the layers in reverse order, each with its own input."""
    _, inputs = replay_forward(layers, x)
    for layer, layer_input in zip(reversed(layers), reversed(inputs)):
        dy = as_numeric(layer.backward(layer_input, dy), "a layer's backward result")
    return dy


def params_of(layers, spec):
    """(W, b) of every Linear, read back from the worker."""
    out = []
    for layer, item in zip(layers, spec):
        if item[0] == "Linear":
            out.append((as_numeric(layer.W, "W"), as_numeric(layer.b, "b")))
    return out


def grads_of(layers, spec):
    out = []
    for layer, item in zip(layers, spec):
        if item[0] == "Linear":
            out.append((as_numeric(layer.dW, "dW"), as_numeric(layer.db, "db")))
    return out


def same(a, b, rtol=1e-7, atol=1e-10) -> bool:
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))
    except (TypeError, ValueError):
        return False


def data(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


def numeric_param_grad(obj, name, value, loss_of_output, forward, h=1e-5):
    """Central differences of ``loss_of_output(forward())`` w.r.t. attribute ``name`` of a handle,
    set by the check entry by entry (the student's own forward is what gets differentiated)."""
    value = np.asarray(value, dtype=float)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        plus, minus = value.copy(), value.copy()
        plus[index] += h
        minus[index] -= h
        setattr(obj, name, plus)
        f_plus = loss_of_output(as_numeric(forward(), "forward's output"))
        setattr(obj, name, minus)
        f_minus = loss_of_output(as_numeric(forward(), "forward's output"))
        grad[index] = (f_plus - f_minus) / (2 * h)
    setattr(obj, name, value)
    return grad


def numeric_input_grad(function, x, loss_of_output, h=1e-5):
    """Central differences of ``loss_of_output(function(x))`` w.r.t. x, entry by entry."""
    x = np.asarray(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (loss_of_output(as_numeric(function(plus), "the output"))
                       - loss_of_output(as_numeric(function(minus), "the output"))) / (2 * h)
    return grad


def first_judgeable(submission, attempt, feedback, configs=None):
    """Run ``attempt(spec, seed)`` on the first network of NET_CONFIGS the check can drive.

    ``attempt`` raises ``Unjudgeable`` when the check's own replay through the student's layers
    fails (their fault, judged in their own problems); any other failure is the verdict."""
    skipped = []
    for number, spec in enumerate(configs or NET_CONFIGS):
        try:
            result = attempt(spec, 100 + number)
        except Unjudgeable as why:
            skipped.append(f"{describe(spec)}: {why}")
            continue
        if skipped:
            feedback.note("judged on the network " + describe(spec) + " because your layers fail on "
                          "their own in the others (" + "; ".join(skipped) + ")")
        return result
    raise CheckFailure("Net cannot be judged: the check could not run your layers on their own in "
                       "any network (" + "; ".join(skipped) + ")\nhint: fix Linear, ReLU and "
                       "Sigmoid first (their own problems say what is wrong)")


class Unjudgeable(Exception):
    """The check's replay through the student's own layers failed: not Net's/fit's fault."""


def replayed(function, *args):
    """Call the check's replay; a failure of the student's layers becomes Unjudgeable."""
    try:
        return function(*args)
    except StudentError as exc:
        raise Unjudgeable(str(exc).splitlines()[0]) from None
    except CheckFailure as exc:
        raise Unjudgeable(str(exc).splitlines()[0]) from None


# -- probes of the layer classes against the reference (for fit's diagnosis)

def broken_components(submission, reference) -> list[str]:
    """The layer classes that disagree with the reference on a small probe (or raise)."""
    broken = []
    x, dy = data((5, 3), 7), data((5, 2), 8)
    spec = [("Linear", 3, 2)]
    try:
        (layer,) = build(submission, spec, 9)
        ref = reference.Linear(3, 2)
        ref.W, ref.b = weights(spec, 9)[0]
        ok = same(layer.forward(x), ref.forward(x))
        ok = same(layer.backward(x, dy), ref.backward(x, dy)) and ok
        ok = ok and same(layer.dW, ref.dW) and same(layer.db, ref.db)
        layer.step(0.1)
        ref.step(0.1)
        ok = ok and same(layer.W, ref.W) and same(layer.b, ref.b)
    except (StudentError, CheckFailure):
        ok = False
    if not ok:
        broken.append("Linear")
    for name in ACTIVATIONS:
        z, dz = data((4, 3), 11), data((4, 3), 12)
        z[0, 0] = 0.0
        try:
            layer, ref = getattr(submission, name)(), getattr(reference, name)()
            ok = same(layer.forward(z), ref.forward(z)) and same(layer.backward(z, dz), ref.backward(z, dz))
            layer.step(0.1)
        except (StudentError, CheckFailure):
            ok = False
        if not ok:
            broken.append(name)
    return broken


def net_is_broken(submission) -> bool:
    """Whether the student's Net disagrees with the check's own composition of their layers."""
    def attempt(spec, seed):
        twin_a, twin_b = build(submission, spec, seed), build(submission, spec, seed)
        x = data((4, 3), seed)
        out, _ = replayed(replay_forward, twin_b, x)
        dy = data(out.shape, seed + 1)
        dx = replayed(replay_backward, twin_b, x, dy)
        net = submission.Net(twin_a)
        if not (same(net.forward(x), out) and same(net.backward(x, dy), dx)):
            return False
        replayed(lambda: [layer.step(0.3) for layer in twin_b])
        net.step(0.3)
        return all(same(a[0], b[0]) and same(a[1], b[1])
                   for a, b in zip(params_of(twin_a, spec), params_of(twin_b, spec)))

    try:
        return not first_judgeable(submission, attempt, _Silent())
    except (StudentError, CheckFailure):
        return True


class _Silent:
    def note(self, text):
        pass


# -- fit's training loop, replayed by the check

FIT_CONFIGS = [
    ([("Linear", 3, 4), ("ReLU",), ("Linear", 4, 1), ("Sigmoid",)], 1),
    ([("Linear", 2, 2), ("Sigmoid",)], 2),
    ([("Sigmoid",)], 2),
]


def fit_data(n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(12, n_in))
    y = (X[:, :n_out] + 0.3 * rng.normal(size=(12, n_out)) > 0).astype(float)
    return X, y


def replay_fit(submission, net, X, y, epochs, lr):
    """Full-batch training driven by the check through the student's own Net and bce."""
    losses = []
    for _ in range(epochs):
        y_hat = as_numeric(net.forward(X), "Net.forward's output")
        losses.append(as_scalar(submission.bce_loss(y, y_hat), "bce_loss"))
        net.backward(X, as_numeric(submission.bce_grad(y, y_hat), "bce_grad"))
        net.step(lr)
    return losses


def fit_loop_attempt(submission, spec, seed, epochs=3, lr=0.5):
    """Run the student's fit with one batch per epoch next to the check's replay of it.

    Returns (problem or None, details); raises Unjudgeable when the replay itself fails."""
    n_in = 3 if spec[0][0] == "Linear" and spec[0][1] == 3 else 2
    n_out = 1 if n_in == 3 else 2
    X, y = fit_data(n_in, n_out, seed)
    if spec[0][0] != "Linear":
        X = X[:, :n_out]
    twin_b = build(submission, spec, seed)
    try:
        net_b = submission.Net(twin_b)
    except StudentError as exc:
        raise Unjudgeable(str(exc).splitlines()[0]) from None
    want_losses = replayed(replay_fit, submission, net_b, X, y, epochs, lr)
    want_params = replayed(params_of, twin_b, spec)
    # fit may shuffle the batch; that changes nothing for correct layers, but layers that keep
    # per-example state (a db that is not summed) make the order matter: then this network
    # cannot judge fit's loop
    twin_c = build(submission, spec, seed)
    order = np.random.default_rng(seed).permutation(len(X))
    shuffled = replayed(replay_fit, submission, submission.Net(twin_c), X[order], y[order], epochs, lr)
    if not (same(shuffled, want_losses, 1e-6, 1e-9) and all(
            same(g[0], w[0], 1e-6, 1e-9) and same(g[1], w[1], 1e-6, 1e-9)
            for g, w in zip(replayed(params_of, twin_c, spec), want_params))):
        raise Unjudgeable("your layers give different results when the examples are shuffled")
    twin_a = build(submission, spec, seed)
    start_params = params_of(twin_a, spec)
    net_a = submission.Net(twin_a)
    losses = submission.fit(net_a, X, y, epochs, lr, len(X))
    got_params = params_of(twin_a, spec)
    where = f"fit(net, X, y, epochs={epochs}, lr={lr}, batch_size={len(X)}) on the network {describe(spec)}"
    count = (len(np.asarray(losses, dtype=object).reshape(-1))
             if isinstance(losses, (list, tuple, np.ndarray)) else None)
    if count != epochs:
        hint = "return the list of the epochs' mean training losses"
        if count == epochs - 1:
            hint = "fit runs one epoch too few: loop for _ in range(epochs)"
        elif count == epochs + 1:
            hint = "fit runs one epoch too many: loop for _ in range(epochs)"
        return (f"{where} returned {show(losses, 200)}, expected a list of {epochs} losses (one per epoch)",
                hint)
    losses = as_numeric(losses, "fit's losses").reshape(-1)
    params_right = all(same(g[0], w[0], 1e-6, 1e-9) and same(g[1], w[1], 1e-6, 1e-9)
                       for g, w in zip(got_params, want_params))
    if not params_right:
        if got_params and all(same(g[0], s[0]) and same(g[1], s[1]) for g, s in zip(got_params, start_params)):
            hint = "the weights did not change at all: fit never calls net.step(lr) (or backward)"
        else:
            hint = diagnose_fit_params(submission, spec, seed, X, y, epochs, lr, got_params)
        return (f"after {where} the weights differ from {epochs} steps of forward, bce_grad, backward "
                f"and step(lr) on your own Net", hint)
    if not same(losses, want_losses, 1e-6, 1e-9):
        return (f"{where} returned the losses {show(losses)}, expected {show(np.array(want_losses))} "
                "(bce_loss of each epoch's predictions, before that epoch's step)",
                "record each epoch's mean bce_loss, computed before the step")
    return None, ""


def diagnose_fit_params(submission, spec, seed, X, y, epochs, lr, got_params):
    """Name the likely loop bug by replaying the usual variants (best effort)."""
    variants = [(f"{epochs - 1} epochs", epochs - 1, lr, "fit runs one epoch too few: range(epochs)"),
                (f"{epochs + 1} epochs", epochs + 1, lr, "fit runs one epoch too many: range(epochs)"),
                ("lr = 1", epochs, 1.0, "fit ignores lr: call net.step(lr) with the lr it was given"),
                ("a step up the gradient", epochs, -lr, "fit steps up the gradient: net.step(lr), "
                 "not net.step(-lr)")]
    for _, n_epochs, rate, hint in variants:
        try:
            twin = build(submission, spec, seed)
            replay_fit(submission, submission.Net(twin), X, y, n_epochs, rate)
            if all(same(g[0], w[0], 1e-6, 1e-9) and same(g[1], w[1], 1e-6, 1e-9)
                   for g, w in zip(got_params, params_of(twin, spec))):
                return hint
        except (StudentError, CheckFailure):
            continue
    return ("each epoch must do forward, bce_loss, bce_grad, net.backward(x, grad) and "
            "net.step(lr) on every batch")


def loop_verdict(submission, feedback=None):
    """(None, "") when fit's loop agrees with the replay on the first network the check can
    drive, else (what is wrong, hint). Raises Unjudgeable when none can be driven."""
    skipped = []
    for spec, seed in FIT_CONFIGS:
        try:
            verdict = fit_loop_attempt(submission, spec, seed)
        except Unjudgeable as why:
            skipped.append(f"{describe(spec)}: {why}")
            continue
        if skipped and feedback is not None:
            feedback.note("fit's loop judged on the network " + describe(spec) + " because your "
                          "layers fail on their own in the others (" + "; ".join(skipped) + ")")
        return verdict
    raise Unjudgeable("; ".join(skipped))


def components_to_blame(submission, reference) -> list[str]:
    """The classes shown wrong against the reference (layers) or against the check's own
    composition of the student's layers (Net)."""
    broken = broken_components(submission, reference)
    if net_is_broken(submission):
        broken.append("Net")
    return broken


def forgiven_fit(submission, reference) -> str | None:
    """Why a fit that missed its target is not held responsible (a note), or None: only when
    a class it relies on is shown wrong and fit's own loop was judged and agrees with the
    check's replay (a loop that cannot be judged is no excuse)."""
    broken = components_to_blame(submission, reference)
    if not broken:
        return None
    try:
        problem, _ = loop_verdict(submission)
    except Exception:  # noqa: BLE001 - fit's loop not shown right (or not judgeable): no excuse
        return None
    if problem is not None:
        return None
    return (f"your {', '.join(broken)} {'is' if len(broken) == 1 else 'are'} wrong (points lost in "
            "their own problems) and fit's loop agrees with the check's replay of it")


def net_forgiven(submission, reference) -> str | None:
    """Why a Net that missed written-out values is not held responsible, or None."""
    broken = broken_components(submission, reference)
    if broken and not net_is_broken(submission):
        return (f"your {', '.join(broken)} {'is' if len(broken) == 1 else 'are'} wrong (points lost "
                "in their own problems); your Net composes your layers correctly")
    return None
