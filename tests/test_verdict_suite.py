"""The private suite that judges notebook 4's ``check_gradients`` (its source solution).

Every bug is one line of the correct backprop replaced by a plausible mistake (wrong
transposes that still broadcast, dropped or doubled 1/m, wrong ReLU masks, swapped
activations, sign slips, wrong sums). On the course case and on random draws, every bug must
be caught in every block it changes, and never reported in a block it leaves alone; on 200
random correct networks with parameter scales from 0.01 to 2, no block may read "bug" and at
most 5% may read "inconclusive".

The correct backprop is the grader-only one (``instructor/references.py``), which nothing a
student installs contains.
"""

import inspect
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils import (
    COURSE_SHAPES,
    forward_propagation_n,
    gradient_check_n_test_case,
    leaky_forward_propagation_n,
    squared_error_forward_propagation_n,
)
from instructor import references

NOTEBOOK = (Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
            / "04_gradient_check_in_practice.ipynb")
SUITE_SEED = 20261127
N_CORRECT = 200
N_BUG_DRAWS = 5
# Extra correct networks at scales 1 to 2, where rounding freezes the sigmoid.
N_SATURATED = 40
SCALES = (0.01, 2.0)
MAX_INCONCLUSIVE = 0.05
# Correct networks moved to hard points: kinks at 1e-9 to 1e-4, saturated outputs, dead units.
N_HARD = 60
# Blocks whose gradients differ by less than this (relative) count as unchanged by a bug.
CHANGED_RTOL = 1e-9

# The correct backprop, read from the grader-only references: each bug replaces one line.
REFERENCE_BACKWARD = inspect.getsource(references.backward_propagation_n)

DZ2 = "dZ2 = np.dot(W3.T, dZ3) * (A2 > 0)"
DZ1 = "dZ1 = np.dot(W2.T, dZ2) * (A1 > 0)"
# name: (line of the reference, the line that replaces it)
BUGS = {
    "output error with the wrong sign": ("dZ3 = A3 - Y", "dZ3 = Y - A3"),
    "sigmoid derivative applied twice": ("dZ3 = A3 - Y", "dZ3 = (A3 - Y) * A3 * (1 - A3)"),
    "ReLU mask on the sigmoid output": ("dZ3 = A3 - Y", "dZ3 = (A3 - Y) * (Z3 > 0)"),
    "output error divided by m too": ("dZ3 = A3 - Y", "dZ3 = (A3 - Y) / X.shape[1]"),
    "dW3 without 1/m": ("dW3 = 1 / m * np.dot(dZ3, A2.T)", "dW3 = np.dot(dZ3, A2.T)"),
    "dW3 from Z2 instead of A2": ("dW3 = 1 / m * np.dot(dZ3, A2.T)",
                                  "dW3 = 1 / m * np.dot(dZ3, Z2.T)"),
    "dW3 with A2 not transposed": ("dW3 = 1 / m * np.dot(dZ3, A2.T)",
                                   "dW3 = 1 / m * np.dot(dZ3, A2)"),
    "dW3 with the wrong sign": ("dW3 = 1 / m * np.dot(dZ3, A2.T)",
                                "dW3 = -1 / m * np.dot(dZ3, A2.T)"),
    "db3 without 1/m": ("db3 = 1 / m * np.sum(dZ3, axis=1, keepdims=True)",
                        "db3 = np.sum(dZ3, axis=1, keepdims=True)"),
    "db3 with the wrong sign": ("db3 = 1 / m * np.sum(dZ3, axis=1, keepdims=True)",
                                "db3 = -1 / m * np.sum(dZ3, axis=1, keepdims=True)"),
    "db3 summing A3 instead of dZ3": ("db3 = 1 / m * np.sum(dZ3, axis=1, keepdims=True)",
                                      "db3 = 1 / m * np.sum(A3, axis=1, keepdims=True)"),
    "dA2 divided by m": (DZ2, "dZ2 = np.dot(W3.T, dZ3) / m * (A2 > 0)"),
    "dA2 with the wrong sign": (DZ2, "dZ2 = -np.dot(W3.T, dZ3) * (A2 > 0)"),
    "ReLU mask from A2 >= 0": (DZ2, "dZ2 = np.dot(W3.T, dZ3) * (A2 >= 0)"),
    "ReLU derivative taken as A2": (DZ2, "dZ2 = np.dot(W3.T, dZ3) * A2"),
    "sigmoid derivative in a ReLU layer": (DZ2, "dZ2 = np.dot(W3.T, dZ3) * A2 * (1 - A2)"),
    "ReLU mask transposed": (DZ2, "dZ2 = np.dot(W3.T, dZ3) * (A2.T > 0)"),
    "ReLU mask forgotten": (DZ2, "dZ2 = np.dot(W3.T, dZ3)"),
    "dW2 doubled": ("dW2 = 1 / m * np.dot(dZ2, A1.T)", "dW2 = 1 / m * np.dot(dZ2, A1.T) * 2"),
    "dW2 from Z1 instead of A1": ("dW2 = 1 / m * np.dot(dZ2, A1.T)",
                                  "dW2 = 1 / m * np.dot(dZ2, Z1.T)"),
    "dW2 from dA2 instead of dZ2": ("dW2 = 1 / m * np.dot(dZ2, A1.T)",
                                    "dW2 = 1 / m * np.dot(np.dot(W3.T, dZ3), A1.T)"),
    "dW2 without 1/m": ("dW2 = 1 / m * np.dot(dZ2, A1.T)", "dW2 = np.dot(dZ2, A1.T)"),
    "db2 summed over the wrong axis": (
        "db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)",
        "db2 = 1 / m * np.sum(dZ2, axis=0, keepdims=True).T",
    ),
    "db2 summing dA2": ("db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)",
                        "db2 = 1 / m * np.sum(np.dot(W3.T, dZ3), axis=1, keepdims=True)"),
    "db2 with 1/m twice": ("db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)",
                           "db2 = 1 / m**2 * np.sum(dZ2, axis=1, keepdims=True)"),
    "db2 summed over everything": ("db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)",
                                   "db2 = 1 / m * np.sum(dZ2) * np.ones_like(b2)"),
    "dA1 from dA2 instead of dZ2": (DZ1, "dZ1 = np.dot(W2.T, np.dot(W3.T, dZ3)) * (A1 > 0)"),
    "dA1 doubled": (DZ1, "dZ1 = 2 * np.dot(W2.T, dZ2) * (A1 > 0)"),
    "ReLU mask from A1 >= 0": (DZ1, "dZ1 = np.dot(W2.T, dZ2) * (A1 >= 0)"),
    "ReLU derivative taken as A1": (DZ1, "dZ1 = np.dot(W2.T, dZ2) * A1"),
    "sigmoid derivative in the first layer": (DZ1, "dZ1 = np.dot(W2.T, dZ2) * A1 * (1 - A1)"),
    "ReLU mask inverted": (DZ1, "dZ1 = np.dot(W2.T, dZ2) * (Z1 < 0)"),
    "dW1 from dA1 instead of dZ1": ("dW1 = 1 / m * np.dot(dZ1, X.T)",
                                    "dW1 = 1 / m * np.dot(np.dot(W2.T, dZ2), X.T)"),
    "dW1 with 1/m twice": ("dW1 = 1 / m * np.dot(dZ1, X.T)", "dW1 = 1 / m**2 * np.dot(dZ1, X.T)"),
    "dW1 with the wrong sign": ("dW1 = 1 / m * np.dot(dZ1, X.T)",
                                "dW1 = -1 / m * np.dot(dZ1, X.T)"),
    "db1 with 4/m (the classic bug)": ("db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)",
                                       "db1 = 4 / m * np.sum(dZ1, axis=1, keepdims=True)"),
    "db1 summing dA1": ("db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)",
                        "db1 = 1 / m * np.sum(np.dot(W2.T, dZ2), axis=1, keepdims=True)"),
    "db1 without 1/m": ("db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)",
                        "db1 = np.sum(dZ1, axis=1, keepdims=True)"),
    "db1 summed over everything": ("db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)",
                                   "db1 = 1 / m * np.sum(dZ1) * np.ones_like(b1)"),
}


def make_backward(bug=None):
    """The reference backprop, or the variant with the named bug's one line replaced."""
    source = REFERENCE_BACKWARD
    if bug is not None:
        line, replacement = BUGS[bug]
        if source.count(f"    {line}\n") != 1:
            raise ValueError(f"{bug!r}: {line!r} is not exactly one line of the reference")
        source = source.replace(f"    {line}\n", f"    {replacement}\n")
    namespace = {"np": np}
    exec(source, namespace)  # our own source, one line changed
    return namespace["backward_propagation_n"]


def load_check_gradients(notebook=NOTEBOOK):
    """The source notebook's solution of check_gradients (its answer cell, executed)."""
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "check_gradients")
    namespace = {"np": np}
    exec(cell.source, namespace)  # the repository's own notebook
    return namespace["check_gradients"]


def random_case(rng, scale, m=None):
    """X, Y and parameters of the course network at the given parameter scale."""
    m = int(rng.integers(2, 9)) if m is None else m
    X = rng.standard_normal((4, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    parameters = {name: scale * rng.standard_normal(shape)
                  for name, shape in COURSE_SHAPES.items()}
    return X, Y, parameters


def log_uniform_scale(rng):
    """A parameter scale drawn log-uniformly from SCALES."""
    low, high = (math.log(s) for s in SCALES)
    return math.exp(rng.uniform(low, high))


def changed_blocks(bug, X, Y, parameters):
    """The blocks whose gradient the bug changes at this point, or None if it cannot run."""
    _, cache = forward_propagation_n(X, Y, parameters)
    good = make_backward()(X, Y, cache)
    try:
        with np.errstate(all="ignore"):
            bad = make_backward(bug)(X, Y, cache)
    except ValueError:  # shapes that only broadcast for some m
        return None
    changed = set()
    for name in COURSE_SHAPES:
        g, b = good[f"d{name}"], np.asarray(bad[f"d{name}"])
        if g.shape != b.shape or np.linalg.norm(g - b) > CHANGED_RTOL * (
            np.linalg.norm(g) + np.linalg.norm(b)
        ):
            changed.add(name)
    return changed


def bug_cases():
    """The course case, then random draws (every other one with m = 3, as the course case)."""
    rng = np.random.default_rng(SUITE_SEED)
    cases = [("the course case", gradient_check_n_test_case())]
    for draw in range(N_BUG_DRAWS):
        cases.append((f"draw {draw}", random_case(rng, log_uniform_scale(rng),
                                                  m=3 if draw % 2 == 0 else None)))
    return cases


def correct_cases():
    """N_CORRECT random points of the course network with the correct backprop."""
    rng = np.random.default_rng(SUITE_SEED + 1)
    return [random_case(rng, log_uniform_scale(rng)) for _ in range(N_CORRECT)]


# The three networks of the course's shapes, each with its correct backprop.
NETWORKS = {
    "course": (forward_propagation_n, references.backward_propagation_n),
    "leaky": (leaky_forward_propagation_n, references.leaky_backward_propagation_n),
    "squared error": (squared_error_forward_propagation_n,
                      references.squared_error_backward_propagation_n),
}
HARD_KINDS = ("layer-1 kink", "layer-2 kink", "saturated output", "dead unit near its kink")


def hard_point_cases(count=None):
    """(network, kind, X, Y, parameters) of correct networks moved to a hard point.

    A pre-activation of layer 1 or 2 is moved to a log-uniform distance from 1e-9 to 1e-4 of
    its kink; or the output pre-activation of the first example to 15 to 40 in size; or a
    second-layer unit is switched off for every example, 1e-9 to 1e-5 below its kink.
    """
    rng = np.random.default_rng(SUITE_SEED + 3)
    cases = []
    for trial in range(N_HARD if count is None else count):
        network = list(NETWORKS)[trial % 3]
        kind = HARD_KINDS[trial // 3 % 4]
        forward, _ = NETWORKS[network]
        X, Y, parameters = random_case(rng, log_uniform_scale(rng))
        with np.errstate(all="ignore"):
            _, cache = forward(X, Y, parameters)
        distance = 10 ** rng.uniform(-9, -4) * rng.choice([-1, 1])
        example = rng.integers(X.shape[1])
        if kind == "layer-1 kink":
            unit = rng.integers(5)
            parameters["b1"][unit, 0] -= cache[0][unit, example] - distance
        elif kind == "layer-2 kink":
            unit = rng.integers(3)
            parameters["b2"][unit, 0] -= cache[4][unit, example] - distance
        elif kind == "saturated output":
            parameters["b3"][0, 0] += rng.uniform(15, 40) * rng.choice([-1, 1]) - cache[8][0, 0]
        else:
            unit = rng.integers(3)
            parameters["b2"][unit, 0] -= cache[4][unit].max() + 10 ** rng.uniform(-9, -5)
        cases.append((network, kind, X, Y, parameters))
    return cases


def run_bug_suite(check_gradients):
    """Judge every bug on every case; return (records, tally)."""
    records = []
    for bug in BUGS:
        for name, (X, Y, parameters) in bug_cases():
            changed = changed_blocks(bug, X, Y, parameters)
            if changed is None:
                continue
            verdicts = check_gradients(forward_propagation_n, make_backward(bug), parameters, X, Y)
            flagged = {block for block, v in verdicts.items() if v == "bug"}
            records.append({"bug": bug, "case": name, "changed": changed, "flagged": flagged,
                            "verdicts": verdicts})
    return records


def run_correct_suite(check_gradients):
    """Verdict counts over the correct networks."""
    counts = {"ok": 0, "bug": 0, "inconclusive": 0}
    for X, Y, parameters in correct_cases():
        verdicts = check_gradients(forward_propagation_n, make_backward(), parameters, X, Y)
        for v in verdicts.values():
            counts[v] += 1
    return counts


def test_every_bug_is_one_line_of_the_reference():
    for bug in BUGS:
        make_backward(bug)


def test_every_bug_runs_on_the_course_case_and_changes_something_in_the_suite():
    X, Y, parameters = gradient_check_n_test_case()
    cases = bug_cases()
    for bug in BUGS:
        assert changed_blocks(bug, X, Y, parameters) is not None, bug
        assert any(changed_blocks(bug, *case) for _, case in cases), bug


def test_the_reference_reproduces_the_published_difference():
    """Guards the suite's oracle: the correct backprop gives the classic ~1.19e-7."""
    from course_utils import (
        PUBLISHED_DIFFERENCE_N_CORRECT,
        dictionary_to_vector,
        gradients_to_vector,
        vector_to_dictionary,
    )

    X, Y, parameters = gradient_check_n_test_case()
    _, cache = forward_propagation_n(X, Y, parameters)
    grad = gradients_to_vector(make_backward()(X, Y, cache))
    theta, _ = dictionary_to_vector(parameters)
    approx = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += 1e-7
        minus[i] -= 1e-7
        approx[i] = (forward_propagation_n(X, Y, vector_to_dictionary(plus))[0]
                     - forward_propagation_n(X, Y, vector_to_dictionary(minus))[0]) / 2e-7
    difference = np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))
    assert difference == pytest.approx(PUBLISHED_DIFFERENCE_N_CORRECT, rel=1e-3)


@pytest.mark.slow
def test_every_bug_is_caught_in_every_block_it_changes_and_nowhere_else():
    records = run_bug_suite(load_check_gradients())
    assert len(records) >= len(BUGS)
    wrong_place = [(r["bug"], r["case"], sorted(r["flagged"] - r["changed"])) for r in records
                   if r["flagged"] - r["changed"]]
    missed = [(r["bug"], r["case"], {b: r["verdicts"][b] for b in r["changed"] - r["flagged"]})
              for r in records if r["changed"] - r["flagged"]]
    assert not wrong_place
    assert not missed


@pytest.mark.slow
def test_saturated_correct_networks_never_read_bug():
    """Weights at scales 1 to 2 saturate the sigmoid: a cost frozen by rounding is no bug."""
    rng = np.random.default_rng(SUITE_SEED + 2)
    check_gradients = load_check_gradients()
    accused = []
    for _ in range(N_SATURATED):
        X, Y, parameters = random_case(rng, rng.uniform(1.0, 2.0))
        verdicts = check_gradients(forward_propagation_n, make_backward(), parameters, X, Y)
        accused += [block for block, v in verdicts.items() if v == "bug"]
    assert not accused


@pytest.mark.slow
def test_correct_networks_never_read_bug_and_rarely_inconclusive():
    counts = run_correct_suite(load_check_gradients())
    total = sum(counts.values())
    assert total == N_CORRECT * len(COURSE_SHAPES)
    assert counts["bug"] == 0
    assert counts["inconclusive"] <= MAX_INCONCLUSIVE * total


@pytest.mark.slow
def test_correct_networks_at_hard_points_never_read_bug():
    """Kinks within the step, frozen or saturated outputs, dead units: "inconclusive" at
    worst, on the course network and on the two others (leaky ReLU, squared error)."""
    check_gradients = load_check_gradients()
    accused = []
    for network, kind, X, Y, parameters in hard_point_cases():
        forward, backward = NETWORKS[network]
        with np.errstate(all="ignore"):
            verdicts = check_gradients(forward, backward, parameters, X, Y)
        accused += [(network, kind, block) for block, v in verdicts.items() if v == "bug"]
    assert not accused
