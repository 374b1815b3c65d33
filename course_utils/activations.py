"""Activation functions of the course network, elementwise on scalars and arrays."""

import numpy as np

# exp(t) for t below this is subnormal, which numpy reports as an underflow.
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))


def _as_output(values):
    """Return a 0-d result as a Python float and any other result as the array itself."""
    return float(values) if values.ndim == 0 else values


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), computed without overflow or underflow.

    Parameters
    ----------
    x : float or ndarray of any shape
        Pre-activations; converted to float64.

    Returns
    -------
    s : float or ndarray of the same shape as x
        Values in [0, 1]; a float when x is a scalar. ``sigmoid(x) + sigmoid(-x)`` is 1 to
        within 1e-15.
    """
    x = np.asarray(x, dtype=np.float64)
    # exp(-|x|) lies in (0, 1], so unlike exp(-x) it cannot overflow for very negative x.
    # The floor keeps it a normal number: beyond it sigmoid is either exactly 1 in float64
    # (x > 0) or below 2.3e-308, which we return as 0 (x < 0).
    z = np.exp(np.maximum(-np.abs(x), _LOG_TINY))
    s = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return _as_output(np.where(x < _LOG_TINY, 0.0, s))


def relu(x):
    """Rectified linear unit max(x, 0).

    Parameters
    ----------
    x : float or ndarray of any shape
        Pre-activations; converted to float64.

    Returns
    -------
    r : float or ndarray of the same shape as x
        ``x`` where it is positive, 0 elsewhere (NaN stays NaN); a float when x is a scalar.
    """
    return _as_output(np.maximum(np.asarray(x, dtype=np.float64), 0.0))
