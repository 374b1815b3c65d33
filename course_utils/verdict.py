"""The printed verdict on a gradient check's relative difference."""

import math

from course_utils.constants import DIFFERENCE_THRESHOLD


def verdict(difference, threshold=DIFFERENCE_THRESHOLD):
    """One line saying what a relative difference suggests.

    Parameters
    ----------
    difference : float
        ``norm(grad - gradapprox) / (norm(grad) + norm(gradapprox))``, defined as 0 when both
        norms are 0.
    threshold : float, default=DIFFERENCE_THRESHOLD
        Below it the gradient counts as agreeing with its estimate.

    Returns
    -------
    line : str
        Never a verdict on NaN: a NaN difference means grad or gradapprox holds NaN or an
        infinity (or 0/0 was not defined as 0), which says nothing about the gradient.
    """
    if not isinstance(difference, int | float) or isinstance(difference, bool):
        return f"difference = {difference!r} is not a number: no verdict."
    if math.isnan(difference):
        return (
            "difference = nan: no verdict. grad or gradapprox holds NaN or inf, or 0/0 was "
            "left undefined (when both norms are 0 the difference is 0)."
        )
    if difference < threshold:
        return (
            f"difference = {difference:.3e} < {threshold:g}: backprop agrees with the "
            "numerical gradient."
        )
    return (
        f"difference = {difference:.3e} >= {threshold:g}: they disagree; look for a bug."
    )


def report_difference(difference, threshold=DIFFERENCE_THRESHOLD):
    """Print :func:`verdict` of a relative difference."""
    print(verdict(difference, threshold))
