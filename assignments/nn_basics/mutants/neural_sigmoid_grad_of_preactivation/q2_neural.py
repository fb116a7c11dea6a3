# Mutant neural_sigmoid_grad_of_preactivation (problem: forward_backward_prop): passes the pre-activation z1 to sigmoid_grad, which takes sigmoid(z1).
"""Reference forward and backward pass of a two-layer network (instructor's solution)."""

import numpy as np

from q1_softmax import softmax
from q2_sigmoid import sigmoid, sigmoid_grad


def forward_backward_prop(data, labels, params, dimensions):
    """Cost (summed over examples) and its gradient for a sigmoid-hidden, softmax-output net.

    params is flat, in the order W1 (Dx, H), b1 (1, H), W2 (H, Dy), b2 (1, Dy); the gradient
    comes back flat in the same order.
    """
    Dx, H, Dy = dimensions
    offset = 0
    W1 = np.reshape(params[offset:offset + Dx * H], (Dx, H))
    offset += Dx * H
    b1 = np.reshape(params[offset:offset + H], (1, H))
    offset += H
    W2 = np.reshape(params[offset:offset + H * Dy], (H, Dy))
    offset += H * Dy
    b2 = np.reshape(params[offset:offset + Dy], (1, Dy))

    z1 = data.dot(W1) + b1
    hidden = sigmoid(z1)
    prediction = softmax(hidden.dot(W2) + b2)
    cost = -np.sum(labels * np.log(prediction))

    delta = prediction - labels
    gradW2 = hidden.T.dot(delta)
    gradb2 = np.sum(delta, axis=0, keepdims=True)
    delta_hidden = delta.dot(W2.T) * sigmoid_grad(z1)
    gradW1 = data.T.dot(delta_hidden)
    gradb1 = np.sum(delta_hidden, axis=0, keepdims=True)

    grad = np.concatenate((gradW1.flatten(), gradb1.flatten(),
                           gradW2.flatten(), gradb2.flatten()))
    return cost, grad
