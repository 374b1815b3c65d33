"""Tests for course_utils.params: layout, round trips and error messages."""

import ast
import inspect
import itertools
import math
import re

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import params
from course_utils.params import (
    COURSE_SHAPES,
    dictionary_to_vector,
    gradients_to_vector,
    vector_to_dictionary,
)

COURSE_ORDER = ["W1", "b1", "W2", "b2", "W3", "b3"]
COURSE_LAYOUT = "W1 5x4, b1 5x1, W2 3x5, b2 3x1, W3 1x3, b3 1x1"
FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
# Twelve layers go past W9, where sorting block names as strings would put W10 before W2.
MAX_LAYERS = 12


def course_parameters():
    """Return a parameter dict of the course shapes whose entries are all distinct."""
    values = iter(np.arange(1.0, 48.0))
    return {
        name: np.array([next(values) for _ in range(math.prod(shape))]).reshape(shape)
        for name, shape in COURSE_SHAPES.items()
    }


def block_order(n_layers, prefix=""):
    """Oracle for the block order, written out by layer number."""
    return [f"{prefix}{letter}{layer}" for layer in range(1, n_layers + 1) for letter in "Wb"]


@st.composite
def networks(draw):
    """Draw (parameters, shapes) for 1..12 layers of 1..4 units, inserted in a random order."""
    units = draw(st.lists(st.integers(1, 4), min_size=2, max_size=MAX_LAYERS + 1))
    shapes = {}
    for layer in range(1, len(units)):
        shapes[f"W{layer}"] = (units[layer], units[layer - 1])
        shapes[f"b{layer}"] = (units[layer], 1)
    parameters = {
        name: draw(hnp.arrays(np.float64, shapes[name], elements=FINITE))
        for name in draw(st.permutations(list(shapes)))
    }
    return parameters, shapes


def test_course_shapes():
    """COURSE_SHAPES lists the six blocks of the course network in block order."""
    assert list(COURSE_SHAPES.items()) == [
        ("W1", (5, 4)),
        ("b1", (5, 1)),
        ("W2", (3, 5)),
        ("b2", (3, 1)),
        ("W3", (1, 3)),
        ("b3", (1, 1)),
    ]


def test_course_layout_is_row_major_in_block_order():
    """theta is W1, b1, ..., b3 each flattened row by row, and keys name each entry's block."""
    parameters = course_parameters()
    theta, keys = dictionary_to_vector(parameters)
    assert theta.shape == (47, 1)
    # course_parameters numbers the entries 1..47 in exactly this layout.
    np.testing.assert_array_equal(theta, np.arange(1.0, 48.0).reshape(47, 1))
    assert keys == ["W1"] * 20 + ["b1"] * 5 + ["W2"] * 15 + ["b2"] * 3 + ["W3"] * 3 + ["b3"]


def test_fortran_ordered_blocks_still_flatten_row_by_row():
    """The memory layout of a block does not change its order in theta."""
    parameters = course_parameters()
    fortran = {name: np.asfortranarray(value) for name, value in parameters.items()}
    np.testing.assert_array_equal(
        dictionary_to_vector(fortran)[0], dictionary_to_vector(parameters)[0]
    )


def test_insertion_order_does_not_matter():
    """A dict built in reverse order gives the same theta and keys."""
    parameters = course_parameters()
    reversed_parameters = dict(reversed(parameters.items()))
    theta, keys = dictionary_to_vector(reversed_parameters)
    np.testing.assert_array_equal(theta, dictionary_to_vector(parameters)[0])
    assert keys == dictionary_to_vector(parameters)[1]


def test_twelve_layers_sort_numerically():
    """Blocks of layer 10 and up come after layer 9, not after layer 1."""
    shapes = {name: (1, 1) for name in block_order(MAX_LAYERS)}
    parameters = {name: np.array([[float(i)]]) for i, name in enumerate(sorted(shapes))}
    theta, keys = dictionary_to_vector(parameters)
    assert keys == block_order(MAX_LAYERS)
    np.testing.assert_array_equal(theta.ravel(), [parameters[name][0, 0] for name in keys])
    assert list(vector_to_dictionary(theta, shapes)) == block_order(MAX_LAYERS)


def test_theta_and_blocks_never_share_memory():
    """theta is a new array, and vector_to_dictionary returns copies, not views of theta."""
    parameters = course_parameters()
    theta, _ = dictionary_to_vector(parameters)
    assert not any(np.shares_memory(theta, value) for value in parameters.values())
    rebuilt = vector_to_dictionary(theta)
    assert not any(np.shares_memory(theta, value) for value in rebuilt.values())
    rebuilt["W1"][0, 0] = -1.0
    assert theta[0, 0] == 1.0


def test_integer_blocks_give_a_float_theta():
    """Integer parameters give a float64 theta, so that adding epsilon to an entry works."""
    parameters = {name: np.ones(shape, dtype=np.int64) for name, shape in COURSE_SHAPES.items()}
    theta, _ = dictionary_to_vector(parameters)
    assert theta.dtype == np.float64


@settings(deadline=None)
@given(networks())
def test_round_trip_from_dictionary(network):
    """vector_to_dictionary undoes dictionary_to_vector exactly, returning blocks in order."""
    parameters, shapes = network
    theta, keys = dictionary_to_vector(parameters)
    n = sum(value.size for value in parameters.values())
    assert theta.shape == (n, 1)
    assert len(keys) == n
    rebuilt = vector_to_dictionary(theta, shapes)
    assert list(rebuilt) == block_order(len(shapes) // 2)
    for name, value in parameters.items():
        np.testing.assert_array_equal(rebuilt[name], value)


@settings(deadline=None)
@given(networks(), st.data())
def test_round_trip_from_vector(network, data):
    """dictionary_to_vector undoes vector_to_dictionary exactly, for any theta."""
    _, shapes = network
    n = sum(math.prod(shape) for shape in shapes.values())
    theta = data.draw(hnp.arrays(np.float64, (n, 1), elements=FINITE))
    rebuilt, _ = dictionary_to_vector(vector_to_dictionary(theta, shapes))
    np.testing.assert_array_equal(rebuilt, theta)


@settings(deadline=None)
@given(networks())
def test_keys_line_up_with_blocks(network):
    """The entries of theta that keys assigns to a block are that block, flattened row by row."""
    parameters, shapes = network
    theta, keys = dictionary_to_vector(parameters)
    keys = np.array(keys)
    # Each block occupies one contiguous run, and the runs come in block order.
    runs = [keys[0], *(key for prev, key in itertools.pairwise(keys) if key != prev)]
    assert runs == block_order(len(shapes) // 2)
    for name, value in parameters.items():
        np.testing.assert_array_equal(theta[keys == name].ravel(), value.ravel(order="C"))


@settings(deadline=None)
@given(networks(), st.data())
def test_gradients_follow_the_parameter_order(network, data):
    """gradients_to_vector ignores dZ/dA entries and lines dWl, dbl up with Wl, bl in theta."""
    parameters, _ = network
    gradients = {f"d{name}": value for name, value in parameters.items()}
    n_layers = len(parameters) // 2
    for layer in range(n_layers + 1):
        # Shapes that fit no block, so that using one by mistake would fail loudly.
        gradients[f"dA{layer}"] = np.full((7, 2), np.nan)
        gradients[f"dZ{layer}"] = np.full((2, 7), np.nan)
    shuffled = {key: gradients[key] for key in data.draw(st.permutations(list(gradients)))}
    grad = gradients_to_vector(shuffled)
    np.testing.assert_array_equal(grad, dictionary_to_vector(parameters)[0])


def test_gradients_of_the_course_network():
    """A backprop-style dict of the course network gives a (47, 1) column in block order."""
    parameters = course_parameters()
    gradients = {"dZ3": np.zeros((1, 3)), "dA0": np.zeros((4, 3))}
    gradients |= {f"d{name}": value for name, value in reversed(parameters.items())}
    grad = gradients_to_vector(gradients)
    np.testing.assert_array_equal(grad, np.arange(1.0, 48.0).reshape(47, 1))


def without(mapping, *names):
    """Return a copy of mapping without the given keys."""
    return {key: value for key, value in mapping.items() if key not in names}


def replaced(mapping, **changes):
    """Return a copy of mapping with some values replaced."""
    return {**mapping, **changes}


P = course_parameters()
G = {f"d{name}": value for name, value in P.items()} | {"dZ1": np.zeros((5, 3))}
THETA = np.zeros((47, 1))

BAD_PARAMETERS = [
    ([P], TypeError, "parameters must be a dict; got list"),
    (
        replaced(without(P, "W1"), w1=P["W1"]),
        KeyError,
        "unexpected key 'w1' in parameters; expected keys W1, b1, ..., WL, bL",
    ),
    (replaced(P, W0=P["W1"]), KeyError, "unexpected key 'W0' in parameters"),
    (replaced(P, W01=P["W1"]), KeyError, "unexpected key 'W01' in parameters"),
    (replaced(P, dW1=P["W1"]), KeyError, "unexpected key 'dW1' in parameters"),
    ({**P, 1: P["W1"]}, KeyError, "unexpected key 1 in parameters"),
    ({}, KeyError, "parameters has no blocks; expected keys W1, b1, ..., WL, bL"),
    (without(P, "b2"), KeyError, "parameters has W2 but no b2"),
    (without(P, "W2"), KeyError, "parameters has b2 but no W2"),
    (
        without(P, "W2", "b2"),
        KeyError,
        "parameters has layers up to 3 but no layer 2 (W2, b2); "
        "layers must be numbered 1..L without gaps",
    ),
    (
        replaced(P, b1=np.zeros(5)),
        ValueError,
        "parameters['b1'] must be a column of shape "
        "(5, 1) to match W1 of shape (5, 4); got shape (5,)",
    ),
    (
        replaced(P, b1=np.zeros((1, 5))),
        ValueError,
        "parameters['b1'] must be a column of shape "
        "(5, 1) to match W1 of shape (5, 4); got shape (1, 5)",
    ),
    (
        replaced(P, b2=np.zeros((5, 1))),
        ValueError,
        "parameters['b2'] must be a column of shape "
        "(3, 1) to match W2 of shape (3, 5); got shape (5, 1)",
    ),
    (
        replaced(P, W1=np.zeros(20)),
        ValueError,
        "parameters['W1'] must have shape (rows, columns), both at least 1; got shape (20,)",
    ),
    (replaced(P, W1=np.zeros((5, 4, 1))), ValueError, "got shape (5, 4, 1)"),
    (
        replaced(P, W3=np.zeros((0, 3)), b3=np.zeros((0, 1))),
        ValueError,
        "parameters['W3'] must have shape (rows, columns), both at least 1; got shape (0, 3)",
    ),
    (replaced(P, W1=P["W1"].tolist()), TypeError, "parameters['W1'] must be an ndarray; got list"),
    (replaced(P, b3=1.0), TypeError, "parameters['b3'] must be an ndarray; got float"),
    (replaced(P, W1=P["W1"].astype(str)), TypeError, "parameters['W1'] must hold numbers"),
]


@pytest.mark.parametrize(("parameters", "error", "message"), BAD_PARAMETERS)
def test_bad_parameters(parameters, error, message):
    """dictionary_to_vector names what it expected and what it got."""
    with pytest.raises(error, match=re.escape(message)):
        dictionary_to_vector(parameters)


BAD_VECTORS = [
    (
        THETA[:-1],
        None,
        ValueError,
        f"theta has 46 entries; the shapes given need 47 ({COURSE_LAYOUT})",
    ),
    (np.zeros((48, 1)), None, ValueError, "theta has 48 entries; the shapes given need 47"),
    (
        THETA.ravel(),
        None,
        ValueError,
        "theta must be a column of shape (n, 1); got an array of shape (47,)",
    ),
    (THETA.T, None, ValueError, "got an array of shape (1, 47)"),
    (THETA[..., None], None, ValueError, "got an array of shape (47, 1, 1)"),
    (THETA.tolist(), None, TypeError, "theta must be an ndarray of shape (n, 1); got list"),
    (THETA.astype(str), None, TypeError, "theta must hold numbers; got dtype <U"),
    (THETA, [("W1", (5, 4))], TypeError, "shapes must be a dict; got list"),
    (THETA, {"W1": (5, 4)}, KeyError, "shapes has W1 but no b1"),
    (THETA, {"W1": (5, 4), "B1": (5, 1)}, KeyError, "unexpected key 'B1' in shapes"),
    (
        THETA,
        {"W1": (5, 4), "b1": (1, 5)},
        ValueError,
        "shapes['b1'] must be a column of shape "
        "(5, 1) to match W1 of shape (5, 4); got shape (1, 5)",
    ),
    (
        THETA,
        {"W1": (5.0, 4), "b1": (5, 1)},
        TypeError,
        "shapes['W1'] must be a tuple of ints such as (5, 4); got (5.0, 4)",
    ),
    (THETA, {"W1": 20, "b1": (5, 1)}, TypeError, "shapes['W1'] must be a tuple of ints"),
    (
        np.zeros((4, 1)),
        {"W1": (1, 2), "b1": (1, 1)},
        ValueError,
        "theta has 4 entries; the shapes given need 3 (W1 1x2, b1 1x1)",
    ),
]


@pytest.mark.parametrize(("theta", "shapes", "error", "message"), BAD_VECTORS)
def test_bad_vectors(theta, shapes, error, message):
    """vector_to_dictionary names what it expected and what it got."""
    with pytest.raises(error, match=re.escape(message)):
        vector_to_dictionary(theta, shapes)


BAD_GRADIENTS = [
    (list(G), TypeError, "gradients must be a dict; got list"),
    (
        replaced(without(G, "dW1"), dw1=G["dW1"]),
        KeyError,
        "unexpected key 'dw1' in gradients; expected keys dW1, db1, ..., dWL, dbL",
    ),
    (replaced(G, dWx=G["dW1"]), KeyError, "unexpected key 'dWx' in gradients"),
    ({"dZ1": np.zeros((5, 3)), "dA0": np.zeros((4, 3))}, KeyError, "gradients has no blocks"),
    (without(G, "db2"), KeyError, "gradients has dW2 but no db2"),
    (without(G, "dW1", "db1"), KeyError, "gradients has layers up to 3 but no layer 1 (dW1, db1)"),
    (
        replaced(G, db1=np.zeros((1, 5))),
        ValueError,
        "gradients['db1'] must be a column of shape "
        "(5, 1) to match dW1 of shape (5, 4); got shape (1, 5)",
    ),
    (replaced(G, dW2=3.0), TypeError, "gradients['dW2'] must be an ndarray; got float"),
]


@pytest.mark.parametrize(("gradients", "error", "message"), BAD_GRADIENTS)
def test_bad_gradients(gradients, error, message):
    """gradients_to_vector names what it expected and what it got."""
    with pytest.raises(error, match=re.escape(message)):
        gradients_to_vector(gradients)


def test_input_checks_do_not_use_assert():
    """Input checks raise exceptions; an assert would vanish under python -O."""
    tree = ast.parse(inspect.getsource(params))
    assert not any(isinstance(node, ast.Assert) for node in ast.walk(tree))
