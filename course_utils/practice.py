"""Stand-ins and helpers of notebook 4 (gradient checking in practice).

Functions whose derivatives are known in closed form, for the checks of notebook 4 and for its
figures; the forward passes of two more networks of the course's shapes (a leaky-ReLU layer, a
squared-error cost), on which the judge tries check_gradients with backprops that stay on the
grader's side; and a wide stand-in model for the timing of full against directional checks.
None of them is a backprop of the course network or of those two, and none solves a graded
function: they are what the checks compare the student's functions against.

All are module-level functions so that, at grading time, they reach the sandboxed kernel by
their qualified names.
"""

import numpy as np

from course_utils.activations import relu, sigmoid
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


def log_cosh_sum(theta):
    """J(theta) = sum(log(cosh(theta))); gradient tanh(theta), not a multiple of theta."""
    theta = np.asarray(theta, dtype=float)
    # log cosh t = logaddexp(t, -t) - log 2, without overflow for large |t|.
    return float(np.sum(np.logaddexp(theta, -theta) - np.log(2.0)))


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


# Complex-safe stand-ins (only powers and sines): for complex-step gradients.
def cubic_sum_forward_n(X, Y, parameters):
    """Cost ``sum(theta^3) / 3`` over every parameter; gradient theta^2. Complex-safe.

    Its centered difference with step epsilon is theta^2 + epsilon^2 / 3 exactly, and its
    complex-step derivative with step h is theta^2 - h^2 / 3 exactly.

    Returns
    -------
    cost : float or complex
    cache : None
    """
    return sum(np.sum(value**3) for value in parameters.values()) / 3, None


def exp_sine_sum_forward_n(X, Y, parameters):
    """Cost ``sum(exp(sin(theta)))`` over every parameter; gradient cos(theta) exp(sin(theta)).
    Complex-safe.

    Returns
    -------
    cost : float or complex
    cache : None
    """
    return sum(np.sum(np.exp(np.sin(value))) for value in parameters.values()), None


def hinged_logcosh_forward_n(X, Y, parameters):
    """Cost ``sum(log(cosh(theta)) + max(theta, 0))`` over every parameter: a kink at 0.

    Returns
    -------
    cost : float
    cache : dict of str to ndarray
        Copies of the parameters, what :func:`hinged_logcosh_backward_n` needs.
    """
    cost, cache = logcosh_forward_n(X, Y, parameters)
    return cost + float(sum(np.sum(np.maximum(value, 0.0)) for value in cache.values())), cache


def hinged_logcosh_backward_n(X, Y, cache):
    """The exact gradient of :func:`hinged_logcosh_forward_n` away from its kinks:
    tanh(theta) + (theta > 0)."""
    return {f"d{name}": np.tanh(value) + (value > 0) for name, value in cache.items()}


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


# Two more networks with the course's shapes, cache and calling convention. The judge checks
# check_gradients on them, away from the course network, whose backprop a student writes in
# notebook 3: comparing with that backprop is not gradient checking, and here it is wrong.
# The slope of the second layer's leaky ReLU below 0.
LEAK = 0.1


def leaky_forward_propagation_n(X, Y, parameters):
    """LINEAR -> RELU -> LINEAR -> LEAKY RELU -> LINEAR -> SIGMOID and the logistic cost.

    The second hidden layer keeps ``LEAK`` times its negative pre-activations; the cost is
    written as the course's, so it freezes where the sigmoid rounds to 1 as the course's does.

    Parameters
    ----------
    X : ndarray of shape (4, m)
    Y : ndarray of shape (1, m)
    parameters : dict of str to ndarray
        W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1).

    Returns
    -------
    cost : float
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3), as the course network's.
    """
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = np.where(Z2 > 0, Z2, LEAK * Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    cost = 1 / m * np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


def squared_error_forward_propagation_n(X, Y, parameters):
    """The course's layers with the squared-error cost ``mean((A3 - Y)^2) / 2``.

    Parameters
    ----------
    X : ndarray of shape (4, m)
    Y : ndarray of shape (1, m)
    parameters : dict of str to ndarray
        W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1).

    Returns
    -------
    cost : float
    cache : tuple
        (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3), as the course network's.
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
    cost = float(np.sum((A3 - Y) ** 2) / (2 * m))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


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
