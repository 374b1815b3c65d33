"""Every number the lesson's prose states, re-derived by running code.

Each function measures one claim and returns plain numbers; ``main`` prints them all, and
tests/test_lesson_numbers.py asserts the claims the notebooks make. Nothing here holds the
correct backprop: it is derived from the classic buggy one by undoing its two bugs
(dW2 was doubled, db1 multiplied by 4), which is exact in floating point.

Usage: ``python benchmarks/lesson_numbers.py [--draws N]``.
"""

import argparse
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from course_utils import (
    BLOCK_EPSILON,
    COURSE_SHAPES,
    DIFFERENCE_THRESHOLD,
    EPSILON,
    buggy_backward_propagation_n,
    dictionary_to_vector,
    forward_propagation_n,
    gradient_check_1d_test_case,
    gradient_check_n_test_case,
    gradients_to_vector,
    random_network_case,
    vector_to_dictionary,
)

BLOCKS = list(COURSE_SHAPES)


def relative_difference(grad, gradapprox):
    """||g - a|| / (||g|| + ||a||), 0 when both norms are 0."""
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return 0.0 if denominator == 0 else float(np.linalg.norm(grad - gradapprox) / denominator)


def by_block(grad, gradapprox, keys):
    """Relative difference of each block."""
    keys = np.asarray(keys)
    return {b: relative_difference(grad[keys == b], gradapprox[keys == b]) for b in BLOCKS}


def fixed_gradients(X, Y, cache):
    """The course backprop with the classic bugs undone (both undo steps are exact)."""
    gradients = dict(buggy_backward_propagation_n(X, Y, cache))
    gradients["dW2"] = gradients["dW2"] / 2
    gradients["db1"] = gradients["db1"] / 4
    return gradients


def stable_forward_propagation_n(X, Y, parameters):
    """forward_propagation_n with the cost in softplus form: log(1 + e^z) never cancels."""
    _, cache = forward_propagation_n(X, Y, parameters)
    Z3 = cache[8]
    # -log(sigmoid(z)) = softplus(-z) and -log(1 - sigmoid(z)) = softplus(z).
    cost = np.mean(np.logaddexp(0, -Z3) * Y + np.logaddexp(0, Z3) * (1 - Y))
    return cost, cache


def label0_stable_forward_propagation_n(X, Y, parameters):
    """As forward_propagation_n, with only the log(1 - A3) term in softplus form."""
    _, cache = forward_propagation_n(X, Y, parameters)
    Z3, A3 = cache[8], cache[9]
    m = X.shape[1]
    cost = 1 / m * np.sum(-np.log(A3) * Y + np.logaddexp(0, Z3) * (1 - Y))
    return cost, cache


def crosses_a_kink(parameters, X, Y, epsilon):
    """True if some step theta +/- epsilon e_i flips a ReLU unit on or off for some example."""
    def masks(params):
        _, cache = forward_propagation_n(X, Y, params)
        return cache[0] > 0, cache[4] > 0

    theta, _ = dictionary_to_vector(parameters)
    base = masks(parameters)
    for i in range(theta.shape[0]):
        for sign in (1, -1):
            moved = theta.copy()
            moved[i] += sign * epsilon
            if any(np.any(a != b) for a, b in zip(masks(vector_to_dictionary(moved)), base,
                                                   strict=True)):
                return True
    return False


def numerical_gradient(forward, parameters, X, Y, epsilon):
    """Centered differences of forward's cost, entry by entry."""
    theta, _ = dictionary_to_vector(parameters)
    gradapprox = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        J_plus, _ = forward(X, Y, vector_to_dictionary(plus))
        J_minus, _ = forward(X, Y, vector_to_dictionary(minus))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    return gradapprox


def course_gradient(backward=fixed_gradients, case=None):
    """(grad, keys, X, Y, parameters) of a backprop on a case (default: the course case)."""
    X, Y, parameters = case if case is not None else gradient_check_n_test_case()
    _, cache = forward_propagation_n(X, Y, parameters)
    _, keys = dictionary_to_vector(parameters)
    return gradients_to_vector(backward(X, Y, cache)), keys, X, Y, parameters


# Part 1: one parameter.
UNIT_ROUNDOFF = 2.0**-53


def _centered(cost, derivative, theta, step):
    """|g - a| / (|g| + |a|) for the centered quotient a of cost at theta with this step."""
    approx = (cost(theta + step) - cost(theta - step)) / (2 * step)
    grad = derivative(theta)
    return abs(grad - approx) / (abs(grad) + abs(approx))


def one_d_from_binary():
    """The 1-D published difference predicted from how 4 +/- 1e-7 are stored in binary.

    J = theta x with x = 2: doubling is exact and so is J_plus - J_minus (Sterbenz: the two
    are within a factor 2), so the only errors are e+ and e-, the rounding of theta + eps and
    theta - eps to doubles. Then gradapprox = x (1 + r) with r = (e+ - e-) / (2 eps), and the
    relative difference is |r| / (2 + r). With the step actually taken, h = (theta + eps) -
    theta, both theta +/- h are doubles and the difference is exactly 0.
    """
    x, theta = gradient_check_1d_test_case()
    eps = EPSILON  # the double nearest 1e-7; 2 * eps is exact
    e_plus = Fraction(theta + eps) - (theta + Fraction(eps))
    e_minus = Fraction(theta - eps) - (theta - Fraction(eps))
    r = (e_plus - e_minus) / (2 * Fraction(eps))
    predicted = abs(r) / (2 + r)
    # The quotient itself is rounded to a double once more: with that, the prediction is exact.
    predicted_gradapprox = float(x * (1 + r))
    predicted_rounded = abs(x - predicted_gradapprox) / (abs(x) + abs(predicted_gradapprox))
    J_plus, J_minus = x * (theta + eps), x * (theta - eps)
    gradapprox = (J_plus - J_minus) / (2 * eps)
    measured = abs(x - gradapprox) / (abs(x) + abs(gradapprox))
    h = (theta + eps) - theta
    return {
        "ulp above 4": math.ulp(4.0),
        "ulp below 4": math.ulp(float(np.nextafter(4.0, 0))),
        "e_plus": float(e_plus),
        "e_minus": float(e_minus),
        "subtraction exact": Fraction(J_plus) - Fraction(J_minus)
        == 2 * (Fraction(theta + eps) - Fraction(theta - eps)),
        "predicted": float(predicted),
        "predicted, quotient rounded": predicted_rounded,
        "measured": float(measured),
        "step taken": h,
        "step taken exact": Fraction(h) == Fraction(theta + eps) - Fraction(theta),
        "theta +/- step taken exact": Fraction(theta + h) == Fraction(theta) + Fraction(h)
        and Fraction(theta - h) == Fraction(theta) - Fraction(h),
        "difference with the step taken": _centered(lambda t: x * t, lambda t: x, theta, h),
    }


def _cubic(x):
    """J = x theta^3 and its derivative, as notebook 1's stand-ins compute them."""
    return (lambda t: x * t**3), (lambda t: 3 * x * t**2)


def cubic_errors(epsilon=EPSILON, x=2.0, theta=1.5):
    """Centered and one-sided relative differences on J = x theta^3, split by source.

    For the relative difference (denominator about 2|J'|) the models are
    truncation: centered eps^2 |J(3)| / (12 |J'|), one-sided eps |J''| / (4 |J'|);
    rounding, at most about: storing theta +/- eps, u |theta| / (2 eps); rounding J,
    u |J| / (2 eps |J'|), with u the unit roundoff (2^-53). The storage part is measured
    exactly with fractions; J's rounding alone by dividing by the step actually taken.
    """
    cost, derivative = _cubic(x)
    J, d1, d2, d3 = cost(theta), derivative(theta), 6 * x * theta, 6 * x
    u = UNIT_ROUNDOFF
    one_sided = (cost(theta + epsilon) - J) / epsilon
    plus, minus = Fraction(theta + epsilon), Fraction(theta - epsilon)
    r = float((plus - minus) / (2 * Fraction(epsilon)) - 1)
    # The exact cubic's centered quotient between the two stored points: truncation alone.
    exact_quotient = Fraction(x) * (plus**3 - minus**3) / (plus - minus)
    return {
        "centered": _centered(cost, derivative, theta, epsilon),
        "one-sided": abs(one_sided - d1) / (abs(one_sided) + d1),
        "centered truncation model": epsilon**2 * d3 / (12 * d1),
        "one-sided truncation model": epsilon * d2 / (4 * d1),
        "truncation between the stored points":
            float(abs(exact_quotient - Fraction(d1)) / (2 * Fraction(d1))),
        "storing theta +/- epsilon": abs(r) / 2,
        "storing model": u * theta / (2 * epsilon),
        "rounding J, step taken": _centered(cost, derivative, theta, (theta + epsilon) - theta),
        "rounding J model": u * J / (2 * epsilon * d1),
    }


def cubic_over_theta(epsilon=EPSILON, x=2.0, points=61):
    """The notebook-1 cell over theta in [1.2, 1.8]: storage part, J's rounding, both models."""
    thetas = np.linspace(1.2, 1.8, points)
    cost, derivative = _cubic(x)
    by_two = np.array([_centered(cost, derivative, t, epsilon) for t in thetas])
    taken = np.array([_centered(cost, derivative, t, (t + epsilon) - t) for t in thetas])
    storing = np.array([
        abs(float((Fraction(t + epsilon) - Fraction(t - epsilon)) / (2 * Fraction(epsilon)) - 1))
        / 2 for t in thetas])
    J_model = UNIT_ROUNDOFF * cost(thetas) / (2 * epsilon * derivative(thetas))
    return {
        "points": points,
        "storing min": float(storing.min()),
        "storing max": float(storing.max()),
        "by 2 epsilon median": float(np.median(by_two)),
        "by 2 epsilon max": float(by_two.max()),
        "step taken median": float(np.median(taken)),
        "step taken max": float(taken.max()),
        "step taken below the J model": int(np.sum(taken <= J_model)),
        "within storing +/- J model": int(np.sum(abs(by_two - storing) <= J_model)),
    }


def same_distance_in_1_to_2(epsilon=EPSILON, points=100_001):
    """Whether (theta + eps) - (theta - eps) is one same double for theta in [1, 2] and at 4."""
    thetas = np.linspace(1 + 2 * epsilon, 2 - 2 * epsilon, points)
    distances = set(((thetas + epsilon) - (thetas - epsilon)).tolist())
    return {"distances in [1, 2]": len(distances),
            "same at 4": distances == {(4.0 + epsilon) - (4.0 - epsilon)}}


def cubic_sweep(x=2.0, theta=1.5):
    """The notebook-1 sweep: best step measured, and where the models put it.

    With truncation a eps^2 and rounding b / eps (both rounding models:
    b = u (|theta| + |J / J'|) / 2), the sum is smallest at (b / 2a)^(1/3), a factor 2^(-1/3)
    below the crossing (b / a)^(1/3).
    """
    epsilons = np.logspace(-1, -12, 45)
    cost, derivative = _cubic(x)
    differences = [_centered(cost, derivative, theta, eps) for eps in epsilons]
    a = 6 * x / (12 * derivative(theta))
    b = UNIT_ROUNDOFF * (theta + cost(theta) / derivative(theta)) / 2
    best = int(np.argmin(differences))
    return {
        "best epsilon": float(epsilons[best]),
        "smallest difference": float(differences[best]),
        "model optimum": (b / (2 * a)) ** (1 / 3),
        "model crossing": (b / a) ** (1 / 3),
        "difference at 1e-7": float(differences[int(np.argmin(abs(epsilons - 1e-7)))]),
    }


def nan_comparisons():
    """What NaN compares as, and so what an if/else verdict says about it."""
    nan = float("nan")
    return {"nan > threshold": nan > DIFFERENCE_THRESHOLD,
            "nan < threshold": nan < DIFFERENCE_THRESHOLD,
            "nan == nan": nan == float("nan"), "nan != nan": nan != float("nan"),
            "if/else verdict": "bug" if nan > DIFFERENCE_THRESHOLD else "agrees"}


# Part 2: the course network at one point and at a few random points.
def dead_units():
    """Dead units of the course case and the gradient entries they zero, in both estimates.

    A unit is dead when its ReLU output is 0 for every example. Returns how many per layer,
    the zero entries of the buggy backprop's gradient (and of the centered differences at
    EPSILON, which must be the same entries), per block, and which entries of the gradient are
    nonzero at the course point or at one of the first ``points`` random points at least.
    """
    X, Y, parameters = gradient_check_n_test_case()
    _, keys = dictionary_to_vector(parameters)
    _, cache = forward_propagation_n(X, Y, parameters)
    A1, A2 = cache[1], cache[5]
    grad = gradients_to_vector(buggy_backward_propagation_n(X, Y, cache)).ravel()
    approx = numerical_gradient(forward_propagation_n, parameters, X, Y, EPSILON).ravel()
    zero = grad == 0
    keys = np.asarray(keys)
    return {
        "examples": X.shape[1],
        "shapes": {name: parameters[name].shape for name in BLOCKS},
        "entries": int(grad.size),
        "dead in layer 1": (int(np.sum(~np.any(A1 > 0, axis=1))), A1.shape[0]),
        "dead in layer 2": (int(np.sum(~np.any(A2 > 0, axis=1))), A2.shape[0]),
        "dead unit of layer 1": [int(i) + 1 for i in np.flatnonzero(~np.any(A1 > 0, axis=1))],
        "zero entries": int(zero.sum()),
        "zero entries of gradapprox are the same": bool(np.array_equal(approx == 0, zero)),
        "zero by block": {b: int(np.sum(zero[keys == b])) for b in BLOCKS},
        "block sizes": {b: int(np.sum(keys == b)) for b in BLOCKS},
        "dead layer-1 unit's dW1 row is zero": bool(np.all(
            grad[keys == "W1"].reshape(COURSE_SHAPES["W1"])[~np.any(A1 > 0, axis=1)] == 0)),
    }


def random_points(points=5):
    """The buggy backprop at random_network_case(0 .. points - 1): zero entries, difference,
    and how many entries are nonzero at the course point or one of these at least."""
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = forward_propagation_n(X, Y, parameters)
    covered = (gradients_to_vector(buggy_backward_propagation_n(X, Y, cache)) != 0).ravel()
    zeros, differences, covered_after = [], [], []
    by_random_points_alone = np.zeros_like(covered)
    for seed in range(points):
        X, Y, parameters = random_network_case(seed)
        _, cache = forward_propagation_n(X, Y, parameters)
        grad = gradients_to_vector(buggy_backward_propagation_n(X, Y, cache))
        approx = numerical_gradient(forward_propagation_n, parameters, X, Y, EPSILON)
        zeros.append(int(np.sum(grad == 0)))
        differences.append(relative_difference(grad, approx))
        covered |= (grad != 0).ravel()
        by_random_points_alone |= (grad != 0).ravel()
        covered_after.append(int(covered.sum()))
    return {"examples": X.shape[1], "zero entries": zeros, "differences": differences,
            "covered after each": covered_after,
            "covered by the random points alone": int(by_random_points_alone.sum())}


# Parts 2 and 3: the course network.
def course_numbers():
    """Buggy and fixed differences, block by block, at EPSILON and BLOCK_EPSILON."""
    grad_bug, keys, X, Y, parameters = course_gradient(buggy_backward_propagation_n)
    grad_fix, *_ = course_gradient()
    out = {}
    for eps in (EPSILON, BLOCK_EPSILON):
        approx = numerical_gradient(forward_propagation_n, parameters, X, Y, eps)
        out[f"buggy at {eps:g}"] = relative_difference(grad_bug, approx)
        out[f"fixed at {eps:g}"] = relative_difference(grad_fix, approx)
        out[f"fixed blocks at {eps:g}"] = by_block(grad_fix, approx, keys)
        out[f"buggy blocks at {eps:g}"] = by_block(grad_bug, approx, keys)
    # Per-block noise: the same absolute error per entry reads larger for a block whose
    # gradient is small. Report each block's gradient norm and error norm at EPSILON.
    approx = numerical_gradient(forward_propagation_n, parameters, X, Y, EPSILON)
    keys = np.asarray(keys)
    out["block gradient norm"] = {b: float(np.linalg.norm(grad_fix[keys == b])) for b in BLOCKS}
    out["block error rms per entry at 1e-07"] = {
        b: float(np.sqrt(np.mean((grad_fix[keys == b] - approx[keys == b]) ** 2))) for b in BLOCKS
    }
    return out


def softplus_observation():
    """Where the correct backprop's 1.19e-7 comes from, on the course case at EPSILON."""
    grad, _, X, Y, parameters = course_gradient()
    _, cache = forward_propagation_n(X, Y, parameters)
    A3 = cache[9]
    classic = numerical_gradient(forward_propagation_n, parameters, X, Y, EPSILON)
    label0 = numerical_gradient(label0_stable_forward_propagation_n, parameters, X, Y, EPSILON)
    stable = numerical_gradient(stable_forward_propagation_n, parameters, X, Y, EPSILON)
    error_classic = np.linalg.norm(grad - classic)
    error_label0_fixed = np.linalg.norm(grad - label0)
    return {
        "A3": A3.ravel().tolist(),
        "Y": Y.ravel().tolist(),
        "classic": relative_difference(grad, classic),
        "only log(1 - A3) stable": relative_difference(grad, label0),
        "softplus cost": relative_difference(grad, stable),
        "share of the error from log(1 - A3)": float(1 - error_label0_fixed / error_classic),
    }


def best_step(forward, grad, parameters, X, Y):
    """The step of a sweep from 1e-1 to 1e-10 with the smallest relative difference."""
    epsilons = np.logspace(-1, -10, 28)
    differences = [
        relative_difference(grad, numerical_gradient(forward, parameters, X, Y, eps))
        for eps in epsilons
    ]
    best = int(np.argmin(differences))
    return float(epsilons[best]), float(differences[best])


def course_best_steps():
    """Best step for the course case: classic cost, and softplus cost."""
    grad, _, X, Y, parameters = course_gradient()
    classic = best_step(forward_propagation_n, grad, parameters, X, Y)
    stable = best_step(stable_forward_propagation_n, grad, parameters, X, Y)
    return {"classic cost": classic, "softplus cost": stable}


# Single-line bugs, each applied to the fixed backprop, for the band measurements.
def _bug_dW2_doubled(X, Y, cache):
    gradients = fixed_gradients(X, Y, cache)
    gradients["dW2"] = gradients["dW2"] * 2
    return gradients


def _bug_db1_times_4(X, Y, cache):
    gradients = fixed_gradients(X, Y, cache)
    gradients["db1"] = gradients["db1"] * 4
    return gradients


def _bug_db3_without_1_over_m(X, Y, cache):
    gradients = fixed_gradients(X, Y, cache)
    gradients["db3"] = gradients["db3"] * X.shape[1]
    return gradients


def _bug_dZ1_without_relu_mask(X, Y, cache):
    """dZ1 = dA1 (the ReLU mask of layer 1 forgotten), carried into dW1 and db1."""
    gradients = fixed_gradients(X, Y, cache)
    m = X.shape[1]
    dA1 = gradients["dA1"]
    gradients["dW1"] = 1 / m * np.dot(dA1, X.T)
    gradients["db1"] = 1 / m * np.sum(dA1, axis=1, keepdims=True)
    return gradients


BUGS = {
    "dW2 doubled": _bug_dW2_doubled,
    "db1 times 4": _bug_db1_times_4,
    "db3 without 1/m": _bug_db3_without_1_over_m,
    "ReLU mask of layer 1 dropped": _bug_dZ1_without_relu_mask,
}


def random_draws(draws=500, m=3, epsilon=EPSILON):
    """Readings of correct and single-bug backprops on random draws of the course network.

    Draws whose cost is infinite or where a step crosses a ReLU kink are counted and left
    out. Returns the largest reading of the correct backprop, how many draws exceed the
    verdict threshold and 1e-3, and for each bug the smallest reading among draws where the bug
    changes the gradient at all (a mask that drops nothing is no bug on that draw).
    """
    correct, seeds, kinked, bugs, saturated = [], [], [], {name: [] for name in BUGS}, 0
    softplus, confident_and_wrong, label0_near_1, label1_near_0 = [], [], [], []
    for seed in range(draws):
        X, Y, parameters = random_network_case(seed, m=m)
        # A3 can round to exactly 1 (or 0): log(0) is -inf, counted below as saturated.
        with np.errstate(divide="ignore", invalid="ignore"):
            _, cache = forward_propagation_n(X, Y, parameters)
            approx = numerical_gradient(forward_propagation_n, parameters, X, Y, epsilon)
        if not np.all(np.isfinite(approx)):
            # A3 rounds to exactly 1 (or 0) and log(1 - A3) is -inf: the classic cost
            # cannot be differenced here at all.
            saturated += 1
            continue
        grad = gradients_to_vector(fixed_gradients(X, Y, cache))
        if crosses_a_kink(parameters, X, Y, epsilon):
            kinked.append(relative_difference(grad, approx))
            continue
        correct.append(relative_difference(grad, approx))
        seeds.append(seed)
        A3 = cache[9]
        confident_and_wrong.append(bool(np.any((A3 > 0.999) & (Y == 0) | (A3 < 1e-3) & (Y == 1))))
        # Which side: 1 - A3 cancels for a label-0 example near 1; log(A3) near 0 does not.
        label0_near_1.append(bool(np.any((A3 > 0.999) & (Y == 0))))
        label1_near_0.append(bool(np.any((A3 < 1e-3) & (Y == 1))))
        stable = numerical_gradient(stable_forward_propagation_n, parameters, X, Y, epsilon)
        softplus.append(relative_difference(grad, stable))
        for name, bug in BUGS.items():
            wrong = gradients_to_vector(bug(X, Y, cache))
            if np.linalg.norm(wrong - grad) > 1e-6 * np.linalg.norm(grad):
                # Also how much of the gradient the bug touches: ||wrong - grad|| / ||grad||.
                share = float(np.linalg.norm(wrong - grad) / np.linalg.norm(grad))
                bugs[name].append((relative_difference(wrong, approx), share))
    correct = np.array(correct)
    worst = int(np.argmax(correct))
    label0_near_1, label1_near_0 = np.array(label0_near_1), np.array(label1_near_0)
    only_label1 = label1_near_0 & ~label0_near_1
    return {
        "draws": draws,
        "draws where the cost is infinite (A3 rounds to 0 or 1)": saturated,
        "draws where a step crosses a ReLU kink (left out below)": len(kinked),
        "largest reading on those": float(max(kinked, default=0.0)),
        "correct max": float(correct.max()),
        "correct max seed": seeds[worst],
        "correct median": float(np.median(correct)),
        "correct above threshold": int(np.sum(correct >= DIFFERENCE_THRESHOLD)),
        "correct above 1e-3": int(np.sum(correct > 1e-3)),
        "of those, draws with an example confidently wrong (A3 within 1e-3 of the wrong label)":
            int(np.sum(np.array(confident_and_wrong)[correct > 1e-3])),
        "of those, draws with a label-0 example at A3 > 0.999":
            int(np.sum(label0_near_1[correct > 1e-3])),
        "draws whose only confident mistakes are label-1 examples at A3 < 1e-3":
            int(np.sum(only_label1)),
        "largest correct reading on those label-1 draws":
            float(correct[only_label1].max(initial=0.0)),
        "softplus cost: correct max on the same draws": float(max(softplus)),
        "bug min": {name: min(values)[0] for name, values in bugs.items()},
        "gradient change of the bug at its min, relative": {
            name: min(values)[1] for name, values in bugs.items()},
        "bug below 1e-3": {name: sum(v < 1e-3 for v, _ in values)
                           for name, values in bugs.items()},
    }


def kink_blocks(layer, epsilon=BLOCK_EPSILON, offset=1e-6):
    """Blocks flagged when one pre-activation of a layer sits close to ReLU's kink.

    b<layer>[0] is moved so that Z<layer>[0, 0] = offset; the steps that cross the kink are
    those whose parameter moves that Z by more than offset, i.e. |dZ/dtheta| epsilon > offset.
    """
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = forward_propagation_n(X, Y, parameters)
    Z = cache[0] if layer == 1 else cache[4]
    parameters[f"b{layer}"][0, 0] += offset - Z[0, 0]
    grad, keys, *_ = course_gradient(case=(X, Y, parameters))
    approx = numerical_gradient(forward_propagation_n, parameters, X, Y, epsilon)
    blocks = by_block(grad, approx, keys)
    return {"flagged": [b for b, v in blocks.items() if v >= DIFFERENCE_THRESHOLD],
            "blocks": blocks}


# Notebook 3: the hunt on the notebook's subtly buggy backprop, and the fixed backprop's noise.
# The correct backprop here is the grader's reference (instructor/references.py).
NOTEBOOK_3 = Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking" / (
    "03_debug_buggy_backprop.ipynb")


def notebook_3_given(name):
    """The function notebook 3 defines in its read-only cell ``name``, run from that source."""
    import nbformat

    (cell,) = [c for c in nbformat.read(NOTEBOOK_3, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == name]
    namespace = {"np": np}
    exec(compile(cell.source, f"<notebook 3: {name}>", "exec"), namespace)
    return namespace[name]


def hunt_blocks():
    """Section 4: each block's reading for the subtly buggy backprop at both steps, and the
    blocks where it differs from the reference (the bugs)."""
    from instructor.references import backward_propagation_n as reference

    subtle = notebook_3_given("subtly_buggy_backward_propagation_n")
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = forward_propagation_n(X, Y, parameters)
    _, keys = dictionary_to_vector(parameters)
    buggy, correct = subtle(X, Y, cache), reference(X, Y, cache)
    grad = gradients_to_vector(buggy)
    out = {"wrong blocks": [b for b in BLOCKS
                            if not np.allclose(buggy[f"d{b}"], correct[f"d{b}"])]}
    for eps in (EPSILON, BLOCK_EPSILON):
        approx = numerical_gradient(forward_propagation_n, parameters, X, Y, eps)
        out[f"blocks at {eps:g}"] = by_block(grad, approx, keys)
    out["overall at 1e-07"] = relative_difference(
        grad, numerical_gradient(forward_propagation_n, parameters, X, Y, EPSILON))
    return out


def fixed_noise():
    """Section 6: the fixed backprop's blocks (gradient size, live entries), and at 1e-4 and
    1e-3 the classic cost against one that does not cancel (what is left is truncation)."""
    from instructor.references import backward_propagation_n as reference

    grad, keys, X, Y, parameters = course_gradient(reference)
    keys = np.asarray(keys)
    out = {
        "block gradient norm": {b: float(np.linalg.norm(grad[keys == b])) for b in BLOCKS},
        "block live entries": {b: int(np.count_nonzero(grad[keys == b])) for b in BLOCKS},
    }
    for eps in (EPSILON, BLOCK_EPSILON, 1e-3):
        classic = numerical_gradient(forward_propagation_n, parameters, X, Y, eps)
        stable = numerical_gradient(stable_forward_propagation_n, parameters, X, Y, eps)
        out[f"blocks at {eps:g}"] = by_block(grad, classic, keys)
        out[f"classic at {eps:g}"] = relative_difference(grad, classic)
        out[f"softplus at {eps:g}"] = relative_difference(grad, stable)
    out["truncation share at 0.0001"] = out["softplus at 0.0001"] / out["classic at 0.0001"]
    return out


def examples_apart():
    """Section 7: the check at EPSILON on the two label-1 examples, and on the label-0 one."""
    from instructor.references import backward_propagation_n as reference

    X, Y, parameters = gradient_check_n_test_case()
    A3 = forward_propagation_n(X, Y, parameters)[1][9][0, 2]
    # 1 - a3 has the absolute error of a3 (u a3) on a value 1 - a3: relative error grows by
    # a3 / (1 - a3), that many times ten fewer correct digits.
    out = {"digits lost in 1 - a3": float(np.log10(A3 / (1 - A3)))}
    for name, columns in [("label-1 examples", [0, 1]), ("label-0 example", [2])]:
        case = (X[:, columns], Y[:, columns], parameters)
        grad, _, Xp, Yp, _ = course_gradient(reference, case)
        approx = numerical_gradient(forward_propagation_n, parameters, Xp, Yp, EPSILON)
        out[name] = relative_difference(grad, approx)
    return out


# Notebook 4: gradient checking in practice (its own section; the functions below are used by
# nothing above).
def _complex_cost(X, Y, theta):
    """The course cost in complex arithmetic at a (complex) parameter vector: ReLU decides on
    the real part, the sigmoid and logarithms are numpy's complex ones."""
    p = vector_to_dictionary(theta)
    A1 = np.dot(p["W1"], X) + p["b1"]
    A1 = np.where(A1.real > 0, A1, 0)
    A2 = np.dot(p["W2"], A1) + p["b2"]
    A2 = np.where(A2.real > 0, A2, 0)
    A3 = 1 / (1 + np.exp(-(np.dot(p["W3"], A2) + p["b3"])))
    return np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y)) / X.shape[1]


def complex_step_reference(X, Y, parameters, h=1e-20):
    """The course gradient by one complex-step derivative per parameter."""
    theta, _ = dictionary_to_vector(parameters)
    grad = np.zeros_like(theta)
    for k in range(theta.shape[0]):
        nudged = theta.astype(complex)
        nudged[k] += 1j * h
        grad[k] = _complex_cost(X, Y, nudged).imag / h
    return grad


def storing_theta_on_the_course_case(epsilon=EPSILON):
    """Notebooks 3 and 4: what storing theta +/- eps adds to the course case's check at EPSILON.

    Its bound is u |theta_i| / (2 eps) of entry i. Measured against the complex-step gradient:
    each centered difference divided by 2 eps (as the lesson's checks do), then by the exact
    distance between the two stored points, which leaves only the rounding of J (truncation is
    about 1e-16 at this step).
    """
    X, Y, parameters = gradient_check_n_test_case()
    theta, _ = dictionary_to_vector(parameters)
    reference = complex_step_reference(X, Y, parameters)
    out = {"largest u |theta_i| / (2 eps)": float(
        UNIT_ROUNDOFF * np.max(np.abs(theta)) / (2 * epsilon))}
    for name, forward in (("classic", forward_propagation_n),
                          ("softplus", stable_forward_propagation_n)):
        by_2eps, by_distance = np.zeros_like(theta), np.zeros_like(theta)
        for i in range(theta.shape[0]):
            plus, minus = theta.copy(), theta.copy()
            plus[i] += epsilon
            minus[i] -= epsilon
            J_plus, _ = forward(X, Y, vector_to_dictionary(plus))
            J_minus, _ = forward(X, Y, vector_to_dictionary(minus))
            distance = float(Fraction(float(plus[i, 0])) - Fraction(float(minus[i, 0])))
            by_2eps[i] = (J_plus - J_minus) / (2 * epsilon)
            by_distance[i] = (J_plus - J_minus) / distance
        out[f"{name}, divided by 2 eps"] = relative_difference(reference, by_2eps)
        out[f"{name}, divided by the stored distance"] = relative_difference(reference, by_distance)
    return out


def practice_precision():
    """Notebook 4, section 2: the course case's 1.19e-7 against an exact reference."""
    X, Y, parameters = gradient_check_n_test_case()
    reference = complex_step_reference(X, Y, parameters)
    fixed, *_ = course_gradient()
    _, cache = forward_propagation_n(X, Y, parameters)
    classic = relative_difference(
        reference, numerical_gradient(forward_propagation_n, parameters, X, Y, EPSILON))
    stable = relative_difference(
        reference, numerical_gradient(stable_forward_propagation_n, parameters, X, Y, EPSILON))
    A3 = cache[9]
    return {
        "reference against the fixed backprop": relative_difference(reference, fixed),
        "classic cost at 1e-7": classic,
        "softplus cost at 1e-7": stable,
        "ratio": classic / stable,
        "A3 of the label-0 example": float(A3[0, 2]),
        "1 - A3 of the label-0 example": float(1 - A3[0, 2]),
        "float32 machine epsilon": float(np.finfo(np.float32).eps),
        "gradient entries exactly 0": int(np.sum(fixed == 0)),
        "gradient entries": int(fixed.size),
        "zero entries per block": {b: int(np.sum(fixed[np.asarray(keys) == b] == 0))
                                   for keys in [dictionary_to_vector(parameters)[1]]
                                   for b in BLOCKS},
        "units off for every example, per hidden layer": [int(np.sum(~np.any(cache[0] > 0, 1))),
                                                           int(np.sum(~np.any(cache[4] > 0, 1)))],
    }


def _squire_trapp(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def _squire_trapp_derivative(x):
    s, c = np.sin(x), np.cos(x)
    return _squire_trapp(x) * (1 - (3 * s**2 * c - 3 * c**2 * s) / (2 * (s**3 + c**3)))


def practice_methods(x0=1.5):
    """Notebook 4, sections 2 and 3: forward, centered, five-point and complex-step errors of
    f'(1.5) for the Squire-Trapp function, in float64 and float32, as the notebook sweeps."""
    exact = _squire_trapp_derivative(x0)
    out = {}
    for dtype, cdtype in ((np.float64, np.complex128), (np.float32, np.complex64)):
        x, name = dtype(x0), dtype.__name__

        def centered(h, dtype=dtype, x=x):
            h = dtype(h)
            return float((_squire_trapp(x + h) - _squire_trapp(x - h)) / (dtype(2) * h))

        def forward(h, dtype=dtype, x=x):
            h = dtype(h)
            return float((_squire_trapp(x + h) - _squire_trapp(x)) / h)

        def five_point(h, dtype=dtype, x=x):
            h = dtype(h)
            return float((_squire_trapp(x - 2 * h) - 8 * _squire_trapp(x - h)
                          + 8 * _squire_trapp(x + h) - _squire_trapp(x + 2 * h)) / (12 * h))

        def error(estimate, steps):
            with np.errstate(all="ignore"):
                e = np.array([abs(estimate(h) - exact) / abs(exact) for h in steps])
            return np.where(np.isfinite(e), e, 1.0)

        sweep = np.logspace(-1, -12, 34)
        errors = error(centered, sweep)
        best = int(np.argmin(errors))
        out[f"{name} centered sweep: best step"] = float(sweep[best])
        out[f"{name} centered sweep: floor (median of 5 around the best)"] = float(
            np.median(errors[max(best - 2, 0):best + 3]))
        out[f"{name} centered sweep: at 1e-7"] = float(errors[np.argmin(abs(sweep - 1e-7))])
        out[f"{name} rounding unit"] = float(np.finfo(dtype).eps / 2)
        out[f"{name} spacing near 1.5"] = float(np.spacing(dtype(1.5)))
        steps = np.logspace(-1, -20, 39)
        for method, estimate in (("forward", forward), ("centered", centered),
                                 ("five-point", five_point)):
            e = error(estimate, steps)
            out[f"{name} {method}: best step"] = float(steps[int(np.argmin(e))])
            out[f"{name} {method}: best error"] = float(e.min())
        h = steps[-1]  # as the notebook's sweep: its last step, within an ulp of 1e-20
        complex_step = float(np.imag(_squire_trapp(cdtype(x0 + 1j * h))) / h)
        out[f"{name} complex step at 1e-20"] = float(abs(complex_step - exact) / abs(exact))
    return out


def practice_kink(offset=1e-6):
    """Notebook 4, section 4: one-sided slopes of the course cost along b1[1] when Z1[1, 2]
    sits offset above 0."""
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = forward_propagation_n(X, Y, parameters)
    parameters["b1"][1, 0] -= cache[0][1, 2] - offset
    theta, keys = dictionary_to_vector(parameters)
    index = keys.index("b1") + 1

    def cost(t):
        nudged = theta.copy()
        nudged[index] += t
        return forward_propagation_n(X, Y, vector_to_dictionary(nudged))[0]

    gaps = {}
    J0 = cost(0.0)
    for eps in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        forward, backward = (cost(eps) - J0) / eps, (J0 - cost(-eps)) / eps
        gaps[eps] = (forward, backward, abs(forward - backward))
    return gaps


def practice_not_a_number():
    """Notebook 4's visible check at 20 times the course weights: why the cost is NaN."""
    X, Y, parameters = gradient_check_n_test_case()
    overflows = False
    try:  # floating-point overflow raises here; log(0) and inf * 0 do not
        with np.errstate(over="raise", divide="ignore", invalid="ignore"):
            cost, cache = forward_propagation_n(X, Y, {k: 20 * v for k, v in parameters.items()})
    except FloatingPointError:
        overflows = True
        with np.errstate(all="ignore"):
            cost, cache = forward_propagation_n(X, Y, {k: 20 * v for k, v in parameters.items()})
    A3 = cache[9].ravel()
    return {"cost is NaN": bool(np.isnan(cost)), "anything overflows": overflows,
            "A3": A3.tolist(), "Y": Y.ravel().tolist(),
            "labels where A3 is exactly 1": [float(y) for a, y in zip(A3, Y.ravel(), strict=True)
                                            if a == 1.0]}


def practice_directional(directions=20000, epsilon=1e-6, seed=0):
    """Notebook 4, section 5: db3 tripled at the course case, full check against directional
    checks along random Gaussian directions (all blocks at once)."""
    X, Y, parameters = gradient_check_n_test_case()
    grad, keys, *_ = course_gradient()
    theta, _ = dictionary_to_vector(parameters)
    wrong = grad.copy()
    wrong[np.asarray(keys) == "b3"] *= 3
    reference = complex_step_reference(X, Y, parameters)
    full = relative_difference(wrong, reference)

    def cost(t):
        return forward_propagation_n(X, Y, vector_to_dictionary(t))[0]

    rng = np.random.default_rng(seed)
    readings = []
    for _ in range(directions):
        u = rng.standard_normal(theta.shape)
        along = (cost(theta + epsilon * u) - cost(theta - epsilon * u)) / (2 * epsilon)
        dot = float(np.sum(wrong * u))
        readings.append(abs(dot - along) / (abs(dot) + abs(along)))
    readings = np.array(readings)
    share = float(np.linalg.norm(wrong - reference) / np.linalg.norm(reference))
    return {
        "full check (against the complex-step gradient)": full,
        "the bug's share of the gradient, ||error|| / ||gradient||": share,
        "directional median": float(np.median(readings)),
        "directional 10th percentile": float(np.percentile(readings, 10)),
        "directions reading 10 times below the full check": float(np.mean(readings < full / 10)),
        "directions reading below 1e-3": float(np.mean(readings < 1e-3)),
    }


def practice_sections():
    """Notebook 4's measurements, titled for main."""
    return {
        "notebook 4: precision on the course case": practice_precision(),
        "notebooks 3-4: storing theta +/- eps on the course case":
            storing_theta_on_the_course_case(),
        "notebook 4: difference methods on f'(1.5)": practice_methods(),
        "notebook 4: one-sided slopes near a kink (forward, backward, gap)": {
            f"{eps:g}": f"{f:.10f} {b:.10f} {g:.1e}" for eps, (f, b, g) in practice_kink().items()},
        "notebook 4: the cost at 20 times the course weights": practice_not_a_number(),
        "notebook 4: db3 tripled, full against directional": practice_directional(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    np.set_printoptions(precision=3)
    sections = {
        "1-D difference predicted from binary": one_d_from_binary(),
        "NaN comparisons (notebook 1)": nan_comparisons(),
        "cubic at epsilon 1e-7": cubic_errors(),
        "cubic over theta in [1.2, 1.8] (notebook 1)": cubic_over_theta(),
        "one distance between the stored points (notebook 1)": same_distance_in_1_to_2(),
        "cubic sweep (notebook 1)": cubic_sweep(),
        "dead units (notebook 2)": dead_units(),
        "random points (notebook 2)": random_points(),
        "course case": course_numbers(),
        "softplus observation": softplus_observation(),
        "course best steps (epsilon, difference)": course_best_steps(),
        "kink in layer 1 at epsilon 1e-4": kink_blocks(1),
        "kink in layer 2 at epsilon 1e-4": kink_blocks(2),
        "notebook 3 hunt": hunt_blocks(),
        "notebook 3 fixed backprop's noise": fixed_noise(),
        "notebook 3 examples apart": examples_apart(),
        f"random draws (m=3, epsilon {EPSILON:g})": random_draws(args.draws),
        **practice_sections(),
    }
    for title, values in sections.items():
        print(f"## {title}")
        for name, value in values.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}"
                                  for k, v in value.items())
            print(f"  {name}: {value!r}" if isinstance(value, float) else f"  {name}: {value}")


if __name__ == "__main__":
    main()
