"""Tests for course_utils.activations against closed-form oracles."""

import math
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_utils.activations import relu, sigmoid

# Both forms are exact to a few ulps; 1e-15 absolute is the accuracy the course promises.
ATOL = 1e-15
RTOL = 1e-14

ANY_FLOAT = st.floats(allow_nan=False, width=64)
HUGE = [1e4, -1e4, 800.0, -800.0, 746.0, -746.0, 709.0, -709.0, 1e308, -1e308, np.inf, -np.inf]


def tanh_sigmoid(x):
    """Oracle: sigmoid(x) = (1 + tanh(x / 2)) / 2, which never overflows."""
    return 0.5 * (1.0 + math.tanh(x / 2.0))


@given(ANY_FLOAT)
def test_sigmoid_matches_tanh_form(x):
    """sigmoid agrees with the tanh closed form to 1e-15 absolute, over all floats."""
    assert sigmoid(x) == pytest.approx(tanh_sigmoid(x), rel=0, abs=ATOL)


@given(st.floats(min_value=-700, max_value=700))
def test_sigmoid_matches_textbook_formula_relatively(x):
    """Where 1 / (1 + exp(-x)) is computable, sigmoid agrees with it to 1e-14 relative."""
    assert sigmoid(x) == pytest.approx(1.0 / (1.0 + math.exp(-x)), rel=RTOL, abs=0)


@given(ANY_FLOAT)
def test_sigmoid_is_symmetric(x):
    """sigmoid(x) + sigmoid(-x) is 1 to within 1e-15."""
    assert abs(sigmoid(x) + sigmoid(-x) - 1.0) <= ATOL


def test_sigmoid_known_values():
    """sigmoid(0) is exactly 1/2 and the infinities map to 0 and 1."""
    assert sigmoid(0) == 0.5
    assert sigmoid(-np.inf) == 0.0
    assert sigmoid(np.inf) == 1.0


@pytest.mark.parametrize("x", HUGE)
def test_sigmoid_huge_scalar_is_silent(x):
    """Huge |x| gives 0 or 1 without any warning, even with numpy set to raise on everything."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = sigmoid(x)
    assert s == (1.0 if x > 0 else 0.0)


def test_sigmoid_huge_array_is_silent():
    """An array mixing huge and ordinary values is handled elementwise without warnings."""
    x = np.array([*HUGE, 0.0, 1.0, -1.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = sigmoid(x)
    expected = np.array([tanh_sigmoid(value) for value in x])
    np.testing.assert_allclose(s, expected, rtol=0, atol=ATOL)


def test_sigmoid_is_monotone_across_the_underflow_floor():
    """sigmoid never decreases, including where tiny results are returned as 0."""
    x = np.linspace(-760.0, -700.0, 6001)
    with np.errstate(all="raise"):
        s = sigmoid(x)
    assert np.all(np.diff(s) >= 0)
    assert np.all((s >= 0) & (s < 1e-300))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3), elements=ANY_FLOAT))
def test_sigmoid_is_elementwise_on_arrays(x):
    """On arrays sigmoid keeps the shape and matches the scalar oracle entry by entry."""
    s = sigmoid(x)
    if x.ndim == 0:
        assert isinstance(s, float)
    else:
        assert isinstance(s, np.ndarray)
        assert s.shape == x.shape
    expected = np.vectorize(tanh_sigmoid, otypes=[float])(x)
    np.testing.assert_allclose(s, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("x", [0, 3, -2, 0.25, np.float32(1.5), np.int64(-4)])
def test_scalars_give_floats(x):
    """Python and numpy scalars give a Python float from both activations."""
    assert type(sigmoid(x)) is float
    assert type(relu(x)) is float


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3), elements=ANY_FLOAT))
def test_relu_matches_where(x):
    """relu keeps positive entries and zeroes the rest, like np.where(x > 0, x, 0)."""
    r = relu(x)
    assert isinstance(r, np.ndarray)
    np.testing.assert_array_equal(r, np.where(x > 0, x, 0.0))


@given(ANY_FLOAT)
def test_relu_scalar_matches_max(x):
    """On a scalar relu is max(x, 0)."""
    assert relu(x) == max(x, 0.0)


def test_relu_on_integers_and_nan():
    """Integer arrays come back as float64; NaN is propagated rather than hidden."""
    r = relu(np.array([-2, 0, 3]))
    assert r.dtype == np.float64
    np.testing.assert_array_equal(r, [0.0, 0.0, 3.0])
    assert math.isnan(relu(float("nan")))
