"""The source notebooks: nbgrader structure, test-cell hygiene, and the published figures.

nbval (configured in pyproject.toml) re-executes them and compares outputs; this module
checks what nbval cannot: metadata, and the numbers with their tolerances.
"""

import ast
import builtins
import math
import re
from pathlib import Path

import nbformat
import pytest

import course_utils
from course_utils import (
    DIFFERENCE_THRESHOLD,
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    PUBLISHED_DIFFERENCE_N_CORRECT,
    CheckFailed,
)
from instructor import cells as roles

SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))
# Each notebook's graded functions: an answer cell named after the function, and its test
# cell named <function>_tests.
GRADED = {
    "01_gradient_check_1d.ipynb": ["forward_propagation", "backward_propagation", "gradient_check"],
    "02_gradient_check_nd.ipynb": ["gradient_check_n"],
    "03_debug_buggy_backprop.ipynb": [
        "numerical_gradient_n",
        "difference_by_block",
        "blocks_with_bugs",
        "backward_propagation_n",
    ],
    "04_gradient_check_in_practice.ipynb": [
        "complex_step_gradient",
        "centered_check",
        "logistic_cost_stable",
        "complex_step_derivative",
        "five_point_derivative",
        "one_sided_slopes",
        "directional_difference",
        "check_gradients",
    ],
}
NUMBER = r"(-?\d+\.\d+(?:e[-+]\d+)?)"


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _read(name):
    return nbformat.read(SOURCE / name, as_version=4)


def _stdout(nb):
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


def test_the_lesson_opens_the_assignment_with_its_three_notebooks_in_order():
    """Notebooks 01-03 come first; later notebooks (04, practice) have tests of their own."""
    assert [path.name for path in NOTEBOOKS][: len(GRADED)] == list(GRADED)


@pytest.mark.parametrize("name", list(GRADED))
def test_every_graded_function_has_an_answer_cell_and_a_test_cell_with_points(name):
    cells = {_nbgrader(c).get("grade_id"): c for c in _read(name).cells if _nbgrader(c)}
    for function in GRADED[name]:
        answer = cells[function]
        assert _nbgrader(answer)["solution"] and not _nbgrader(answer)["grade"]
        assert f"def {function}(" in answer.source
        assert "### BEGIN SOLUTION" in answer.source and "### END SOLUTION" in answer.source
        test = cells[f"{function}_tests"]
        assert _nbgrader(test)["grade"] and _nbgrader(test)["locked"]
        assert _nbgrader(test)["points"] > 0


@pytest.mark.parametrize("name", list(GRADED))
def test_test_cells_are_well_formed(name):
    """One docstring line first, a visible check, hidden tests, and no bare number at the end."""
    for cell in _read(name).cells:
        meta = _nbgrader(cell)
        if not roles.is_test(cell):
            continue
        tree = ast.parse(cell.source)
        first, last = tree.body[0], tree.body[-1]
        assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        assert "\n" not in first.value.value.strip(), meta["grade_id"]
        assert "_test(" in cell.source, f"{meta['grade_id']} has no visible check"
        assert roles.hidden_lines(cell.source), f"{meta['grade_id']} has no hidden tests"
        # nbgrader takes a trailing number as the score; our cells end in hidden.finish().
        assert ast.unparse(last) == "hidden.finish()", meta["grade_id"]
        # Hidden lines run student code only through the runner, so a failure can never raise
        # from, and be quoted by, the cell itself; and they hand it named functions only.
        hidden = "\n".join(roles.hidden_lines(cell.source))
        assert "assert " not in hidden, meta["grade_id"]
        assert "lambda" not in cell.source, meta["grade_id"]


def _defined_names(tree):
    """Names a cell binds: assignments, loop and with targets, defs, imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
            names.update(a.arg for a in node.args.args + node.args.kwonlyargs
                         if isinstance(node, ast.FunctionDef))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _is_definitions_only(tree):
    """True for a cell the grader copies: only imports and function definitions."""
    return all(isinstance(n, ast.Import | ast.ImportFrom | ast.FunctionDef) for n in tree.body)


@pytest.mark.parametrize("name", list(GRADED))
def test_test_cells_use_no_demo_variables_and_never_call_student_code(name):
    """Test cells see imports, course_utils, locked definitions, the student's functions and
    their own names only (plan rule 6), and call student functions only through the runner."""
    cells = _read(name).cells
    allowed = set(dir(builtins)) | set(course_utils.__all__) | {"np"}
    student = set()
    for cell in cells:
        if not (roles.is_autograded_answer(cell) or roles.is_given(cell)):
            continue
        tree = ast.parse(cell.source)
        if roles.is_autograded_answer(cell):
            student.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
        elif _is_definitions_only(tree):
            allowed |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            allowed |= _defined_names(ast.Module(
                [n for n in tree.body if not isinstance(n, ast.FunctionDef)], []))
    allowed |= student
    for cell in cells:
        meta = _nbgrader(cell)
        if not roles.is_test(cell):
            continue
        tree = ast.parse(cell.source)
        own = _defined_names(tree)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load)}
        assert used <= allowed | own, (meta["grade_id"], sorted(used - allowed - own))
        direct = [n.func.id for n in ast.walk(tree)
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                  and n.func.id in student]
        assert not direct, (meta["grade_id"], direct)


@pytest.mark.parametrize("name", list(GRADED))
def test_no_cell_wrote_to_stderr_or_failed(name):
    for cell in _read(name).cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output.output_type != "error", cell.source[:80]
            assert not (output.output_type == "stream" and output.name == "stderr"), cell.source


def test_grade_ids_are_unique_descriptive_and_instructions_locked():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        ids = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c)]
        assert len(ids) == len(set(ids)), path.name
        assert all(re.fullmatch(r"[a-z][a-z0-9_]+", i) for i in ids), ids
        for cell in nb.cells:
            meta = _nbgrader(cell)
            if cell.cell_type == "markdown" and not meta.get("solution"):
                assert meta.get("locked"), f"{path.name}: unlocked instructions {cell.source[:60]}"
        assert nb.metadata.kernelspec.name == "python3"


def test_points_and_manually_graded_answers():
    points = {}
    for name in GRADED:
        cells = _read(name).cells
        auto = sum(_nbgrader(c)["points"] for c in cells if roles.is_test(c))
        manual = sum(
            _nbgrader(c)["points"] for c in cells if roles.is_answer(c) and roles.is_graded(c)
        )
        points[name] = (auto, manual)
    assert all(auto >= 4 for auto, _ in points.values()), points
    # Notebooks 1, 3 and 4 have written questions; notebook 2 is all code.
    assert [manual > 0 for _, manual in points.values()] == [True, False, True, True], points


def test_notebook_1_shows_the_published_1d_difference():
    match = re.search(r"epsilon = 1e-7: difference = " + NUMBER, _stdout(_read(NOTEBOOKS[0].name)))
    assert match, "the 1-D difference is not printed"
    assert math.isclose(float(match[1]), PUBLISHED_DIFFERENCE_1D, rel_tol=1e-9)


def test_notebook_1_plots_the_epsilon_sweep_with_a_minimum_between_the_extremes():
    nb = _read(NOTEBOOKS[0].name)
    sweep = next(c for c in nb.cells if _nbgrader(c).get("grade_id") == "epsilon_sweep")
    assert any("image/png" in o.get("data", {}) for o in sweep.outputs)
    match = re.search(r"smallest difference \S+ at epsilon = (\S+)", _stdout(nb))
    # Truncation wins above, rounding below: the best step is well inside (1e-12, 1e-1).
    assert 1e-9 < float(match[1]) < 1e-3


def test_notebook_1_predicts_the_1d_difference_from_binary():
    """The exact-fraction prediction and the measurement agree to seven digits."""
    out = _stdout(_read(NOTEBOOKS[0].name))
    predicted = float(re.search(r"predicted \|r\| / \(2 \+ r\):\s+" + NUMBER, out)[1])
    measured = float(re.search(r"measured by gradient_check:\s+" + NUMBER, out)[1])
    assert math.isclose(measured, PUBLISHED_DIFFERENCE_1D, rel_tol=1e-9)
    assert math.isclose(predicted, measured, rel_tol=1e-6)


def test_notebook_1_splits_the_centered_rounding_into_storing_theta_and_rounding_J():
    out = _stdout(_read(NOTEBOOKS[0].name))
    assert "gradient_check with epsilon = h: 0.0\n" in out
    centered = float(re.search(r"centered:  difference (\S+)", out)[1])
    storing, storing_model = (float(v) for v in re.search(
        r"storing theta \+/- epsilon: +(\S+) +\(model: at most (\S+)\)", out).groups())
    rounding_J, J_model = (float(v) for v in re.search(
        r"rounding J \(step taken\): +(\S+) +\(model: at most (\S+)\)", out).groups())
    truncation = float(re.search(r"truncation model: +(\S+)", out)[1])
    o_diff, o_trunc = (float(v.rstrip(";")) for v in re.search(
        r"one-sided: difference (\S+) truncation model (\S+)", out).groups())
    assert storing < storing_model and rounding_J < J_model and truncation < 1e-3 * centered
    assert abs(centered - storing) <= rounding_J * 1.1
    assert 0.9 < o_diff / o_trunc < 1.1
    n = int(re.search(r"(\d+) values of theta", out)[1])
    assert f"step taken below the model of rounding J: {n} of {n}" in out
    assert f"within storing +/- the model of rounding J: {n} of {n}" in out


def test_notebook_1_models_place_the_best_step():
    out = _stdout(_read(NOTEBOOKS[0].name))
    best = float(re.search(r"smallest difference \S+ at epsilon = (\S+)", out)[1])
    model = float(re.search(r"the models put the best step at (\S+)", out)[1])
    crossing = float(re.search(r"the lines cross at (\S+)\)", out)[1])
    # The rounding models are upper bounds: the measured best step sits a little left.
    assert 0.5 < best / model < 1
    assert math.isclose(model / crossing, 2 ** (-1 / 3), rel_tol=5e-2)


def test_notebook_2_shows_the_published_difference_of_the_buggy_backprop():
    out = _stdout(_read(NOTEBOOKS[1].name))
    value = float(re.search(r"difference at epsilon = 1e-7: " + NUMBER, out)[1])
    assert math.isclose(value, PUBLISHED_DIFFERENCE_N_BUGGY, rel_tol=1e-9)
    assert "np.isclose: True" in out
    # A bug does not care about the step: at 1e-4 it reads the same to four digits.
    larger = float(re.search(r"difference at epsilon = 1e-4: " + NUMBER, out)[1])
    assert math.isclose(larger, value, rel_tol=1e-4)
    # The correct backprop's figure belongs to notebook 3, after the fix.
    assert "1.189" not in out


def _block_rows(text, columns):
    """{block: readings} of the printed block tables with this many numeric columns."""
    number = r"\s+(\S+)"
    return {
        m[1]: tuple(float(v) for v in m.groups()[1:])
        for m in re.finditer(r"^(\w+)" + number * columns + "$", text, re.MULTILINE)
        if m[1] in {"W1", "b1", "W2", "b2", "W3", "b3"}
    }


def test_notebook_3_hunts_subtle_bugs_then_shows_the_fixed_difference_and_a_bar_chart():
    nb = _read(NOTEBOOKS[2].name)
    out = _stdout(nb)
    pattern = r"overall difference at epsilon = 1e-7: " + NUMBER
    buggy, fixed = (float(v) for v in re.findall(pattern, out))
    assert buggy > 0.1 and not math.isclose(buggy, PUBLISHED_DIFFERENCE_N_BUGGY, rel_tol=1e-3)
    assert math.isclose(fixed, PUBLISHED_DIFFERENCE_N_CORRECT, rel_tol=1e-5, abs_tol=1e-8)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    # The hunt's table: the bugs read large and alike at both steps, the correct blocks are
    # clean at 1e-4, and one of them reads above the threshold at 1e-7 (the trap).
    hunt = _block_rows(out, 2)
    answer = next(c.source for c in nb.cells if _nbgrader(c).get("grade_id") == "blocks_with_bugs")
    wrong = set(ast.literal_eval(re.search(r"return (\[.*\])", answer)[1]))
    assert {b for b, (_, at_1e4) in hunt.items() if at_1e4 > 1e-3} == wrong
    assert all(math.isclose(*hunt[b], rel_tol=1e-6) for b in wrong)
    assert max(at_1e4 for b, (_, at_1e4) in hunt.items() if b not in wrong) < 1e-9
    assert max(at_1e7 for b, (at_1e7, _) in hunt.items() if b not in wrong) > DIFFERENCE_THRESHOLD
    # After the fix: correct blocks noisy at 1e-7 (b1 and b3 above the threshold), clean at
    # 1e-4; b2's gradient is smaller than b3's yet it reads lower (one noise sample each).
    rows = _block_rows(out, 3)
    assert max(at_1e4 for _, at_1e4, _ in rows.values()) < 1e-9
    assert rows["b2"][2] < rows["b3"][2] and rows["b2"][0] < 0.2 * rows["b3"][0]


def test_notebook_3_after_the_fix_b1_and_b3_read_above_the_threshold_at_1e7():
    out = _stdout(_read(NOTEBOOKS[2].name))
    assert "blocks above the threshold at epsilon = 1e-7: ['b1', 'b3']" in out


def test_notebook_3_the_label_0_example_alone_reads_as_much_as_the_whole_check():
    out = _stdout(_read(NOTEBOOKS[2].name))
    label1 = float(re.search(r"\(label 1\): difference at epsilon = 1e-7: (\S+)", out)[1])
    label0 = float(re.search(r"\(label 0\): difference at epsilon = 1e-7: (\S+)", out)[1])
    assert 50 < label0 / label1 < 200
    assert math.isclose(label0, PUBLISHED_DIFFERENCE_N_CORRECT, rel_tol=0.05)
    assert "0.9989" in out  # the label-0 example's output, as the prose says


# --- Hidden tests catch what visible checks let through -------------------------------------

SUM_OF_NORMS = "np.linalg.norm(grad) + np.linalg.norm(gradapprox)"
NORM_OF_SUM = "np.linalg.norm(grad + gradapprox)"


def _test_cell(name, grade_id):
    (cell,) = [c for c in _read(name).cells if _nbgrader(c).get("grade_id") == grade_id]
    return cell.source


def _run_test_cell(load_notebook, prefix, name, grade_id, replace=None, extra=None):
    """Exec a source test cell (visible + hidden) on a possibly broken solution; return the
    CheckFailed it raised, or None."""
    namespace = load_notebook(prefix)
    if replace:
        solution = next(c.source for c in _read(name).cells
                    if _nbgrader(c).get("grade_id") == replace[0])
        assert replace[1] in solution
        exec(solution.replace(replace[1], replace[2]), namespace)
    if extra:
        namespace.update(extra(namespace))
    try:
        exec(_test_cell(name, grade_id), namespace)
    except CheckFailed as exc:
        return exc
    return None


@pytest.mark.parametrize(
    ("prefix", "function"),
    [("01", "gradient_check"), ("02", "gradient_check_n")],
)
def test_norm_of_sum_passes_the_visible_checks_and_fails_the_hidden_ones(
    load_notebook, capsys, prefix, function
):
    """The example class's visible_only student: only the hidden tests take its marks."""
    name = next(n for n in GRADED if n.startswith(prefix))
    failure = _run_test_cell(load_notebook, prefix, name, f"{function}_tests",
                             replace=(function, SUM_OF_NORMS, NORM_OF_SUM))
    assert failure is not None and "(hidden tests)" in str(failure)
    capsys.readouterr()


@pytest.mark.parametrize("given", ["subtly_buggy_backward_propagation_n",
                                   "buggy_backward_propagation_n"])
def test_the_test_cell_of_notebook_3_rejects_the_buggy_backprops(load_notebook, capsys, given):
    """Handed in unfixed, either buggy backprop fails the cell, block by block."""
    name = "03_debug_buggy_backprop.ipynb"
    failure = _run_test_cell(
        load_notebook, "03", name, "backward_propagation_n_tests",
        extra=lambda ns: {"backward_propagation_n": getattr(course_utils, given, None)
                          or ns[given]},
    )
    assert failure is not None
    labels = [r.label for r in failure.results if not r.ok]
    assert labels and any("agrees with the numerical gradient" in label for label in labels)
    # ... and nothing else but, for the given one, that its dW3 reads the size of Z2.
    assert all("agrees with the numerical gradient" in label
               or label.startswith("gradients come from the cache alone") for label in labels)
    capsys.readouterr()


def test_hidden_tests_of_notebook_3_reject_nan_for_a_dead_layout(load_notebook, capsys):
    name = "03_debug_buggy_backprop.ipynb"
    guard = "0.0 if denominator == 0 else float(numerator / denominator)"
    unguarded = "float(numerator / denominator)"
    failure = _run_test_cell(load_notebook, "03", name, "difference_by_block_tests",
                             replace=("difference_by_block", guard, unguarded))
    assert failure is not None
    capsys.readouterr()
