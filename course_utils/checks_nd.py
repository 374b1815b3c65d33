"""Visible checks of notebook 2: gradient_check_n.

The oracles are stand-in costs whose gradients are known exactly (swapped in for
``forward_propagation_n``), with gradients dicts built from that known gradient: no
backprop, correct or not, is needed to state the expected difference.
"""

import copy

import numpy as np

from course_utils.constants import EXACT_RTOL
from course_utils.runner import Checker, is_python_float, replaced_globals
from course_utils.standins import (
    cubic_cost_n,
    flat_cost_n,
    gradients_like,
    quadratic_cost_n,
)
from course_utils.testcases import gradient_check_n_test_case, second_network_case


def _cubic_difference(parameters, epsilon):
    """Exact relative difference of a centered check of cubic_cost_n against its gradient.

    The estimate is theta^2 + epsilon^2 / 3 in every entry and the gradient theta^2.

    Parameters
    ----------
    parameters : dict of str to ndarray
    epsilon : float

    Returns
    -------
    difference : float
    """
    squares = np.concatenate([value.ravel() ** 2 for value in parameters.values()])
    shift = epsilon**2 / 3
    numerator = shift * np.sqrt(squares.size)
    return float(numerator / (np.linalg.norm(squares) + np.linalg.norm(squares + shift)))


def gradient_check_n_test(gradient_check_n):
    """Check ``gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False)``.

    The check points the name ``forward_propagation_n`` at stand-in costs (sum(theta^2)/2,
    sum(theta^3)/3, a flat cost) whose gradient it knows, and passes that gradient, exact or
    scaled, as ``gradients``: the relative difference is then known in closed form.

    Parameters
    ----------
    gradient_check_n : callable
        The student's function; it must call ``forward_propagation_n`` by that name.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("gradient_check_n")
    X, Y, parameters = gradient_check_n_test_case()
    untouched = copy.deepcopy(parameters)

    # Every gradient 1.5 times the true one (theta, for sum(theta^2)/2): since gradapprox
    # matches the true gradient, the difference is |1 - 1.5| / (1 + 1.5) = 0.2 exactly.
    scale = 1.5
    with replaced_globals(gradient_check_n, forward_propagation_n=quadratic_cost_n):
        ok, difference = checker.call(
            "gradient_check_n runs on the course test case", gradient_check_n,
            parameters, gradients_like(parameters, scale=scale), X, Y,
        )
    if ok and checker.expect_float("gradient_check_n", difference):
        checker.expect_close(
            "gradients 1.5 times too large give a difference of 0.2",
            difference,
            abs(1 - scale) / (1 + scale),
            rtol=EXACT_RTOL,
            hint="compare gradients_to_vector(gradients) with gradapprox over all entries",
        )
    checker.expect_unchanged(
        parameters, untouched,
        hint="work on copies of theta (np.copy), never on the parameters dict itself",
    )

    # sum(theta^3)/3 at a large step: the estimate is theta^2 + epsilon^2/3, so the difference
    # tells the centered formula and the step used apart from any other.
    X2, Y2, parameters2 = second_network_case()
    epsilon = 0.1
    expected = _cubic_difference(parameters2, epsilon)  # before the call: it may mutate them
    with replaced_globals(gradient_check_n, forward_propagation_n=cubic_cost_n):
        ok, difference = checker.call(
            "runs on a cubic cost with epsilon=0.1", gradient_check_n,
            parameters2, gradients_like(parameters2, power=2), X2, Y2, epsilon=epsilon,
        )
    if ok and is_python_float(difference):
        checker.expect_close(
            "centered differences with the given epsilon (cubic cost, epsilon=0.1)",
            difference,
            expected,
            rtol=EXACT_RTOL,
            hint="use the epsilon argument: (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)",
        )

    # A dead network: grad and gradapprox are both zero; the difference is defined as 0.
    with replaced_globals(gradient_check_n, forward_propagation_n=flat_cost_n):
        ok, difference = checker.call(
            "runs on a flat cost", gradient_check_n,
            parameters2, gradients_like(parameters2, scale=0.0), X2, Y2,
        )
    if ok and is_python_float(difference):
        checker.expect(
            "grad and gradapprox both zero give a difference of 0 (not NaN)",
            difference == 0.0,
            expected="0.0",
            got=repr(difference),
            hint="when norm(grad) + norm(gradapprox) is 0, return 0.0 instead of dividing",
        )
    checker.finish()
    return checker.results
