"""Helpers for the gradient-checking course: activations, parameter vectors, test cases,
and the checks students run on their own functions.

Nothing here solves a graded exercise; students install this package too.
"""

from course_utils.activations import relu, sigmoid
from course_utils.checks import (
    CheckFailed,
    HiddenChecks,
    backward_propagation_n_test,
    backward_propagation_test,
    difference_by_block_test,
    forward_propagation_test,
    gradient_check_n_test,
    gradient_check_test,
    numerical_gradient_n_test,
)
from course_utils.params import (
    COURSE_SHAPES,
    dictionary_to_vector,
    gradients_to_vector,
    vector_to_dictionary,
)
from course_utils.testcases import (
    EPSILON,
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    PUBLISHED_DIFFERENCE_N_CORRECT,
    SEED,
    gradient_check_1d_test_case,
    gradient_check_n_test_case,
)

__all__ = [
    "COURSE_SHAPES",
    "EPSILON",
    "PUBLISHED_DIFFERENCE_1D",
    "PUBLISHED_DIFFERENCE_N_BUGGY",
    "PUBLISHED_DIFFERENCE_N_CORRECT",
    "SEED",
    "CheckFailed",
    "HiddenChecks",
    "backward_propagation_n_test",
    "backward_propagation_test",
    "dictionary_to_vector",
    "difference_by_block_test",
    "forward_propagation_test",
    "gradient_check_1d_test_case",
    "gradient_check_n_test",
    "gradient_check_n_test_case",
    "gradient_check_test",
    "gradients_to_vector",
    "numerical_gradient_n_test",
    "relu",
    "sigmoid",
    "vector_to_dictionary",
]
