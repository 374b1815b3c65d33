"""Every number the lesson fixes by choice: seeds, steps, thresholds, tolerances, and the
published figures of the classic exercise. Defined once; notebooks, checks and tests use the
names."""

# Seed of the classic fixture (the legacy global generator, drawn in a fixed order).
SEED = 1
# Seed of the second network case, a case the notebooks never print.
SECOND_CASE_SEED = 2024

# Default step of the lesson's centered differences (J(theta + eps) - J(theta - eps)) / (2 eps).
EPSILON = 1e-7
# The step notebook 3 checks blocks at: for the course network the relative difference of a
# correct backprop is smallest near it (the log(1 - A3) cancellation makes rounding noise large
# at 1e-7; see notebook 3).
BLOCK_EPSILON = 1e-4

# The published figures of the classic exercise (at EPSILON).
# 1-D check of J = theta * x at x = 2, theta = 4.
PUBLISHED_DIFFERENCE_1D = 2.919335883291695e-10
# N-D check on the course case with the classic buggy backprop
# (dW2 doubled, db1 scaled by 4/m instead of 1/m).
PUBLISHED_DIFFERENCE_N_BUGGY = 0.2850931567761623
# np.linalg.norm sums with whichever BLAS kernel the CPU is given, and kernels round the last
# bit differently: the buggy figure reads ...623 (the classic's) or ...624 (OpenBLAS's Haswell
# kernels), one unit in the last place either side of the exactly rounded 0.28509315677616237
# (math.fsum). Tests of the published N-D figures accept this many units in the last place.
BLAS_ULPS = 2
# The same check once backprop is fixed. Its trailing digits are rounding noise: they depend on
# the order of floating-point operations, so compare it loosely.
PUBLISHED_DIFFERENCE_N_CORRECT = 1.1890913024229996e-07

# The threshold of the printed verdict: report_difference calls a difference below it "agrees".
# It is the classic exercise's, chosen to sit just above the 1.19e-7 that the correct backprop
# reads on the course case at EPSILON. Like every fixed threshold it is a rule of thumb: the
# noise of a correct gradient depends on the point, the step and how the cost is computed
# (notebook 1 splits it into storing theta +/- epsilon and rounding J), so correct code can read
# above it and a real bug can read below the usual "bug" band. Notebook 3 shows both failures.
DIFFERENCE_THRESHOLD = 2e-7

# Tolerances of the checks.
# The published differences are rounding noise in their last digits: this accepts any correct
# order of floating-point operations and rejects every wrong formula.
PUBLISHED_RTOL = 1e-3
# np.isclose's defaults: how the classic exercise compares the correct backprop's difference.
CORRECT_N_RTOL, CORRECT_N_ATOL = 1e-5, 1e-8
# A backprop block agrees with the numerical gradient at BLOCK_EPSILON within these.
BLOCK_RTOL, BLOCK_ATOL = 1e-5, 1e-8
# A value computed in closed form (a stand-in cost's exact difference) against the student's.
EXACT_RTOL = 1e-6
