"""Visible checks of notebook 4: gradient checking in practice.

The oracles are closed-form derivatives of the stand-ins in :mod:`course_utils.practice`,
exact properties of the formulas asked for, and, for ``check_gradients``, the classic buggy
backprop, whose wrong blocks (dW2 and db1) are known from notebook 3. No correct backprop of
the course network is used or needed.
"""

import copy
import math

import numpy as np

from course_utils.network import buggy_backward_propagation_n, forward_propagation_n
from course_utils.params import dictionary_to_vector
from course_utils.practice import (
    cube,
    cubic_sum_forward_n,
    half_squared_norm,
    hinge,
    hinged_logcosh_backward_n,
    hinged_logcosh_forward_n,
    log_cosh_sum,
    logcosh_backward_n,
    logcosh_case,
    logcosh_forward_n,
    quintic,
    squire_trapp,
    squire_trapp_derivative,
)
from course_utils.runner import Checker, describe, is_number, is_python_float
from course_utils.testcases import gradient_check_n_test_case

VERDICTS = ("ok", "bug", "inconclusive")


# Where the visible kinked case puts parameters: this close to the kink of max(theta, 0),
# inside any step of 1e-6 or more.
KINK_OFFSET = 3e-7


def _anonymous_backward(gradients_of, change=None):
    """A backprop for the checks whose name and docstring say nothing about what it gets wrong.

    Parameters
    ----------
    gradients_of : callable
        ``gradients_of(X, Y, cache) -> gradients``.
    change : callable, optional
        ``change(gradients)`` edits the dict in place (a bug); None for the gradients as given.
    """

    def backward_propagation_n(X, Y, cache):
        gradients = dict(gradients_of(X, Y, cache))
        if change is not None:
            change(gradients)
        return gradients

    return backward_propagation_n


def _expect_verdicts(checker, case, verdicts, expected, label, hint):
    """Check a verdict dict: one entry per block in block order, each value as expected."""
    if not checker.expect(
        f"one verdict per block, in order, for {case}",
        isinstance(verdicts, dict) and list(verdicts) == list(expected),
        expected=f"a dict with keys {list(expected)} in that order",
        got=f"a dict with keys {list(verdicts)}" if isinstance(verdicts, dict)
        else describe(verdicts),
        hint="one entry per block of parameters, in the order of the parameters dict",
    ):
        return
    checker.require(
        f"every verdict is one of {', '.join(VERDICTS)} for {case}",
        all(v in VERDICTS for v in verdicts.values()),
        expected=" or ".join(repr(v) for v in VERDICTS),
        got=", ".join(f"{k}: {v!r}" for k, v in verdicts.items() if v not in VERDICTS),
        hint='return the strings "ok", "bug" or "inconclusive"',
    )
    wrong = {k: v for k, v in verdicts.items() if v not in expected[k]}
    checker.expect(
        label,
        not wrong,
        expected=", ".join(f"{k}: {' or '.join(expected[k])}" for k in wrong),
        got=", ".join(f"{k}: {v}" for k, v in wrong.items()),
        hint=hint,
    )


def check_gradients_test(check_gradients):
    """Check ``check_gradients(forward_propagation_n, backward_propagation_n, parameters, X, Y)``.

    Cases: the course network with the classic buggy backprop (dW2 and db1 wrong, the rest
    right); a smooth stand-in network whose gradient is known exactly (right, then one block
    wrong, then one block misshapen); the stand-in with a kink at 0 and parameters a few 1e-7
    from it (right); and a point where the course cost is not a number. Every backprop is
    handed over under the same name and without a docstring: only its numbers tell.

    Parameters
    ----------
    check_gradients : callable
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
    checker = Checker("check_gradients")
    X, Y, parameters = gradient_check_n_test_case()
    untouched = copy.deepcopy(parameters)
    course = "the course network with the classic buggy backprop"
    ok, verdicts = checker.call(
        f"runs on {course}", check_gradients, forward_propagation_n,
        _anonymous_backward(buggy_backward_propagation_n), parameters, X, Y,
    )
    if ok:
        _expect_verdicts(
            checker, course, verdicts,
            {"W1": ("ok",), "b1": ("bug",), "W2": ("bug",), "b2": ("ok",), "W3": ("ok",),
             "b3": ("ok",)},
            "the classic bugs are found in dW2 and db1, and only there",
            hint="compare block by block; a block reads 'bug' only when the mismatch is far "
            "beyond what the step, kinks and rounding can explain",
        )
    checker.expect_unchanged(parameters, untouched,
                             hint="nudge copies of theta, never the parameters themselves")

    def double_dW2(gradients):
        gradients["dW2"] = 2 * gradients["dW2"]

    def transpose_db2(gradients):
        gradients["db2"] = gradients["db2"].T

    Xs, Ys, smooth = logcosh_case()
    all_ok = dict.fromkeys(smooth, ("ok",))
    cases = [
        ("a correct backprop of a smooth cost", None, all_ok,
         "every block of a correct backprop reads 'ok'",
         "a correct gradient must read 'ok' in every block (is your error bound too tight?)"),
        ("a backprop of a smooth cost with dW2 twice too large", double_dW2,
         {**all_ok, "W2": ("bug",)}, "dW2 twice too large is found in W2, and only there",
         "only the block whose gradient is wrong may read 'bug'"),
        ("a backprop of a smooth cost whose db2 has the wrong shape", transpose_db2,
         {**all_ok, "b2": ("bug",)}, "a db2 of the wrong shape is found in b2, and only there",
         "a gradient block that is not the shape of its parameter is wrong"),
    ]
    for case, change, expected, label, hint in cases:
        ok, verdicts = checker.call(f"runs on {case}", check_gradients, logcosh_forward_n,
                                    _anonymous_backward(logcosh_backward_n, change), smooth,
                                    Xs, Ys)
        if ok:
            _expect_verdicts(checker, case, verdicts, expected, label, hint)

    # The stand-in plus max(theta, 0), with one entry of b1 and one of W3 a few 1e-7 from
    # its kink: any step of 1e-6 or more straddles it.
    kinked = {name: value.copy() for name, value in smooth.items()}
    kinked["b1"][2, 0] = KINK_OFFSET
    kinked["W3"][0, 1] = -KINK_OFFSET
    case = "a correct backprop with parameters next to a kink"
    ok, verdicts = checker.call(f"runs on {case}", check_gradients, hinged_logcosh_forward_n,
                                _anonymous_backward(hinged_logcosh_backward_n), kinked, Xs, Ys)
    if ok:
        _expect_verdicts(
            checker, case, verdicts, dict.fromkeys(kinked, ("ok", "inconclusive")),
            "a kink within the step is no bug",
            hint="a step that straddles a kink mixes two slopes: use smaller steps, compare "
            "the one-sided slopes, or say 'inconclusive'",
        )

    # Weights 20 times the course case's: the sigmoid rounds to exactly 1 for all three
    # examples, and for the two labelled 1, -log(1 - 1) = inf times their weight 1 - y = 0 is
    # NaN (nothing overflows).
    huge = {name: 20 * value for name, value in parameters.items()}
    case = "a point where the cost is not a number"
    ok, verdicts = checker.call(
        f"runs on {case}", check_gradients, forward_propagation_n,
        _anonymous_backward(buggy_backward_propagation_n), huge, X, Y,
    )
    if ok:
        _expect_verdicts(
            checker, case, verdicts, dict.fromkeys(parameters, ("inconclusive",)),
            "no verdict but 'inconclusive' where the cost is not a number",
            hint="a NaN or infinite cost decides nothing: say 'inconclusive'",
        )
    checker.finish()
    return checker.results


def logistic_cost_stable_test(logistic_cost_stable):
    """Check ``logistic_cost_stable(Z3, Y)``: the logistic cost in softplus form.

    Oracles: log 2 at z = 0 for either label; the cost of a saturated wrong answer is its
    pre-activation (log(1 + e^z) = z + log(1 + e^-z)); the symmetry cost(z, 1) = cost(-z, 0);
    and moderate values computed one by one with math.log1p.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("logistic_cost_stable")
    ok, value = checker.call("runs at z = 0", logistic_cost_stable, np.array([[0.0, 0.0]]),
                             np.array([[1.0, 0.0]]))
    if ok and checker.expect_float("logistic_cost_stable", value):
        checker.expect_close("z = 0 costs log 2 for either label", value, math.log(2),
                             rtol=1e-14, hint="-log(sigmoid(0)) = log(2)")
    z = np.array([[-3.0, -0.5, 0.25, 2.0, 7.0]])
    y = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]])
    # For |z| this small, log1p(exp(.)) is accurate: no cancellation, no overflow.
    expected = float(np.mean([math.log1p(math.exp(-zj)) if yj else math.log1p(math.exp(zj))
                              for zj, yj in zip(z.ravel(), y.ravel(), strict=True)]))
    ok, value = checker.call("runs on five examples", logistic_cost_stable, z, y)
    if ok:
        checker.expect_close("the mean cost of five moderate examples", value, expected,
                             rtol=1e-12, hint="average over the examples (divide by m)")
    ok_a, a = checker.call("runs for label 1", logistic_cost_stable, z, np.ones_like(z))
    ok_b, b = checker.call("runs for label 0", logistic_cost_stable, -z, np.zeros_like(z))
    if ok_a and ok_b:
        checker.expect(
            "cost(z, label 1) equals cost(-z, label 0)",
            is_number(a) and is_number(b) and math.isclose(a, b, rel_tol=1e-13),
            expected="equal costs", got=f"{a!r} and {b!r}",
            hint="-log(sigmoid(z)) = log(1 + e^-z) and -log(1 - sigmoid(z)) = log(1 + e^z)",
        )
    for big in (40.0, 800.0):
        ok, value = checker.call(f"runs for a wrong answer at z = {big:g}",
                                 logistic_cost_stable, np.array([[big]]), np.array([[0.0]]))
        if ok:
            checker.expect_close(
                f"a saturated wrong answer at z = {big:g} costs z", value, big, rtol=1e-15,
                hint="log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): never exp of a large z, "
                "never 1 - sigmoid(z)",
            )
    checker.finish()
    return checker.results


def complex_step_derivative_test(complex_step_derivative):
    """Check ``complex_step_derivative(f, x, h=COMPLEX_STEP)`` = Im f(x + ih) / h.

    Oracles: the cube's derivative 3 x^2, the closed-form derivative of the Squire-Trapp test
    function, and, with a large h, the exact Im (x + ih)^3 / h = 3 x^2 - h^2.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("complex_step_derivative")
    ok, value = checker.call("runs on x^3 at x = 2", complex_step_derivative, cube, 2.0)
    if ok and checker.expect_float("complex_step_derivative", value):
        checker.expect_close("d(x^3)/dx at x = 2 is 12", value, 12.0, rtol=1e-15,
                             hint="Im(f(x + 1j * h)) / h")
    ok, value = checker.call("runs on the Squire-Trapp function", complex_step_derivative,
                             squire_trapp, 1.5)
    if ok:
        checker.expect_close("the Squire-Trapp derivative at 1.5 to 13 digits", value,
                             float(squire_trapp_derivative(1.5)), rtol=1e-13,
                             hint="no subtraction: the step can be 1e-20")
    ok, value = checker.call("runs with h = 0.5", complex_step_derivative, cube, 2.0, h=0.5)
    if ok:
        checker.expect_close("the given h is used (x^3 at 2 with h = 0.5 gives 11.75)", value,
                             11.75, rtol=1e-14, hint="divide by the h you were given")
    checker.finish()
    return checker.results


def five_point_derivative_test(five_point_derivative):
    """Check ``five_point_derivative(f, x, h)``, the fourth-order central stencil.

    Oracles: exact for a cube; on x^5 the stencil gives 5 x^4 - 4 h^4 exactly (error
    h^4 f^(5) / 30).

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("five_point_derivative")
    ok, value = checker.call("runs on x^3", five_point_derivative, cube, 2.0, 0.5)
    if ok and checker.expect_float("five_point_derivative", value):
        checker.expect_close("exact on a cube even with h = 0.5", value, 12.0, rtol=1e-13,
                             hint="(f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / (12 h)")
    ok, value = checker.call("runs on x^5", five_point_derivative, quintic, 1.0, 0.1)
    if ok:
        checker.expect_close("on x^5 at 1 with h = 0.1 the error is exactly 4 h^4", value,
                             5.0 - 4 * 0.1**4, rtol=1e-12,
                             hint="a centered difference would be off by 10 h^2 instead")
    checker.finish()
    return checker.results


def one_sided_slopes_test(one_sided_slopes):
    """Check ``one_sided_slopes(f, x, epsilon)`` -> (forward slope, backward slope).

    Oracles: the hinge max(x, 0) across its kink, and a cube, whose slopes differ by exactly
    epsilon f''(x) = 6 x epsilon.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("one_sided_slopes")
    ok, value = checker.call("runs on the hinge at 0.5", one_sided_slopes, hinge, 0.5, 1.0)
    if ok and checker.expect(
        "returns a tuple of two floats",
        isinstance(value, tuple) and len(value) == 2 and all(map(is_python_float, value)),
        expected="(forward_slope, backward_slope)", got=describe(value),
        hint="return two Python floats, forward first",
    ):
        checker.expect(
            "across the hinge's kink: forward 1, backward 0.5",
            value == (1.0, 0.5), expected=(1.0, 0.5), got=value,
            hint="(f(x + eps) - f(x)) / eps and (f(x) - f(x - eps)) / eps",
        )
    ok, value = checker.call("runs on x^3", one_sided_slopes, cube, 1.0, 0.5)
    if ok and isinstance(value, tuple) and len(value) == 2 and all(map(is_number, value)):
        checker.expect(
            "on x^3 at 1 with epsilon 0.5: 4.75 and 1.75",
            np.allclose(value, (4.75, 1.75), rtol=1e-14), expected=(4.75, 1.75), got=value,
            hint="the two slopes of a smooth function differ by about epsilon f''(x)",
        )
    checker.finish()
    return checker.results


def directional_difference_test(directional_difference):
    """Check ``directional_difference(cost, grad, theta, u, epsilon=1e-6)``.

    Oracles: J = ||theta||^2 / 2, whose centered difference along u is exactly theta . u (a
    gradient s * theta then differs by |s - 1| / (|s| + 1)); and sum(log(cosh(theta))),
    whose gradient tanh(theta) is no multiple of theta.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("directional_difference")
    rng = np.random.default_rng(5)
    theta = rng.standard_normal((6, 1))
    u = rng.standard_normal((6, 1))
    untouched = theta.copy()
    ok, value = checker.call("runs with the correct gradient", directional_difference,
                             half_squared_norm, theta, theta, u)
    if ok and checker.expect_float("directional_difference", value):
        checker.expect("a correct gradient agrees (below 1e-8)", value < 1e-8,
                       expected="below 1e-8", got=f"{value:.3e}",
                       hint="compare grad . u with (J(theta + eps u) - J(theta - eps u)) / 2eps")
    checker.expect("theta is left unchanged", np.array_equal(theta, untouched),
                   expected="the same array", got="a changed array",
                   hint="build theta + epsilon * u as a new array")
    ok, value = checker.call("runs with a gradient twice too large", directional_difference,
                             half_squared_norm, 2 * theta, theta, u)
    if ok:
        checker.expect_close("twice the gradient differs by 1/3", value, 1 / 3, rtol=1e-6,
                             hint="|g - d| / (|g| + |d|) with g = grad . u")
    ok, value = checker.call("runs along a zero direction", directional_difference,
                             half_squared_norm, theta, theta, np.zeros_like(u))
    if ok:
        checker.expect("a zero direction gives 0 (both sides are 0)", value == 0.0,
                       expected=0.0, got=describe(value), hint="define 0/0 as 0")
    ok, value = checker.call("runs on log cosh", directional_difference, log_cosh_sum,
                             np.tanh(theta), theta, u)
    if ok:
        checker.expect("a correct gradient of log cosh (tanh, no multiple of theta) agrees",
                       is_number(value) and value < 1e-8, expected="below 1e-8",
                       got=describe(value),
                       hint="difference the cost you are given, along u: nothing else tells "
                       "what its gradient is")
    checker.finish()
    return checker.results


def complex_step_gradient_test(complex_step_gradient):
    """Check ``complex_step_gradient(complex_forward, X, Y, parameters, h=COMPLEX_STEP)``.

    Oracle: the cost sum(theta^3) / 3 (complex-safe), whose gradient is theta^2 and whose
    complex-step derivative with step h is theta^2 - h^2 / 3 exactly.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("complex_step_gradient")
    X, Y, parameters = logcosh_case(seed=7)
    untouched = copy.deepcopy(parameters)
    theta, _ = dictionary_to_vector(parameters)
    ok, grad = checker.call("runs on sum(theta^3) / 3", complex_step_gradient,
                            cubic_sum_forward_n, X, Y, parameters)
    if ok and checker.expect(
        "returns a real column of shape (47, 1)",
        isinstance(grad, np.ndarray) and grad.shape == theta.shape and grad.dtype.kind == "f",
        expected="a float ndarray of shape (47, 1)", got=describe(grad),
        hint="one entry per entry of theta (dictionary_to_vector), the imaginary parts / h",
    ):
        checker.expect("the gradient of sum(theta^3) / 3 is theta^2 (to 1e-14)",
                       np.allclose(grad, theta**2, rtol=1e-14, atol=0),
                       expected="theta**2", got=f"largest error {_largest_error(grad, theta**2)}",
                       hint="Im(cost(theta + 1j * h * e_k)) / h for every k")
    checker.expect_unchanged(parameters, untouched,
                             hint="nudge a complex copy of theta, never the parameters")
    ok, grad = checker.call("runs with h = 0.5", complex_step_gradient, cubic_sum_forward_n, X,
                            Y, parameters, h=0.5)
    if ok:
        checker.expect("the given h is used (theta^2 - h^2 / 3 with h = 0.5)",
                       isinstance(grad, np.ndarray) and grad.shape == theta.shape
                       and np.allclose(grad, theta**2 - 0.25 / 3, rtol=1e-13, atol=1e-15),
                       expected="theta**2 - 0.25 / 3",
                       got=f"largest error {_largest_error(grad, theta**2 - 0.25 / 3)}",
                       hint="step by the h you were given, and divide by it")
    checker.finish()
    return checker.results


def centered_check_test(centered_check):
    """Check ``centered_check(forward, grad, X, Y, parameters, epsilon)``.

    Oracles: sum(log(cosh(theta))), whose gradient is tanh(theta) (a correct grad reads below
    1e-8, twice it 1/3); and sum(theta^3) / 3, whose centered difference with step epsilon is
    theta^2 + epsilon^2 / 3 exactly.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("centered_check")
    X, Y, parameters = logcosh_case(seed=8)
    untouched = copy.deepcopy(parameters)
    theta, _ = dictionary_to_vector(parameters)
    ok, value = checker.call("runs on log cosh with its gradient", centered_check,
                             logcosh_forward_n, np.tanh(theta), X, Y, parameters, 1e-6)
    if ok and checker.expect_float("centered_check", value):
        checker.expect("a correct gradient of log cosh reads below 1e-8",
                       is_number(value) and value < 1e-8, expected="below 1e-8",
                       got=describe(value),
                       hint="difference the forward pass you are given, at every entry of theta")
    checker.expect_unchanged(parameters, untouched,
                             hint="nudge copies of theta, never the parameters")
    ok, value = checker.call("runs with twice the gradient", centered_check, logcosh_forward_n,
                             2 * np.tanh(theta), X, Y, parameters, 1e-6)
    if ok:
        checker.expect_close("twice the gradient reads 1/3", value, 1 / 3, rtol=1e-6,
                             hint="norm(grad - gradapprox) / (norm(grad) + norm(gradapprox))")
    ok, value = checker.call("runs with epsilon = 0.5", centered_check, cubic_sum_forward_n,
                             theta**2, X, Y, parameters, 0.5)
    if ok:
        error = np.linalg.norm(np.full(theta.shape, 0.25 / 3))
        checker.expect_close(
            "the given epsilon is used (on theta^3 / 3 the difference is off by epsilon^2 / 3)",
            value, error / (np.linalg.norm(theta**2) + np.linalg.norm(theta**2 + 0.25 / 3)),
            rtol=1e-9, hint="step by the epsilon you were given")
    zeros = {name: np.zeros_like(value) for name, value in parameters.items()}
    ok, value = checker.call("runs where both sides are 0", centered_check, logcosh_forward_n,
                             np.zeros_like(theta), X, Y, zeros, 1e-6)
    if ok:
        checker.expect("both norms 0 read 0", value == 0.0, expected=0.0, got=describe(value),
                       hint="define 0/0 as 0")
    checker.finish()
    return checker.results


def _largest_error(got, expected):
    """The largest absolute entry of got - expected, or a description when they do not fit."""
    try:
        return f"{float(np.max(np.abs(np.asarray(got, dtype=float) - expected))):.3e}"
    except (TypeError, ValueError):
        return describe(got)
