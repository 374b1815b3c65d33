"""The source notebooks: nbgrader structure, test-cell hygiene, and the published figures.

nbval (configured in pyproject.toml) re-executes them and compares outputs; this module
checks what nbval cannot: metadata, and the numbers with their tolerances.
"""

import ast
import math
import re
from pathlib import Path

import nbformat
import pytest

from course_utils import (
    PUBLISHED_DIFFERENCE_1D,
    PUBLISHED_DIFFERENCE_N_BUGGY,
    PUBLISHED_DIFFERENCE_N_CORRECT,
)

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
        "backward_propagation_n",
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


def test_the_assignment_has_the_three_notebooks_in_order():
    assert [path.name for path in NOTEBOOKS] == list(GRADED)


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
        if not (meta.get("grade") and cell.cell_type == "code"):
            continue
        tree = ast.parse(cell.source)
        first, last = tree.body[0], tree.body[-1]
        assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        assert "\n" not in first.value.value.strip(), meta["grade_id"]
        assert "_test(" in cell.source, f"{meta['grade_id']} has no visible check"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{meta['grade_id']} has no hidden tests"
        # nbgrader takes a trailing number as the score; our cells end in hidden.finish().
        assert ast.unparse(last) == "hidden.finish()", meta["grade_id"]
        # Hidden lines may only run student code through the runner (inside lambdas), so a
        # failure can never raise from, and be quoted by, the cell itself.
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert "assert " not in hidden, meta["grade_id"]


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
    for path in NOTEBOOKS:
        cells = [_nbgrader(c) for c in nbformat.read(path, as_version=4).cells]
        auto = sum(m["points"] for m in cells if m.get("grade") and not m.get("solution"))
        manual = sum(m["points"] for m in cells if m.get("grade") and m.get("solution"))
        points[path.name] = (auto, manual)
    assert all(auto >= 4 for auto, _ in points.values()), points
    # Notebooks 1 and 3 each end with a written question; notebook 2 is all code.
    assert [manual > 0 for _, manual in points.values()] == [True, False, True], points


def test_notebook_1_shows_the_published_1d_difference():
    match = re.search(r"epsilon = 1e-7: difference = " + NUMBER, _stdout(_read(NOTEBOOKS[0].name)))
    assert match, "the 1-D difference is not printed"
    assert math.isclose(float(match[1]), PUBLISHED_DIFFERENCE_1D, rel_tol=1e-9)


def test_notebook_1_plots_the_epsilon_sweep_with_a_minimum_between_the_extremes():
    nb = _read(NOTEBOOKS[0].name)
    sweep = next(c for c in nb.cells if _nbgrader(c).get("grade_id") == "epsilon_sweep")
    assert any("image/png" in o.get("data", {}) for o in sweep.outputs)
    match = re.search(r"at epsilon = (\S+)", _stdout(nb))
    # Truncation wins above, rounding below: the best step is well inside (1e-12, 1e-1).
    assert 1e-9 < float(match[1]) < 1e-3


def test_notebook_2_shows_the_published_difference_of_the_correct_backprop():
    match = re.search(r"difference at epsilon = 1e-7: " + NUMBER, _stdout(_read(NOTEBOOKS[1].name)))
    value = float(match[1])
    assert math.isclose(value, PUBLISHED_DIFFERENCE_N_CORRECT, rel_tol=1e-5, abs_tol=1e-8)
    assert "np.isclose: True" in _stdout(_read(NOTEBOOKS[1].name))


def test_notebook_3_shows_the_buggy_then_the_fixed_difference_and_a_bar_chart():
    nb = _read(NOTEBOOKS[2].name)
    pattern = r"overall difference at epsilon = 1e-7: " + NUMBER
    buggy, fixed = (float(v) for v in re.findall(pattern, _stdout(nb)))
    assert math.isclose(buggy, PUBLISHED_DIFFERENCE_N_BUGGY, rel_tol=1e-9)
    assert math.isclose(fixed, PUBLISHED_DIFFERENCE_N_CORRECT, rel_tol=1e-5, abs_tol=1e-8)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    # The per-block table: the two bugs stand out at both steps; correct blocks are noisy at
    # 1e-7 and clean at 1e-4.
    rows = dict(
        (m[1], (float(m[2]), float(m[3])))
        for m in re.finditer(r"^(\w+)\s+(\S+)\s+(\S+)$", _stdout(nb), re.MULTILINE)
        if m[1] in {"W1", "b1", "W2", "b2", "W3", "b3"}
    )
    assert {b for b, (_, at_1e4) in rows.items() if at_1e4 > 1e-3} == {"W2", "b1"}
    assert max(at_1e7 for b, (at_1e7, _) in rows.items() if b not in {"W2", "b1"}) > 2e-7
    assert max(at_1e4 for b, (_, at_1e4) in rows.items() if b not in {"W2", "b1"}) < 1e-8
