"""Stand-ins and helpers of notebook 4 (gradient checking in practice).

Functions whose derivatives are known in closed form, for the checks of notebook 4 and for its
figures, and a wide stand-in model for the timing of full against directional checks. None of
them is the course network's backprop, and none solves a graded function of notebook 4: they
are what the checks compare the student's functions against.

All are module-level functions so that, at grading time, they reach the sandboxed kernel by
their qualified names.
"""

import numpy as np

from course_utils.params import COURSE_SHAPES

# The step of a complex-step derivative: far below any rounding of theta, since nothing is
# subtracted.
COMPLEX_STEP = 1e-20


# Scalar functions with closed-form derivatives.
def cube(x):
    """f(x) = x^3, analytic (complex-safe). f'(x) = 3 x^2."""
    return x**3


def quintic(x):
    """f(x) = x^5. The five-point stencil gives 5 x^4 - 4 h^4 exactly (its error h^4 f^(5)/30)."""
    return x**5


def squire_trapp(x):
    """f(x) = e^x / sqrt(sin(x)^3 + cos(x)^3), the classic complex-step test function.

    Complex-safe: only exp, sin, cos, powers and a square root (all analytic near the real
    axis for x in (0, 1.5)). Its derivative is :func:`squire_trapp_derivative`.
    """
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def squire_trapp_derivative(x):
    """f'(x) of :func:`squire_trapp`, in closed form."""
    s, c = np.sin(x), np.cos(x)
    d = s**3 + c**3
    return squire_trapp(x) * (1 - (3 * s**2 * c - 3 * c**2 * s) / (2 * d))


def hinge(x):
    """f(x) = max(x, 0): slope 1 right of the kink at 0, slope 0 left of it."""
    return max(x, 0.0)


# Vector stand-ins: theta (n, 1) -> float.
def half_squared_norm(theta):
    """J(theta) = ||theta||^2 / 2; gradient theta. Its centered difference along u is theta . u
    exactly (up to rounding): J is quadratic."""
    return float(np.sum(np.asarray(theta) ** 2) / 2)


# A stand-in network for check_gradients: same calling convention as the course network,
# cost sum(log cosh(theta)) over every block, gradient tanh(theta), smooth everywhere.
def logcosh_forward_n(X, Y, parameters):
    """Cost ``sum(log(cosh(theta)))`` over every parameter; the cache is the parameters.

    Returns
    -------
    cost : float
    cache : dict of str to ndarray
        Copies of the parameters, what :func:`logcosh_backward_n` needs.
    """
    cost = 0.0
    for value in parameters.values():
        value = np.asarray(value, dtype=float)
        # log cosh t = logaddexp(t, -t) - log 2, without overflow for large |t|.
        cost += float(np.sum(np.logaddexp(value, -value) - np.log(2.0)))
    return cost, {name: np.array(value, dtype=float) for name, value in parameters.items()}


def logcosh_backward_n(X, Y, cache):
    """The exact gradient of :func:`logcosh_forward_n`: tanh of every parameter."""
    return {f"d{name}": np.tanh(value) for name, value in cache.items()}


def logcosh_backward_n_doubled_W2(X, Y, cache):
    """:func:`logcosh_backward_n` with dW2 twice too large (a bug in exactly one block)."""
    gradients = logcosh_backward_n(X, Y, cache)
    gradients["dW2"] = 2 * gradients["dW2"]
    return gradients


def logcosh_backward_n_negated_b3(X, Y, cache):
    """:func:`logcosh_backward_n` with db3 of the wrong sign (a bug in exactly one block)."""
    gradients = logcosh_backward_n(X, Y, cache)
    gradients["db3"] = -gradients["db3"]
    return gradients


def logcosh_backward_n_misshapen_b2(X, Y, cache):
    """:func:`logcosh_backward_n` with db2 returned as a row instead of a column."""
    gradients = logcosh_backward_n(X, Y, cache)
    gradients["db2"] = gradients["db2"].T
    return gradients


def logcosh_case(seed=4, scale=0.8):
    """Parameters of the course shapes for the log-cosh stand-in (X and Y are unused).

    Returns
    -------
    X : ndarray of shape (4, 3)
    Y : ndarray of shape (1, 3)
    parameters : dict of str to ndarray
        W1 (5, 4), b1 (5, 1), ..., drawn at the given scale.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, 3))
    Y = np.array([[1.0, 0.0, 1.0]])
    parameters = {name: scale * rng.standard_normal(shape)
                  for name, shape in COURSE_SHAPES.items()}
    return X, Y, parameters


# A wide stand-in model for timing: logistic regression with n_features weights.
def wide_logistic_case(n_features=100_000, m=16, seed=0):
    """Data and weights of a logistic regression with ``n_features`` parameters.

    Returns
    -------
    theta : ndarray of shape (n_features, 1)
    X : ndarray of shape (n_features, m)
    Y : ndarray of shape (1, m)
    """
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((n_features, 1)) / np.sqrt(n_features)
    X = rng.standard_normal((n_features, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    return theta, X, Y


def wide_logistic_cost(theta, X, Y):
    """Mean logistic cost of ``sigmoid(theta.T X)`` in softplus form: one forward pass."""
    z = theta.T @ X
    return float(np.mean(np.logaddexp(0.0, -z) * Y + np.logaddexp(0.0, z) * (1 - Y)))


def wide_logistic_gradient(theta, X, Y):
    """Its gradient ``X (sigmoid(z) - Y).T / m``, of shape (n_features, 1)."""
    z = theta.T @ X
    return X @ (0.5 * (1 + np.tanh(z / 2)) - Y).T / X.shape[1]
