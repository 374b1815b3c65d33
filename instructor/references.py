"""Grader-only reference code: what hidden tests compare students' answers with.

Never released and never importable where student code runs (the sandbox hides the
repository; only ``course_utils`` is bound into it). Hidden test cells and the tests import
from here, so each reference is written once.
"""

import numpy as np


def backward_propagation_n(X, Y, cache):
    """The correct gradients of the course network's logistic cost, from its cache alone.

    Parameters
    ----------
    X : ndarray of shape (4, m)
        The examples given to forward_propagation_n.
    Y : ndarray of shape (1, m)
        Their labels.
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3), as forward_propagation_n returns.

    Returns
    -------
    gradients : dict of str to ndarray
        dW1, db1, dW2, db2, dW3, db3, each the shape of its parameter.
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache  # noqa: RUF059
    dZ3 = A3 - Y
    dW3 = 1 / m * np.dot(dZ3, A2.T)
    db3 = 1 / m * np.sum(dZ3, axis=1, keepdims=True)
    dZ2 = np.dot(W3.T, dZ3) * (A2 > 0)
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (A1 > 0)
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}
