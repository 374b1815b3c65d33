"""Tests for the visible checks (course_utils.checks_1d, checks_nd, checks_debug): the reference
answers pass, each kind of wrong answer fails exactly the checks that expose it, with the right
explanation. Assertions read the recorded CheckResults, not printed text."""

import math
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from course_utils import (
    BLAS_ULPS,
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    CheckFailed,
    backward_propagation_n_test,
    backward_propagation_test,
    blocks_with_bugs_test,
    buggy_backward_propagation_n,
    describe,
    difference_by_block_test,
    forward_propagation_test,
    gradient_check_n_test,
    gradient_check_test,
    numerical_gradient_n_test,
)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
NOT_IMPLEMENTED = "not implemented yet: replace `raise NotImplementedError()`"


def wrong_answer(namespace, source):
    """Exec a wrong version of one notebook function into the notebook's namespace.

    The function defined by ``source`` replaces the reference of the same name, which stays
    reachable as ``_reference`` for wrong answers that wrap it. Defined in ``namespace``, it
    shares the notebook's globals, so checks that swap helpers by name still reach it.
    """
    source = textwrap.dedent(source)
    name = re.search(r"^def (\w+)\(", source, re.MULTILINE).group(1)
    namespace["_reference"] = namespace[name]
    exec(source, namespace)
    return namespace[name]


def run(check, *functions):
    """Run a visible check; return its results and whether it raised CheckFailed."""
    try:
        return check(*functions), False
    except CheckFailed as exc:
        return exc.results, True


def failed(results):
    return [r.label for r in results if not r.ok]


def passed(results):
    return [r.label for r in results if r.ok]


def found(results, label):
    """The one result with this label."""
    (result,) = [r for r in results if r.label == label]
    return result


# --- The reference answers pass -------------------------------------------------------------

REFERENCE_CASES = [
    ("01", forward_propagation_test, ["forward_propagation"], 3),
    ("01", backward_propagation_test, ["backward_propagation"], 2),
    ("01", gradient_check_test, ["gradient_check"], 5),
    ("02", gradient_check_n_test, ["gradient_check_n"], 5),
    ("03", numerical_gradient_n_test, ["numerical_gradient_n"], 3),
    ("03", difference_by_block_test, ["difference_by_block"], 5),
    ("03", blocks_with_bugs_test, ["blocks_with_bugs"], 4),
    ("03", backward_propagation_n_test, ["backward_propagation_n", "numerical_gradient_n"], 15),
]


@pytest.mark.parametrize(
    ("prefix", "check", "names", "total"),
    REFERENCE_CASES,
    ids=[case[1].__name__ for case in REFERENCE_CASES],
)
def test_reference_solution_passes(load_notebook, capsys, prefix, check, names, total):
    """Each check passes the instructor's solution, and prints what it recorded."""
    namespace = load_notebook(prefix)
    before = dict(namespace)
    results, raised = run(check, *(namespace[name] for name in names))
    assert not raised and failed(results) == []
    assert len(results) == total
    out = capsys.readouterr().out
    assert out.startswith(f"Checking {names[0]}\n")
    assert out.endswith(f"All {total} checks passed.\n")
    # Swapped helpers are put back: the notebook's namespace is exactly as before.
    assert namespace == before


# --- forward_propagation and backward_propagation (1-D) ------------------------------------


def test_forward_propagation_wrong_formula(load_notebook, capsys):
    """J = theta + x fails the value check and both linearity checks, with the numbers."""
    student = wrong_answer(load_notebook("01"), """
        def forward_propagation(x, theta):
            return theta + x
    """)
    with pytest.raises(CheckFailed, match=r"^forward_propagation: 3 of 3 checks failed \("):
        forward_propagation_test(student)
    results = CheckFailed_results(forward_propagation_test, student)
    assert failed(results) == [
        "J is 8 for x=2, theta=4",
        "J(theta) grows linearly with theta at slope x=-1.5",
        "J(theta) grows linearly with theta at slope x=3.0",
    ]
    value = found(results, "J is 8 for x=2, theta=4")
    assert (value.expected, value.got, value.hint) == (8, "an int (6)", "J(theta) = theta * x")
    slope = found(results, "J(theta) grows linearly with theta at slope x=-1.5")
    assert slope.expected == "J(0)=0, J(1)=-1.5, J(2.5)=-3.75"
    assert slope.got == "J(0)=-1.5, J(1)=-0.5, J(2.5)=1.0"
    out = capsys.readouterr().out
    assert "        expected: 8\n        got:      an int (6)\n        hint:     J(theta)" in out


def CheckFailed_results(check, *functions):
    """Results of a check that must fail."""
    results, raised = run(check, *functions)
    assert raised
    return results


def test_backward_propagation_returning_theta(load_notebook, capsys):
    """dtheta = theta fails the value check and the does-not-depend-on-theta check."""
    student = wrong_answer(load_notebook("01"), """
        def backward_propagation(x, theta):
            return theta
    """)
    results = CheckFailed_results(backward_propagation_test, student)
    assert failed(results) == [
        "dtheta is 2 for x=2, theta=4",
        "dtheta does not depend on theta (J is linear in theta)",
    ]
    assert found(results, "dtheta is 2 for x=2, theta=4").got == "an int (4)"
    constant = found(results, "dtheta does not depend on theta (J is linear in theta)")
    assert constant.got == "0.5 and 7.0"
    assert constant.hint == "the derivative of theta * x with respect to theta is a constant"
    capsys.readouterr()


@pytest.mark.parametrize("returned", [None, "8", [8.0]])
def test_one_d_checks_fail_cleanly_on_non_numbers(load_notebook, capsys, returned):
    """None, strings and lists are named in the failure, never crash the check."""
    namespace = load_notebook("01")
    namespace["returned"] = returned
    for name, check in (("forward_propagation", forward_propagation_test),
                        ("backward_propagation", backward_propagation_test)):
        student = wrong_answer(namespace, f"""
            def {name}(x, theta):
                return returned
        """)
        results = CheckFailed_results(check, student)
        numbers = [r for r in results if r.label.startswith("returns numbers")]
        assert numbers and all(describe(returned) in r.got for r in numbers)
    capsys.readouterr()


# --- gradient_check (1-D) ------------------------------------------------------------------

FLOAT_1D = "gradient_check returns a Python float"
PUBLISHED_1D = "difference for x=2, theta=4, epsilon=1e-7 matches the published value"
TWICE_1D = "a derivative twice too large gives a difference of 1/3"
CUBIC_1D = "centered difference with the given epsilon (cubic cost, epsilon=1e-2)"
FLAT_1D = "grad and gradapprox both zero give a difference of 0 (not NaN)"
CENTERED_HINT_1D = (
    "use the epsilon argument and the centered difference "
    "(J(theta + epsilon) - J(theta - epsilon)) / (2 * epsilon)"
)
GRAD_HINT_1D = "compare gradapprox with the grad returned by backward_propagation(x, theta)"

WRONG_GRADIENT_CHECKS = {
    "one-sided difference": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta)) / epsilon
            grad = backward_propagation(x, theta)
            denominator = abs(grad) + abs(gradapprox)
            return 0.0 if denominator == 0 else float(abs(grad - gradapprox) / denominator)
        """,
        # On a line the one-sided step has no truncation error, but its rounding error is not
        # the published 2.9e-10; the cubic cost shows the truncation.
        [PUBLISHED_1D, CUBIC_1D],
        CUBIC_1D,
        CENTERED_HINT_1D,
    ),
    "fixed epsilon": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            return _reference(x, theta, 1e-7, print_msg)
        """,
        [CUBIC_1D],
        CUBIC_1D,
        CENTERED_HINT_1D,
    ),
    "no division by 2": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta - epsilon)) / epsilon
            grad = backward_propagation(x, theta)
            denominator = abs(grad) + abs(gradapprox)
            return 0.0 if denominator == 0 else float(abs(grad - gradapprox) / denominator)
        """,
        [PUBLISHED_1D, TWICE_1D, CUBIC_1D],
        PUBLISHED_1D,
        "relative difference = |grad - gradapprox| / (|grad| + |gradapprox|)",
    ),
    "grad hard-coded instead of calling backward_propagation": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
            grad = x
            return float(abs(grad - gradapprox) / (abs(grad) + abs(gradapprox)))
        """,
        [TWICE_1D, CUBIC_1D, FLAT_1D],
        TWICE_1D,
        GRAD_HINT_1D,
    ),
    "published constant": (
        f"""
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            return {PUBLISHED_DIFFERENCE_1D!r}
        """,
        [TWICE_1D, CUBIC_1D, FLAT_1D],
        TWICE_1D,
        GRAD_HINT_1D,
    ),
    "0/0 left as NaN": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
            grad = backward_propagation(x, theta)
            with np.errstate(invalid="ignore"):
                return float(np.float64(abs(grad - gradapprox)) / (abs(grad) + abs(gradapprox)))
        """,
        [FLAT_1D],
        FLAT_1D,
        "when norm(grad) + norm(gradapprox) is 0, return 0.0 instead of dividing",
    ),
}


@pytest.mark.parametrize(
    ("source", "failing", "hinted", "hint"),
    WRONG_GRADIENT_CHECKS.values(),
    ids=WRONG_GRADIENT_CHECKS.keys(),
)
def test_gradient_check_wrong_answers(load_notebook, capsys, source, failing, hinted, hint):
    """Each wrong gradient_check fails exactly the checks that expose it, with a hint."""
    student = wrong_answer(load_notebook("01"), source)
    results = CheckFailed_results(gradient_check_test, student)
    assert failed(results) == failing
    assert found(results, hinted).hint == hint
    assert found(results, hinted).expected is not None
    capsys.readouterr()


def test_gradient_check_nan_is_shown(load_notebook, capsys):
    """The NaN a 0/0 gives is what the failure reports."""
    student = wrong_answer(load_notebook("01"), WRONG_GRADIENT_CHECKS["0/0 left as NaN"][0])
    results = CheckFailed_results(gradient_check_test, student)
    assert found(results, FLAT_1D).got == "nan"
    assert found(results, FLAT_1D).expected == "0.0"
    capsys.readouterr()


def test_gradient_check_returning_array(load_notebook, capsys):
    """A difference returned as a (1, 1) array is named as such, with the fix."""
    student = wrong_answer(load_notebook("01"), """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            return np.array([[_reference(x, theta, epsilon, print_msg)]])
    """)
    results = CheckFailed_results(gradient_check_test, student)
    assert failed(results) == [FLOAT_1D]
    assert found(results, FLOAT_1D).got == "a numpy.ndarray of shape (1, 1)"
    assert found(results, FLOAT_1D).hint == (
        "gradient_check returned a numpy.ndarray of shape (1, 1); "
        "return a Python float, e.g. float(difference)"
    )
    capsys.readouterr()


def test_gradient_check_not_implemented(load_notebook, capsys):
    """The released stub fails once, with the not-implemented hint; later calls are skipped."""
    student = wrong_answer(load_notebook("01"), """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            raise NotImplementedError()
    """)
    results = CheckFailed_results(gradient_check_test, student)
    assert [(r.label, r.hint) for r in results] == [
        ("gradient_check(x=2, theta=4) runs", NOT_IMPLEMENTED)
    ]
    assert "Traceback" not in capsys.readouterr().out


def test_gradient_check_interrupted_skips_later_calls(load_notebook, capsys):
    """A time-out (KeyboardInterrupt) is a failure, and no later call reaches student code."""
    namespace = load_notebook("01")
    namespace["calls"] = []
    student = wrong_answer(namespace, """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            calls.append((x, theta))
            raise KeyboardInterrupt
    """)
    results = CheckFailed_results(gradient_check_test, student)
    assert namespace["calls"] == [(2, 4)]
    hints = [r.hint for r in results]
    assert hints.count("interrupted: the call took too long (an endless loop?)") == 1
    assert hints.count("skipped: an earlier call was interrupted") == 3
    capsys.readouterr()


# --- gradient_check_n ----------------------------------------------------------------------

FLOAT_N = "gradient_check_n returns a Python float"
SCALED_N = "gradients 1.5 times too large give a difference of 0.2"
UNCHANGED_N = "parameters are left unchanged"
CUBIC_N = "centered differences with the given epsilon (cubic cost, epsilon=0.1)"
FLAT_N = "grad and gradapprox both zero give a difference of 0 (not NaN)"

WRONG_GRADIENT_CHECK_NS = {
    "nudges the parameters in place": (
        """
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            grad = gradients_to_vector(gradients)
            gradapprox = []
            for block in parameters.values():
                for j in range(block.size):
                    block.flat[j] += epsilon
                    J_plus, _ = forward_propagation_n(X, Y, parameters)
                    block.flat[j] -= 2 * epsilon  # and never puts it back
                    J_minus, _ = forward_propagation_n(X, Y, parameters)
                    gradapprox.append((J_plus - J_minus) / (2 * epsilon))
            gradapprox = np.array(gradapprox).reshape(-1, 1)
            denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
            return 0.0 if denominator == 0 else float(np.linalg.norm(grad - gradapprox)
                                                      / denominator)
        """,
        # The stand-in costs are sums over entries, so shifted neighbours do not change an
        # entry's estimate: only the unchanged-parameters check sees this one.
        [UNCHANGED_N],
        UNCHANGED_N,
        "work on copies of theta (np.copy), never on the parameters dict itself",
    ),
    "copies theta once, so nudges add up": (
        """
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            theta, _ = dictionary_to_vector(parameters)
            grad = gradients_to_vector(gradients)
            theta_plus, theta_minus = np.copy(theta), np.copy(theta)
            gradapprox = np.zeros_like(theta)
            for i in range(theta.shape[0]):
                theta_plus[i] += epsilon
                theta_minus[i] -= epsilon
                J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))
                J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))
                gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
            denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
            return 0.0 if denominator == 0 else float(np.linalg.norm(grad - gradapprox)
                                                      / denominator)
        """,
        [SCALED_N, CUBIC_N],
        SCALED_N,
        "compare gradients_to_vector(gradients) with gradapprox over all entries",
    ),
    "fixed epsilon": (
        """
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            return _reference(parameters, gradients, X, Y, 1e-7, print_msg)
        """,
        [CUBIC_N],
        CUBIC_N,
        "use the epsilon argument: (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)",
    ),
    "published constant": (
        f"""
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            return {PUBLISHED_DIFFERENCE_N_BUGGY!r}
        """,
        [SCALED_N, CUBIC_N, FLAT_N],
        SCALED_N,
        "compare gradients_to_vector(gradients) with gradapprox over all entries",
    ),
}


@pytest.mark.parametrize(
    ("source", "failing", "hinted", "hint"),
    WRONG_GRADIENT_CHECK_NS.values(),
    ids=WRONG_GRADIENT_CHECK_NS.keys(),
)
def test_gradient_check_n_wrong_answers(load_notebook, capsys, source, failing, hinted, hint):
    """Each wrong gradient_check_n fails exactly the checks that expose it, with a hint."""
    student = wrong_answer(load_notebook("02"), source)
    results = CheckFailed_results(gradient_check_n_test, student)
    assert failed(results) == failing
    assert found(results, hinted).hint == hint
    capsys.readouterr()


def test_gradient_check_n_returning_array(load_notebook, capsys):
    """A difference returned as a (1,) array fails the float check; no value check runs."""
    student = wrong_answer(load_notebook("02"), """
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            return np.array([_reference(parameters, gradients, X, Y, epsilon, print_msg)])
    """)
    results = CheckFailed_results(gradient_check_n_test, student)
    assert failed(results) == [FLOAT_N]
    assert passed(results) == [UNCHANGED_N]
    assert "return a Python float" in found(results, FLOAT_N).hint
    capsys.readouterr()


def test_gradient_check_n_needs_no_backprop(load_notebook, capsys):
    """The check takes the student's function alone: its oracles are stand-in costs."""
    namespace = load_notebook("02")
    results, raised = run(gradient_check_n_test, namespace["gradient_check_n"])
    assert not raised and len(results) == 5
    capsys.readouterr()


def test_gradient_check_n_reproduces_the_classic_buggy_number(load_notebook):
    """The reference gives the published 0.285 on the course case with the buggy backprop."""
    from course_utils import forward_propagation_n, gradient_check_n_test_case

    namespace = load_notebook("02")
    X, Y, parameters = gradient_check_n_test_case()
    gradients = buggy_backward_propagation_n(X, Y, forward_propagation_n(X, Y, parameters)[1])
    difference = namespace["gradient_check_n"](parameters, gradients, X, Y)
    # Within BLAS_ULPS: the last bit depends on the BLAS kernel of np.linalg.norm.
    assert abs(difference - PUBLISHED_DIFFERENCE_N_BUGGY) <= BLAS_ULPS * math.ulp(
        PUBLISHED_DIFFERENCE_N_BUGGY
    )


# --- numerical_gradient_n ------------------------------------------------------------------

SHAPE_G = "returns an ndarray of shape (47, 1)"
UNCHANGED_G = "parameters are left unchanged"
CENTERED_G = "every entry is the centered difference with the given epsilon (0.1)"


def test_numerical_gradient_n_flat(load_notebook, capsys):
    """A flat (47,) result fails the shape check, naming both shapes."""
    student = wrong_answer(load_notebook("03"), """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            return _reference(parameters, X, Y, epsilon).ravel()
    """)
    results = CheckFailed_results(numerical_gradient_n_test, student)
    assert failed(results) == [SHAPE_G]
    assert found(results, SHAPE_G).expected == "a numpy.ndarray of shape (47, 1)"
    assert found(results, SHAPE_G).got == "a numpy.ndarray of shape (47,)"
    capsys.readouterr()


def test_numerical_gradient_n_one_sided(load_notebook, capsys):
    """A one-sided difference is off in every entry; the first is shown with its block."""
    student = wrong_answer(load_notebook("03"), """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            theta, _ = dictionary_to_vector(parameters)
            J, _ = forward_propagation_n(X, Y, parameters)
            gradapprox = np.zeros_like(theta)
            for i in range(theta.shape[0]):
                theta_plus = np.copy(theta)
                theta_plus[i] += epsilon
                J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))
                gradapprox[i] = (J_plus - J) / epsilon
            return gradapprox
    """)
    results = CheckFailed_results(numerical_gradient_n_test, student)
    assert failed(results) == [CENTERED_G]
    assert found(results, CENTERED_G).expected.startswith("entry 0 (W1): ")
    assert "(47 of 47 entries differ)" in found(results, CENTERED_G).got
    capsys.readouterr()


def test_numerical_gradient_n_mutating_parameters(load_notebook, capsys):
    """Nudging the parameters dict in place is caught, with the copy hint."""
    student = wrong_answer(load_notebook("03"), """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            gradapprox = []
            for block in parameters.values():
                for j in range(block.size):
                    block.flat[j] += epsilon
                    J_plus, _ = forward_propagation_n(X, Y, parameters)
                    block.flat[j] -= 2 * epsilon  # and never puts it back
                    J_minus, _ = forward_propagation_n(X, Y, parameters)
                    gradapprox.append((J_plus - J_minus) / (2 * epsilon))
            return np.array(gradapprox).reshape(-1, 1)
    """)
    results = CheckFailed_results(numerical_gradient_n_test, student)
    # The second failure follows from the first: the stand-in cost is measured at the
    # parameters the first call left shifted by -epsilon.
    assert failed(results) == [UNCHANGED_G, CENTERED_G]
    assert found(results, UNCHANGED_G).got == "changed arrays"
    capsys.readouterr()


def test_numerical_gradient_n_not_implemented(load_notebook, capsys):
    """The released stub fails once with the not-implemented hint, and nothing else."""
    student = wrong_answer(load_notebook("03"), """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            raise NotImplementedError()
    """)
    results = CheckFailed_results(numerical_gradient_n_test, student)
    assert [r.hint for r in results if not r.ok] == [NOT_IMPLEMENTED]
    assert passed(results) == [UNCHANGED_G]
    capsys.readouterr()


# --- difference_by_block -------------------------------------------------------------------

DICT_COURSE = "returns a dict keyed by block name for the course network"
VALUES_COURSE = "each block's relative difference is right for the course network"
DICT_2_LAYER = "returns a dict keyed by block name for a 2-layer network"
VALUES_2_LAYER = "each block's relative difference is right for a 2-layer network"
ZERO_BLOCK = "a block where grad and gradapprox are both zero reads 0 (not NaN)"


def test_difference_by_block_hard_coded_names(load_notebook, capsys):
    """Block names copied from the course network pass there and fail on a 2-layer layout."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            keys = np.asarray(keys)
            differences = {}
            for block in ["W1", "b1", "W2", "b2", "W3", "b3"]:
                rows = keys == block
                denominator = np.linalg.norm(grad[rows]) + np.linalg.norm(gradapprox[rows])
                differences[block] = 0.0 if denominator == 0 else float(
                    np.linalg.norm(grad[rows] - gradapprox[rows]) / denominator)
            return differences
    """)
    results = CheckFailed_results(difference_by_block_test, student)
    assert failed(results) == [DICT_2_LAYER]
    assert passed(results) == [DICT_COURSE, VALUES_COURSE, ZERO_BLOCK]
    assert found(results, DICT_2_LAYER).expected == (
        "a dict with keys ['W1', 'b1', 'W2', 'b2'] in that order"
    )
    assert found(results, DICT_2_LAYER).got == (
        "a dict with keys ['W1', 'b1', 'W2', 'b2', 'W3', 'b3']"
    )
    capsys.readouterr()


def test_difference_by_block_overall_for_every_block(load_notebook, capsys):
    """The overall difference in every block fails the values, listing expected per block."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            overall = _reference(grad, gradapprox, ["all"] * len(keys))["all"]
            return {block: overall for block in dict.fromkeys(keys)}
    """)
    results = CheckFailed_results(difference_by_block_test, student)
    assert failed(results) == [VALUES_COURSE, VALUES_2_LAYER]
    # Scales 0.5 ... 2.0 give |1 - s| / (1 + s): 1/3 for W1 (s=0.5), 0 for the 2-layer b1 (s=1).
    assert found(results, VALUES_COURSE).expected.startswith(
        "W1: 0.333333, b1: 0.111111, W2: 0.047619"
    )
    assert found(results, VALUES_2_LAYER).expected == (
        "W1: 0.333333, b1: 0.000000, W2: 0.200000, b2: 0.333333"
    )
    capsys.readouterr()


def test_difference_by_block_nan_for_a_dead_block(load_notebook, capsys):
    """Dividing 0 by 0 in a block of zeros fails the dead-block check, and only it."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            keys = np.asarray(keys)
            differences = {}
            for block in dict.fromkeys(keys.tolist()):
                rows = keys == block
                with np.errstate(invalid="ignore"):
                    differences[block] = float(
                        np.linalg.norm(grad[rows] - gradapprox[rows])
                        / (np.linalg.norm(grad[rows]) + np.linalg.norm(gradapprox[rows])))
            return differences
    """)
    results = CheckFailed_results(difference_by_block_test, student)
    assert failed(results) == [ZERO_BLOCK]
    assert found(results, ZERO_BLOCK).got == "a float (nan)"
    capsys.readouterr()


def test_difference_by_block_returning_list(load_notebook, capsys):
    """A list of values fails the dict checks; values are not checked."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            return list(_reference(grad, gradapprox, keys).values())
    """)
    results = CheckFailed_results(difference_by_block_test, student)
    assert failed(results) == [DICT_COURSE, DICT_2_LAYER, ZERO_BLOCK]
    assert found(results, DICT_COURSE).got == "a list"
    capsys.readouterr()


# --- backward_propagation_n ----------------------------------------------------------------

CASES_N = ("the course test case", "another network")
CACHE_ONLY = "gradients come from the cache alone (W1, the biases and the size of Z1, Z2 unused)"
BLOCKS = ("dW1", "db1", "dW2", "db2", "dW3", "db3")
AGREE = "{} agrees with the numerical gradient on {}"


def test_backward_propagation_n_buggy(load_notebook, capsys):
    """The lesson's buggy backprop fails dW2 and db1, and only those, on both networks."""
    namespace = load_notebook("03")
    results = CheckFailed_results(
        backward_propagation_n_test, buggy_backward_propagation_n, namespace["numerical_gradient_n"]
    )
    assert failed(results) == [AGREE.format(b, case) for case in CASES_N for b in ("db1", "dW2")]
    assert passed(results) == [
        label
        for case in CASES_N
        for label in [f"returns dW1 ... db3 for {case}"]
        + [AGREE.format(b, case) for b in BLOCKS if b not in ("db1", "dW2")]
    ] + [CACHE_ONLY]  # wrong, but a function of its cache
    hints = [r.hint for r in results if not r.ok]
    assert hints.count("look again at how dW2 is computed (and divided by m)") == 2
    assert hints.count("look again at how db1 is computed (and divided by m)") == 2
    capsys.readouterr()


def test_backward_propagation_n_missing_key(load_notebook, capsys):
    """A gradients dict without db3 fails the keys check and names the missing key."""
    namespace = load_notebook("03")
    student = wrong_answer(namespace, """
        def backward_propagation_n(X, Y, cache):
            gradients = _reference(X, Y, cache)
            del gradients["db3"]
            return gradients
    """)
    results = CheckFailed_results(
        backward_propagation_n_test, student, namespace["numerical_gradient_n"]
    )
    assert failed(results) == [f"returns dW1 ... db3 for {case}" for case in CASES_N]
    assert all(r.got == "missing ['db3']" for r in results)
    capsys.readouterr()


def test_backward_propagation_n_forgotten_return(load_notebook, capsys):
    namespace = load_notebook("03")
    student = wrong_answer(namespace, """
        def backward_propagation_n(X, Y, cache):
            _reference(X, Y, cache)
    """)
    results = CheckFailed_results(
        backward_propagation_n_test, student, namespace["numerical_gradient_n"]
    )
    assert len(results) == 2 and all(r.got == "None" for r in results)
    assert "forget the return statement" in results[0].hint
    capsys.readouterr()


def test_backward_propagation_n_wrong_block_shape(load_notebook, capsys):
    namespace = load_notebook("03")
    student = wrong_answer(namespace, """
        def backward_propagation_n(X, Y, cache):
            gradients = _reference(X, Y, cache)
            gradients["db1"] = gradients["db1"].ravel()  # np.sum without keepdims
            return gradients
    """)
    results = CheckFailed_results(
        backward_propagation_n_test, student, namespace["numerical_gradient_n"]
    )
    shape = [r for r in results if r.label.startswith("gradients have the shapes")]
    assert shape and "must be a column of shape (5, 1)" in shape[0].hint
    assert "got shape (5,)" in shape[0].hint
    capsys.readouterr()


def test_backward_propagation_n_blames_a_flat_numerical_gradient(load_notebook, capsys):
    namespace = load_notebook("03")
    flat = wrong_answer(namespace, """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            return _reference(parameters, X, Y, epsilon).ravel()
    """)
    results = CheckFailed_results(
        backward_propagation_n_test, namespace["backward_propagation_n"], flat
    )
    assert all("fix numerical_gradient_n first" in r.hint for r in results if not r.ok)
    assert not any(label.startswith("d") for label in failed(results))
    capsys.readouterr()



# --- notebook 3: blocks_with_bugs, and the hidden tests of the hunt and the fix ------------

def _test_cell_of_3(grade_id):
    """A test cell of notebook 3 without its visible check line: its hidden tests alone."""
    (path,) = NOTEBOOKS.glob("03_*.ipynb")
    (cell,) = [c for c in nbformat.read(path, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return "\n".join(line for line in cell.source.splitlines()
                     if not re.match(r"\w+_test\(", line))


def hidden_failures(namespace, grade_id):
    """Labels of the hidden tests of a notebook-3 cell that fail in ``namespace``."""
    try:
        exec(_test_cell_of_3(grade_id), namespace)
    except CheckFailed as exc:
        assert "(hidden tests)" in str(exc)
        return [r.label for r in exc.results if not r.ok]
    return []


@pytest.mark.parametrize(
    ("answer", "failing"),
    [
        ("[]", ["names at least one block"]),
        ("['dW1', 'W1']", ["every name is a block of the course network"]),
        ("['W1', 'W1']", ["no block is named twice"]),
        ("'W1'", ["returns a list of block names (str)"]),
    ],
)
def test_blocks_with_bugs_visible_check_judges_the_form(load_notebook, capsys, answer, failing):
    student = wrong_answer(load_notebook("03"), f"""
        def blocks_with_bugs():
            return {answer}
    """)
    assert failed(CheckFailed_results(blocks_with_bugs_test, student)) == failing
    capsys.readouterr()


WRONG_BLOCKS = "names exactly the blocks whose gradients are wrong"


@pytest.mark.parametrize(
    "answer",
    ["list(COURSE_SHAPES)",  # every block: no marks for listing all
     "list(COURSE_SHAPES)[:1]", "['W2', 'b3']", "_reference()[:-1]", "_reference() + ['W2']",
     "['dW2', 'db1']", "['W2', 'b1']"],  # the classic's bugs, as blocks or as gradients
)
def test_blocks_with_bugs_hidden_test_wants_exactly_the_wrong_blocks(load_notebook, capsys,
                                                                    answer):
    namespace = load_notebook("03")
    wrong_answer(namespace, f"""
        def blocks_with_bugs():
            return {answer}
    """)
    assert hidden_failures(namespace, "blocks_with_bugs_tests") == [WRONG_BLOCKS]
    capsys.readouterr()


def test_blocks_with_bugs_hidden_test_takes_any_order(load_notebook, capsys):
    namespace = load_notebook("03")
    wrong_answer(namespace, """
        def blocks_with_bugs():
            return tuple(reversed(_reference()))
    """)
    assert hidden_failures(namespace, "blocks_with_bugs_tests") == []
    capsys.readouterr()


UNRELATED = ["every gradient is right from a cache no forward pass produced (one example)",
             "every gradient is right from a cache no forward pass produced (six examples)"]
HUGE = "every gradient is right from a cache of very large numbers"

# Functions that agree with the numerical gradient on every visible case without being
# backprop: only the visible cache-only property (or nothing visible) gives them away.
CHEATS = {
    "complex step of the cost rebuilt from the cache's W, b and X": ("""
        def backward_propagation_n(X, Y, cache):
            (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
            parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
            theta, _ = dictionary_to_vector(parameters)

            def cost(theta):
                p = {k: v for k, v in zip(parameters, _blocks(theta, parameters))}
                A = X
                for layer in (1, 2, 3):
                    Z = p[f"W{layer}"] @ A + p[f"b{layer}"]
                    A = np.where(Z.real > 0, Z, 0) if layer < 3 else 1 / (1 + np.exp(-Z))
                return np.mean(-Y * np.log(A) - (1 - Y) * np.log(1 - A))

            grad = np.array([[cost(theta + 1e-20j * np.eye(len(theta))[:, [i]]).imag / 1e-20]
                             for i in range(len(theta))])
            return {"d" + k: v for k, v in zip(parameters, _blocks(grad, parameters))}


        def _blocks(vector, parameters):
            sizes = np.cumsum([v.size for v in parameters.values()])[:-1]
            return [part.reshape(v.shape) for part, v in
                    zip(np.split(vector.ravel(), sizes), parameters.values())]
        """, [CACHE_ONLY], UNRELATED),
    "the notebook's own numerical gradient": ("""
        def backward_propagation_n(X, Y, cache):
            (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
            parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
            approx = numerical_gradient_n(parameters, X, Y, epsilon=1e-4)
            blocks = vector_to_dictionary(approx)
            return {"d" + k: v for k, v in blocks.items()}
        """, [CACHE_ONLY], UNRELATED),
    "backprop of a fresh forward pass": ("""
        def backward_propagation_n(X, Y, cache):
            (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
            parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
            return _reference(X, Y, forward_propagation_n(X, Y, parameters)[1])
        """, [CACHE_ONLY], UNRELATED),
    "the classic buggy backprop with its outputs divided by 2 and 4": ("""
        import course_utils.network as _network


        def backward_propagation_n(X, Y, cache):
            # As in a kernel, where an overflow only warns.
            with np.errstate(over="ignore"):
                gradients = _network.buggy_backward_propagation_n(X, Y, cache)
            gradients["dW2"] = gradients["dW2"] / 2
            gradients["db1"] = gradients["db1"] / 4
            return gradients
        """, [], [HUGE]),
    "the given backprop with its wrong blocks from the notebook's numerical gradient": ("""
        def backward_propagation_n(X, Y, cache):
            (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
            parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
            gradients = subtly_buggy_backward_propagation_n(X, Y, cache)
            approx = vector_to_dictionary(numerical_gradient_n(parameters, X, Y, epsilon=1e-4))
            for block in ("W1", "b1", "b2", "W3"):
                gradients["d" + block] = approx[block]
            return gradients
        """, [CACHE_ONLY], UNRELATED),
}


@pytest.mark.parametrize(("source", "visible", "hidden"), CHEATS.values(), ids=CHEATS.keys())
def test_backprop_cheats_agree_numerically_and_score_nothing_hidden(
        load_notebook, capsys, source, visible, hidden):
    """Each cheat agrees with the numerical gradient wherever the visible check compares (a
    real threat); the cache-only property names it, and the hidden part fails it."""
    namespace = load_notebook("03")
    student = wrong_answer(namespace, source)
    results, _ = run(backward_propagation_n_test, student, namespace["numerical_gradient_n"])
    assert failed(results) == visible
    assert set(hidden) <= set(hidden_failures(namespace, "backward_propagation_n_tests"))
    capsys.readouterr()


def test_an_independently_written_backprop_keeps_every_mark(load_notebook, capsys):
    """Another order of operations, masks on Z, A3 recomputed from Z3, einsum: all pass."""
    namespace = load_notebook("03")
    student = wrong_answer(namespace, """
        def backward_propagation_n(X, Y, cache):
            Z1, A1, _, _, Z2, A2, W2, _, Z3, _, W3, _ = cache
            m = Y.shape[1]
            dZ3 = 1 / (1 + np.exp(-Z3)) - Y
            dZ2 = np.einsum("ki,kj->ij", W3, dZ3) * (Z2 > 0)
            dZ1 = np.einsum("ki,kj->ij", W2, dZ2) * (Z1 > 0)
            gradients = {}
            for layer, dZ, A in ((3, dZ3, A2), (2, dZ2, A1), (1, dZ1, X)):
                gradients[f"dW{layer}"] = np.einsum("ik,jk->ij", dZ, A) / m
                gradients[f"db{layer}"] = dZ.mean(axis=1, keepdims=True)
            return gradients
    """)
    results, raised = run(backward_propagation_n_test, student, namespace["numerical_gradient_n"])
    assert not raised, failed(results)
    assert hidden_failures(namespace, "backward_propagation_n_tests") == []
    capsys.readouterr()


def test_the_instructors_fix_and_answer_pass_every_hidden_test(load_notebook, capsys):
    namespace = load_notebook("03")
    for grade_id in ("blocks_with_bugs_tests", "backward_propagation_n_tests"):
        assert hidden_failures(namespace, grade_id) == []
    out = capsys.readouterr().out
    assert "backward_propagation_n (hidden tests)\nAll 5 checks passed." in out
