"""Visible checks of notebook 1: forward_propagation, backward_propagation, gradient_check.

Expected values come from independent oracles (the published number, properties of
J = theta x, and stand-in costs with exactly known centered differences), never from a copy
of the solution: students install this package too.
"""

import numpy as np

from course_utils.constants import EXACT_RTOL, PUBLISHED_DIFFERENCE_1D, PUBLISHED_RTOL
from course_utils.runner import Checker, describe, is_number, is_python_float, replaced_globals
from course_utils.standins import (
    cubic_cost,
    cubic_derivative,
    doubled_derivative,
    flat_cost,
    flat_derivative,
)
from course_utils.testcases import gradient_check_1d_test_case


def forward_propagation_test(forward_propagation):
    """Check ``forward_propagation(x, theta)`` for the cost J(theta) = theta * x.

    Parameters
    ----------
    forward_propagation : callable
        The student's function.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed; the printed lines say which and why.
    """
    checker = Checker("forward_propagation")
    x, theta = gradient_check_1d_test_case()
    ok, value = checker.call("forward_propagation(x=2, theta=4) runs", forward_propagation,
                             x, theta)
    if ok:
        checker.expect(
            "J is 8 for x=2, theta=4",
            isinstance(value, int | float) and value == 8,
            expected=8,
            got=describe(value),
            hint="J(theta) = theta * x",
        )
    # Properties that pin down J = theta * x without restating it: J(0) = 0, J is linear
    # in theta, and J(1) = x.
    for x in (-1.5, 3.0):
        ok_zero, at_zero = checker.call(f"runs at theta=0, x={x}", forward_propagation, x, 0.0)
        ok_one, at_one = checker.call(f"runs at theta=1, x={x}", forward_propagation, x, 1.0)
        ok_t, at_t = checker.call(f"runs at theta=2.5, x={x}", forward_propagation, x, 2.5)
        if ok_zero and ok_one and ok_t and checker.require(
            f"returns numbers at x={x}",
            all(is_number(v) for v in (at_zero, at_one, at_t)),
            expected="a number (float) for each call",
            got=", ".join(describe(v) for v in (at_zero, at_one, at_t)),
            hint="return J itself, not a string, a list or None",
        ):
            checker.expect(
                f"J(theta) grows linearly with theta at slope x={x}",
                np.isclose(at_zero, 0.0) and np.isclose(at_one, x) and np.isclose(at_t, 2.5 * x),
                expected=f"J(0)=0, J(1)={x}, J(2.5)={2.5 * x}",
                got=f"J(0)={at_zero}, J(1)={at_one}, J(2.5)={at_t}",
                hint="J depends on both arguments: theta times x",
            )
    checker.finish()
    return checker.results


def backward_propagation_test(backward_propagation):
    """Check ``backward_propagation(x, theta)``: the derivative dJ/dtheta of J = theta * x.

    Parameters
    ----------
    backward_propagation : callable
        The student's function.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("backward_propagation")
    x, theta = gradient_check_1d_test_case()
    ok, value = checker.call("backward_propagation(x=2, theta=4) runs", backward_propagation,
                             x, theta)
    if ok:
        checker.expect(
            "dtheta is 2 for x=2, theta=4",
            isinstance(value, int | float) and value == 2,
            expected=2,
            got=describe(value),
            hint="differentiate J(theta) = theta * x with respect to theta",
        )
    # The slope of a straight line does not depend on where you stand on it.
    ok_a, at_a = checker.call("runs at x=-3, theta=0.5", backward_propagation, -3.0, 0.5)
    ok_b, at_b = checker.call("runs at x=-3, theta=7", backward_propagation, -3.0, 7.0)
    if ok_a and ok_b and checker.require(
        "returns numbers",
        is_number(at_a) and is_number(at_b),
        expected="a number (float) for each call",
        got=f"{describe(at_a)} and {describe(at_b)}",
        hint="return dtheta itself, not a string, a list or None",
    ):
        checker.expect(
            "dtheta does not depend on theta (J is linear in theta)",
            np.isclose(at_a, at_b) and np.isclose(at_a, -3.0),
            expected="-3.0 at both theta=0.5 and theta=7 (x=-3)",
            got=f"{at_a} and {at_b}",
            hint="the derivative of theta * x with respect to theta is a constant",
        )
    checker.finish()
    return checker.results


def gradient_check_test(gradient_check):
    """Check ``gradient_check(x, theta, epsilon=1e-7, print_msg=False)`` for J = theta * x.

    Besides the published value, the check swaps in stand-in costs whose centered difference
    it knows exactly (through the names ``forward_propagation`` and ``backward_propagation``)
    to see that the function uses the centered difference, honours ``epsilon``, notices a
    wrong derivative, and returns 0 when grad and gradapprox are both zero.

    Parameters
    ----------
    gradient_check : callable
        The student's function.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("gradient_check")
    x, theta = gradient_check_1d_test_case()
    ok, difference = checker.call("gradient_check(x=2, theta=4) runs", gradient_check, x, theta)
    if ok and checker.expect_float("gradient_check", difference):
        checker.expect_close(
            "difference for x=2, theta=4, epsilon=1e-7 matches the published value",
            difference,
            PUBLISHED_DIFFERENCE_1D,
            rtol=PUBLISHED_RTOL,
            hint="relative difference = |grad - gradapprox| / (|grad| + |gradapprox|)",
        )

    # A wrong derivative (twice the true one, x) must be caught: the relative difference
    # between 2x and x is |2x - x| / (|2x| + |x|) = 1/3.
    with replaced_globals(gradient_check, backward_propagation=doubled_derivative):
        ok, difference = checker.call("runs with a wrong derivative", gradient_check, 2, 4)
    if ok and is_python_float(difference):
        checker.expect_close(
            "a derivative twice too large gives a difference of 1/3",
            difference,
            1 / 3,
            rtol=EXACT_RTOL,
            hint="compare gradapprox with the grad returned by backward_propagation(x, theta)",
        )

    # J = x theta^3: the centered difference is 3 x theta^2 + x epsilon^2 exactly, so with
    # grad = 3 x theta^2 the difference is epsilon^2 / (6 theta^2 + epsilon^2). A one-sided
    # difference would give about 3 theta epsilon / (6 theta^2) instead.
    x, theta, epsilon = 2.0, 1.0, 1e-2
    expected = epsilon**2 / (6 * theta**2 + epsilon**2)
    with replaced_globals(gradient_check, forward_propagation=cubic_cost,
                          backward_propagation=cubic_derivative):
        ok, difference = checker.call("runs on the cubic cost J = x theta^3", gradient_check,
                                      x, theta, epsilon=epsilon)
    if ok and is_python_float(difference):
        checker.expect_close(
            "centered difference with the given epsilon (cubic cost, epsilon=1e-2)",
            difference,
            expected,
            rtol=1e-4,  # the cubic's own rounding at epsilon = 1e-2 is far below this
            hint=(
                "use the epsilon argument and the centered difference "
                "(J(theta + epsilon) - J(theta - epsilon)) / (2 * epsilon)"
            ),
        )

    # A flat cost: grad and gradapprox are both 0, and 0/0 is defined as a difference of 0.
    with replaced_globals(gradient_check, forward_propagation=flat_cost,
                          backward_propagation=flat_derivative):
        ok, difference = checker.call("runs on a flat cost", gradient_check, 2.0, 4.0)
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
