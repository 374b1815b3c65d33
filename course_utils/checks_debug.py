"""Visible checks of notebook 3: numerical_gradient_n, difference_by_block, the blocks the
hunt found (blocks_with_bugs) and the fixed backward_propagation_n.

None of them holds a correct backprop or the hunt's answer: the fix is judged against the
student's own numerical gradient here, the answer only for its form, and both against what
exists only on the grader's side in the hidden tests.
"""

import copy
import math

import numpy as np

from course_utils.constants import BLOCK_ATOL, BLOCK_EPSILON, BLOCK_RTOL, SECOND_CASE_SEED
from course_utils.network import forward_propagation_n
from course_utils.params import COURSE_SHAPES, dictionary_to_vector, gradients_to_vector
from course_utils.runner import Checker, describe, is_python_float, replaced_globals
from course_utils.standins import cubic_cost_n
from course_utils.testcases import gradient_check_n_test_case, second_network_case


def numerical_gradient_n_test(numerical_gradient_n):
    """Check ``numerical_gradient_n(parameters, X, Y, epsilon=1e-7)`` -> gradapprox (n, 1).

    The oracle is a cost with a known centered difference: the check temporarily points
    the name ``forward_propagation_n`` at ``J = sum(theta**3) / 3``, whose centered
    difference is exactly ``theta**2 + epsilon**2 / 3`` in every entry.

    Parameters
    ----------
    numerical_gradient_n : callable
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
    checker.expect_unchanged(
        parameters, untouched,
        hint="perturb copies of theta (np.copy), never the parameters dict itself",
    )

    epsilon = 0.1
    expected = theta**2 + epsilon**2 / 3
    with replaced_globals(numerical_gradient_n, forward_propagation_n=cubic_cost_n):
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
    return checker.results


def difference_by_block_test(difference_by_block):
    """Check ``difference_by_block(grad, gradapprox, keys)`` -> {block: relative difference}.

    The cases scale each block of ``gradapprox`` by a factor ``s``: the block's relative
    difference is then exactly ``|1 - s| / (1 + s)``, whatever the gradient. A block where
    both are zero (a dead layer) must read 0.

    Parameters
    ----------
    difference_by_block : callable
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
            if not (is_python_float(value) and math.isclose(value, expected[block], rel_tol=1e-9))
        }
        checker.expect(
            f"each block's relative difference is right for {name}",
            not wrong,
            expected=", ".join(f"{b}: {expected[b]:.6f}" for b in wrong),
            got=", ".join(f"{b}: {v}" for b, v in wrong.items()),
            hint="per block: norm(grad_b - gradapprox_b) / (norm(grad_b) + norm(gradapprox_b))",
        )

    # A dead layer: its block of grad and of gradapprox is all zeros; 0/0 is defined as 0.
    grad, keys = dictionary_to_vector(
        {block: rng.standard_normal(shape) for block, shape in COURSE_SHAPES.items()}
    )
    grad[np.array(keys) == "W3"] = 0.0
    ok, result = checker.call("runs with a block of zeros", difference_by_block,
                              grad, grad.copy(), keys)
    if ok:
        value = result.get("W3") if isinstance(result, dict) else result
        checker.expect(
            "a block where grad and gradapprox are both zero reads 0 (not NaN)",
            is_python_float(value) and value == 0.0,
            expected="0.0 for W3",
            got=describe(value),
            hint="when a block's norm(grad) + norm(gradapprox) is 0, its difference is 0.0",
        )
    checker.finish()
    return checker.results


def backward_propagation_n_test(backward_propagation_n, numerical_gradient_n):
    """Check a fixed ``backward_propagation_n(X, Y, cache)`` block by block.

    The oracle is your own ``numerical_gradient_n`` (checked above) at ``BLOCK_EPSILON``,
    where the check's own error, rounding plus truncation, is smallest for this network
    (rounding noise alone keeps falling as the step grows).

    Parameters
    ----------
    backward_propagation_n : callable
        The student's fixed backprop.
    numerical_gradient_n : callable
        The student's numerical gradient; it calls the course network's
        ``forward_propagation_n``.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("backward_propagation_n")
    cases = {
        "the course test case": gradient_check_n_test_case(),
        "another network": second_network_case(),
    }
    first = None  # (X, Y, cache, grad) of the first case, once its gradients are readable
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
        first = first or (X, Y, cache, grad)
        ok, gradapprox = checker.call(
            f"your numerical_gradient_n runs on {name}",
            numerical_gradient_n, parameters, X, Y, epsilon=BLOCK_EPSILON,
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
    if first is not None:
        _expect_cache_only(checker, backward_propagation_n, *first)
    checker.finish()
    return checker.results


def _expect_cache_only(checker, backward_propagation_n, X, Y, cache, grad):
    """Record whether the gradients stay the same when the cache changes what backprop never
    reads: W1 and the biases, and the size (not the sign) of Z1 and Z2."""
    rng = np.random.default_rng(SECOND_CASE_SEED)
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    elsewhere = (
        Z1 * rng.uniform(0.5, 2.0, Z1.shape), A1, rng.standard_normal(W1.shape),
        rng.standard_normal(b1.shape), Z2 * rng.uniform(0.5, 2.0, Z2.shape), A2, W2,
        rng.standard_normal(b2.shape), Z3, A3, W3, rng.standard_normal(b3.shape),
    )
    label = "gradients come from the cache alone (W1, the biases and the size of Z1, Z2 unused)"
    ok, gradients = checker.call(label, backward_propagation_n, X, Y, elsewhere)
    if not ok:
        return
    try:
        moved = float(np.max(np.abs(gradients_to_vector(gradients) - grad)))
    except (KeyError, TypeError, ValueError) as exc:
        checker.fail(label, hint=str(exc).strip("'\""))
        return
    checker.expect(
        label,
        moved <= 1e-12 * max(1.0, float(np.max(np.abs(grad)))),
        expected="the same gradients as for the cache the forward pass made",
        got=f"gradients that moved by up to {moved:.3e}",
        hint="backprop reads A, W and the labels from the cache and the chain rule; it never "
        "runs the forward pass or differentiates the cost",
    )


def blocks_with_bugs_test(blocks_with_bugs):
    """Check the form of ``blocks_with_bugs()`` -> list of block names.

    Only the form: a list (or tuple) of distinct block names of the course network, at least
    one. Which blocks are right is for the hidden tests.

    Parameters
    ----------
    blocks_with_bugs : callable
        The student's function, called without arguments.

    Returns
    -------
    results : list of CheckResult
        When every check passed.

    Raises
    ------
    CheckFailed
        If any check failed.
    """
    checker = Checker("blocks_with_bugs")
    ok, names = checker.call("blocks_with_bugs() runs", blocks_with_bugs)
    blocks = list(COURSE_SHAPES)
    if ok and checker.expect(
        "returns a list of block names (str)",
        isinstance(names, list | tuple) and all(isinstance(name, str) for name in names),
        expected='a list such as ["W1", "b3"]',
        got=describe(names) if not isinstance(names, list | tuple) else
        f"a {type(names).__name__} holding {sorted({describe(n) for n in names})}",
        hint="return a list of the blocks' names, as they appear in keys",
    ):
        unknown = [name for name in names if name not in blocks]
        checker.expect(
            "every name is a block of the course network",
            not unknown,
            expected=f"names among {blocks}",
            got=f"{unknown}",
            hint="block names are written as in keys from dictionary_to_vector: W1, not dW1",
        )
        checker.expect(
            "no block is named twice",
            len(set(names)) == len(names),
            expected="each name once",
            got=f"{list(names)}",
            hint="list each block whose gradient is wrong once",
        )
        checker.expect(
            "names at least one block",
            len(names) > 0,
            expected="one name or more",
            got="an empty list",
            hint="run section 4's block check: which blocks stand out?",
        )
    checker.finish()
    return checker.results
