"""Tests for course_utils.checks: the reference answers pass, each kind of wrong answer fails
with the right explanation, and the runner never lets student code raise past it."""

import re
import textwrap

import numpy as np
import pytest

from course_utils.checks import (
    DIFFERENCE_THRESHOLD,
    Checker,
    CheckFailed,
    HiddenChecks,
    backward_propagation_n_test,
    backward_propagation_test,
    describe,
    difference_by_block_test,
    forward_propagation_test,
    gradient_check_n_test,
    gradient_check_test,
    numerical_gradient_n_test,
    replaced_globals,
    report_difference,
)
from course_utils.testcases import PUBLISHED_DIFFERENCE_1D

NOT_IMPLEMENTED_HINT = "hint:     not implemented yet: replace `raise NotImplementedError()`"


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


def failed(out):
    """Labels of the FAIL lines in a check's printed output."""
    return [line[len("  FAIL  "):] for line in out.splitlines() if line.startswith("  FAIL  ")]


def passed(out):
    """Labels of the ok lines in a check's printed output."""
    return [line[len("  ok    "):] for line in out.splitlines() if line.startswith("  ok    ")]


def failure_message(title, n_failed, total):
    """Regex for the start of the CheckFailed message."""
    return rf"^{re.escape(title)}: {n_failed} of {total} checks failed \("


# --- The reference answers pass -------------------------------------------------------------

REFERENCE_CASES = [
    ("01", forward_propagation_test, ["forward_propagation"], 3),
    ("01", backward_propagation_test, ["backward_propagation"], 2),
    ("01", gradient_check_test, ["gradient_check"], 4),
    (
        "02",
        gradient_check_n_test,
        ["gradient_check_n", "forward_propagation_n", "backward_propagation_n"],
        5,
    ),
    ("03", numerical_gradient_n_test, ["numerical_gradient_n"], 3),
    ("03", difference_by_block_test, ["difference_by_block"], 4),
    (
        "03",
        backward_propagation_n_test,
        ["backward_propagation_n", "forward_propagation_n", "numerical_gradient_n"],
        14,
    ),
]


@pytest.mark.parametrize(
    ("prefix", "check", "names", "total"),
    REFERENCE_CASES,
    ids=[case[1].__name__ for case in REFERENCE_CASES],
)
def test_reference_solution_passes(load_notebook, capsys, prefix, check, names, total):
    """Each check passes the instructor's solution and prints how many checks it ran."""
    namespace = load_notebook(prefix)
    before = dict(namespace)
    check(*(namespace[name] for name in names))
    out = capsys.readouterr().out
    assert out.startswith(f"Checking {names[0]}\n")
    assert failed(out) == []
    assert len(passed(out)) == total
    assert out.endswith(f"All {total} checks passed.\n")
    # Swapped helpers are put back: the notebook's namespace is exactly as before.
    assert namespace == before


# --- forward_propagation and backward_propagation (1-D) ------------------------------------


def test_forward_propagation_wrong_formula(load_notebook, capsys):
    """J = theta + x fails the value check and both linearity checks, with the numbers."""
    namespace = load_notebook("01")
    student = wrong_answer(namespace, """
        def forward_propagation(x, theta):
            return theta + x
    """)
    with pytest.raises(CheckFailed, match=failure_message("forward_propagation", 3, 3)):
        forward_propagation_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [
        "J is 8 for x=2, theta=4",
        "J(theta) grows linearly with theta at slope x=-1.5",
        "J(theta) grows linearly with theta at slope x=3.0",
    ]
    assert "expected: 8\n        got:      an int (6)\n        hint:     J(theta) = theta *" in out
    assert "expected: J(0)=0, J(1)=-1.5, J(2.5)=-3.75" in out
    assert "got:      J(0)=-1.5, J(1)=-0.5, J(2.5)=1.0" in out


def test_backward_propagation_returning_theta(load_notebook, capsys):
    """dtheta = theta fails the value check and the does-not-depend-on-theta check."""
    namespace = load_notebook("01")
    student = wrong_answer(namespace, """
        def backward_propagation(x, theta):
            return theta
    """)
    with pytest.raises(CheckFailed, match=failure_message("backward_propagation", 2, 2)):
        backward_propagation_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [
        "dtheta is 2 for x=2, theta=4",
        "dtheta does not depend on theta (J is linear in theta)",
    ]
    assert "expected: 2\n        got:      an int (4)" in out
    assert "got:      0.5 and 7.0" in out
    assert "hint:     the derivative of theta * x with respect to theta is a constant" in out


# --- gradient_check (1-D) ------------------------------------------------------------------

FLOAT_1D = "gradient_check returns a Python float"
PUBLISHED_1D = "difference for x=2, theta=4, epsilon=1e-7 matches the published value"
TWICE_1D = "a derivative twice too large gives a difference of 1/3"
CUBIC_1D = "centered difference with the given epsilon (cubic cost, epsilon=1e-2)"
CENTERED_HINT_1D = (
    "hint:     use the epsilon argument and the centered difference "
    "(J(theta + epsilon) - J(theta - epsilon)) / (2 * epsilon)"
)
GRAD_HINT_1D = (
    "hint:     compare gradapprox with the grad returned by backward_propagation(x, theta)"
)

WRONG_GRADIENT_CHECKS = {
    "one-sided difference": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta)) / epsilon
            grad = backward_propagation(x, theta)
            return float(abs(grad - gradapprox) / (abs(grad) + abs(gradapprox)))
        """,
        # On a line the one-sided step has no truncation error, but its rounding error
        # (1.4e-9) is not the published 2.9e-10; the cubic cost shows the truncation.
        [PUBLISHED_1D, CUBIC_1D],
        CENTERED_HINT_1D,
    ),
    "fixed epsilon": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            return _reference(x, theta, 1e-7, print_msg)
        """,
        [CUBIC_1D],
        CENTERED_HINT_1D,
    ),
    "no division by 2": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta - epsilon)) / epsilon
            grad = backward_propagation(x, theta)
            return float(abs(grad - gradapprox) / (abs(grad) + abs(gradapprox)))
        """,
        [PUBLISHED_1D, TWICE_1D, CUBIC_1D],
        "hint:     relative difference = |grad - gradapprox| / (|grad| + |gradapprox|)",
    ),
    "grad hard-coded instead of calling backward_propagation": (
        """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            gradapprox = (forward_propagation(x, theta + epsilon)
                          - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
            grad = x
            return float(abs(grad - gradapprox) / (abs(grad) + abs(gradapprox)))
        """,
        [TWICE_1D, CUBIC_1D],
        GRAD_HINT_1D,
    ),
    "published constant": (
        f"""
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            return {PUBLISHED_DIFFERENCE_1D!r}
        """,
        [TWICE_1D, CUBIC_1D],
        GRAD_HINT_1D,
    ),
}


@pytest.mark.parametrize(
    ("source", "failing", "hint"),
    WRONG_GRADIENT_CHECKS.values(),
    ids=WRONG_GRADIENT_CHECKS.keys(),
)
def test_gradient_check_wrong_answers(load_notebook, capsys, source, failing, hint):
    """Each wrong gradient_check fails exactly the checks that expose it, with a hint."""
    student = wrong_answer(load_notebook("01"), source)
    with pytest.raises(CheckFailed, match=failure_message("gradient_check", len(failing), 4)):
        gradient_check_test(student)
    out = capsys.readouterr().out
    assert failed(out) == failing
    assert hint in out
    assert "expected: " in out and "got:      " in out


def test_gradient_check_returning_array(load_notebook, capsys):
    """A difference returned as a (1, 1) array is named as such, with the fix."""
    student = wrong_answer(load_notebook("01"), """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            return np.array([[_reference(x, theta, epsilon, print_msg)]])
    """)
    with pytest.raises(CheckFailed, match=failure_message("gradient_check", 1, 1)):
        gradient_check_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [FLOAT_1D]
    assert "got:      a numpy.ndarray of shape (1, 1)" in out
    assert (
        "hint:     gradient_check returned a numpy.ndarray of shape (1, 1); "
        "return a Python float, e.g. float(difference)"
    ) in out


def test_gradient_check_not_implemented(load_notebook, capsys):
    """The released stub fails once, with the not-implemented hint; later calls are skipped."""
    student = wrong_answer(load_notebook("01"), """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            raise NotImplementedError()
    """)
    with pytest.raises(CheckFailed, match=failure_message("gradient_check", 1, 1)):
        gradient_check_test(student)
    out = capsys.readouterr().out
    assert failed(out) == ["gradient_check(x=2, theta=4) runs"]
    assert out.count(NOT_IMPLEMENTED_HINT) == 1
    assert "Traceback" not in out


def test_gradient_check_interrupted_skips_later_calls(load_notebook, capsys):
    """A time-out (KeyboardInterrupt) is a failure, and no later call reaches student code."""
    namespace = load_notebook("01")
    namespace["calls"] = []
    student = wrong_answer(namespace, """
        def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
            calls.append((x, theta))
            raise KeyboardInterrupt
    """)
    with pytest.raises(CheckFailed, match=failure_message("gradient_check", 3, 3)):
        gradient_check_test(student)
    out = capsys.readouterr().out
    assert namespace["calls"] == [(2, 4)]
    assert out.count("interrupted: the call took too long (an endless loop?)") == 1
    assert out.count("hint:     skipped: an earlier call was interrupted") == 2


# --- gradient_check_n ----------------------------------------------------------------------

FLOAT_N = "gradient_check_n returns a Python float"
PUBLISHED_N = "correct gradients at epsilon=1e-7 give the published ~1.19e-07"
UNCHANGED_N = "parameters are left unchanged"
SCALED_N = "gradients 1.5 times too large give a difference of 0.2"
EPSILON_N = "epsilon is honoured (1e-4 gives a much smaller difference than 1e-7)"

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
            return float(np.linalg.norm(grad - gradapprox)
                         / (np.linalg.norm(grad) + np.linalg.norm(gradapprox)))
        """,
        # Entries left at -epsilon move the point later entries are measured at: invisible
        # at 1e-7, a 3e-5 difference at 1e-4.
        [UNCHANGED_N, EPSILON_N],
        "hint:     work on copies of theta (np.copy), never on the parameters dict itself",
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
            return float(np.linalg.norm(grad - gradapprox)
                         / (np.linalg.norm(grad) + np.linalg.norm(gradapprox)))
        """,
        [PUBLISHED_N, SCALED_N, EPSILON_N],
        "hint:     loop over every entry of theta; divide by 2 * epsilon",
    ),
    "fixed epsilon": (
        """
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            return _reference(parameters, gradients, X, Y, 1e-7, print_msg)
        """,
        [EPSILON_N],
        "hint:     use the epsilon argument, not a fixed step",
    ),
}


@pytest.mark.parametrize(
    ("source", "failing", "hint"),
    WRONG_GRADIENT_CHECK_NS.values(),
    ids=WRONG_GRADIENT_CHECK_NS.keys(),
)
def test_gradient_check_n_wrong_answers(load_notebook, capsys, source, failing, hint):
    """Each wrong gradient_check_n fails exactly the checks that expose it, with a hint."""
    namespace = load_notebook("02")
    student = wrong_answer(namespace, source)
    with pytest.raises(CheckFailed, match=failure_message("gradient_check_n", len(failing), 5)):
        gradient_check_n_test(
            student, namespace["forward_propagation_n"], namespace["backward_propagation_n"]
        )
    out = capsys.readouterr().out
    assert failed(out) == failing
    assert hint in out


def test_gradient_check_n_ignoring_epsilon_shows_difference(load_notebook, capsys):
    """The epsilon failure prints the difference measured at the fixed 1e-7 step."""
    namespace = load_notebook("02")
    student = wrong_answer(namespace, WRONG_GRADIENT_CHECK_NS["fixed epsilon"][0])
    with pytest.raises(CheckFailed):
        gradient_check_n_test(
            student, namespace["forward_propagation_n"], namespace["backward_propagation_n"]
        )
    out = capsys.readouterr().out
    assert "expected: below 1e-8\n        got:      1.189e-07" in out


def test_gradient_check_n_returning_array(load_notebook, capsys):
    """A difference returned as a (1,) array fails the float check; no other value check runs."""
    namespace = load_notebook("02")
    student = wrong_answer(namespace, """
        def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
            return np.array([_reference(parameters, gradients, X, Y, epsilon, print_msg)])
    """)
    with pytest.raises(CheckFailed, match=failure_message("gradient_check_n", 1, 2)):
        gradient_check_n_test(
            student, namespace["forward_propagation_n"], namespace["backward_propagation_n"]
        )
    out = capsys.readouterr().out
    assert failed(out) == [FLOAT_N]
    assert passed(out) == [UNCHANGED_N]
    assert "gradient_check_n returned a numpy.ndarray of shape (1,); return a Python float" in out


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
    with pytest.raises(CheckFailed, match=failure_message("numerical_gradient_n", 1, 2)):
        numerical_gradient_n_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [SHAPE_G]
    assert "expected: a numpy.ndarray of shape (47, 1)" in out
    assert "got:      a numpy.ndarray of shape (47,)" in out


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
    with pytest.raises(CheckFailed, match=failure_message("numerical_gradient_n", 1, 3)):
        numerical_gradient_n_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [CENTERED_G]
    assert "expected: entry 0 (W1): " in out
    assert "(47 of 47 entries differ)" in out
    assert "hint:     (J(theta + epsilon e_i) - J(theta - epsilon e_i)) / (2 epsilon)" in out


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
    with pytest.raises(CheckFailed, match=failure_message("numerical_gradient_n", 2, 3)):
        numerical_gradient_n_test(student)
    out = capsys.readouterr().out
    # The second failure follows from the first: the stand-in cost is measured at the
    # parameters the first call left shifted by -epsilon.
    assert failed(out) == [UNCHANGED_G, CENTERED_G]
    assert "got:      changed arrays" in out
    assert "hint:     perturb copies of theta (np.copy), never the parameters dict itself" in out


def test_numerical_gradient_n_not_implemented(load_notebook, capsys):
    """The released stub fails once with the not-implemented hint, and nothing else."""
    student = wrong_answer(load_notebook("03"), """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            raise NotImplementedError()
    """)
    with pytest.raises(CheckFailed, match=failure_message("numerical_gradient_n", 1, 2)):
        numerical_gradient_n_test(student)
    out = capsys.readouterr().out
    assert out.count(NOT_IMPLEMENTED_HINT) == 1
    assert passed(out) == [UNCHANGED_G]


# --- difference_by_block -------------------------------------------------------------------

DICT_COURSE = "returns a dict keyed by block name for the course network"
VALUES_COURSE = "each block's relative difference is right for the course network"
DICT_2_LAYER = "returns a dict keyed by block name for a 2-layer network"
VALUES_2_LAYER = "each block's relative difference is right for a 2-layer network"


def test_difference_by_block_hard_coded_names(load_notebook, capsys):
    """Block names copied from the course network pass there and fail on a 2-layer layout."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            keys = np.asarray(keys)
            differences = {}
            for block in ["W1", "b1", "W2", "b2", "W3", "b3"]:
                rows = keys == block
                differences[block] = float(
                    np.linalg.norm(grad[rows] - gradapprox[rows])
                    / (np.linalg.norm(grad[rows]) + np.linalg.norm(gradapprox[rows]))
                )
            return differences
    """)
    # 0 / 0 for the absent W3 and b3: a notebook prints a RuntimeWarning and goes on, but
    # this suite's filterwarnings=error would turn it into an exception and another path.
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(CheckFailed, match=failure_message("difference_by_block", 1, 3)),
    ):
        difference_by_block_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [DICT_2_LAYER]
    assert passed(out) == [DICT_COURSE, VALUES_COURSE]
    assert "expected: a dict with keys ['W1', 'b1', 'W2', 'b2'] in that order" in out
    assert "got:      a dict with keys ['W1', 'b1', 'W2', 'b2', 'W3', 'b3']" in out


def test_difference_by_block_overall_for_every_block(load_notebook, capsys):
    """The overall difference in every block fails the values, listing expected per block."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            overall = _reference(grad, gradapprox, ["all"] * len(keys))["all"]
            return {block: overall for block in dict.fromkeys(keys)}
    """)
    with pytest.raises(CheckFailed, match=failure_message("difference_by_block", 2, 4)):
        difference_by_block_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [VALUES_COURSE, VALUES_2_LAYER]
    # Scales 0.5 ... 2.0 give |1 - s| / (1 + s): 1/3 for W1 (s=0.5), 0 for the 2-layer b1 (s=1).
    assert "expected: W1: 0.333333, b1: 0.111111, W2: 0.047619" in out
    assert "expected: W1: 0.333333, b1: 0.000000, W2: 0.200000, b2: 0.333333" in out
    assert "per block: norm(grad_b - gradapprox_b) / (norm(grad_b) + norm(gradapprox_b))" in out


def test_difference_by_block_returning_list(load_notebook, capsys):
    """A list of values fails the dict check for both layouts; values are not checked."""
    student = wrong_answer(load_notebook("03"), """
        def difference_by_block(grad, gradapprox, keys):
            return list(_reference(grad, gradapprox, keys).values())
    """)
    with pytest.raises(CheckFailed, match=failure_message("difference_by_block", 2, 2)):
        difference_by_block_test(student)
    out = capsys.readouterr().out
    assert failed(out) == [DICT_COURSE, DICT_2_LAYER]
    assert out.count("got:      a list\n") == 2


# --- backward_propagation_n ----------------------------------------------------------------

CASES_N = ("the course test case", "another network")
BLOCKS = ("dW1", "db1", "dW2", "db2", "dW3", "db3")


def test_backward_propagation_n_buggy(load_notebook, capsys):
    """The lesson's buggy backprop fails dW2 and db1, and only those, on both networks."""
    namespace = load_notebook("03")
    with pytest.raises(CheckFailed, match=failure_message("backward_propagation_n", 4, 14)):
        backward_propagation_n_test(
            namespace["buggy_backward_propagation_n"],
            namespace["forward_propagation_n"],
            namespace["numerical_gradient_n"],
        )
    out = capsys.readouterr().out
    agree = "{} agrees with the numerical gradient on {}"
    assert failed(out) == [agree.format(b, case) for case in CASES_N for b in ("db1", "dW2")]
    assert passed(out) == [
        label
        for case in CASES_N
        for label in [f"returns dW1 ... db3 for {case}"]
        + [agree.format(b, case) for b in BLOCKS if b not in ("db1", "dW2")]
    ]
    assert out.count("hint:     look again at how dW2 is computed (and divided by m)") == 2
    assert out.count("hint:     look again at how db1 is computed (and divided by m)") == 2
    assert out.count("expected: agreement within 1e-05 relative, 1e-08 absolute") == 4


def test_backward_propagation_n_missing_key(load_notebook, capsys):
    """A gradients dict without db3 fails the keys check and names the missing key."""
    namespace = load_notebook("03")
    student = wrong_answer(namespace, """
        def backward_propagation_n(X, Y, cache):
            gradients = _reference(X, Y, cache)
            del gradients["db3"]
            return gradients
    """)
    with pytest.raises(CheckFailed, match=failure_message("backward_propagation_n", 2, 2)):
        backward_propagation_n_test(
            student, namespace["forward_propagation_n"], namespace["numerical_gradient_n"]
        )
    out = capsys.readouterr().out
    assert failed(out) == [f"returns dW1 ... db3 for {case}" for case in CASES_N]
    assert out.count("got:      missing ['db3']") == 2


# --- Checker and HiddenChecks --------------------------------------------------------------


def test_checker_counts_and_reports():
    """finish() names every failed label and the total; call() returns (ok, value)."""
    checker = Checker("thing", show_details=False)
    assert checker.call("adds", lambda a, b=0: a + b, 1, b=2) == (True, 3)
    assert checker.expect("true", 1 == 1) is True
    assert checker.expect("false", np.array([0.0]).any()) is False
    assert checker.call("raises", int, "x") == (False, None)
    with pytest.raises(CheckFailed, match=r"^thing: 2 of 3 checks failed \(false; raises\)$"):
        checker.finish()


def test_checker_prints_exception_as_hint(capsys):
    """An exception from student code becomes a FAIL line naming its type and message."""
    checker = Checker("thing")

    def broken():
        raise ValueError("shapes (5,4) and (3,) not aligned")

    assert checker.call("runs", broken) == (False, None)
    out = capsys.readouterr().out
    assert out == (
        "Checking thing\n"
        "  FAIL  runs\n"
        "        hint:     raised ValueError: shapes (5,4) and (3,) not aligned\n"
    )


def test_checker_keyboard_interrupt_skips_later_calls(capsys):
    """KeyboardInterrupt is recorded, not raised, and later calls are skipped uncalled."""
    checker = Checker("slow thing")
    calls = []

    def endless():
        calls.append("endless")
        raise KeyboardInterrupt

    assert checker.call("first", endless) == (False, None)
    assert checker.call("second", calls.append, "second") == (False, None)
    assert calls == ["endless"]
    with pytest.raises(CheckFailed, match=r"2 of 2 checks failed \(first; second\)"):
        checker.finish()
    out = capsys.readouterr().out
    assert "hint:     interrupted: the call took too long (an endless loop?)" in out
    assert "hint:     skipped: an earlier call was interrupted" in out


def test_checker_all_passed(capsys):
    """With no failure, finish() prints the count and returns."""
    checker = Checker("thing")
    checker.expect("a", True)
    checker.expect("b", True)
    checker.finish()
    assert capsys.readouterr().out == "Checking thing\n  ok    a\n  ok    b\nAll 2 checks passed.\n"


def test_hidden_checks_print_labels_only(capsys):
    """Hidden failures show their labels but no expected, got or hint lines."""
    hidden = HiddenChecks("gradient_check")

    def raises():
        raise ZeroDivisionError("secret 42")

    hidden.close("close value", lambda: 1.0, 1.0)
    hidden.close("wrong value", lambda: 1.1, 1.0)
    hidden.close("wrong shape", lambda: np.ones((2, 1)), np.ones(2))
    hidden.close("raises", raises, 0.0)
    hidden.true("truthy", lambda: 3 < 4)
    hidden.true("false", lambda: 4 < 3)
    hidden.true("ambiguous array", lambda: np.array([True, False]))
    with pytest.raises(
        CheckFailed,
        match=r"^gradient_check \(hidden tests\): 5 of 7 checks failed \(wrong value; wrong shape; "
        r"raises; false; ambiguous array\)$",
    ):
        hidden.finish()
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Checking gradient_check (hidden tests)"
    assert passed(out) == ["close value", "truthy"]
    assert failed(out) == ["wrong value", "wrong shape", "raises", "false", "ambiguous array"]
    assert len(out.splitlines()) == 8
    for secret in ("expected", "got", "hint", "secret 42", "1.1"):
        assert secret not in out


def test_hidden_checks_tolerances(capsys):
    """close() honours rtol and atol."""
    hidden = HiddenChecks("t")
    hidden.close("within rtol", lambda: 1.0 + 1e-8, 1.0)
    hidden.close("outside rtol", lambda: 1.0 + 1e-6, 1.0)
    hidden.close("within atol", lambda: 1e-13, 0.0, atol=1e-12)
    hidden.close("loose rtol", lambda: [1.05, 2.0], [1.0, 2.0], rtol=0.1)
    with pytest.raises(CheckFailed, match=r"1 of 4 checks failed \(outside rtol\)"):
        hidden.finish()
    capsys.readouterr()


def test_check_failed_renders_one_line():
    """In IPython a CheckFailed shows as its message alone, with no traceback."""
    checker = Checker("thing", show_details=False)
    checker.expect("a label", False)
    with pytest.raises(CheckFailed) as info:
        checker.finish()
    assert isinstance(info.value, AssertionError)
    assert info.value._render_traceback_() == [
        "CheckFailed: thing: 1 of 1 checks failed (a label)"
    ]


# --- replaced_globals, describe, report_difference -----------------------------------------


def test_replaced_globals_swaps_and_restores_on_error():
    """Names are swapped inside the block and restored (or removed) even when it raises."""
    namespace = {}
    exec("def helper():\n    return 'original'\n\ndef f():\n    return helper()\n", namespace)
    f, original = namespace["f"], namespace["helper"]
    with (
        pytest.raises(RuntimeError, match="inside"),
        replaced_globals(f, helper=lambda: "swapped", extra=1),
    ):
        assert f() == "swapped"
        assert namespace["extra"] == 1
        raise RuntimeError("inside")
    assert namespace["helper"] is original
    assert "extra" not in namespace
    assert f() == "original"


def test_replaced_globals_is_noop_when_empty():
    """With nothing to replace the namespace is left as it was."""
    namespace = {}
    exec("def f():\n    return 1\n", namespace)
    before = dict(namespace)
    with replaced_globals(namespace["f"]):
        pass
    assert namespace == before


class Widget:
    """A class outside builtins, to check the module-qualified name."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.zeros((1, 1)), "a numpy.ndarray of shape (1, 1)"),
        (np.zeros(47), "a numpy.ndarray of shape (47,)"),
        (3, "an int (3)"),
        (2.5, "a float (2.5)"),
        (True, "a bool (True)"),
        (None, "None"),
        ([1.0], "a list"),
        ({"W1": 1}, "a dict"),
        ("8", "a str ('8')"),
        (object(), "an object"),
        (Widget(), f"a {__name__}.Widget"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_describe(value, expected):
    """describe() names type, shape or value, with the right article."""
    assert describe(value) == expected


@pytest.mark.parametrize(
    ("difference", "threshold", "expected"),
    [
        (1.19e-7, DIFFERENCE_THRESHOLD, "difference = 1.190e-07 < 2e-07: the gradient is right"),
        (
            DIFFERENCE_THRESHOLD,
            DIFFERENCE_THRESHOLD,
            "difference = 2.000e-07 >= 2e-07: the gradient has a mistake",
        ),
        (
            0.285,
            DIFFERENCE_THRESHOLD,
            "difference = 2.850e-01 >= 2e-07: the gradient has a mistake",
        ),
        (1e-3, 1e-2, "difference = 1.000e-03 < 0.01: the gradient is right"),
    ],
)
def test_report_difference(capsys, difference, threshold, expected):
    """The verdict flips at the threshold, which counts as a mistake."""
    report_difference(difference, threshold)
    assert capsys.readouterr().out == expected + ".\n"


# --- Wrong return types never crash a check ---------------------------------------------------


@pytest.mark.parametrize("returned", [None, "8", [8.0]])
def test_one_d_checks_fail_cleanly_on_non_numbers(capsys, returned):
    for check in (forward_propagation_test, backward_propagation_test):
        with pytest.raises(CheckFailed):
            check(lambda x, theta, returned=returned: returned)
        out = capsys.readouterr().out
        assert any(label.startswith("returns numbers") for label in failed(out)), out
        assert f"got:      {describe(returned)}" in out


def test_backward_propagation_n_forgotten_return(load_notebook, capsys):
    ns = load_notebook("03")
    fixed = wrong_answer(ns, """
        def backward_propagation_n(X, Y, cache):
            _reference(X, Y, cache)
        """)
    with pytest.raises(CheckFailed, match=failure_message("backward_propagation_n", 2, 2)):
        backward_propagation_n_test(fixed, ns["forward_propagation_n"], ns["numerical_gradient_n"])
    out = capsys.readouterr().out
    assert "got:      None" in out and "forget the return statement" in out


def test_backward_propagation_n_wrong_block_shape(load_notebook, capsys):
    ns = load_notebook("03")
    fixed = wrong_answer(ns, """
        def backward_propagation_n(X, Y, cache):
            gradients = _reference(X, Y, cache)
            gradients["db1"] = gradients["db1"].ravel()  # np.sum without keepdims
            return gradients
        """)
    with pytest.raises(CheckFailed):
        backward_propagation_n_test(fixed, ns["forward_propagation_n"], ns["numerical_gradient_n"])
    out = capsys.readouterr().out
    assert "gradients have the shapes of their parameters" in out
    assert "must be a column of shape (5, 1)" in out and "got shape (5,)" in out


def test_backward_propagation_n_blames_a_flat_numerical_gradient(load_notebook, capsys):
    ns = load_notebook("03")
    flat = wrong_answer(ns, """
        def numerical_gradient_n(parameters, X, Y, epsilon=1e-7):
            return _reference(parameters, X, Y, epsilon).ravel()
        """)
    with pytest.raises(CheckFailed, match=failure_message("backward_propagation_n", 2, 4)):
        backward_propagation_n_test(ns["backward_propagation_n"], ns["forward_propagation_n"], flat)
    out = capsys.readouterr().out
    assert "fix numerical_gradient_n first" in out
    assert not any(label.startswith("d") for label in failed(out))
