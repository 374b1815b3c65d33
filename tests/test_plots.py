"""Tests for course_utils.plots: the epsilon sweep and the per-block bar chart (Agg backend)."""

import itertools
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils.plots import plot_block_differences, plot_epsilon_sweep

# The notebook's order: steps from large to small, one per decade.
EPSILONS = np.logspace(-1, -12, 12)
# Truncation (epsilon^2) plus rounding (1e-16 / epsilon): smallest at 1e-6 (1.01e-10), with
# 1.1e-10 at 1e-5 and 1e-9 at 1e-7 on either side.
DIFFERENCES = EPSILONS**2 + 1e-16 / EPSILONS
BEST_INDEX = 5
COURSE_BLOCKS = ["W1", "b1", "W2", "b2", "W3", "b3"]


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


def lines_by_label(ax):
    """The axes' lines keyed by the start of their legend label."""
    return {line.get_label().split(" ")[0]: line for line in ax.get_lines()}


def log_slope(line):
    """Slope of a line's data on log-log axes."""
    slope, _ = np.polyfit(np.log10(line.get_xdata()), np.log10(line.get_ydata()), 1)
    return slope


def test_backend_is_headless():
    """The suite draws with Agg, so no test needs a display."""
    assert matplotlib.get_backend().lower() == "agg"


def test_epsilon_sweep_returns_best_epsilon():
    """The returned step is the one with the smallest difference, as a Python float."""
    assert np.argmin(DIFFERENCES) == BEST_INDEX  # the data is built that way
    _, ax = plt.subplots()
    best = plot_epsilon_sweep(EPSILONS, DIFFERENCES, ax=ax)
    assert type(best) is float
    assert best == EPSILONS[BEST_INDEX]
    star = lines_by_label(ax)["best"]
    assert star.get_label() == "best epsilon ~ 1e-06"
    assert list(star.get_xdata()) == [EPSILONS[BEST_INDEX]]
    assert list(star.get_ydata()) == [DIFFERENCES[BEST_INDEX]]


@pytest.mark.parametrize("best_index", [0, 4, 11])
def test_epsilon_sweep_best_anywhere(best_index):
    """The minimum is found at either end of the sweep as well as inside it."""
    differences = np.full(EPSILONS.shape, 1e-3)
    differences[best_index] = 1e-9
    assert plot_epsilon_sweep(list(EPSILONS), list(differences)) == EPSILONS[best_index]


def test_epsilon_sweep_draws_log_log_with_guides():
    """Measured curve on log-log axes, truncation guide of slope 2 above the best step and
    rounding guide of slope -1 below it, each through the nearest measured point."""
    _, ax = plt.subplots()
    plot_epsilon_sweep(EPSILONS, DIFFERENCES, ax=ax)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    lines = lines_by_label(ax)
    assert list(lines) == ["measured", "truncation", "rounding", "best"]
    np.testing.assert_array_equal(lines["measured"].get_ydata(), DIFFERENCES)
    truncation, rounding = lines["truncation"], lines["rounding"]
    # More than a decade from the best step (1e-6) on each side.
    np.testing.assert_array_equal(truncation.get_xdata(), EPSILONS[:4])
    np.testing.assert_array_equal(rounding.get_xdata(), EPSILONS[7:])
    assert log_slope(truncation) == pytest.approx(2)
    assert log_slope(rounding) == pytest.approx(-1)
    assert truncation.get_ydata()[-1] == pytest.approx(DIFFERENCES[3])
    assert rounding.get_ydata()[0] == pytest.approx(DIFFERENCES[7])
    assert ax.get_legend() is not None


def test_epsilon_sweep_handles_zero_differences():
    """An exact zero (perfect cancellation) is drawn above zero and wins as the best step."""
    differences = DIFFERENCES.copy()
    differences[8] = 0.0
    _, ax = plt.subplots()
    best = plot_epsilon_sweep(EPSILONS, differences, ax=ax)
    assert best == EPSILONS[8]
    shown = lines_by_label(ax)["measured"].get_ydata()
    assert np.all(shown > 0)
    np.testing.assert_array_equal(np.delete(shown, 8), np.delete(differences, 8))
    # Drawing a log axis with a zero would warn, and warnings are errors in this suite.
    ax.figure.canvas.draw()


def test_epsilon_sweep_makes_its_own_figure():
    """Without ax, one new figure is drawn."""
    assert plt.get_fignums() == []
    plot_epsilon_sweep(EPSILONS, DIFFERENCES)
    assert len(plt.get_fignums()) == 1


@pytest.mark.parametrize(
    ("epsilons", "differences", "shapes"),
    [
        ([1e-1, 1e-2, 1e-3], [1.0, 2.0], "(3,) and (2,)"),
        ([1e-1], [1.0, 2.0], "(1,) and (2,)"),
        ([[1e-1, 1e-2]], [[1.0, 2.0]], "(1, 2) and (1, 2)"),
    ],
)
def test_epsilon_sweep_rejects_mismatched_shapes(epsilons, differences, shapes):
    """Lengths that differ, or 2-D input, raise ValueError naming both shapes, drawing nothing."""
    with pytest.raises(ValueError, match=re.escape(f"got shapes {shapes}")):
        plot_epsilon_sweep(epsilons, differences)
    assert plt.get_fignums() == []


def block_differences(n_epsilons, blocks):
    """Distinct positive differences for each block at each of n_epsilons steps."""
    values = iter(np.logspace(-1, -12, n_epsilons * len(blocks)))
    return {
        10.0 ** -(3 * i + 4): {block: float(next(values)) for block in blocks}
        for i in range(n_epsilons)
    }


@pytest.mark.parametrize(
    ("n_epsilons", "blocks"),
    [(2, COURSE_BLOCKS), (3, ["W1", "b1"]), (1, ["all"])],
)
def test_block_differences_one_bar_per_block_per_epsilon(n_epsilons, blocks):
    """One bar per block and step, heights in order, on a log y-axis labelled by block."""
    data = block_differences(n_epsilons, blocks)
    _, ax = plt.subplots()
    assert plot_block_differences(data, ax=ax) is ax
    assert len(ax.patches) == n_epsilons * len(blocks)
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [data[eps][block] for eps in data for block in blocks]
    assert ax.get_yscale() == "log"
    assert [label.get_text() for label in ax.get_xticklabels()] == blocks
    # Each step is named in the legend; how it is formatted (1e-04, 0.0001) is not pinned.
    labels = ax.get_legend_handles_labels()[1]
    assert [float(label.removeprefix("epsilon = ")) for label in labels] == list(data)
    # Bars sit side by side: none overlaps another.
    spans = sorted((patch.get_x(), patch.get_x() + patch.get_width()) for patch in ax.patches)
    assert all(end <= start + 1e-12 for (_, end), (start, _) in itertools.pairwise(spans))


def test_block_differences_threshold_line():
    """A threshold is drawn as one horizontal line at its value; none without it."""
    data = block_differences(2, COURSE_BLOCKS)
    _, ax = plt.subplots()
    plot_block_differences(data, ax=ax)
    assert ax.get_lines() == []
    _, ax = plt.subplots()
    plot_block_differences(data, threshold=2e-7, ax=ax)
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [2e-7, 2e-7]
    assert line.get_label() == "threshold 2e-07"


def test_block_differences_zero_bar_draws():
    """A block whose difference is exactly 0 still draws on the log axis."""
    _, ax = plt.subplots()
    plot_block_differences({1e-7: {"W1": 0.0, "b1": 1e-3}, 1e-4: {"W1": 1e-9, "b1": 0.2}}, ax=ax)
    ax.figure.canvas.draw()
    assert len(ax.patches) == 4


@pytest.mark.parametrize(
    "second",
    [{"W1": 1.0, "b2": 2.0}, {"b1": 2.0, "W1": 1.0}, {"W1": 1.0}],
    ids=["other names", "other order", "fewer blocks"],
)
def test_block_differences_rejects_differing_blocks(second):
    """Blocks that differ between steps raise KeyError naming both lists, drawing nothing."""
    data = {1e-7: {"W1": 1.0, "b1": 2.0}, 1e-4: second}
    expected = f"blocks at epsilon=0.0001 are {list(second)}; expected ['W1', 'b1']"
    with pytest.raises(KeyError, match=re.escape(expected)):
        plot_block_differences(data)
    assert plt.get_fignums() == []


def test_block_differences_rejects_empty():
    """No steps at all raises ValueError."""
    with pytest.raises(ValueError, match="differences_by_epsilon is empty"):
        plot_block_differences({})
    assert plt.get_fignums() == []


def test_epsilon_sweep_guides_are_anchored_next_to_the_best_step_in_either_order():
    epsilons = np.logspace(-12, -1, 12)
    differences = np.array([1e-16 / e + e**2 for e in epsilons])
    for order in (slice(None), slice(None, None, -1)):
        _, ax = plt.subplots()
        plot_epsilon_sweep(epsilons[order], differences[order], ax=ax)
        truncation, rounding = ax.get_lines()[1], ax.get_lines()[2]
        best = epsilons[np.argmin(differences)]
        # Each guide passes through the measured point one decade or more from the best step,
        # the nearest such point, so it hugs the curve where that error dominates.
        t_x, t_y = truncation.get_data()
        anchor = np.argmin(t_x)
        assert t_x[anchor] == epsilons[epsilons > best * 10].min()
        assert t_y[anchor] == pytest.approx(differences[epsilons == t_x[anchor]][0])
        r_x, r_y = rounding.get_data()
        anchor = np.argmax(r_x)
        assert r_x[anchor] == epsilons[epsilons < best / 10].max()
        assert r_y[anchor] == pytest.approx(differences[epsilons == r_x[anchor]][0])
        plt.close("all")
