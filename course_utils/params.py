"""Conversions between the parameter dict (W1, b1, ..., WL, bL) and one flat column theta.

Blocks are laid out in layer order W1, b1, W2, b2, ..., each flattened row by row (C order).
"""

import math
import operator
import re
from collections.abc import Mapping

import numpy as np

COURSE_SHAPES = {
    "W1": (5, 4),
    "b1": (5, 1),
    "W2": (3, 5),
    "b2": (3, 1),
    "W3": (1, 3),
    "b3": (1, 1),
}

# Layers count from 1 with no leading zeros, so every layer has exactly one spelling.
_BLOCK = re.compile(r"([Wb])([1-9][0-9]*)")


def _check_mapping(value, what):
    """Raise TypeError unless value is a dict (or other mapping)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict; got {type(value).__name__}")


def _block_order(names, what, prefix=""):
    """Check names spell W1, b1, ..., WL, bL (after prefix) and return them in that order."""
    expected = f"expected keys {prefix}W1, {prefix}b1, ..., {prefix}WL, {prefix}bL"
    letters_by_layer = {}
    for name in names:
        match = None
        if isinstance(name, str) and name.startswith(prefix):
            match = _BLOCK.fullmatch(name[len(prefix) :])
        if match is None:
            raise KeyError(f"unexpected key {name!r} in {what}; {expected}")
        letter, layer = match.groups()
        letters_by_layer.setdefault(int(layer), set()).add(letter)
    if not letters_by_layer:
        raise KeyError(f"{what} has no blocks; {expected}")
    for layer, letters in sorted(letters_by_layer.items()):
        if letters != {"W", "b"}:
            have, need = ("W", "b") if "W" in letters else ("b", "W")
            raise KeyError(f"{what} has {prefix}{have}{layer} but no {prefix}{need}{layer}")
    n_layers = max(letters_by_layer)
    for layer in range(1, n_layers + 1):
        if layer not in letters_by_layer:
            raise KeyError(
                f"{what} has layers up to {n_layers} but no layer {layer} "
                f"({prefix}W{layer}, {prefix}b{layer}); layers must be numbered 1..L without gaps"
            )
    # Sort numerically: as strings "W10" would come before "W2".
    return [f"{prefix}{letter}{layer}" for layer in range(1, n_layers + 1) for letter in "Wb"]


def _as_shape(value, where):
    """Return value as a tuple of ints, raising TypeError if it is not a sequence of ints."""
    try:
        return tuple(operator.index(size) for size in value)
    except TypeError:
        raise TypeError(f"{where} must be a tuple of ints such as (5, 4); got {value!r}") from None


def _check_shapes(shapes, order, what):
    """Raise ValueError unless each W is 2-D and each b a column with its W's row count."""
    for w_name, b_name in zip(order[::2], order[1::2], strict=True):
        w_shape, b_shape = shapes[w_name], shapes[b_name]
        if len(w_shape) != 2 or min(w_shape) < 1:
            raise ValueError(
                f"{what}[{w_name!r}] must have shape (rows, columns), both at least 1; "
                f"got shape {w_shape}"
            )
        if b_shape != (w_shape[0], 1):
            raise ValueError(
                f"{what}[{b_name!r}] must be a column of shape ({w_shape[0]}, 1) to match "
                f"{w_name} of shape {w_shape}; got shape {b_shape}"
            )


def _check_arrays(arrays, order, what):
    """Raise TypeError or ValueError unless every block is a numeric ndarray of a valid shape."""
    for name in order:
        value = arrays[name]
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{what}[{name!r}] must be an ndarray; got {type(value).__name__}")
        if not np.issubdtype(value.dtype, np.number):
            raise TypeError(f"{what}[{name!r}] must hold numbers; got dtype {value.dtype}")
    _check_shapes({name: arrays[name].shape for name in order}, order, what)


def _stack(blocks):
    """Flatten blocks in C order into one column, at least float64 so students can add epsilon."""
    return np.concatenate(
        [block.reshape(-1, 1) for block in blocks], dtype=np.result_type(np.float64, *blocks)
    )


def dictionary_to_vector(parameters):
    """Flatten a parameter dict into one column theta.

    Parameters
    ----------
    parameters : dict of str to ndarray
        Exactly the blocks W1, b1, ..., WL, bL for some L >= 1, with ``Wl`` of shape
        (rows, columns) and ``bl`` of shape (rows, 1). Insertion order does not matter.

    Returns
    -------
    theta : ndarray of shape (n, 1)
        All entries, blocks in the order W1, b1, ..., WL, bL, each flattened row by row.
        A new float64 (or complex) array, never a view.
    keys : list of str of length n
        ``keys[i]`` names the block ``theta[i]`` comes from, e.g. ``"W1"``.

    Raises
    ------
    TypeError
        If parameters is not a dict, or a block is not a numeric ndarray.
    KeyError
        If a key is not of the form Wl or bl, a layer lacks its W or b, or a layer is skipped.
    ValueError
        If a W is not 2-D or a b is not a column with its W's row count.
    """
    _check_mapping(parameters, "parameters")
    order = _block_order(parameters, "parameters")
    _check_arrays(parameters, order, "parameters")
    theta = _stack([parameters[name] for name in order])
    keys = [name for name in order for _ in range(parameters[name].size)]
    return theta, keys


def vector_to_dictionary(theta, shapes=None):
    """Cut a column theta back into a parameter dict; the inverse of dictionary_to_vector.

    Parameters
    ----------
    theta : ndarray of shape (n, 1)
        Blocks in the order W1, b1, ..., WL, bL, each flattened row by row.
    shapes : dict of str to tuple of int, optional
        Shape of each block, keyed W1, b1, ..., WL, bL. Defaults to ``COURSE_SHAPES``.

    Returns
    -------
    parameters : dict of str to ndarray
        The blocks in the order W1, b1, ..., WL, bL, each a fresh copy (editing one never
        changes theta).

    Raises
    ------
    TypeError
        If theta is not a numeric ndarray, shapes is not a dict, or a shape is not a tuple of
        ints.
    KeyError
        If the keys of shapes are not W1, b1, ..., WL, bL.
    ValueError
        If theta is not a column, its length does not match the shapes, or a b shape does not
        match its W.
    """
    shapes = COURSE_SHAPES if shapes is None else shapes
    _check_mapping(shapes, "shapes")
    order = _block_order(shapes, "shapes")
    shapes = {name: _as_shape(shapes[name], f"shapes[{name!r}]") for name in order}
    _check_shapes(shapes, order, "shapes")
    if not isinstance(theta, np.ndarray):
        raise TypeError(f"theta must be an ndarray of shape (n, 1); got {type(theta).__name__}")
    if not np.issubdtype(theta.dtype, np.number):
        raise TypeError(f"theta must hold numbers; got dtype {theta.dtype}")
    if theta.ndim != 2 or theta.shape[1] != 1:
        raise ValueError(
            f"theta must be a column of shape (n, 1); got an array of shape {theta.shape}"
        )
    sizes = [math.prod(shapes[name]) for name in order]
    if theta.shape[0] != sum(sizes):
        layout = ", ".join(f"{name} {'x'.join(map(str, shapes[name]))}" for name in order)
        raise ValueError(
            f"theta has {theta.shape[0]} entries; the shapes given need {sum(sizes)} ({layout})"
        )
    parameters = {}
    start = 0
    for name, size in zip(order, sizes, strict=True):
        # copy() so that a student nudging one entry of a block cannot change theta behind it.
        parameters[name] = theta[start : start + size].reshape(shapes[name]).copy()
        start += size
    return parameters


def gradients_to_vector(gradients):
    """Flatten the dW and db entries of a backprop gradient dict into one column.

    Parameters
    ----------
    gradients : dict of str to ndarray
        The blocks dW1, db1, ..., dWL, dbL, shaped like W1, b1, ..., WL, bL. Other entries
        (dZ1, dA1, dA0, ...) are ignored.

    Returns
    -------
    grad : ndarray of shape (n, 1)
        The gradient blocks in the order dW1, db1, ..., dWL, dbL, each flattened row by row,
        so entry i lines up with entry i of ``dictionary_to_vector(parameters)``.

    Raises
    ------
    TypeError
        If gradients is not a dict, or a dW or db block is not a numeric ndarray.
    KeyError
        If a key starting with dW or db (in any case) is malformed, a layer lacks its dW or db,
        or a layer is skipped.
    ValueError
        If a dW is not 2-D or a db is not a column with its dW's row count.
    """
    _check_mapping(gradients, "gradients")
    # Backprop also returns dZl and dAl; only dWl and dbl line up with theta. Matching the
    # prefix in any case means a misspelt "dw1" is reported rather than silently dropped.
    names = [key for key in gradients if isinstance(key, str) and key[:2].lower() in ("dw", "db")]
    order = _block_order(names, "gradients", prefix="d")
    _check_arrays(gradients, order, "gradients")
    return _stack([gradients[name] for name in order])
