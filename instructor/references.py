"""Grader-only reference code: what hidden tests compare students' answers with.

Never released and never importable where student code runs (the sandbox hides the
repository; only ``course_utils`` is bound into it). Hidden test cells and the tests import
from here, so each reference is written once.
"""

import numpy as np

from course_utils.params import COURSE_SHAPES
from course_utils.practice import LEAK


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


def cache_without_forward_pass(seed, m):
    """X, Y and a cache of course-network shapes that no forward pass produced.

    Backprop is a function of its cache: given these arrays it must return what the chain
    rule gives from them, whatever parameters they claim to come from. Here W1 ... b3 are
    unrelated to the Z and A arrays, Z2 and Z3 are not W A + b of the layer before, and A1,
    A2 are not relu(Z1), relu(Z2) in size; so a "backprop" that rebuilds the cost from the
    cache's parameters (numerical or complex-step differences, forward_propagation_n) gets
    other gradients. What an honest backprop may read either way agrees: A1 and A2 are
    positive exactly where Z1 and Z2 are (so masks on A or on Z are the same, and no Z is
    0), and A3 is sigmoid(Z3) (so A3 - Y and sigmoid(Z3) - Y are the same).

    Parameters
    ----------
    seed : int
        Seed of ``np.random.default_rng``.
    m : int
        Number of examples.

    Returns
    -------
    X : ndarray of shape (4, m)
    Y : ndarray of shape (1, m)
        Labels 0.0 or 1.0.
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)

    def pre_activation(rows):
        # Magnitudes in [0.1, 2], random signs: no Z sits on ReLU's kink.
        return rng.uniform(0.1, 2.0, (rows, m)) * rng.choice([-1.0, 1.0], (rows, m))

    def activation(Z):
        # Positive where Z is, with a size of its own: not relu(Z).
        return np.where(Z > 0, rng.uniform(0.5, 3.0, Z.shape), 0.0)

    Z1, Z2, Z3 = pre_activation(5), pre_activation(3), pre_activation(1)
    A1, A2 = activation(Z1), activation(Z2)
    A3 = 1 / (1 + np.exp(-Z3))
    W1, b1 = rng.standard_normal((5, 4)), rng.standard_normal((5, 1))
    W2, b2 = rng.standard_normal((3, 5)), rng.standard_normal((3, 1))
    W3, b3 = rng.standard_normal((1, 3)), rng.standard_normal((1, 1))
    return X, Y, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


# Near the largest double (1.8e308), where doubling overflows but the gradient itself does not.
_HUGE = 1e154


def cache_of_huge_values():
    """X, Y and a one-example cache whose correct dW2 and db1 are near 1e308.

    The classic buggy backprop doubles dW2 and multiplies db1 by 4: here both overflow to
    inf, so dividing its outputs by 2 and 4 gives inf, not the gradient. Every gradient
    entry is one product (one example, one live unit in layer 2), so any correct order of
    operations gives the same finite values.

    Returns
    -------
    X : ndarray of shape (4, 1)
    Y : ndarray of shape (1, 1)
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3).
    """
    X = np.array([[1e-3], [-2e-3], [5e-4], [1e-3]])
    Y = np.array([[0.0]])
    Z1 = np.array([[1.0], [-1.0], [2.0], [0.5], [-0.5]])
    A1 = np.array([[0.8 * _HUGE], [0.0], [2.0], [0.5], [0.0]])
    Z2 = np.array([[1.5], [-1.0], [-2.0]])
    A2 = np.array([[1.5], [0.0], [0.0]])  # one live unit: each dA1 entry is one product
    Z3 = np.array([[0.0]])
    A3 = np.array([[0.5]])  # sigmoid(0), exactly
    W1 = np.ones((5, 4))
    b1 = np.zeros((5, 1))
    W2 = np.array([[-0.5 * _HUGE, 1.0, 0.7, -1.2, 0.4],
                   [0.5, -0.5, 0.5, -0.5, 0.5],
                   [1.0, 1.0, 1.0, 1.0, 1.0]])
    b2 = np.zeros((3, 1))
    W3 = np.array([[2.4 * _HUGE, 1.0, -1.0]])
    b3 = np.zeros((1, 1))
    return X, Y, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


# Notebook 4: the judge's other networks and hard points for check_gradients.
# The networks' forward passes are in course_utils.practice (they run in the student's
# kernel); their correct backprops are here, and reach the kernel only as callbacks.


def leaky_backward_propagation_n(X, Y, cache):
    """The correct gradients of ``course_utils.practice.leaky_forward_propagation_n``.

    Parameters
    ----------
    X : ndarray of shape (4, m)
    Y : ndarray of shape (1, m)
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3).

    Returns
    -------
    gradients : dict of str to ndarray
        dW1, db1, dW2, db2, dW3, db3, each the shape of its parameter.
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache  # noqa: RUF059
    dZ3 = A3 - Y
    dZ2 = np.dot(W3.T, dZ3) * np.where(Z2 > 0, 1.0, LEAK)
    dZ1 = np.dot(W2.T, dZ2) * (Z1 > 0)
    return _layer_gradients(X, A1, A2, dZ1, dZ2, dZ3, m)


def squared_error_backward_propagation_n(X, Y, cache):
    """The correct gradients of ``course_utils.practice.squared_error_forward_propagation_n``.

    Parameters
    ----------
    X : ndarray of shape (4, m)
    Y : ndarray of shape (1, m)
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3).

    Returns
    -------
    gradients : dict of str to ndarray
        dW1, db1, dW2, db2, dW3, db3, each the shape of its parameter.
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache  # noqa: RUF059
    dZ3 = (A3 - Y) * A3 * (1 - A3)
    dZ2 = np.dot(W3.T, dZ3) * (Z2 > 0)
    dZ1 = np.dot(W2.T, dZ2) * (Z1 > 0)
    return _layer_gradients(X, A1, A2, dZ1, dZ2, dZ3, m)


def _layer_gradients(X, A1, A2, dZ1, dZ2, dZ3, m):
    """dW and db of the three layers from their dZ."""
    return {"dW1": np.dot(dZ1, X.T) / m, "db1": np.sum(dZ1, axis=1, keepdims=True) / m,
            "dW2": np.dot(dZ2, A1.T) / m, "db2": np.sum(dZ2, axis=1, keepdims=True) / m,
            "dW3": np.dot(dZ3, A2.T) / m, "db3": np.sum(dZ3, axis=1, keepdims=True) / m}


def leaky_backward_without_first_mask(X, Y, cache):
    """:func:`leaky_backward_propagation_n` with the first ReLU's mask forgotten (dZ1 = dA1):
    wrong in W1 and b1 wherever a first-layer unit is off."""
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache  # noqa: RUF059
    gradients = leaky_backward_propagation_n(X, Y, cache)
    dZ2 = np.dot(W3.T, A3 - Y) * np.where(Z2 > 0, 1.0, LEAK)
    dA1 = np.dot(W2.T, dZ2)
    gradients["dW1"] = np.dot(dA1, X.T) / m
    gradients["db1"] = np.sum(dA1, axis=1, keepdims=True) / m
    return gradients


# Hidden points for check_gradients: each from a seed of its own, then moved to a hard spot.
# Distances to a ReLU kink, below any step of 1e-6 or more and above the smallest steps.
KINK_DISTANCES = (3e-7, -2e-7)


def practice_point(seed, scale, m=6):
    """X (4, m), Y (1, m) and parameters of the course shapes, the weights times scale."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    parameters = {name: scale * rng.standard_normal(shape)
                  for name, shape in COURSE_SHAPES.items()}
    return X, Y, parameters


def kinked_point(forward, seed, scale):
    """A point where one first-layer and one second-layer pre-activation sit a few 1e-7
    from their kink (``KINK_DISTANCES``): any step of 1e-6 or more straddles them."""
    X, Y, parameters = practice_point(seed, scale)
    _, cache = forward(X, Y, parameters)
    parameters["b1"][1, 0] -= cache[0][1, 2] - KINK_DISTANCES[0]
    _, cache = forward(X, Y, parameters)
    parameters["b2"][0, 0] -= cache[4][0, 4] - KINK_DISTANCES[1]
    return X, Y, parameters


def saturated_point(forward, seed, scale, z3):
    """A point whose output pre-activations sit near z3 (every sigmoid output within about
    e^-z3 of 1), for examples labelled 0 and 1 alike."""
    X, Y, parameters = practice_point(seed, scale)
    Y[0, :] = [0, 1, 0, 1, 1, 0]
    _, cache = forward(X, Y, parameters)
    parameters["b3"][0, 0] += z3 - cache[8][0, 0]
    return X, Y, parameters


def dead_unit_point(forward, seed, scale):
    """A point where two of the three second-layer units are off for every example, one of
    them only 2e-7 below its kink for one example."""
    X, Y, parameters = practice_point(seed, scale)
    _, cache = forward(X, Y, parameters)
    parameters["b2"][1, 0] -= cache[4][1].max() + 1.0
    parameters["b2"][2, 0] -= cache[4][2].max() + abs(KINK_DISTANCES[1])
    return X, Y, parameters
