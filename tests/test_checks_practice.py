"""The visible checks of notebook 4 pass the source notebook's solutions and fail wrong ones.

Each check is also run on a typical mistake, and the test asserts on the recorded results
(which check failed), not on printed text.
"""

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils import CheckFailed, sigmoid
from course_utils import checks_practice as checks
from course_utils.practice import (
    COMPLEX_STEP,
    cube,
    half_squared_norm,
    hinge,
    logcosh_backward_n,
    logcosh_case,
    logcosh_forward_n,
    squire_trapp,
    squire_trapp_derivative,
)

NOTEBOOK = (Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
            / "04_gradient_check_in_practice.ipynb")


@pytest.fixture(scope="module")
def solutions():
    """Every function defined in the source notebook's answer cells."""
    namespace = {"np": np, "COMPLEX_STEP": COMPLEX_STEP}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            exec(cell.source, namespace)  # the repository's own notebook
    return namespace


def _failed_labels(check, function):
    with pytest.raises(CheckFailed) as info:
        check(function)
    return [r.label for r in info.value.results if not r.ok]


@pytest.mark.parametrize("name", ["logistic_cost_stable", "complex_step_derivative",
                                  "five_point_derivative", "one_sided_slopes",
                                  "directional_difference", "check_gradients"])
def test_the_reference_solution_passes_its_visible_check(solutions, name):
    results = getattr(checks, f"{name}_test")(solutions[name])
    assert results and all(r.ok for r in results)


def test_the_practice_stand_ins_have_the_derivatives_they_claim():
    # Complex step of the stand-ins against their closed forms: independent oracles.
    x = 1.1
    assert np.imag(squire_trapp(x + 1e-20j)) / 1e-20 == pytest.approx(
        squire_trapp_derivative(x), rel=1e-14)
    _, _, parameters = logcosh_case()
    _, cache = logcosh_forward_n(None, None, parameters)
    gradients = logcosh_backward_n(None, None, cache)
    for name, value in parameters.items():
        plus = {**parameters, name: value + 1e-6 * np.eye(*value.shape)}
        minus = {**parameters, name: value - 1e-6 * np.eye(*value.shape)}
        slope = (logcosh_forward_n(None, None, plus)[0]
                 - logcosh_forward_n(None, None, minus)[0]) / 2e-6
        assert slope == pytest.approx(np.sum(gradients[f"d{name}"] * np.eye(*value.shape)),
                                      rel=1e-7, abs=1e-10)


def test_a_naive_cost_fails_where_one_minus_sigmoid_rounds_to_zero():
    def naive(Z3, Y):
        A3 = sigmoid(Z3)
        with np.errstate(all="ignore"):
            return float(np.mean(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y)))

    failed = _failed_labels(checks.logistic_cost_stable_test, naive)
    assert "a saturated wrong answer at z = 40 costs z" in failed


def test_a_summed_cost_fails_the_mean():
    def summed(Z3, Y):
        return float(np.sum(np.logaddexp(0, -Z3) * Y + np.logaddexp(0, Z3) * (1 - Y)))

    assert "the mean cost of five moderate examples" in _failed_labels(
        checks.logistic_cost_stable_test, summed)


def test_a_complex_step_ignoring_h_is_caught():
    def fixed_step(f, x, h=COMPLEX_STEP):
        return float(np.imag(f(x + 1e-20j)) / 1e-20)

    assert _failed_labels(checks.complex_step_derivative_test, fixed_step) == [
        "the given h is used (x^3 at 2 with h = 0.5 gives 11.75)"]


def test_a_centered_difference_is_not_the_five_point_stencil():
    def centered(f, x, h):
        return float((f(x + h) - f(x - h)) / (2 * h))

    failed = _failed_labels(checks.five_point_derivative_test, centered)
    assert "on x^5 at 1 with h = 0.1 the error is exactly 4 h^4" in failed


def test_centered_slopes_twice_are_not_one_sided():
    def both_centered(f, x, epsilon):
        slope = float((f(x + epsilon) - f(x - epsilon)) / (2 * epsilon))
        return slope, slope

    failed = _failed_labels(checks.one_sided_slopes_test, both_centered)
    assert "across the hinge's kink: forward 1, backward 0.5" in failed
    assert hinge(0.5) == 0.5 and cube(2.0) == 8.0  # the oracles themselves


def test_a_directional_check_that_moves_theta_is_caught():
    def in_place(cost, grad, theta, u, epsilon=1e-6):
        theta += epsilon * u
        plus = cost(theta)
        theta -= 2 * epsilon * u
        minus = cost(theta)
        along = (plus - minus) / (2 * epsilon)
        dot = float(np.sum(grad * u))
        return float(abs(dot - along) / (abs(dot) + abs(along)))

    failed = _failed_labels(checks.directional_difference_test, in_place)
    assert "theta is left unchanged" in failed
    assert half_squared_norm(np.ones((2, 1))) == 1.0


def test_a_fixed_threshold_checker_accuses_correct_blocks():
    """Centered differences at 1e-7 and the classic 2e-7 threshold, block by block."""

    def fixed_threshold(forward, backward, parameters, X, Y):
        names = list(parameters)
        with np.errstate(all="ignore"):
            _, cache = forward(X, Y, parameters)
            gradients = backward(X, Y, cache)
        verdicts = {}
        for name in names:
            block = parameters[name]
            approx = np.zeros_like(block, dtype=float)
            for index in np.ndindex(block.shape):
                plus = {k: v.astype(float).copy() for k, v in parameters.items()}
                minus = {k: v.astype(float).copy() for k, v in parameters.items()}
                plus[name][index] += 1e-7
                minus[name][index] -= 1e-7
                with np.errstate(all="ignore"):
                    approx[index] = (forward(X, Y, plus)[0] - forward(X, Y, minus)[0]) / 2e-7
            grad = np.asarray(gradients[f"d{name}"], dtype=float)
            if grad.shape != block.shape:
                verdicts[name] = "bug"
                continue
            denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
            difference = 0.0 if denominator == 0 else np.linalg.norm(grad - approx) / denominator
            verdicts[name] = "bug" if not difference < 2e-7 else "ok"
        return verdicts

    failed = _failed_labels(checks.check_gradients_test, fixed_threshold)
    assert "the classic bugs are found in dW2 and db1, and only there" in failed
    assert "no verdict but 'inconclusive' where the cost is not a number" in failed


def test_a_stub_fails_once_and_cleanly():
    def stub(forward, backward, parameters, X, Y):
        raise NotImplementedError()

    with pytest.raises(CheckFailed) as info:
        checks.check_gradients_test(stub)
    failed = [r for r in info.value.results if not r.ok]
    assert len(failed) == 1 and "not implemented" in failed[0].hint


def _hidden_block(grade_id):
    """A test cell of notebook 4 without its visible check line: the hidden tests alone."""
    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(line for line in cell.source.splitlines()
                     if not re.match(r"\w+_test\(", line))


def _imports():
    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    namespace = {}
    exec(cell.source, namespace)
    return namespace


def _always(word):
    def verdicts(forward, backward, parameters, X, Y):
        return dict.fromkeys(parameters, word)
    return verdicts


@pytest.mark.parametrize("word", ["ok", "bug", "inconclusive"])
def test_hidden_tests_reject_a_checker_that_always_says_the_same(word, capsys):
    namespace = {**_imports(), "check_gradients": _always(word)}
    with pytest.raises(CheckFailed, match=r"\(hidden tests\)"):
        exec(_hidden_block("check_gradients_tests"), namespace)
    capsys.readouterr()


def test_hidden_tests_pass_the_reference_solution(solutions, capsys):
    namespace = {**_imports(), "check_gradients": solutions["check_gradients"]}
    exec(_hidden_block("check_gradients_tests"), namespace)
    assert "All 6 checks passed." in capsys.readouterr().out


def _point_key(parameters, X, Y):
    """Everything that makes a point: data, labels and every parameter, as bytes."""
    return (np.asarray(X).tobytes(), np.asarray(Y).tobytes(),
            *(name + np.asarray(value).tobytes().hex() for name, value in parameters.items()))


def _memoizing_cheater():
    """A check_gradients that never differentiates anything (red-team finding 6).

    The first time it sees a point it calls whatever backprop it was given "correct"; at a
    point it has seen, it calls "bug" every block whose gradient differs from the first one.
    Against tests that pass the correct backprop first and buggy ones at the same point later,
    it answers every case right.
    """
    seen = {}

    def check_gradients(forward, backward, parameters, X, Y):
        gradients = backward(X, Y, forward(X, Y, parameters)[1])
        first = seen.setdefault(_point_key(parameters, X, Y), gradients)
        return {name: "ok" if np.array_equal(gradients["d" + name], first["d" + name])
                else "bug" for name in parameters}

    return check_gradients


def test_the_memoizing_cheater_wins_when_a_point_is_reused(capsys):
    """The cheater is a real threat: correct backprop first, buggy one at the same point."""
    namespace = {**_imports(), "check_gradients": _always("ok")}
    with pytest.raises(CheckFailed):
        exec(_hidden_block("check_gradients_tests"), namespace)  # for its backprops
    capsys.readouterr()
    cheat = _memoizing_cheater()
    X, Y, parameters = namespace["_point_h"](1, 0.5)
    forward = namespace["forward_propagation_n"]
    assert "bug" not in cheat(forward, namespace["_reference_backward"], parameters, X, Y).values()
    verdicts = cheat(forward, namespace["_first_mask_forgotten"], parameters, X, Y)
    assert {b for b, v in verdicts.items() if v == "bug"} == {"W1", "b1"}


def test_hidden_tests_fail_the_memoizing_cheater(capsys):
    namespace = {**_imports(), "check_gradients": _memoizing_cheater()}
    with pytest.raises(CheckFailed, match=r"\(hidden tests\)") as info:
        exec(_hidden_block("check_gradients_tests"), namespace)
    capsys.readouterr()
    failed = {r.label for r in info.value.results if not r.ok}
    assert failed == {"a missing 1/m in db3 is found in b3 only",
                      "a sign slip in dW3 is found in W3 only",
                      "a forgotten ReLU mask is found in W1 and b1 only"}


def test_every_hidden_case_has_a_point_of_its_own(capsys):
    """No hidden call shares its point with another call, hidden or visible."""
    points = []

    def recording(forward, backward, parameters, X, Y):
        points.append(_point_key(parameters, X, Y))
        return dict.fromkeys(parameters, "ok")

    with pytest.raises(CheckFailed):
        checks.check_gradients_test(recording)
    visible = set(points)
    points.clear()
    namespace = {**_imports(), "check_gradients": recording}
    with pytest.raises(CheckFailed):
        exec(_hidden_block("check_gradients_tests"), namespace)
    capsys.readouterr()
    assert len(points) == 6
    assert len(set(points)) == len(points) and not visible & set(points)
