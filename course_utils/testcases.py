"""Fixtures of the classic gradient-checking exercise, the lesson's step size and its published
results."""

import numpy as np

SEED = 1

# Default step of the lesson's centered differences (J(theta + eps) - J(theta - eps)) / (2 eps).
EPSILON = 1e-7

# The published figures of the classic exercise (with EPSILON); the notebooks reproduce them.
# 1-D check of J = theta * x at gradient_check_1d_test_case().
PUBLISHED_DIFFERENCE_1D = 2.919335883291695e-10
# N-D check at gradient_check_n_test_case() with the two classic bugs in backprop
# (dW2 doubled, db1 scaled by 4/m instead of 1/m).
PUBLISHED_DIFFERENCE_N_BUGGY = 0.2850931567761623
# The same check with correct backprop. Its trailing digits are rounding noise: they depend on
# the order of floating-point operations, so compare it loosely.
PUBLISHED_DIFFERENCE_N_CORRECT = 1.1890913024229996e-07


def gradient_check_1d_test_case():
    """Input and parameter of the 1-D exercise J(theta) = theta * x.

    Returns
    -------
    x : int
        The input, 2.
    theta : int
        The parameter, 4.
    """
    return 2, 4


def gradient_check_n_test_case():
    """Data and parameters of the 3-layer network of the N-D exercise, reseeded on every call.

    Returns
    -------
    X : ndarray of shape (4, 3)
        Three examples with four features each.
    Y : ndarray of shape (1, 3)
        Their labels, ``[[1, 1, 0]]``.
    parameters : dict of str to ndarray
        W1 of shape (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1), in that
        order (47 entries in all, see ``COURSE_SHAPES``).
    """
    # The legacy global generator, drawn in exactly this order, reproduces the published numbers.
    np.random.seed(SEED)  # noqa: NPY002
    X = np.random.randn(4, 3)  # noqa: NPY002
    Y = np.array([[1, 1, 0]])
    W1 = np.random.randn(5, 4)  # noqa: NPY002
    b1 = np.random.randn(5, 1)  # noqa: NPY002
    W2 = np.random.randn(3, 5)  # noqa: NPY002
    b2 = np.random.randn(3, 1)  # noqa: NPY002
    W3 = np.random.randn(1, 3)  # noqa: NPY002
    b3 = np.random.randn(1, 1)  # noqa: NPY002
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return X, Y, parameters
