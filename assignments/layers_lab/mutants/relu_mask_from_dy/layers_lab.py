"""layers_lab: the instructor's solution. Imported only by the grader, never by student code.

Conventions (the starter notebook states them to the students):

- a batch ``x`` has shape (N, n_in), one example per row;
- ``Linear(n_in, n_out)`` holds ``W`` of shape (n_in, n_out) and ``b`` of shape (n_out,), and
  computes ``x @ W + b``;
- every layer has ``forward(x)``, ``backward(x, dy)`` and ``step(lr)``. ``backward`` gets the
  same ``x`` that ``forward`` got and ``dy`` = dL/d(output); it returns dL/dx. ``Linear.backward``
  also stores ``dW`` and ``db`` (summed over the batch); ``step(lr)`` is one SGD update
  (activations have no parameters: their step does nothing);
- ``bce_loss(y, y_hat)`` is the mean binary cross-entropy over all entries, with ``y_hat``
  clipped to [EPS, 1 - EPS]; ``bce_grad(y, y_hat)`` is its gradient with respect to ``y_hat``;
- ``Net(layers)`` is itself a layer: forward, backward(x, dy), step(lr);
- ``fit(net, X, y, epochs, lr, batch_size)`` trains ``net`` in place with minibatch SGD on
  ``bce_loss`` and returns the list of the epochs' mean training losses.
"""

import numpy as np

EPS = 1e-12


class Linear:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * np.sqrt(1.0 / n_in)
        self.b = np.zeros(n_out)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x):
        return x @ self.W + self.b

    def backward(self, x, dy):
        self.dW = x.T @ dy
        self.db = dy.sum(axis=0)
        return dy @ self.W.T

    def step(self, lr):
        self.W = self.W - lr * self.dW
        self.b = self.b - lr * self.db


def _sigmoid(x):
    out = np.empty_like(x, dtype=float)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out


class Sigmoid:
    def forward(self, x):
        return _sigmoid(np.asarray(x, dtype=float))

    def backward(self, x, dy):
        s = _sigmoid(np.asarray(x, dtype=float))
        return dy * s * (1.0 - s)

    def step(self, lr):
        pass


class ReLU:
    def forward(self, x):
        return np.maximum(x, 0.0)

    def backward(self, x, dy):
        return dy * (dy > 0)

    def step(self, lr):
        pass


def bce_loss(y, y_hat):
    p = np.clip(y_hat, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def bce_grad(y, y_hat):
    p = np.clip(y_hat, EPS, 1.0 - EPS)
    return (p - y) / (p * (1.0 - p)) / np.size(y)


class Net:
    def __init__(self, layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, x, dy):
        inputs = []
        for layer in self.layers:
            inputs.append(x)
            x = layer.forward(x)
        for layer, layer_input in zip(reversed(self.layers), reversed(inputs)):
            dy = layer.backward(layer_input, dy)
        return dy

    def step(self, lr):
        for layer in self.layers:
            layer.step(lr)


def fit(net, X, y, epochs, lr, batch_size):
    n = X.shape[0]
    losses = []
    for _ in range(epochs):
        order = np.random.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            xb, yb = X[batch], y[batch]
            y_hat = net.forward(xb)
            total += bce_loss(yb, y_hat) * len(batch)
            net.backward(xb, bce_grad(yb, y_hat))
            net.step(lr)
        losses.append(total / n)
    return losses
