"""Fixtures: the classic exercise's cases, and other networks the checks try."""

import numpy as np

from course_utils.constants import SECOND_CASE_SEED, SEED
from course_utils.params import COURSE_SHAPES


def gradient_check_1d_test_case():
    """Input and parameter of the 1-D exercise J(theta) = theta * x.

    Returns
    -------
    x : int
        The input, 2.
    theta : int
        The parameter, 4.
    """
    return 2, 4


def gradient_check_n_test_case():
    """Data and parameters of the 3-layer network of the N-D exercise, reseeded on every call.

    Returns
    -------
    X : ndarray of shape (4, 3)
        Three examples with four features each.
    Y : ndarray of shape (1, 3)
        Their labels, ``[[1, 1, 0]]``.
    parameters : dict of str to ndarray
        W1 of shape (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1), in that
        order (47 entries in all, see ``COURSE_SHAPES``).
    """
    # The legacy global generator, drawn in exactly this order, reproduces the published numbers.
    np.random.seed(SEED)  # noqa: NPY002
    X = np.random.randn(4, 3)  # noqa: NPY002
    Y = np.array([[1, 1, 0]])
    W1 = np.random.randn(5, 4)  # noqa: NPY002
    b1 = np.random.randn(5, 1)  # noqa: NPY002
    W2 = np.random.randn(3, 5)  # noqa: NPY002
    b2 = np.random.randn(3, 1)  # noqa: NPY002
    W3 = np.random.randn(1, 3)  # noqa: NPY002
    b3 = np.random.randn(1, 1)  # noqa: NPY002
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return X, Y, parameters


def random_network_case(seed, m=5):
    """A course-shaped network at random weights, with m random examples and labels.

    Parameters
    ----------
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the same case.
    m : int, default=5
        Number of examples.

    Returns
    -------
    X : ndarray of shape (4, m)
    Y : ndarray of shape (1, m)
        Labels, 0.0 or 1.0.
    parameters : dict of str to ndarray
        Standard normal blocks with the shapes of ``COURSE_SHAPES``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    parameters = {name: rng.standard_normal(shape) for name, shape in COURSE_SHAPES.items()}
    return X, Y, parameters


def second_network_case():
    """A network case the notebooks never print: other weights, seven examples.

    Returns
    -------
    X, Y, parameters
        As :func:`random_network_case` with seed ``SECOND_CASE_SEED`` and m = 7.
    """
    return random_network_case(SECOND_CASE_SEED, m=7)
