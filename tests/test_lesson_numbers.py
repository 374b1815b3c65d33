"""The numbers the lesson's prose states, re-measured by benchmarks/lesson_numbers.py.

Each test names the notebook sentence it backs. The random-draw sweep takes about half a
minute, so it is marked slow.
"""

import inspect
import math
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import (
    BLAS_ULPS,
    BLOCK_EPSILON,
    DIFFERENCE_THRESHOLD,
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    PUBLISHED_DIFFERENCE_N_CORRECT,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import lesson_numbers


def test_01_the_1d_difference_comes_from_storing_4_plus_minus_1e7():
    """01 choosing_epsilon / binary_prediction: doubles 2^-50 apart above 4 and 2^-51 below;
    the subtraction is exact; binary rounding predicts the figure to seven digits; with the
    step actually taken, theta +/- h are exact and the difference is exactly 0."""
    numbers = lesson_numbers.one_d_from_binary()
    assert (numbers["ulp above 4"], numbers["ulp below 4"]) == (2.0**-50, 2.0**-51)
    assert numbers["subtraction exact"]
    assert numbers["measured"] == PUBLISHED_DIFFERENCE_1D
    assert numbers["predicted, quotient rounded"] == PUBLISHED_DIFFERENCE_1D
    assert math.isclose(numbers["predicted"], PUBLISHED_DIFFERENCE_1D, rel_tol=1e-6)
    assert not math.isclose(numbers["predicted"], PUBLISHED_DIFFERENCE_1D, rel_tol=1e-8)
    assert numbers["step taken exact"] and numbers["theta +/- step taken exact"]
    assert numbers["difference with the step taken"] == 0.0


def test_01_nan_compares_false_except_not_equal_so_if_else_reports_success():
    """01 centered_difference: ordered comparisons and == are False, != True; if/else agrees."""
    numbers = lesson_numbers.nan_comparisons()
    assert [numbers[k] for k in ("nan > threshold", "nan < threshold", "nan == nan",
                                 "nan != nan")] == [False, False, False, True]
    assert numbers["if/else verdict"] == "agrees"


def test_01_rounding_at_1e7_is_mostly_storing_theta_plus_minus_epsilon():
    """01 rounding_and_truncation / truncation_vs_rounding: centered 2.5e-10 = storage 2.9e-10
    less J's rounding 4.1e-11 (opposite signs), each below its model (8.3e-10, 2.8e-10);
    truncation below 1e-15; the one-sided 3.3e-8 is its truncation model's."""
    numbers = lesson_numbers.cubic_errors()
    assert math.isclose(numbers["centered"], 2.5e-10, rel_tol=0.05)
    assert round(numbers["storing theta +/- epsilon"], 12) == 2.92e-10
    assert round(numbers["rounding J, step taken"], 12) == 4.1e-11
    assert numbers["storing theta +/- epsilon"] < numbers["storing model"]
    assert numbers["rounding J, step taken"] < numbers["rounding J model"]
    assert (round(numbers["storing model"], 11), round(numbers["rounding J model"], 11)) == (
        8.3e-10, 2.8e-10)
    # Opposite signs: the centered difference is the storage part less J's rounding.
    assert math.isclose(numbers["centered"], numbers["storing theta +/- epsilon"]
                        - numbers["rounding J, step taken"], rel_tol=1e-3)
    assert numbers["truncation between the stored points"] < 1e-15
    assert math.isclose(numbers["truncation between the stored points"],
                        numbers["centered truncation model"], rel_tol=1e-6)
    assert math.isclose(numbers["one-sided"], 3.35e-8, rel_tol=0.05)
    assert math.isclose(numbers["one-sided"], numbers["one-sided truncation model"], rel_tol=0.05)


def test_01_over_theta_storage_is_the_same_2_92e10_and_most_of_the_error():
    """01 rounding_models: 61 points in [1.2, 1.8]; storage 2.92e-10 at each (one distance for
    every theta in [1, 2] and at 4); the median falls about five times with the step taken,
    below J's model at every point; every difference is storage +/- J's model."""
    numbers = lesson_numbers.cubic_over_theta()
    assert numbers["points"] == 61
    assert round(numbers["storing min"], 12) == round(numbers["storing max"], 12) == 2.92e-10
    distances = lesson_numbers.same_distance_in_1_to_2()
    assert distances == {"distances in [1, 2]": 1, "same at 4": True}
    assert 4 < numbers["by 2 epsilon median"] / numbers["step taken median"] < 6
    assert numbers["step taken below the J model"] == numbers["points"]
    assert numbers["within storing +/- J model"] == numbers["points"]


def test_01_sweep_bottoms_near_6e6_left_of_the_models_9e6():
    """01 read_the_plot answer: minimum near 6e-6 at about 5e-12, a little left of the models'
    9e-6 (upper bounds); 1e-7 reads about 2.5e-10, more than ten times the minimum."""
    numbers = lesson_numbers.cubic_sweep()
    assert 5e-6 < numbers["best epsilon"] < 7e-6
    assert 4.5e-12 < numbers["smallest difference"] < 5.5e-12
    assert round(numbers["model optimum"], 6) == 9e-6
    assert numbers["best epsilon"] < numbers["model optimum"]
    assert math.isclose(numbers["model optimum"] / numbers["model crossing"], 2 ** (-1 / 3))
    assert math.isclose(numbers["difference at 1e-7"], 2.5e-10, rel_tol=0.05)
    assert numbers["difference at 1e-7"] > 10 * numbers["smallest difference"]


def test_02_twenty_of_47_entries_are_exactly_zero_at_the_course_point():
    """02 dead_units_intro / random_points_intro: 47 entries; 1 of 5 units of layer 1 and 2 of
    3 of layer 2 dead; 20 entries exactly 0 in grad and gradapprox alike (27 tested); dW2 11 of
    15, so the doubling shows through 4; the fifth unit's dW1 row is 0."""
    numbers = lesson_numbers.dead_units()
    assert numbers["examples"] == 3
    assert numbers["shapes"] == {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1),
                                 "W3": (1, 3), "b3": (1, 1)}
    assert numbers["entries"] == 47 == sum(numbers["block sizes"].values())
    assert numbers["dead in layer 1"] == (1, 5) and numbers["dead in layer 2"] == (2, 3)
    assert numbers["dead unit of layer 1"] == [5]
    assert numbers["zero entries"] == 20 and numbers["entries"] - numbers["zero entries"] == 27
    assert numbers["zero entries of gradapprox are the same"]
    assert (numbers["zero by block"]["W2"], numbers["block sizes"]["W2"]) == (11, 15)
    assert numbers["dead layer-1 unit's dW1 row is zero"]


def test_02_five_random_points_cover_every_entry_and_all_read_the_bug():
    """02 random_points / next: five points of random_network_case; every entry is nonzero at
    one point at least only after the fifth; the buggy backprop reads between 0.3 and 0.5."""
    numbers = lesson_numbers.random_points(5)
    assert numbers["examples"] == 5
    assert numbers["covered after each"][-1] == 47
    assert numbers["covered after each"][-2] < 47
    assert all(0.3 < d < 0.5 for d in numbers["differences"])


def test_02_the_buggy_reading_is_about_029_and_a_thousand_times_the_step_leaves_it():
    """02 reading: about 0.29 at 1e-7, above 1e-3; the same to six digits at 1e-4."""
    numbers = lesson_numbers.course_numbers()
    assert round(numbers["buggy at 1e-07"], 2) == 0.29 and numbers["buggy at 1e-07"] > 1e-3
    assert math.isclose(numbers["buggy at 0.0001"], numbers["buggy at 1e-07"], rel_tol=1e-6)


def test_02_03_the_classic_numbers_and_the_blocks():
    """02/03: 0.285 buggy, 1.19e-7 fixed; fixed b1 and b3 above the threshold at 1e-7."""
    numbers = lesson_numbers.course_numbers()
    # Within BLAS_ULPS: the last bit depends on the BLAS kernel of np.linalg.norm.
    assert abs(numbers["buggy at 1e-07"] - PUBLISHED_DIFFERENCE_N_BUGGY) <= BLAS_ULPS * math.ulp(
        PUBLISHED_DIFFERENCE_N_BUGGY
    )
    assert math.isclose(numbers["fixed at 1e-07"], PUBLISHED_DIFFERENCE_N_CORRECT, rel_tol=1e-5)
    fixed = numbers["fixed blocks at 1e-07"]
    assert [b for b, v in fixed.items() if v >= DIFFERENCE_THRESHOLD] == ["b1", "b3"]
    assert max(numbers[f"fixed blocks at {BLOCK_EPSILON:g}"].values()) < 1e-9


def test_03_softplus_about_99_percent_from_log_1_minus_a3():
    """03 noise_source / bands: A3 = 0.9989 for the label-0 example; ~99%; ~1e-9 stable."""
    numbers = lesson_numbers.softplus_observation()
    assert numbers["Y"][2] == 0 and round(numbers["A3"][2], 4) == 0.9989
    assert 0.98 < numbers["share of the error from log(1 - A3)"] < 1.0
    assert 5e-10 < numbers["softplus cost"] < 2e-9


def test_03_best_step_is_1e4_only_with_the_classic_cost():
    """03 bands: classic cost best near 1e-4; softplus near 2e-5 at about 1e-11."""
    numbers = lesson_numbers.course_best_steps()
    assert numbers["classic cost"][0] == pytest.approx(1e-4, rel=0.5)
    step, difference = numbers["softplus cost"]
    assert 1e-5 < step < 4e-5 and 3e-12 < difference < 3e-11


@pytest.mark.parametrize(("layer", "flagged"), [(1, ["W1", "b1"]), (2, ["W1", "b1", "W2", "b2"])])
def test_03_a_kink_flags_every_block_upstream(layer, flagged):
    """03 when_to_check answer 3: two blocks for layer 1, four for layer 2."""
    assert lesson_numbers.kink_blocks(layer)["flagged"] == flagged


@pytest.mark.slow
def test_03_bands_fail_both_ways_on_random_draws():
    """03 bands: on 1000 draws correct code reads above 1e-3 on 12 (max 0.43), each with a
    label-0 example at a3 > 0.999; the 53 draws confidently wrong only on label-1 examples
    read at most 3e-9; softplus at most ~2e-8; dW2 doubled as low as 2e-5."""
    numbers = lesson_numbers.random_draws(1000)
    assert [v for k, v in numbers.items() if k.startswith("draws where the cost")] == [1]
    assert numbers["correct above 1e-3"] == 12
    assert round(numbers["correct max"], 2) == 0.43
    assert numbers["of those, draws with a label-0 example at A3 > 0.999"] == 12
    label1 = "draws whose only confident mistakes are label-1 examples at A3 < 1e-3"
    assert numbers[label1] == 53
    assert 1e-9 < numbers["largest correct reading on those label-1 draws"] < 3e-9
    assert numbers["softplus cost: correct max on the same draws"] < 2e-8
    assert 1.5e-5 < numbers["bug min"]["dW2 doubled"] < 3e-5


# --- Notebook 3: the hunt, the fixed backprop's noise, the examples apart -------------------


def test_03_hunt_bugs_read_large_at_both_steps_correct_blocks_move_with_the_step():
    """03 why_epsilon: wrong blocks read large and the same at both steps; correct ones read
    below 1e-9 at BLOCK_EPSILON, and one reads above the threshold at EPSILON (the trap)."""
    numbers = lesson_numbers.hunt_blocks()
    wrong = numbers["wrong blocks"]
    at_1e7, at_1e4 = numbers["blocks at 1e-07"], numbers[f"blocks at {BLOCK_EPSILON:g}"]
    # 2-3 bugs in distinct places, neither none nor every block.
    assert 2 <= len(wrong) < len(at_1e7)
    for block in wrong:
        assert at_1e7[block] > 0.1 and math.isclose(at_1e7[block], at_1e4[block], rel_tol=1e-6)
    correct = [block for block in at_1e7 if block not in wrong]
    assert max(at_1e4[block] for block in correct) < 1e-9
    assert max(at_1e7[block] for block in correct) > DIFFERENCE_THRESHOLD
    assert numbers["overall at 1e-07"] > 0.1


def test_03_each_correct_block_reading_is_one_noise_sample():
    """03 noise_blocks: b1 and b3 above the threshold at 1e-7; b2's gradient is smaller than
    b3's yet b2 reads 3.4e-8; each has one live entry."""
    numbers = lesson_numbers.fixed_noise()
    at_1e7 = numbers["blocks at 1e-07"]
    assert [b for b, v in at_1e7.items() if v >= DIFFERENCE_THRESHOLD] == ["b1", "b3"]
    norms = numbers["block gradient norm"]
    assert norms["b2"] < norms["b3"]
    assert round(at_1e7["b2"], 9) == 3.4e-8
    assert numbers["block live entries"]["b2"] == numbers["block live entries"]["b3"] == 1


def test_03_at_1e4_truncation_is_most_of_the_error_and_balances_rounding():
    """03 noise_blocks: 1.91e-10 overall at 1e-4, 1.68e-10 (88%) without the cancellation,
    1.68e-8 for both at 1e-3; correct blocks below 1e-9 at 1e-4."""
    numbers = lesson_numbers.fixed_noise()
    assert round(numbers["classic at 0.0001"], 12) == 1.91e-10
    assert round(numbers["softplus at 0.0001"], 12) == 1.68e-10
    assert round(numbers["truncation share at 0.0001"], 2) == 0.88
    assert round(numbers["classic at 0.001"], 10) == round(numbers["softplus at 0.001"], 10)
    assert round(numbers["classic at 0.001"], 10) == 1.68e-8
    assert max(numbers[f"blocks at {BLOCK_EPSILON:g}"].values()) < 1e-9


def test_03_the_label_0_example_alone_reads_as_much_as_the_whole_check():
    """03 noise_source / bands: 1.5e-9 for the label-1 examples, 1.16e-7 for the label-0 one."""
    numbers = lesson_numbers.examples_apart()
    assert round(numbers["digits lost in 1 - a3"]) == 3  # "about three of the sixteen digits"
    assert round(numbers["label-1 examples"], 10) == 1.5e-9
    assert round(numbers["label-0 example"], 9) == 1.16e-7


# --- The README and the lesson's structure ---------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks" / "gradient_checking"


def _readme():
    return " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


def _intro(name):
    cell = nbformat.read(NOTEBOOK_DIR / name, as_version=4).cells[0]
    return " ".join(cell.source.split())


def test_the_lesson_has_four_notebooks_and_notebooks_1_and_2_say_so():
    """01 intro, 02 title, README: four notebooks, each listed in notebook 1's intro."""
    names = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
    assert len(names) == 4
    intro = _intro(names[0])
    assert "part 1 of 4" in intro and "The lesson has four notebooks" in intro
    assert all(f"`{name}`" in intro for name in names[1:])
    assert "part 2 of 4" in _intro(names[1])
    assert "Four notebooks, taken in order" in _readme()


def test_readme_states_notebook_2s_zero_entries_and_random_points():
    """README notebook 2 row: 20 of the 47 entries exactly 0, 27 tested, five points test all."""
    numbers = lesson_numbers.dead_units()
    points = lesson_numbers.random_points(5)
    readme = _readme()
    assert (f"{numbers['zero entries']} of the {numbers['entries']} gradient entries are "
            "exactly 0") in readme
    assert f"tests {numbers['entries'] - numbers['zero entries']}" in readme
    assert points["covered by the random points alone"] == numbers["entries"]
    assert f"checks at five random points, which together test all {numbers['entries']}" in readme


def test_readme_states_the_verdict_suite_as_it_is():
    """README notebook 4 row: the suite's bugs, cases, correct networks and bar."""
    import test_verdict_suite as suite

    readme = _readme()
    assert (f"{len(suite.BUGS)} one-line bugs, each on the course case and "
            f"{suite.N_BUG_DRAWS} random networks") in readme
    low, high = suite.SCALES
    assert (f"{suite.N_CORRECT} random correct networks (weight scales {low:g} to {high:g}) "
            f"and {suite.N_SATURATED} saturated ones (scales 1 to 2)") in readme
    assert f"at most {suite.MAX_INCONCLUSIVE:.0%} of the {suite.N_CORRECT}'s blocks" in readme
    assert f"nor do {suite.N_HARD} moved to hard points" in readme
    assert len(suite.NETWORKS) == 3  # "the course network and two others"
    assert "random_case(rng, rng.uniform(1.0, 2.0))" in inspect.getsource(suite)


# Notebook 4 (gradient checking in practice).


def test_04_the_complex_step_reference_and_the_softplus_cost():
    """04 precision_reference / precision_log / precision-stable: against an exact reference the
    classic 1.19e-7 is all gradapprox's; softplus reads about 109 times less."""
    numbers = lesson_numbers.practice_precision()
    assert numbers["reference against the fixed backprop"] < 3e-14
    assert math.isclose(numbers["classic cost at 1e-7"], PUBLISHED_DIFFERENCE_N_CORRECT,
                        rel_tol=1e-3)
    assert round(numbers["softplus cost at 1e-7"], 11) == 1.10e-9
    assert round(numbers["ratio"]) == 109
    assert round(numbers["A3 of the label-0 example"], 5) == 0.99887
    assert round(numbers["1 - A3 of the label-0 example"], 4) == 1.1e-3
    # float32's 2^-23 beside the course's 1.189e-7: equal to two digits only.
    assert round(numbers["float32 machine epsilon"], 10) == 1.192e-7
    assert abs(numbers["float32 machine epsilon"] / numbers["classic cost at 1e-7"] - 1) > 2e-3


def test_03_04_storing_theta_plus_minus_epsilon_adds_little_on_the_course_case():
    """03 noise_blocks: storing theta_i +/- eps moves an entry by at most u |theta_i| / (2 eps)
    of itself, under 1.2e-9 here; 04 float32_intro: divided by the distance between the
    stored points, the softplus check still reads 1.05e-9 (1.10e-9 divided by 2 eps)."""
    numbers = lesson_numbers.storing_theta_on_the_course_case()
    bound = numbers["largest u |theta_i| / (2 eps)"]
    assert 1e-9 < bound < 1.2e-9
    by_2eps = numbers["softplus, divided by 2 eps"]
    by_distance = numbers["softplus, divided by the stored distance"]
    assert round(by_2eps, 11) == 1.10e-9 and round(by_distance, 11) == 1.05e-9
    assert abs(by_2eps - by_distance) < bound  # the storage part stays within its bound
    assert math.isclose(numbers["classic, divided by the stored distance"],
                        PUBLISHED_DIFFERENCE_N_CORRECT, rel_tol=1e-3)


def test_04_dead_units_zero_20_of_47_entries_at_the_course_case():
    """04 verdict_reading: 20 of 47 entries are exactly zero; one unit off in layer 1, two in
    layer 2."""
    numbers = lesson_numbers.practice_precision()
    assert (numbers["gradient entries exactly 0"], numbers["gradient entries"]) == (20, 47)
    assert numbers["units off for every example, per hidden layer"] == [1, 2]


def test_04_float32_and_float64_sweeps():
    """04 float32_answer / methods_reading: best steps, floors and the reading at 1e-7."""
    n = lesson_numbers.practice_methods()
    assert round(n["float64 rounding unit"], 17) == 1.1e-16
    assert round(n["float32 rounding unit"], 9) == 6.0e-8
    assert round(n["float32 rounding unit"] / n["float64 rounding unit"], -8) == 5e8
    assert round(n["float32 spacing near 1.5"], 8) == 1.2e-7
    assert 1e-3 < n["float32 centered sweep: best step"] < 1e-2
    assert 0.5e-4 < n["float32 centered sweep: floor (median of 5 around the best)"] < 2e-4
    assert round(n["float32 centered sweep: at 1e-7"], 1) == 0.4
    assert round(n["float64 centered sweep: best step"], 6) == 2e-6
    assert 0.5e-10 < n["float64 centered sweep: floor (median of 5 around the best)"] < 2e-10
    ratio = (n["float32 centered sweep: floor (median of 5 around the best)"]
             / n["float64 centered sweep: floor (median of 5 around the best)"])
    assert 3e5 < ratio < 3e6  # "a million times lower"
    # The forward difference bottoms out near sqrt(u) = 1e-8; Richardson lower and at a
    # larger step than centered; complex step at f's rounding (2.2e-16), about 6e-8 in float32.
    assert n["float64 forward: best step"] == pytest.approx(1e-8)
    cube_root = n["float64 rounding unit"] ** (1 / 3)
    assert cube_root / 3 < n["float64 centered: best step"] < 3 * cube_root
    assert n["float64 five-point: best error"] < n["float64 centered: best error"]
    assert n["float64 five-point: best step"] > n["float64 centered: best step"]
    assert round(n["float64 complex step at 1e-20"], 17) == 2.2e-16
    assert 5.5e-8 < n["float32 complex step at 1e-20"] < 6.5e-8
    assert all(8e-6 < n[f"float32 {m}: best error"] < 1e-4
               for m in ("forward", "centered", "five-point"))


def test_04_one_sided_slopes_near_a_kink():
    """04 kinks_reading: from 1e-3 to 1e-5 the gap is about the slope; at 1e-6 they agree;
    from there the gap is rounding (eps |J''| far below it) and grows about tenfold per row."""
    gaps = lesson_numbers.practice_kink()
    slope = gaps[1e-6][0]
    assert all(0.85 * slope < gaps[eps][2] < 1.05 * slope for eps in (1e-3, 1e-4, 1e-5))
    assert gaps[1e-6][2] < 1e-6 * slope
    assert 8 < gaps[1e-7][2] / gaps[1e-6][2] < 12 and 8 < gaps[1e-8][2] / gaps[1e-7][2] < 12
    # From 1e-6 down the gap is rounding: the smooth part eps |J''|, with J'' from the forward
    # slopes at 1e-3 and 1e-4 (F+ = J' + eps J'' / 2 + ...), is far below it.
    second = 2 * abs(gaps[1e-3][0] - gaps[1e-4][0]) / (1e-3 - 1e-4)
    assert 1e-6 * second < 1e-2 * gaps[1e-6][2]


def test_04_twenty_times_the_weights_makes_the_cost_nan_without_overflow():
    """04 visible check / verdict_intro: every A3 rounds to exactly 1; log(1 - 1) = -inf times
    a label-1 example's zero weight is NaN."""
    numbers = lesson_numbers.practice_not_a_number()
    assert numbers["cost is NaN"]
    assert numbers["A3"] == [1.0, 1.0, 1.0] and 1.0 in numbers["labels where A3 is exactly 1"]
    assert not numbers["anything overflows"]


@pytest.mark.slow
def test_04_directional_checks_carry_a_random_factor():
    """04 directional_answer: db3 tripled reads 6.2e-2 in full; one direction in ten below
    1e-2, about 6% ten times lower."""
    numbers = lesson_numbers.practice_directional()
    assert round(numbers["full check (against the complex-step gradient)"], 3) == 0.062
    assert math.isclose(numbers["directional median"],
                        numbers["full check (against the complex-step gradient)"], rel_tol=0.05)
    assert 0.009 < numbers["directional 10th percentile"] < 0.0105
    assert round(numbers["directions reading 10 times below the full check"], 2) == 0.06


def test_04_the_verdict_reading_states_the_suite_as_it_is():
    """04 verdict_reading: the suite's bugs, draws and correct networks, counted."""
    import nbformat
    import test_verdict_suite as suite

    notebook = (Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
                / "04_gradient_check_in_practice.ipynb")
    (cell,) = [c for c in nbformat.read(notebook, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "verdict_reading"]
    text = " ".join(cell.source.split())
    assert f"{len(suite.BUGS)} one-line bugs, on the course case and five random draws" in text
    assert suite.N_BUG_DRAWS == 5
    total = suite.N_CORRECT + suite.N_SATURATED + suite.N_HARD
    assert (f"{total} correct networks ({suite.N_CORRECT} random ones at weight scales from "
            f"{suite.SCALES[0]:g} to {suite.SCALES[1]:g}, {suite.N_SATURATED} saturated ones, "
            f"and {suite.N_HARD} moved") in text
