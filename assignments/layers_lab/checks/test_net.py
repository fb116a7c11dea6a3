"""Hidden checks for Net(layers): forward applies the layers in order, backward(x, dy) goes through
them in reverse order giving each layer its own input, step(lr) steps every layer.

Net is judged relative to the student's own layers (see _support.py): two identical copies of a
network are built from the student's classes with weights the check sets; the student's Net runs
one, the check drives the other layer by layer. A wrong Linear therefore costs Linear's points,
not Net's; when the student's layers fail on their own, a network avoiding them is used.
"""


import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close
from grader.checks.siblings import sibling


S = sibling(__file__, "_support.py")
FORWARD_ORDER_HINT = ("the first layer in the list comes first: for layer in self.layers: "
                      "x = layer.forward(x)")
ORDER_HINT = ("go through the layers in reverse order (the last layer first), giving each layer's "
              "backward the input that layer got in the forward pass")


SAME_INPUT_HINT = ("every layer's backward got the net's input x: each layer needs its own "
                   "input (the previous layer's output in the forward pass)")


def crash_of(function, *args):
    """The error (type: message) a replay variant raises, or None when it runs."""
    try:
        function(*args)
    except StudentError as exc:
        return str(exc).splitlines()[0].partition(" raised ")[2] or None
    except CheckFailure:
        return None
    return None


def try_replay(function, *args):
    try:
        return function(*args)
    except (StudentError, CheckFailure):
        return None


@pytest.mark.problem("net", points=2)
def test_forward_composes_the_layers(submission, feedback):
    """Net(layers).forward(x) applies the layers in order, each to the previous one's output"""

    def attempt(spec, seed):
        mine, check = S.build(submission, spec, seed), S.build(submission, spec, seed)
        x = S.data((4, spec[0][1] if spec[0][0] == "Linear" else 3), seed)
        expected, _ = S.replayed(S.replay_forward, check, x)
        # the usual wrong variant, computed first so that the feedback's input is Net's call
        reverse = try_replay(S.replay_forward, list(reversed(S.build(submission, spec, seed))), x)
        net = submission.Net(mine)
        try:
            got = as_numeric(net.forward(x), "Net.forward(x)")
        except StudentError as exc:
            message = str(exc)
            if reverse is None:
                message += f"\nhint: {FORWARD_ORDER_HINT}"
            raise CheckFailure(message) from None
        hint = "apply the layers in order: for layer in self.layers: x = layer.forward(x)"
        if reverse is not None and S.same(got, reverse[0]):
            hint = "the layers are applied in reverse order: " + FORWARD_ORDER_HINT
        elif S.same(got, x):
            hint = "forward returns its input: return the last layer's output"
        assert_close(got, expected, rtol=1e-7, atol=1e-12,
                     what=f"Net({S.describe(spec)}).forward(x)", hint=hint)

    S.first_judgeable(submission, attempt, feedback)


@pytest.mark.problem("net", points=3)
def test_backward_goes_in_reverse(submission, feedback):
    """Net.backward(x, dy) returns dL/dx and leaves every Linear's dW and db as its own backward would"""

    def attempt(spec, seed):
        mine, check = S.build(submission, spec, seed), S.build(submission, spec, seed)
        x = S.data((4, spec[0][1] if spec[0][0] == "Linear" else 3), seed)
        out, inputs = S.replayed(S.replay_forward, check, x)
        dy = S.data(out.shape, seed + 1)
        expected = S.replayed(S.replay_backward, check, x, dy)
        expected_grads = S.replayed(S.grads_of, check, spec)
        # the usual wrong variants, computed first so that the feedback's input is Net's call
        forward_order = try_replay(_forward_order, S.build(submission, spec, seed), x, dy, inputs)
        same_input = try_replay(_same_input, S.build(submission, spec, seed), x, dy)
        same_input_crash = crash_of(_same_input, S.build(submission, spec, seed), x, dy)
        net = submission.Net(mine)
        net.forward(x)
        try:
            got = as_numeric(net.backward(x, dy), "Net.backward(x, dy)")
        except StudentError as exc:
            message = str(exc)
            error = message.splitlines()[0].partition(" raised ")[2]
            if error and same_input_crash == error:
                message += f"\nhint: {SAME_INPUT_HINT}"
            elif any(word in message for word in ("shape", "broadcast", "align", "matmul", "dimension")):
                message += f"\nhint: {ORDER_HINT}"
            raise CheckFailure(message) from None
        hint = "backward returns dx = dL/dx of the whole net"
        if forward_order is not None and S.same(got, forward_order):
            hint = ORDER_HINT
        elif S.same(got, dy):
            hint = "backward returns dy unchanged: return the first layer's dx"
        elif same_input is not None and S.same(got, same_input):
            hint = SAME_INPUT_HINT
        assert_close(got, expected, rtol=1e-7, atol=1e-12,
                     what=f"Net({S.describe(spec)}).backward(x, dy)", hint=hint)
        for number, ((dW, db), (want_W, want_b)) in enumerate(zip(S.grads_of(mine, spec), expected_grads)):
            assert_close(dW, want_W, rtol=1e-7, atol=1e-12, hint=hint,
                         what=f"dW of Linear layer {number + 1} after Net.backward")
            assert_close(db, want_b, rtol=1e-7, atol=1e-12, hint=hint,
                         what=f"db of Linear layer {number + 1} after Net.backward")

    S.first_judgeable(submission, attempt, feedback)


def _forward_order(layers, x, dy, inputs):
    """The classic bug: the backward loop runs first layer first (each with its own input)."""
    for layer, layer_input in zip(layers, inputs):
        dy = as_numeric(layer.backward(layer_input, dy))
    return dy


def _same_input(layers, x, dy):
    for layer in reversed(layers):
        dy = as_numeric(layer.backward(x, dy))
    return dy


@pytest.mark.problem("net", points=2)
def test_step_steps_every_layer(submission, feedback):
    """Net.step(lr) calls step(lr) on every layer"""

    def attempt(spec, seed):
        mine, check = S.build(submission, spec, seed), S.build(submission, spec, seed)
        x = S.data((4, spec[0][1] if spec[0][0] == "Linear" else 3), seed)
        out, _ = S.replayed(S.replay_forward, check, x)
        dy = S.data(out.shape, seed + 1)
        lr = 0.3

        def drive(layers):
            S.replay_backward(layers, x, dy)
            for layer in layers:
                layer.step(lr)
            return S.params_of(layers, spec)

        expected = S.replayed(drive, check)
        net = submission.Net(mine)
        net.forward(x)
        net.backward(x, dy)
        before = S.params_of(mine, spec)
        net.step(lr)
        got = S.params_of(mine, spec)
        for number, ((W, b), (want_W, want_b), (old_W, old_b)) in enumerate(zip(got, expected, before)):
            hint = "for layer in self.layers: layer.step(lr)"
            if S.same(W, old_W) and S.same(b, old_b):
                hint = f"Linear layer {number + 1} was not stepped: call step(lr) on every layer"
            assert_close(W, want_W, rtol=1e-7, atol=1e-12, hint=hint,
                         what=f"W of Linear layer {number + 1} after Net.step({lr})")
            assert_close(b, want_b, rtol=1e-7, atol=1e-12, hint=hint,
                         what=f"b of Linear layer {number + 1} after Net.step({lr})")

    S.first_judgeable(submission, attempt, feedback, S.STEP_CONFIGS)
