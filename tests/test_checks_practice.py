"""The visible checks of notebook 4 pass the source notebook's solutions and fail wrong ones.

Each check is also run on a typical mistake, and the test asserts on the recorded results
(which check failed), not on printed text.
"""

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils import (
    CheckFailed,
    buggy_backward_propagation_n,
    dictionary_to_vector,
    forward_propagation_n,
    gradient_check_n_test_case,
    sigmoid,
    vector_to_dictionary,
)
from course_utils import checks_practice as checks
from course_utils.practice import (
    COMPLEX_STEP,
    cube,
    half_squared_norm,
    hinge,
    leaky_forward_propagation_n,
    logcosh_backward_n,
    logcosh_case,
    logcosh_forward_n,
    squire_trapp,
    squire_trapp_derivative,
)
from course_utils.wire import qualified_name
from instructor.cells import is_answer
from instructor.references import backward_propagation_n as reference_backward
from instructor.references import (
    leaky_backward_propagation_n,
    leaky_backward_without_first_mask,
    practice_point,
)

NOTEBOOK = (Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
            / "04_gradient_check_in_practice.ipynb")


@pytest.fixture(scope="module")
def solutions():
    """Every function defined in the source notebook's answer cells."""
    namespace = {"np": np, "COMPLEX_STEP": COMPLEX_STEP,
                 "dictionary_to_vector": dictionary_to_vector,
                 "vector_to_dictionary": vector_to_dictionary}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code" and is_answer(cell):
            exec(cell.source, namespace)  # the repository's own notebook
    return namespace


def _failed_labels(check, function):
    with pytest.raises(CheckFailed) as info:
        check(function)
    return [r.label for r in info.value.results if not r.ok]


@pytest.mark.parametrize("name", ["complex_step_gradient", "centered_check",
                                  "logistic_cost_stable", "complex_step_derivative",
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


def _ratio_cheat(cost, grad, theta, u, epsilon=1e-6):
    """Never calls the cost: reads grad as r * theta, right only when the gradient is theta."""
    r = float(np.sum(grad * theta) / np.sum(theta * theta))
    return abs(r - 1) / (abs(r) + 1)


def test_a_directional_difference_that_never_calls_the_cost_fails(capsys):
    failed = _failed_labels(checks.directional_difference_test, _ratio_cheat)
    assert failed == ["a correct gradient of log cosh (tanh, no multiple of theta) agrees"]
    namespace = {**_imports(), "directional_difference": _ratio_cheat}
    with pytest.raises(CheckFailed) as info:
        exec(_hidden_block("directional_difference_tests"), namespace)
    capsys.readouterr()
    assert sum(not r.ok for r in info.value.results) >= 3


def test_hidden_directional_tests_pass_the_solution_and_need_the_given_epsilon(solutions,
                                                                                capsys):
    namespace = {**_imports(), "directional_difference": solutions["directional_difference"]}
    exec(_hidden_block("directional_difference_tests"), namespace)
    assert "All 5 checks passed." in capsys.readouterr().out

    def fixed_step(cost, grad, theta, u, epsilon=1e-6):
        return solutions["directional_difference"](cost, grad, theta, u)

    namespace["directional_difference"] = fixed_step
    with pytest.raises(CheckFailed) as info:
        exec(_hidden_block("directional_difference_tests"), namespace)
    capsys.readouterr()
    assert [r.label for r in info.value.results if not r.ok] == ["the given epsilon is used"]


def _hidden_failures(grade_id, name, function, capsys):
    """The failed hidden checks of one graded function of notebook 4 ([] when all pass)."""
    namespace = {**_imports(), name: function}
    try:
        exec(_hidden_block(grade_id), namespace)
    except CheckFailed as error:
        capsys.readouterr()
        return [r.label for r in error.results if not r.ok]
    capsys.readouterr()
    return []


def test_complex_step_gradient_hidden_tests_pass_the_solution_and_fail_differences(solutions,
                                                                                    capsys):
    """Centered or five-point differences are no complex step; nor is a fixed h."""
    assert _hidden_failures("complex_step_gradient_tests", "complex_step_gradient",
                            solutions["complex_step_gradient"], capsys) == []

    def five_point(complex_forward, X, Y, parameters, h=COMPLEX_STEP):
        theta, _ = dictionary_to_vector(parameters)
        grad = np.zeros_like(theta)
        for k in range(theta.shape[0]):
            def cost(t, k=k):
                moved = theta.copy()
                moved[k] += t
                return complex_forward(X, Y, vector_to_dictionary(moved))[0]
            grad[k] = (cost(-2e-3) - 8 * cost(-1e-3) + 8 * cost(1e-3) - cost(2e-3)) / 12e-3
        return grad

    def fixed_step(complex_forward, X, Y, parameters, h=COMPLEX_STEP):
        return solutions["complex_step_gradient"](complex_forward, X, Y, parameters)

    assert _hidden_failures("complex_step_gradient_tests", "complex_step_gradient", five_point,
                            capsys)
    assert "the given h is used (theta^2 - h^2 / 3 with h = 0.5)" in _failed_labels(
        checks.complex_step_gradient_test, five_point)
    assert _hidden_failures("complex_step_gradient_tests", "complex_step_gradient", fixed_step,
                            capsys) == ["another h is used"]


def test_complex_step_gradient_closed_forms_by_name_pass_no_hidden_test_at_a_finite_h(capsys):
    """A student who reads course_utils and answers each stand-in's closed-form gradient, by
    the name of the function handed over, still has to do a complex step at h = 0.3."""

    def by_name(complex_forward, X, Y, parameters, h=COMPLEX_STEP):
        theta, _ = dictionary_to_vector(parameters)
        if "sine" in complex_forward.__name__:
            return np.cos(theta) * np.exp(np.sin(theta))
        return theta**2 - h**2 / 3

    assert all(r.ok for r in checks.complex_step_gradient_test(by_name))
    assert _hidden_failures("complex_step_gradient_tests", "complex_step_gradient", by_name,
                            capsys) == ["another h is used"]


def test_centered_check_hidden_tests_pass_the_solution_and_need_forward_and_epsilon(
        solutions, capsys):
    assert _hidden_failures("centered_check_tests", "centered_check",
                            solutions["centered_check"], capsys) == []

    def fixed_step(forward, grad, X, Y, parameters, epsilon):
        return solutions["centered_check"](forward, grad, X, Y, parameters, 1e-6)

    def course_cost_always(forward, grad, X, Y, parameters, epsilon):
        return solutions["centered_check"](forward_propagation_n, grad, X, Y, parameters, epsilon)

    assert _hidden_failures("centered_check_tests", "centered_check", fixed_step,
                            capsys) == ["another epsilon is used"]
    assert len(_hidden_failures("centered_check_tests", "centered_check", course_cost_always,
                                capsys)) == 3


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


def _run_hidden(check_gradients, capsys):
    """The failed hidden checks of check_gradients, or [] when all pass."""
    namespace = {**_imports(), "check_gradients": check_gradients}
    try:
        exec(_hidden_block("check_gradients_tests"), namespace)
    except CheckFailed as error:
        capsys.readouterr()
        return sorted(r.label for r in error.results if not r.ok)
    assert "All 9 checks passed." in capsys.readouterr().out
    return []


HARD_POINTS = {"a correct backprop is no bug where a step straddles a kink",
               "a correct backprop is no bug where rounding freezes the cost",
               "a correct backprop is no bug where the gradient is tiny",
               "a correct backprop is no bug where units are dead"}


@pytest.mark.parametrize("word", ["ok", "bug", "inconclusive"])
def test_hidden_tests_reject_a_checker_that_always_says_the_same(word, capsys):
    assert _run_hidden(_always(word), capsys)


def test_hidden_tests_pass_the_reference_solution(solutions, capsys):
    assert _run_hidden(solutions["check_gradients"], capsys) == []


def _one_step_checker(forward, backward, parameters, X, Y):
    """Centered differences at one step (1e-5), "bug" above one threshold (1e-6)."""
    with np.errstate(all="ignore"):
        _, cache = forward(X, Y, parameters)
        gradients = backward(X, Y, cache)
        verdicts = {}
        for name, block in parameters.items():
            approx = np.zeros(block.shape)
            for index in np.ndindex(block.shape):
                plus = {k: np.array(v, dtype=float) for k, v in parameters.items()}
                minus = {k: np.array(v, dtype=float) for k, v in parameters.items()}
                plus[name][index] += 1e-5
                minus[name][index] -= 1e-5
                approx[index] = (forward(X, Y, plus)[0] - forward(X, Y, minus)[0]) / 2e-5
            grad = np.asarray(gradients["d" + name], dtype=float)
            if grad.shape != block.shape:
                verdicts[name] = "bug"
                continue
            denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
            difference = 0.0 if denominator == 0 else np.linalg.norm(grad - approx) / denominator
            verdicts[name] = "bug" if difference > 1e-6 else "ok"
    return verdicts


def test_a_one_step_one_threshold_checker_accuses_correct_code_at_every_hard_point(capsys):
    """Finds the hidden bugs, but calls correct code "bug" at each hard point."""
    assert set(_run_hidden(_one_step_checker, capsys)) == HARD_POINTS
    assert "a kink within the step is no bug" in _failed_labels(checks.check_gradients_test,
                                                                 _one_step_checker)


def _independent_checker(forward, backward, parameters, X, Y):
    """A checker written apart from the reference solution, on simpler rules.

    "bug" where, for some entry, the cost moves both ways, the one-sided slopes agree (no kink
    in reach) and the centered differences agree with each other at three steps in a row, all
    far from backprop (a real bug does not move with the step; kinks and rounding do; a cost
    frozen by rounding does not move at all); otherwise "ok" where the
    block agrees to 1e-6 at a step of 1e-4, 1e-5 or 1e-6; otherwise "inconclusive".
    """
    steps = 10.0 ** -np.arange(1.0, 8.0)
    with np.errstate(all="ignore"):
        J0, cache = forward(X, Y, parameters)
        if not np.isfinite(J0):
            return dict.fromkeys(parameters, "inconclusive")
        gradients = backward(X, Y, cache)
        verdicts = {}
        for name, block in parameters.items():
            grad = np.asarray(gradients.get("d" + name), dtype=float)
            if grad.shape != block.shape:
                verdicts[name] = "bug"
                continue
            forward_slope = np.zeros((*block.shape, steps.size))
            backward_slope = np.zeros_like(forward_slope)
            for index in np.ndindex(block.shape):
                for s, h in enumerate(steps):
                    moved = {k: np.array(v, dtype=float) for k, v in parameters.items()}
                    moved[name][index] += h
                    forward_slope[index][s] = (forward(X, Y, moved)[0] - J0) / h
                    moved[name][index] -= 2 * h
                    backward_slope[index][s] = (J0 - forward(X, Y, moved)[0]) / h
            centered = (forward_slope + backward_slope) / 2
            size = np.abs(centered) + np.abs(grad)[..., None]
            # The cost must move both ways (a cost frozen by rounding reads slope 0) ...
            no_kink = (np.abs(forward_slope - backward_slope) <= 0.01 * size) & (
                forward_slope != 0) & (backward_slope != 0)
            far = np.abs(centered - grad[..., None]) > 0.03 * size
            steady = np.abs(np.diff(centered)) <= 0.01 * size[..., 1:]
            window = (no_kink & far)[..., :-2] & (no_kink & far)[..., 1:-1] & (
                no_kink & far)[..., 2:] & steady[..., :-1] & steady[..., 1:]
            differences = [np.linalg.norm(grad - centered[..., s]) / d if (
                d := np.linalg.norm(grad) + np.linalg.norm(centered[..., s])) else 0.0
                for s in (3, 4, 5)]
            if window.any():
                verdicts[name] = "bug"
            elif min(differences) < 1e-6:
                verdicts[name] = "ok"
            else:
                verdicts[name] = "inconclusive"
    return verdicts


def test_an_independently_written_checker_passes_the_hidden_tests(capsys):
    """The hidden bar is not the reference solution's quirks: other honest rules meet it."""
    assert _run_hidden(_independent_checker, capsys) == []
    assert all(r.ok for r in checks.check_gradients_test(_independent_checker))


def _own_backprop_checker(forward, backward, parameters, X, Y):
    """No gradient checking: compares with a correct backprop of the course network (the one a
    student writes in notebook 3), "bug" wherever the given backprop differs from it."""
    _, cache = forward(X, Y, parameters)
    given = backward(X, Y, cache)
    own = reference_backward(X, Y, cache)
    return {name: "ok" if np.allclose(given["d" + name], own["d" + name], rtol=1e-9, atol=0)
            else "bug" for name in parameters}


def test_comparing_with_the_course_backprop_fails_the_hidden_tests(capsys):
    """Hidden cases are on networks whose backprop is not the course's."""
    X, Y, parameters = gradient_check_n_test_case()
    classic = _own_backprop_checker(forward_propagation_n, buggy_backward_propagation_n,
                                    parameters, X, Y)
    assert classic == {"W1": "ok", "b1": "bug", "W2": "bug", "b2": "ok", "W3": "ok", "b3": "ok"}
    failed = _run_hidden(_own_backprop_checker, capsys)
    assert len(failed) >= 6, failed


def test_the_visible_checks_hand_over_backprops_that_name_nothing(monkeypatch):
    """Every backprop the visible checks pass has one name, no docstring, and no module-level
    name in course_utils (so that, when graded, it is a callback and not a named function)."""
    seen = []

    def recording(forward, backward, parameters, X, Y):
        seen.append(backward)
        return dict.fromkeys(parameters, "ok")

    with pytest.raises(CheckFailed):
        checks.check_gradients_test(recording)
    assert len(seen) == 6
    assert {(b.__name__, b.__qualname__.rsplit(".", 1)[-1], b.__doc__) for b in seen} == {
        ("backward_propagation_n", "backward_propagation_n", None)}
    assert not any(qualified_name(b) for b in seen)


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


def test_the_memoizing_cheater_wins_when_a_point_is_reused():
    """The cheater is a real threat: correct backprop first, buggy one at the same point."""
    cheat = _memoizing_cheater()
    X, Y, parameters = practice_point(1, 0.5)
    assert "bug" not in cheat(leaky_forward_propagation_n, leaky_backward_propagation_n,
                              parameters, X, Y).values()
    verdicts = cheat(leaky_forward_propagation_n, leaky_backward_without_first_mask,
                     parameters, X, Y)
    assert {b for b, v in verdicts.items() if v == "bug"} == {"W1", "b1"}


def test_hidden_tests_fail_the_memoizing_cheater(capsys):
    assert set(_run_hidden(_memoizing_cheater(), capsys)) == {
        "a missing 1/m in db3 is found in b3 only",
        "a sign slip in dW3 is found in W3 only",
        "a forgotten ReLU mask is found in W1 and b1 only",
        "dW1 averaged over m - 1 examples is found in W1 only"}


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
    _run_hidden(recording, capsys)
    assert len(points) == 9
    assert len(set(points)) == len(points) and not visible & set(points)


def test_the_release_leaves_every_gradient_tool_to_the_student():
    """Notebook 4's release defines no centered or complex-step gradient, no relative
    difference and no backprop: the functions it gives are forward passes, costs along a line,
    and one-variable helpers of its figures (issue 16: no released file solves another
    graded cell)."""
    release = (NOTEBOOK.parent.parent.parent / "release" / "gradient_checking" / NOTEBOOK.name)
    given = set()
    for cell in nbformat.read(release, as_version=4).cells:
        if cell.cell_type == "code" and not is_answer(cell):
            given |= {node.name for node in ast.walk(ast.parse(cell.source))
                      if isinstance(node, ast.FunctionDef)}
    assert given == {"relu_maximum", "relu_real_part", "complex_forward_propagation_n",
                     "stable_forward_propagation_n", "centered", "methods", "cost_along_b1_1",
                     "wide_cost", "course_cost"}
    stubs = {}
    for cell in nbformat.read(release, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("complex_step_gradient",
                                                                 "centered_check"):
            stubs |= {node.name: ast.unparse(node.body[-1]) for node in ast.parse(cell.source).body}
    assert stubs == dict.fromkeys(["complex_step_gradient", "centered_check"],
                                  "raise NotImplementedError()")
