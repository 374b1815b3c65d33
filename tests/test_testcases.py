"""Tests for course_utils.testcases (the fixtures) and course_utils.constants."""

import numpy as np

from course_utils.constants import (
    EPSILON,
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    PUBLISHED_DIFFERENCE_N_CORRECT,
    SECOND_CASE_SEED,
    SEED,
)
from course_utils.params import COURSE_SHAPES, dictionary_to_vector
from course_utils.testcases import (
    gradient_check_1d_test_case,
    gradient_check_n_test_case,
    random_network_case,
    second_network_case,
)


def test_constants():
    """The seed, step and published figures are the classic exercise's."""
    assert SEED == 1
    assert EPSILON == 1e-7
    assert PUBLISHED_DIFFERENCE_1D == 2.919335883291695e-10
    assert PUBLISHED_DIFFERENCE_N_BUGGY == 0.2850931567761623
    assert PUBLISHED_DIFFERENCE_N_CORRECT == 1.1890913024229996e-07


def test_1d_case():
    """The 1-D exercise uses x = 2 and theta = 4."""
    assert gradient_check_1d_test_case() == (2, 4)


def test_n_case_shapes():
    """X is (4, 3), Y is [[1, 1, 0]], and parameters has the course shapes in block order."""
    X, Y, parameters = gradient_check_n_test_case()
    assert X.shape == (4, 3)
    np.testing.assert_array_equal(Y, [[1, 1, 0]])
    assert Y.shape == (1, 3)
    assert list(parameters) == list(COURSE_SHAPES)
    assert {name: value.shape for name, value in parameters.items()} == COURSE_SHAPES
    assert dictionary_to_vector(parameters)[0].shape == (47, 1)


def test_n_case_draws_in_the_classic_order():
    """The arrays are successive draws of the seed-1 legacy generator: X, W1, b1, ..., b3."""
    X, _, parameters = gradient_check_n_test_case()
    # An independent generator with the same seed: the legacy global one has this stream.
    rng = np.random.RandomState(SEED)
    np.testing.assert_array_equal(X, rng.randn(4, 3))
    for name, value in parameters.items():
        np.testing.assert_array_equal(value, rng.randn(*COURSE_SHAPES[name]), err_msg=name)
    # The first standard normal of seed 1, as printed in the original exercise.
    assert X[0, 0] == 1.6243453636632417


def test_n_case_reseeds():
    """Two calls give identical arrays even if np.random is used in between."""
    X1, Y1, parameters1 = gradient_check_n_test_case()
    np.random.seed(12345)  # noqa: NPY002
    np.random.randn(100)  # noqa: NPY002
    X2, Y2, parameters2 = gradient_check_n_test_case()
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)
    for name in parameters1:
        np.testing.assert_array_equal(parameters1[name], parameters2[name], err_msg=name)


def test_n_case_returns_fresh_arrays():
    """Editing the returned parameters does not change the next call's."""
    _, _, parameters = gradient_check_n_test_case()
    first = parameters["W1"][0, 0]
    parameters["W1"][0, 0] = 0.0
    assert gradient_check_n_test_case()[2]["W1"][0, 0] == first


def test_random_network_case_is_reproducible_and_course_shaped():
    """Same seed, same case; labels are 0.0 or 1.0; blocks have the course shapes."""
    X, Y, parameters = random_network_case(5, m=6)
    X2, Y2, parameters2 = random_network_case(5, m=6)
    assert X.shape == (4, 6) and Y.shape == (1, 6)
    assert set(np.unique(Y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    assert {k: v.shape for k, v in parameters.items()} == COURSE_SHAPES
    for name in parameters:
        np.testing.assert_array_equal(parameters[name], parameters2[name])
    assert not np.array_equal(random_network_case(6, m=6)[0], X)


def test_second_network_case_is_the_seeded_random_case_with_seven_examples():
    X, Y, _parameters = second_network_case()
    X2, Y2, _ = random_network_case(SECOND_CASE_SEED, m=7)
    assert X.shape == (4, 7)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
