"""Tests for course_utils.verdict: one threshold, and never a verdict on NaN."""

import pytest

from course_utils import DIFFERENCE_THRESHOLD, report_difference, verdict

AGREES = "backprop agrees with the numerical gradient."
DISAGREES = "they disagree; look for a bug."


@pytest.mark.parametrize(
    ("difference", "threshold", "expected"),
    [
        (1.19e-7, DIFFERENCE_THRESHOLD, f"difference = 1.190e-07 < 2e-07: {AGREES}"),
        (0.0, DIFFERENCE_THRESHOLD, f"difference = 0.000e+00 < 2e-07: {AGREES}"),
        (2e-7, DIFFERENCE_THRESHOLD, f"difference = 2.000e-07 >= 2e-07: {DISAGREES}"),
        (0.285, DIFFERENCE_THRESHOLD, f"difference = 2.850e-01 >= 2e-07: {DISAGREES}"),
        (1e-3, 1e-2, f"difference = 1.000e-03 < 0.01: {AGREES}"),
    ],
)
def test_verdict_flips_at_the_threshold(difference, threshold, expected):
    """The threshold itself counts as disagreement."""
    assert verdict(difference, threshold) == expected


@pytest.mark.parametrize("difference", [float("nan"), "0.1", None])
def test_no_verdict_on_nan_or_non_numbers(difference):
    line = verdict(difference)
    assert "no verdict" in line
    assert "agrees" not in line and "bug." not in line


def test_nan_names_its_causes():
    assert "both norms are 0" in verdict(float("nan"))


def test_report_difference_prints_the_verdict(capsys):
    report_difference(0.285)
    assert capsys.readouterr().out == verdict(0.285) + "\n"
