"""Student-facing checks for the graded functions, and the runner the hidden tests use.

Each ``*_test`` function takes the student's function, tries it on cases of its own, prints
one line per check, and raises :class:`CheckFailed` when anything failed. Expected values
come from independent oracles (the published numbers of the classic exercise, analytic
derivatives, or properties the answer must have), never from a copy of the solution: this
package is installed by students too.
"""

import contextlib
import copy
import math

import numpy as np

from course_utils.params import COURSE_SHAPES, dictionary_to_vector, gradients_to_vector
from course_utils.testcases import (
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_CORRECT,
    gradient_check_n_test_case,
)

# The published differences are rounding noise in their last digits: these tolerances
# accept any correct order of floating-point operations and reject every wrong formula.
PUBLISHED_RTOL = 1e-3
# np.isclose's defaults, the comparison the classic exercise states for the correct backprop.
CORRECT_N_RTOL, CORRECT_N_ATOL = 1e-5, 1e-8
# A backprop block agrees with the numerical gradient at GOOD_EPSILON within these.
BLOCK_RTOL, BLOCK_ATOL = 1e-5, 1e-8
# The step that minimises the difference for the course network (see notebook 03).
GOOD_EPSILON = 1e-4
# A difference below this counts as "the gradient is right" in printed verdicts; above it,
# look for a bug. It sits just above the ~1.2e-7 of a correct backprop at epsilon=1e-7.
DIFFERENCE_THRESHOLD = 2e-7


class CheckFailed(AssertionError):
    """A check failed; shown in Jupyter as its message alone, without a traceback.

    The message says what failed; the lines printed above it say why. Hiding the
    traceback keeps test cells from quoting their own source (and so hidden tests)
    in the output that feedback is built from.
    """

    def _render_traceback_(self):
        """IPython hook: the lines shown instead of a traceback."""
        return [f"CheckFailed: {self}"]


class Checker:
    """Record named checks, print one line each, and fail once at the end.

    Calls to student code go through :meth:`call`, which turns any exception (even a
    ``KeyboardInterrupt`` from a time-out) into a recorded failure, so that nothing a
    student writes can make a check print a traceback.

    Parameters
    ----------
    title : str
        What is being checked, printed first and used in the final message.
    show_details : bool, default=True
        Print expected and actual values and hints. Hidden tests set it to False so that
        feedback names each failed case without showing its numbers.
    """

    def __init__(self, title, show_details=True):
        self.title = title
        self.show_details = show_details
        self.passed = 0
        self.failures = []
        self.interrupted = False
        self.not_implemented = False
        print(f"Checking {title}")

    def call(self, label, function, *args, **kwargs):
        """Run student code; return ``(True, value)``, or record why it failed and return
        ``(False, None)``."""
        if self.interrupted:
            self.fail(label, hint="skipped: an earlier call was interrupted")
            return False, None
        if self.not_implemented:
            # One "not implemented yet" says it all; more failures would only be noise.
            return False, None
        try:
            return True, function(*args, **kwargs)
        except NotImplementedError:
            self.not_implemented = True
            self.fail(label, hint="not implemented yet: replace `raise NotImplementedError()`")
        except KeyboardInterrupt:
            # A time-out interrupts the kernel; stop calling student code from here on.
            self.interrupted = True
            self.fail(label, hint="interrupted: the call took too long (an endless loop?)")
        except BaseException as exc:  # anything a student's code raises is a finding
            self.fail(label, hint=f"raised {type(exc).__name__}: {exc}")
        return False, None

    def expect(self, label, ok, *, expected=None, got=None, hint=None):
        """Record one check that passed when ``ok`` is true."""
        if ok:
            self.passed += 1
            print(f"  ok    {label}")
        else:
            self.fail(label, expected=expected, got=got, hint=hint)
        return bool(ok)

    def require(self, label, ok, *, expected=None, got=None, hint=None):
        """A precondition: record a failure when ``ok`` is false, stay silent when true."""
        if not ok:
            self.fail(label, expected=expected, got=got, hint=hint)
        return bool(ok)

    def fail(self, label, *, expected=None, got=None, hint=None):
        """Record one failed check."""
        self.failures.append(label)
        print(f"  FAIL  {label}")
        if not self.show_details:
            return
        if expected is not None:
            print(f"        expected: {expected}")
        if got is not None:
            print(f"        got:      {got}")
        if hint:
            print(f"        hint:     {hint}")

    def finish(self):
        """Print the summary; raise :class:`CheckFailed` if any check failed."""
        total = self.passed + len(self.failures)
        if self.failures:
            raise CheckFailed(
                f"{self.title}: {len(self.failures)} of {total} checks failed "
                f"({'; '.join(self.failures)})"
            )
        print(f"All {total} checks passed.")


class HiddenChecks(Checker):
    """The runner for hidden tests: only the label of a failed case reaches feedback.

    Hidden test lines pass student calls as ``lambda`` so that they run inside
    :meth:`Checker.call` and can never raise from the test cell itself.

    Examples
    --------
    >>> hidden = HiddenChecks("gradient_check")  # doctest: +SKIP
    >>> hidden.true("x=3, theta=-2", lambda: gradient_check(3, -2) < 1e-7)  # doctest: +SKIP
    >>> hidden.finish()  # doctest: +SKIP
    """

    def __init__(self, title):
        super().__init__(f"{title} (hidden tests)", show_details=False)

    def finish(self):
        """As :meth:`Checker.finish`; in a student copy, where no hidden test is left, say so."""
        if self.passed == 0 and not self.failures:
            print("  The hidden tests are not in your copy: they run when your work is graded.")
            return
        super().finish()

    def close(self, label, call, expected, *, rtol=1e-7, atol=0.0):
        """Check that ``call()`` returns a value close to ``expected`` (arrays allowed)."""
        ok, value = self.call(label, call)
        if ok:
            try:
                good = np.shape(value) == np.shape(expected) and bool(
                    np.allclose(value, expected, rtol=rtol, atol=atol)
                )
            except (TypeError, ValueError):
                good = False
            self.expect(label, good)

    def true(self, label, call):
        """Check that ``call()`` returns something true."""
        ok, value = self.call(label, call)
        if ok:
            self.expect(label, _truthy(value))


def _truthy(value):
    """``bool(value)``, false for anything that cannot be read as a truth value."""
    try:
        return bool(value)
    except (TypeError, ValueError):
        return False


def describe(value):
    """Say what a value is, for messages: ``a numpy.ndarray of shape (1, 1)``."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a numpy.ndarray of shape {value.shape}"
    if isinstance(value, str):
        return f"a str ({value[:20]!r})"
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    article = "an" if name[0].lower() in "aeiou" else "a"
    if isinstance(value, int | float):
        return f"{article} {name} ({value!r})"
    return f"{article} {name}"


def _is_number(value):
    """True for real numbers (Python or numpy scalars), false for None, strings and arrays."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _is_float(value):
    """True for Python floats (numpy.float64 is one); false for arrays and other types."""
    return isinstance(value, float)


def _expect_float(checker, name, value):
    """Check that a function returned a Python float."""
    return checker.expect(
        f"{name} returns a Python float",
        _is_float(value),
        expected="a float",
        got=describe(value),
        hint=f"{name} returned {describe(value)}; return a Python float, e.g. float(difference)",
    )


def _expect_close(checker, label, got, expected, *, rtol, atol=0.0, hint=None):
    """Check a scalar against an expected value, printing both on failure."""
    ok = _is_float(got) or isinstance(got, int)
    ok = ok and math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)
    return checker.expect(
        label,
        ok,
        expected=f"{expected:.10g} (within {rtol:g} relative)",
        got=f"{got:.10g}" if ok or _is_float(got) else describe(got),
        hint=hint,
    )


def _expect_unchanged(checker, parameters, untouched, hint):
    """Check that a call left the parameters dict as it was (``untouched`` is a deep copy)."""
    return checker.expect(
        "parameters are left unchanged",
        all(np.array_equal(parameters[k], untouched[k]) for k in untouched),
        expected="the same arrays as before the call",
        got="changed arrays",
        hint=hint,
    )


@contextlib.contextmanager
def replaced_globals(function, **replacements):
    """Temporarily rebind names in the namespace ``function`` looks its helpers up in.

    The graded functions call ``forward_propagation`` and ``backward_propagation`` by
    name; swapping those lets a check try them on a cost whose derivative it knows.
    """
    namespace = function.__globals__
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def report_difference(difference, threshold=DIFFERENCE_THRESHOLD):
    """Print a one-line verdict on a relative difference.

    Parameters
    ----------
    difference : float
        ``norm(grad - gradapprox) / (norm(grad) + norm(gradapprox))``.
    threshold : float, default=DIFFERENCE_THRESHOLD
        Below it the gradient counts as right.
    """
    if difference < threshold:
        print(f"difference = {difference:.3e} < {threshold:g}: the gradient is right.")
    else:
        print(f"difference = {difference:.3e} >= {threshold:g}: the gradient has a mistake.")


def forward_propagation_test(forward_propagation):
    """Check ``forward_propagation(x, theta)`` for the cost J(theta) = theta * x.

    Parameters
    ----------
    forward_propagation : callable
        The student's function.

    Raises
    ------
    CheckFailed
        If any check failed; the printed lines say which and why.
    """
    checker = Checker("forward_propagation")
    ok, value = checker.call("forward_propagation(x=2, theta=4) runs", forward_propagation, 2, 4)
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
            all(_is_number(v) for v in (at_zero, at_one, at_t)),
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


def backward_propagation_test(backward_propagation):
    """Check ``backward_propagation(x, theta)``: the derivative dJ/dtheta of J = theta * x.

    Parameters
    ----------
    backward_propagation : callable
        The student's function.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("backward_propagation")
    ok, value = checker.call("backward_propagation(x=2, theta=4) runs", backward_propagation, 2, 4)
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
        _is_number(at_a) and _is_number(at_b),
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


def gradient_check_test(gradient_check):
    """Check ``gradient_check(x, theta, epsilon=1e-7, print_msg=False)`` for J = theta * x.

    Besides the published value, the check swaps in costs whose derivative it knows
    (through the names ``forward_propagation`` and ``backward_propagation``) to see that the
    function uses the centered difference, honours ``epsilon`` and notices a wrong
    derivative.

    Parameters
    ----------
    gradient_check : callable
        The student's function.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("gradient_check")
    ok, difference = checker.call("gradient_check(x=2, theta=4) runs", gradient_check, 2, 4)
    if ok and _expect_float(checker, "gradient_check", difference):
        _expect_close(
            checker,
            "difference for x=2, theta=4, epsilon=1e-7 matches the published value",
            difference,
            PUBLISHED_DIFFERENCE_1D,
            rtol=PUBLISHED_RTOL,
            hint="relative difference = |grad - gradapprox| / (|grad| + |gradapprox|)",
        )

    # A wrong derivative (twice the true one, x) must be caught: the relative difference
    # between 2x and x is |2x - x| / (|2x| + |x|) = 1/3.
    with replaced_globals(gradient_check, backward_propagation=lambda x, theta: 2 * x):
        ok, difference = checker.call("runs with a wrong derivative", gradient_check, 2, 4)
    if ok and _is_float(difference):
        _expect_close(
            checker,
            "a derivative twice too large gives a difference of 1/3",
            difference,
            1 / 3,
            rtol=1e-6,
            hint="compare gradapprox with the grad returned by backward_propagation(x, theta)",
        )

    # J = theta**3 * x: the centered difference is 3 theta^2 x + epsilon^2 x exactly, so
    # with grad = 3 theta^2 x the difference is epsilon^2 / (6 theta^2 + epsilon^2).
    # A one-sided difference would give about 3 theta epsilon / (6 theta^2) instead.
    theta, epsilon = 1.0, 1e-2
    expected = epsilon**2 / (6 * theta**2 + epsilon**2)
    with replaced_globals(
        gradient_check,
        forward_propagation=lambda x, t: t**3 * x,
        backward_propagation=lambda x, t: 3 * t**2 * x,
    ):
        ok, difference = checker.call(
            "runs on the cubic cost J = theta^3 * x",
            gradient_check,
            2.0,
            theta,
            epsilon=epsilon,
        )
    if ok and _is_float(difference):
        _expect_close(
            checker,
            "centered difference with the given epsilon (cubic cost, epsilon=1e-2)",
            difference,
            expected,
            rtol=1e-4,
            hint=(
                "use the epsilon argument and the centered difference "
                "(J(theta + epsilon) - J(theta - epsilon)) / (2 * epsilon)"
            ),
        )
    checker.finish()


def _course_gradients(forward_propagation_n, backward_propagation_n, X, Y, parameters):
    """Run the given network forward and backward; return its gradients dict."""
    _, cache = forward_propagation_n(X, Y, parameters)
    return backward_propagation_n(X, Y, cache)


def _second_case():
    """A network case the notebooks never print: other weights, seven examples."""
    rng = np.random.default_rng(2024)
    X = rng.standard_normal((4, 7))
    Y = (rng.random((1, 7)) > 0.5).astype(float)
    parameters = {name: rng.standard_normal(shape) for name, shape in COURSE_SHAPES.items()}
    return X, Y, parameters


def gradient_check_n_test(gradient_check_n, forward_propagation_n, backward_propagation_n):
    """Check ``gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False)``.

    The oracles are the published difference for the correct gradients, and the analytic
    gradient from the (correct) ``backward_propagation_n`` scaled by ``s``, whose relative
    difference from the true gradient is exactly ``|1 - s| / (1 + s)``.

    Parameters
    ----------
    gradient_check_n : callable
        The student's function.
    forward_propagation_n, backward_propagation_n : callable
        The network under study, as defined in the notebook.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("gradient_check_n")
    X, Y, parameters = gradient_check_n_test_case()
    untouched = copy.deepcopy(parameters)
    gradients = _course_gradients(forward_propagation_n, backward_propagation_n, X, Y, parameters)

    ok, difference = checker.call(
        "gradient_check_n runs on the course test case",
        gradient_check_n,
        parameters,
        gradients,
        X,
        Y,
    )
    if ok and _expect_float(checker, "gradient_check_n", difference):
        checker.expect(
            "correct gradients at epsilon=1e-7 give the published ~1.19e-07",
            math.isclose(
                difference,
                PUBLISHED_DIFFERENCE_N_CORRECT,
                rel_tol=CORRECT_N_RTOL,
                abs_tol=CORRECT_N_ATOL,
            ),
            expected=f"{PUBLISHED_DIFFERENCE_N_CORRECT:.3e} (give or take 1e-8)",
            got=f"{difference:.3e}",
            hint="loop over every entry of theta; divide by 2 * epsilon",
        )
    _expect_unchanged(
        checker,
        parameters,
        untouched,
        hint="work on copies of theta (np.copy), never on the parameters dict itself",
    )

    # Every gradient scaled by s: since gradapprox matches the true gradient, the
    # difference is |1 - s| / (1 + s) (here 0.2), whatever the network.
    X2, Y2, parameters2 = _second_case()
    true_gradients = _course_gradients(
        forward_propagation_n, backward_propagation_n, X2, Y2, parameters2
    )
    scale = 1.5
    scaled = {name: scale * value for name, value in true_gradients.items()}
    ok, difference = checker.call(
        "runs on another network with every gradient 1.5 times too large",
        gradient_check_n,
        parameters2,
        scaled,
        X2,
        Y2,
    )
    if ok and _is_float(difference):
        _expect_close(
            checker,
            "gradients 1.5 times too large give a difference of 0.2",
            difference,
            abs(1 - scale) / (1 + scale),
            rtol=1e-5,
            hint="compare gradients_to_vector(gradients) with gradapprox over all entries",
        )

    ok, difference = checker.call(
        "runs with epsilon=1e-4",
        gradient_check_n,
        parameters,
        gradients,
        X,
        Y,
        epsilon=GOOD_EPSILON,
    )
    if ok and _is_float(difference):
        checker.expect(
            "epsilon is honoured (1e-4 gives a much smaller difference than 1e-7)",
            difference < 1e-8,
            expected="below 1e-8",
            got=f"{difference:.3e}",
            hint="use the epsilon argument, not a fixed step",
        )
    checker.finish()


def _cubic_cost(X, Y, parameters):
    """A stand-in for forward_propagation_n: J = sum(theta**3) / 3, gradient theta**2.

    Its centered difference is exactly theta**2 + epsilon**2 / 3, so a check can tell the
    centered formula, the step used and a one-sided difference apart without a reference
    implementation.
    """
    theta, _ = dictionary_to_vector(parameters)
    return float(np.sum(theta**3) / 3), None


def numerical_gradient_n_test(numerical_gradient_n):
    """Check ``numerical_gradient_n(parameters, X, Y, epsilon=1e-7)`` -> gradapprox (n, 1).

    The oracle is a cost with a known centered difference: the check temporarily points
    the name ``forward_propagation_n`` at ``J = sum(theta**3) / 3``, whose centered
    difference is exactly ``theta**2 + epsilon**2 / 3`` in every entry.

    Parameters
    ----------
    numerical_gradient_n : callable
        The student's function; it must call ``forward_propagation_n`` by that name.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("numerical_gradient_n")
    X, Y, parameters = gradient_check_n_test_case()
    untouched = copy.deepcopy(parameters)
    theta, keys = dictionary_to_vector(parameters)
    ok, gradapprox = checker.call(
        "numerical_gradient_n runs on the course test case", numerical_gradient_n, parameters, X, Y
    )
    if ok:
        checker.expect(
            f"returns an ndarray of shape {theta.shape}",
            isinstance(gradapprox, np.ndarray) and gradapprox.shape == theta.shape,
            expected=f"a numpy.ndarray of shape {theta.shape}",
            got=describe(gradapprox),
            hint="one entry per parameter, a column like theta from dictionary_to_vector",
        )
    _expect_unchanged(
        checker,
        parameters,
        untouched,
        hint="perturb copies of theta (np.copy), never the parameters dict itself",
    )

    epsilon = 0.1
    expected = theta**2 + epsilon**2 / 3
    with replaced_globals(numerical_gradient_n, forward_propagation_n=_cubic_cost):
        ok, gradapprox = checker.call(
            "runs on the stand-in cost sum(theta**3) / 3", numerical_gradient_n, parameters,
            X, Y, epsilon=epsilon,
        )
    if ok and isinstance(gradapprox, np.ndarray) and gradapprox.shape == theta.shape:
        wrong = np.flatnonzero(~np.isclose(gradapprox, expected, rtol=1e-9, atol=1e-12))
        first = wrong[0] if wrong.size else 0
        checker.expect(
            "every entry is the centered difference with the given epsilon (0.1)",
            wrong.size == 0,
            expected=f"entry {first} ({keys[first]}): {expected[first, 0]:.12g}",
            got=f"{gradapprox[first, 0]:.12g} ({wrong.size} of {theta.shape[0]} entries differ)",
            hint="(J(theta + epsilon e_i) - J(theta - epsilon e_i)) / (2 epsilon), from a fresh "
            "copy of theta for every i; call forward_propagation_n by that name",
        )
    checker.finish()


def difference_by_block_test(difference_by_block):
    """Check ``difference_by_block(grad, gradapprox, keys)`` -> {block: relative difference}.

    The cases scale each block of ``gradapprox`` by a factor ``s``: the block's relative
    difference is then exactly ``|1 - s| / (1 + s)``, whatever the gradient.

    Parameters
    ----------
    difference_by_block : callable
        The student's function.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("difference_by_block")
    rng = np.random.default_rng(7)
    layouts = {
        "the course network": COURSE_SHAPES,
        "a 2-layer network": {"W1": (2, 3), "b1": (2, 1), "W2": (1, 2), "b2": (1, 1)},
    }
    for name, shapes in layouts.items():
        parameters = {block: rng.standard_normal(shape) for block, shape in shapes.items()}
        grad, keys = dictionary_to_vector(parameters)
        scales = dict(zip(shapes, np.linspace(0.5, 2.0, len(shapes)), strict=True))
        gradapprox = grad * np.array([[scales[key]] for key in keys])
        expected = {block: abs(1 - s) / (1 + s) for block, s in scales.items()}
        ok, result = checker.call(f"runs on {name}", difference_by_block, grad, gradapprox, keys)
        if not ok:
            continue
        if not checker.expect(
            f"returns a dict keyed by block name for {name}",
            isinstance(result, dict) and list(result) == list(shapes),
            expected=f"a dict with keys {list(shapes)} in that order",
            got=(
                f"a dict with keys {list(result)}"
                if isinstance(result, dict)
                else describe(result)
            ),
            hint="use the names in keys; one entry per block, in the order they first appear",
        ):
            continue
        wrong = {
            block: value
            for block, value in result.items()
            if not (_is_float(value) and math.isclose(value, expected[block], rel_tol=1e-9))
        }
        checker.expect(
            f"each block's relative difference is right for {name}",
            not wrong,
            expected=", ".join(f"{b}: {expected[b]:.6f}" for b in wrong),
            got=", ".join(f"{b}: {v}" for b, v in wrong.items()),
            hint="per block: norm(grad_b - gradapprox_b) / (norm(grad_b) + norm(gradapprox_b))",
        )
    checker.finish()


def backward_propagation_n_test(backward_propagation_n, forward_propagation_n,
                                numerical_gradient_n):
    """Check a fixed ``backward_propagation_n(X, Y, cache)`` block by block.

    The oracle is your own ``numerical_gradient_n`` (checked against the published number
    above it) at ``epsilon=1e-4``, where rounding noise is smallest for this network.

    Parameters
    ----------
    backward_propagation_n : callable
        The student's fixed backprop.
    forward_propagation_n, numerical_gradient_n : callable
        The network, and the student's numerical gradient.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("backward_propagation_n")
    cases = {
        "the course test case": gradient_check_n_test_case(),
        "another network": _second_case(),
    }
    for name, (X, Y, parameters) in cases.items():
        _, cache = forward_propagation_n(X, Y, parameters)
        ok, gradients = checker.call(f"runs on {name}", backward_propagation_n, X, Y, cache)
        if not ok:
            continue
        is_dict = isinstance(gradients, dict)
        missing = [f"d{b}" for b in COURSE_SHAPES if not is_dict or f"d{b}" not in gradients]
        if not checker.expect(
            f"returns dW1 ... db3 for {name}",
            is_dict and not missing,
            expected="a dict with dW1, db1, dW2, db2, dW3, db3",
            got=f"missing {missing}" if is_dict else describe(gradients),
            hint="return the gradients dict (did you forget the return statement?)",
        ):
            continue
        try:
            grad = gradients_to_vector(gradients)
        except (KeyError, TypeError, ValueError) as exc:
            checker.fail(f"gradients have the shapes of their parameters on {name}",
                         hint=str(exc).strip("'\""))
            continue
        ok, gradapprox = checker.call(
            f"your numerical_gradient_n runs on {name}",
            numerical_gradient_n,
            parameters,
            X,
            Y,
            epsilon=GOOD_EPSILON,
        )
        if not ok or not checker.require(
            f"your numerical_gradient_n returns shape {grad.shape} on {name}",
            isinstance(gradapprox, np.ndarray) and gradapprox.shape == grad.shape,
            expected=f"a numpy.ndarray of shape {grad.shape}",
            got=describe(gradapprox),
            hint="fix numerical_gradient_n first: its check is above",
        ):
            continue
        _, keys = dictionary_to_vector(parameters)
        keys = np.array(keys)
        for block in COURSE_SHAPES:
            rows = keys == block
            error = float(np.max(np.abs(grad[rows] - gradapprox[rows])))
            checker.expect(
                f"d{block} agrees with the numerical gradient on {name}",
                np.allclose(grad[rows], gradapprox[rows], rtol=BLOCK_RTOL, atol=BLOCK_ATOL),
                expected=f"agreement within {BLOCK_RTOL:g} relative, {BLOCK_ATOL:g} absolute",
                got=f"largest gap {error:.3e}",
                hint=f"look again at how d{block} is computed (and divided by m)",
            )
    checker.finish()


__all__ = [
    "DIFFERENCE_THRESHOLD",
    "CheckFailed",
    "Checker",
    "HiddenChecks",
    "backward_propagation_n_test",
    "backward_propagation_test",
    "describe",
    "difference_by_block_test",
    "forward_propagation_test",
    "gradient_check_n_test",
    "gradient_check_test",
    "numerical_gradient_n_test",
    "replaced_globals",
    "report_difference",
]
