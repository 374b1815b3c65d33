"""Helpers for the gradient-checking course, all importable from ``course_utils`` itself.

Rooms: ``constants`` (every step, threshold, tolerance and seed), ``testcases`` (fixtures),
``network`` (the course network and its classic buggy backprop), ``params`` (parameter
vectors), ``activations``, ``standins`` (costs with exactly known gradients, for checks),
``runner`` (check results as data, rendered apart), ``verdict`` (the printed verdict),
``plots``, and one checks module per notebook (``checks_1d``, ``checks_nd``,
``checks_debug``).

Nothing here solves a graded exercise, and the correct backprop of the course network is
nowhere in it: students install this package too.
"""

from course_utils.activations import relu, sigmoid
from course_utils.checks_1d import (
    backward_propagation_test,
    forward_propagation_test,
    gradient_check_test,
)
from course_utils.checks_debug import (
    backward_propagation_n_test,
    difference_by_block_test,
    numerical_gradient_n_test,
)
from course_utils.checks_nd import gradient_check_n_test
from course_utils.constants import (
    BLOCK_ATOL,
    BLOCK_EPSILON,
    BLOCK_RTOL,
    CORRECT_N_ATOL,
    CORRECT_N_RTOL,
    DIFFERENCE_THRESHOLD,
    EPSILON,
    EXACT_RTOL,
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    PUBLISHED_DIFFERENCE_N_CORRECT,
    PUBLISHED_RTOL,
    SECOND_CASE_SEED,
    SEED,
)
from course_utils.network import buggy_backward_propagation_n, forward_propagation_n
from course_utils.params import (
    COURSE_SHAPES,
    dictionary_to_vector,
    gradients_to_vector,
    vector_to_dictionary,
)
from course_utils.plots import plot_block_differences, plot_epsilon_sweep
from course_utils.runner import (
    Checker,
    CheckFailed,
    CheckResult,
    HiddenChecks,
    describe,
    is_finite_number,
    is_number,
    is_python_float,
    render,
    replaced_globals,
)
from course_utils.standins import (
    cubic_cost,
    cubic_cost_n,
    cubic_derivative,
    doubled_derivative,
    flat_cost,
    flat_cost_n,
    flat_derivative,
    gradients_like,
    negated_derivative,
    quadratic_cost_n,
    sine_cost,
    sine_cost_n,
    sine_derivative,
)
from course_utils.testcases import (
    gradient_check_1d_test_case,
    gradient_check_n_test_case,
    random_network_case,
    second_network_case,
)
from course_utils.verdict import report_difference, verdict

__all__ = [
    "BLOCK_ATOL",
    "BLOCK_EPSILON",
    "BLOCK_RTOL",
    "CORRECT_N_ATOL",
    "CORRECT_N_RTOL",
    "COURSE_SHAPES",
    "DIFFERENCE_THRESHOLD",
    "EPSILON",
    "EXACT_RTOL",
    "PUBLISHED_DIFFERENCE_1D",
    "PUBLISHED_DIFFERENCE_N_BUGGY",
    "PUBLISHED_DIFFERENCE_N_CORRECT",
    "PUBLISHED_RTOL",
    "SECOND_CASE_SEED",
    "SEED",
    "CheckFailed",
    "CheckResult",
    "Checker",
    "HiddenChecks",
    "backward_propagation_n_test",
    "backward_propagation_test",
    "buggy_backward_propagation_n",
    "cubic_cost",
    "cubic_cost_n",
    "cubic_derivative",
    "describe",
    "dictionary_to_vector",
    "difference_by_block_test",
    "doubled_derivative",
    "flat_cost",
    "flat_cost_n",
    "flat_derivative",
    "forward_propagation_n",
    "forward_propagation_test",
    "gradient_check_1d_test_case",
    "gradient_check_n_test",
    "gradient_check_n_test_case",
    "gradient_check_test",
    "gradients_like",
    "gradients_to_vector",
    "is_finite_number",
    "is_number",
    "is_python_float",
    "negated_derivative",
    "numerical_gradient_n_test",
    "plot_block_differences",
    "plot_epsilon_sweep",
    "quadratic_cost_n",
    "random_network_case",
    "relu",
    "render",
    "replaced_globals",
    "report_difference",
    "second_network_case",
    "sigmoid",
    "sine_cost",
    "sine_cost_n",
    "sine_derivative",
    "vector_to_dictionary",
    "verdict",
]
