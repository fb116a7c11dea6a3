import numpy as np
import random

from q1_softmax import softmax
from q2_sigmoid import sigmoid, sigmoid_grad
from q2_gradcheck import gradcheck_naive


def forward_backward_prop(data, labels, params, dimensions):
    """
    Forward and backward propagation for a two-layer sigmoidal network

    Compute the forward propagation and for the cross entropy cost,
    and backward propagation for the gradients for all parameters.

    Arguments:
    data -- M x Dx matrix, where each row is a training example.
    labels -- M x Dy matrix, where each row is a one-hot vector.
    params -- Model parameters, these are unpacked for you.
    dimensions -- A tuple of input dimension, number of hidden units
                  and output dimension
    """

    ### Unpack network parameters (do not modify)
    ofs = 0
    Dx, H, Dy = (dimensions[0], dimensions[1], dimensions[2])

    W1 = np.reshape(params[ofs:ofs + Dx * H], (Dx, H))
    ofs += Dx * H
    b1 = np.reshape(params[ofs:ofs + H], (1, H))
    ofs += H
    W2 = np.reshape(params[ofs:ofs + H * Dy], (H, Dy))
    ofs += H * Dy
    b2 = np.reshape(params[ofs:ofs + Dy], (1, Dy))

    # forward propagation
    z1 = data.dot(W1) + b1          # (M, H)
    h = sigmoid(z1)                 # (M, H)
    z2 = h.dot(W2) + b2             # (M, Dy)
    y_hat = softmax(z2)             # (M, Dy)

    # cross entropy, summed over all the examples
    cost = -np.sum(labels * np.log(y_hat))

    # backward propagation
    delta2 = y_hat - labels                    # dCost/dz2, (M, Dy)
    gradW2 = h.T.dot(delta2)                   # (H, Dy)
    gradb2 = np.sum(delta2, axis=0, keepdims=True)  # (1, Dy)

    delta1 = delta2.dot(W2.T) * sigmoid_grad(h)  # dCost/dz1, (M, H)
    gradW1 = data.T.dot(delta1)                  # (Dx, H)
    gradb1 = np.sum(delta1, axis=0, keepdims=True)  # (1, H)

    ### Stack gradients (do not modify)
    grad = np.concatenate((gradW1.flatten(), gradb1.flatten(),
                           gradW2.flatten(), gradb2.flatten()))

    return cost, grad


def sanity_check():
    """
    Set up fake data and parameters for the neural network, and test using
    gradcheck.
    """
    print("Running sanity check...")

    N = 20
    dimensions = [10, 5, 10]
    data = np.random.randn(N, dimensions[0])   # each row will be a datum
    labels = np.zeros((N, dimensions[2]))
    for i in range(N):
        labels[i, random.randint(0, dimensions[2] - 1)] = 1

    params = np.random.randn((dimensions[0] + 1) * dimensions[1] + (
        dimensions[1] + 1) * dimensions[2], )

    gradcheck_naive(lambda params:
        forward_backward_prop(data, labels, params, dimensions), params)


if __name__ == "__main__":
    sanity_check()
