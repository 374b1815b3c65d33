"""The two figures of the lesson: difference against epsilon, and difference per block."""

import matplotlib.pyplot as plt
import numpy as np


def plot_epsilon_sweep(epsilons, differences, ax=None):
    """Plot a gradient check's difference against its step, on log-log axes.

    Guide lines of slope 2 (truncation error, which falls as epsilon squared) and of
    slope -1 (rounding error, which grows as 1/epsilon) are drawn through the measured
    curve, and the best epsilon is marked.

    Parameters
    ----------
    epsilons : array-like of shape (k,)
        The steps tried, all positive.
    differences : array-like of shape (k,)
        The relative difference measured at each step.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    best_epsilon : float
        The step with the smallest difference.
    """
    epsilons = np.asarray(epsilons, dtype=float)
    differences = np.asarray(differences, dtype=float)
    if epsilons.shape != differences.shape or epsilons.ndim != 1:
        raise ValueError(
            f"epsilons and differences must be 1-D and the same length; "
            f"got shapes {epsilons.shape} and {differences.shape}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    # Zero differences (exact cancellation) cannot be drawn on a log axis.
    floor = np.finfo(float).eps * 1e-3
    shown = np.maximum(differences, floor)
    best = int(np.argmin(shown))
    ax.loglog(epsilons, shown, "o-", markersize=3, label="measured difference")
    # Anchor each guide line one decade away from the best step.
    large = epsilons > epsilons[best] * 10
    small = epsilons < epsilons[best] / 10
    if large.any():
        anchor = np.flatnonzero(large)[np.argmin(epsilons[large])]
        ax.loglog(epsilons[large], shown[anchor] * (epsilons[large] / epsilons[anchor]) ** 2,
                  "--", color="gray", label=r"truncation $\propto \epsilon^2$")
    if small.any():
        anchor = np.flatnonzero(small)[np.argmax(epsilons[small])]
        ax.loglog(epsilons[small], shown[anchor] * (epsilons[anchor] / epsilons[small]),
                  ":", color="gray", label=r"rounding $\propto 1/\epsilon$")
    ax.plot(epsilons[best], shown[best], "r*", markersize=14,
            label=f"best epsilon ~ {epsilons[best]:.0e}")
    ax.set_xlabel("epsilon")
    ax.set_ylabel("relative difference")
    ax.set_title("Centered difference: error against step size")
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    return float(epsilons[best])


def plot_block_differences(differences_by_epsilon, threshold=None, ax=None):
    """Bar chart, log scale, of the relative difference of each parameter block.

    Parameters
    ----------
    differences_by_epsilon : dict of {float: dict of {str: float}}
        For each step, the difference of each block (``difference_by_block``'s output).
    threshold : float, optional
        Drawn as a horizontal line: bars above it point at a bug.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    if not differences_by_epsilon:
        raise ValueError("differences_by_epsilon is empty; expected at least one epsilon")
    blocks = list(next(iter(differences_by_epsilon.values())))
    for epsilon, differences in differences_by_epsilon.items():
        if list(differences) != blocks:
            raise KeyError(
                f"blocks at epsilon={epsilon:g} are {list(differences)}; expected {blocks}"
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / len(differences_by_epsilon)
    positions = np.arange(len(blocks))
    for i, (epsilon, differences) in enumerate(differences_by_epsilon.items()):
        ax.bar(positions + i * width, [differences[b] for b in blocks], width,
               label=f"epsilon = {epsilon:.0e}")
    if threshold is not None:
        ax.axhline(threshold, color="red", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xticks(positions + width * (len(differences_by_epsilon) - 1) / 2, blocks)
    ax.set_xlabel("parameter block")
    ax.set_ylabel("relative difference")
    ax.set_title("Gradient check, block by block")
    ax.legend()
    return ax
