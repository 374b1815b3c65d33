"""Tests for course_utils.standins: each stand-in's stated gradient and centered difference."""

import numpy as np
import pytest

from course_utils import (
    cubic_cost,
    cubic_cost_n,
    cubic_derivative,
    dictionary_to_vector,
    doubled_derivative,
    flat_cost,
    flat_cost_n,
    flat_derivative,
    gradient_check_n_test_case,
    gradients_like,
    gradients_to_vector,
    negated_derivative,
    quadratic_cost_n,
    sine_cost,
    sine_cost_n,
    sine_derivative,
    vector_to_dictionary,
)


def centered(cost, x, theta, epsilon):
    return (cost(x, theta + epsilon) - cost(x, theta - epsilon)) / (2 * epsilon)


def centered_n(cost, parameters, epsilon):
    theta, _ = dictionary_to_vector(parameters)
    out = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        out[i] = (cost(None, None, vector_to_dictionary(plus))[0]
                  - cost(None, None, vector_to_dictionary(minus))[0]) / (2 * epsilon)
    return out


@pytest.mark.parametrize("epsilon", [1e-1, 1e-2])
def test_one_d_stand_ins_have_the_stated_centered_difference(epsilon):
    x, theta = 2.0, 0.7
    assert centered(cubic_cost, x, theta, epsilon) == pytest.approx(
        cubic_derivative(x, theta) + x * epsilon**2, rel=1e-10)
    assert centered(sine_cost, x, theta, epsilon) == pytest.approx(
        sine_derivative(x, theta) * np.sin(epsilon) / epsilon, rel=1e-10)
    assert centered(flat_cost, x, theta, epsilon) == 0.0 == flat_derivative(x, theta)


def test_wrong_derivatives():
    assert doubled_derivative(3.0, 9.0) == 6.0
    assert negated_derivative(3.0, 9.0) == -3.0


def test_n_d_stand_ins_have_the_stated_centered_difference():
    _, _, parameters = gradient_check_n_test_case()
    theta, _ = dictionary_to_vector(parameters)
    epsilon = 0.1
    np.testing.assert_allclose(centered_n(quadratic_cost_n, parameters, epsilon), theta,
                               rtol=1e-10)
    np.testing.assert_allclose(centered_n(cubic_cost_n, parameters, epsilon),
                               theta**2 + epsilon**2 / 3, rtol=1e-9)
    np.testing.assert_allclose(centered_n(sine_cost_n, parameters, epsilon),
                               np.cos(theta) * np.sin(epsilon) / epsilon, rtol=1e-9)
    assert np.all(centered_n(flat_cost_n, parameters, epsilon) == 0)


def test_gradients_like_builds_the_known_gradients():
    _, _, parameters = gradient_check_n_test_case()
    theta, keys = dictionary_to_vector(parameters)
    keys = np.array(keys)
    np.testing.assert_array_equal(gradients_to_vector(gradients_like(parameters)), theta)
    np.testing.assert_array_equal(gradients_to_vector(gradients_like(parameters, power=2)),
                                  theta**2)
    np.testing.assert_array_equal(
        gradients_to_vector(gradients_like(parameters, function=np.cos)), np.cos(theta))
    flipped = gradients_to_vector(gradients_like(parameters, blocks={"W2": -1.0}, scale=2.0))
    np.testing.assert_array_equal(flipped[keys == "W2"], -2 * theta[keys == "W2"])
    np.testing.assert_array_equal(flipped[keys == "b3"], 2 * theta[keys == "b3"])
