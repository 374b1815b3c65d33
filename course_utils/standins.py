"""Stand-in costs and derivatives whose gradients are known exactly.

Checks and hidden tests swap these in for ``forward_propagation``/``backward_propagation``
(1-D, signature ``(x, theta)``) or ``forward_propagation_n`` (N-D, signature
``(X, Y, parameters)``, returning ``(cost, cache)``) with :func:`course_utils.replaced_globals`.
They are module-level functions so that, at grading time, they reach the sandboxed kernel by
their qualified names: never replace them with lambdas or closures.

Each docstring states the exact centered difference, which is what makes it an oracle.
"""

import numpy as np

from course_utils.params import dictionary_to_vector


# 1-D stand-ins, J(theta) for one input x.
def cubic_cost(x, theta):
    """J = x theta^3. Its centered difference is 3 x theta^2 + x epsilon^2 exactly."""
    return x * theta**3


def cubic_derivative(x, theta):
    """dJ/dtheta = 3 x theta^2 of :func:`cubic_cost`."""
    return 3 * x * theta**2


def sine_cost(x, theta):
    """J = x sin(theta). Its centered difference is x cos(theta) sin(epsilon) / epsilon."""
    return x * np.sin(theta)


def sine_derivative(x, theta):
    """dJ/dtheta = x cos(theta) of :func:`sine_cost`."""
    return x * np.cos(theta)


def doubled_derivative(x, theta):
    """2 x: twice the derivative of J = theta x (a wrong derivative of the same sign)."""
    return 2 * x


def negated_derivative(x, theta):
    """-x: the derivative of J = theta x with the wrong sign."""
    return -x


def flat_cost(x, theta):
    """J = 0 whatever theta: the centered difference is exactly 0."""
    return 0.0


def flat_derivative(x, theta):
    """dJ/dtheta = 0 of :func:`flat_cost`: with it, grad and gradapprox are both zero."""
    return 0.0


# N-D stand-ins for forward_propagation_n: J(parameters), X and Y unused, no cache.
def quadratic_cost_n(X, Y, parameters):
    """J = sum(theta^2) / 2 over every parameter; gradient theta.

    The centered difference is exactly theta (up to rounding): the gradient of each block is
    the block itself, see :func:`gradients_like`.
    """
    theta, _ = dictionary_to_vector(parameters)
    return float(np.sum(theta**2) / 2), None


def cubic_cost_n(X, Y, parameters):
    """J = sum(theta^3) / 3; gradient theta^2, centered difference theta^2 + epsilon^2 / 3."""
    theta, _ = dictionary_to_vector(parameters)
    return float(np.sum(theta**3) / 3), None


def sine_cost_n(X, Y, parameters):
    """J = sum(sin(theta)); gradient cos(theta), centered difference cos(theta) sin(eps)/eps.

    Every entry of the estimate is the gradient times the same s = sin(epsilon)/epsilon, so
    the relative difference is exactly (1 - s) / (1 + s) (when no cos(theta) is 0).
    """
    theta, _ = dictionary_to_vector(parameters)
    return float(np.sum(np.sin(theta))), None


def flat_cost_n(X, Y, parameters):
    """J = 0 whatever the parameters (a dead network): gradient and estimate are both zero."""
    return 0.0, None


def gradients_like(parameters, blocks=None, scale=1.0, power=1, function=None):
    """A backprop-style gradients dict built from the parameters themselves.

    Parameters
    ----------
    parameters : dict of str to ndarray
        W1, b1, ..., WL, bL.
    blocks : dict of str to float, optional
        Extra factor per block name (``{"W2": -1.0}``); other blocks get 1.
    scale : float, default=1.0
        Factor applied to every block.
    power : int, default=1
        Each entry is ``scale * factor * value**power`` (power 1: gradient of
        :func:`quadratic_cost_n`; power 2: of :func:`cubic_cost_n`).
    function : callable, optional
        Applied elementwise instead of ``value**power`` (``np.cos`` for :func:`sine_cost_n`).

    Returns
    -------
    gradients : dict of str to ndarray
        ``dW1, db1, ...``: the known gradient of a stand-in cost, possibly made wrong.
    """
    blocks = blocks or {}
    gradients = {}
    for name, value in parameters.items():
        entries = function(value) if function is not None else value**power
        gradients[f"d{name}"] = scale * blocks.get(name, 1.0) * entries
    return gradients

