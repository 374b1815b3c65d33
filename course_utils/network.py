"""The course network: LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with the logistic cost.

Notebook 2 shows these functions where they are taught; the other notebooks and the checks
import them from here. The correct backpropagation is deliberately not in this package:
finding it is notebook 3's exercise.
"""

import numpy as np

from course_utils.activations import relu, sigmoid


def forward_propagation_n(X, Y, parameters):
    """Run LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID and the logistic cost.

    Parameters
    ----------
    X : ndarray of shape (4, m)
        m examples, one per column.
    Y : ndarray of shape (1, m)
        Their labels, 0 or 1.
    parameters : dict of str to ndarray
        W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1).

    Returns
    -------
    cost : float
        The logistic (cross-entropy) cost averaged over the m examples.
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3), what backprop needs.
    """
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]

    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    # Cross-entropy: -log of the probability the network gives to the true label.
    # (Written as 1 / m * sum(...), the classic's order of operations. The published figures'
    # last digit still depends on the BLAS kernels numpy is given: the buggy figure reads
    # ...623 as the classic's did, ...624 with OpenBLAS's Haswell kernels; tests accept
    # constants.BLAS_ULPS units in the last place.)
    cost = 1 / m * np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y))

    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return cost, cache


def buggy_backward_propagation_n(X, Y, cache):
    """Gradients (with two deliberate bugs) of the logistic cost with respect to every parameter.

    Parameters
    ----------
    X : ndarray of shape (4, m)
        The examples given to forward_propagation_n.
    Y : ndarray of shape (1, m)
        Their labels.
    cache : tuple
        The cache returned by forward_propagation_n.

    Returns
    -------
    gradients : dict of str to ndarray
        dW1, db1, dW2, db2, dW3, db3 (each the shape of its parameter), and the
        intermediate dZ and dA arrays.
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache  # noqa: RUF059 (the documented tuple)

    # Sigmoid and cross-entropy together have the simple derivative A3 - Y.
    dZ3 = A3 - Y
    dW3 = 1 / m * np.dot(dZ3, A2.T)
    db3 = 1 / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = dA2 * (A2 > 0)  # ReLU passes the gradient only where it was active
    dW2 = 1 / m * np.dot(dZ2, A1.T) * 2
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * (A1 > 0)
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 4 / m * np.sum(dZ1, axis=1, keepdims=True)

    return {"dZ3": dZ3, "dW3": dW3, "db3": db3,
            "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
