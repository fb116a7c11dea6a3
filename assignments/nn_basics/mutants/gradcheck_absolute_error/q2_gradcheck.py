# Mutant gradcheck_absolute_error (problem: gradcheck_naive): compares the absolute difference, not the relative error.
"""Reference gradient checker (instructor's solution)."""

import random

import numpy as np


def gradcheck_naive(f, x):
    """Check f's analytic gradient at x with central differences (h = 1e-4).

    f returns (cost, grad). The random state is restored before every call of f, so functions
    that draw random numbers see the same draws each time. x is left as it was found.
    """
    rndstate = random.getstate()
    random.setstate(rndstate)
    fx, grad = f(x)
    h = 1e-4

    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        random.setstate(rndstate)
        fplus = f(x)[0]
        x[ix] = old - h
        random.setstate(rndstate)
        fminus = f(x)[0]
        x[ix] = old
        numgrad = (fplus - fminus) / (2 * h)

        reldiff = abs(numgrad - grad[ix])
        if reldiff > 1e-5:
            print("Gradient check failed.")
            print("First gradient error found at index %s" % str(ix))
            print("Your gradient: %f \t Numerical gradient: %f" % (grad[ix], numgrad))
            return
        it.iternext()

    print("Gradient check passed!")
