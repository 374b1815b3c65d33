"""Student journeys in JupyterLab: solve and validate, validate a blank notebook, debug to a chart.

Every journey starts from a fresh working copy of release/ and types its answers through the
cell editor. Checks are on what the page shows and on the notebook as saved to disk.
"""

import re
from pathlib import Path

import nbformat
import pytest
from labdriver import (
    NotebookPage,
    cell_indices,
    is_answer_cell,
    is_graded_cell,
    is_test_cell,
    solution_sources,
)

from course_utils import PUBLISHED_DIFFERENCE_1D

pytestmark = pytest.mark.browser

ONE_D = "01_gradient_check_1d.ipynb"
BUGGY_BACKPROP = "03_debug_buggy_backprop.ipynb"
PRACTICE = "04_gradient_check_in_practice.ipynb"
PNG = "image/png"
# The network's parameter blocks, as the per-block table under the bar chart names them.
BLOCKS = ("W1", "b1", "W2", "b2", "W3", "b3")
SUCCESS = "Success! Your notebook passes all the tests."
CELL_FAILED = "The following cell failed:"
CODE_STUB = "raise NotImplementedError()"
WRITTEN_STUB = "YOUR ANSWER HERE"
# course_utils.checks prints "  ok    <check>" / "  FAIL  <check>" lines, then this summary.
ALL_PASSED = re.compile(r"All \d+ checks passed\.")
# ... or raises CheckFailed; nbgrader shows that error line for each failing test cell.
SOME_CHECKS_FAILED = re.compile(r"CheckFailed: .*\d+ of \d+ checks failed")


def type_solutions(notebook: NotebookPage, source_notebook: Path) -> dict[int, str]:
    """Type the instructor's solution into each answer cell (matched by grade_id).

    Returns the typed code by cell index.
    """
    solutions = solution_sources(source_notebook)
    typed = {}
    for grade_id, index in cell_indices(notebook.path, is_answer_cell).items():
        notebook.replace_cell_source(index, solutions[grade_id])
        typed[index] = solutions[grade_id]
    assert typed, f"{notebook.relative} has no answer cell to fill"
    return typed


def stream_text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.text for output in cell.outputs if output.output_type == "stream")


def error_outputs(saved: nbformat.NotebookNode) -> list[str]:
    """Error names and stderr text found in the saved notebook's outputs."""
    found = []
    for cell in saved.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"{output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                found.append(output.text)
    return found


def image_cells(saved: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells whose saved outputs hold a PNG image (matplotlib figures)."""
    return [
        index
        for index, cell in enumerate(saved.cells)
        if cell.cell_type == "code"
        and any(PNG in output.get("data", {}) for output in cell.outputs)
    ]


def assert_ran_cleanly(notebook: NotebookPage, saved: nbformat.NotebookNode) -> None:
    """Every code cell ran, nothing failed, and the page shows each test cell's printout."""
    assert notebook.error_outputs().count() == 0, notebook.error_outputs().all_inner_texts()
    assert error_outputs(saved) == []
    unrun = [
        i
        for i, cell in enumerate(saved.cells)
        if cell.cell_type == "code" and cell.execution_count is None
    ]
    assert unrun == [], f"code cells never run: {unrun}"
    for grade_id, index in cell_indices(notebook.path, is_test_cell).items():
        shown = notebook.shown_text(index)
        assert ALL_PASSED.search(shown), f"{grade_id}: page shows {shown!r}"
        assert "FAIL" not in shown, f"{grade_id}: page shows {shown!r}"
        assert stream_text(saved.cells[index]).strip() in shown


def assert_image_shown(notebook: NotebookPage, index: int) -> None:
    """The cell's output on the page is a loaded <img> (not a broken or empty one)."""
    image = notebook.outputs(index).locator("img").last
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_student_solves_1d_runs_all_and_validates(
    page, lab_server, work_dir, source_dir, screenshot
) -> None:
    notebook = NotebookPage(page, lab_server, str(work_dir / ONE_D)).open()
    typed = type_solutions(notebook, source_dir / ONE_D)
    notebook.run_all()
    saved = notebook.save()

    # What was typed through CodeMirror reached the file unchanged (no auto-indent, no
    # doubled brackets).
    for index, code in typed.items():
        assert saved.cells[index].source == code
    assert_ran_cleanly(notebook, saved)
    # The cell after gradient_check runs it on J = theta*x: the student sees the classic number.
    demo = cell_indices(notebook.path, is_answer_cell)["gradient_check"] + 1
    assert f"difference = {PUBLISHED_DIFFERENCE_1D!r}" in notebook.shown_text(demo)
    plots = image_cells(saved)
    assert plots, "no matplotlib figure in the saved notebook"
    assert_image_shown(notebook, plots[-1])
    screenshot("01_student_solves_1d_plot")

    dialog = notebook.validate()
    assert "nbgrader-SuccessDialog" in dialog.get_attribute("class")
    assert SUCCESS in dialog.inner_text()
    screenshot("01_student_solves_1d_validated")


def test_blank_1d_notebook_fails_validation(page, lab_server, work_dir, screenshot) -> None:
    notebook = NotebookPage(page, lab_server, str(work_dir / ONE_D)).open()
    dialog = notebook.validate()
    screenshot("02_blank_1d_validate_fails")

    assert "nbgrader-ErrorDialog" in dialog.get_attribute("class")
    message = dialog.locator("#validation-message.validation-failed")
    saved = nbformat.read(notebook.path, as_version=4)
    graded = cell_indices(notebook.path, is_graded_cell)
    # Every cell that earns points is listed: the test cells and the unanswered written answers.
    assert message.inner_text().count(CELL_FAILED) == len(graded)
    # nbgrader lists each failing cell as two <pre>: its source, then its error.
    blocks = message.locator("pre").all_inner_texts()
    sources, errors = blocks[0::2], blocks[1::2]
    assert sorted(source.strip() for source in sources) == sorted(
        saved.cells[index].source.strip() for index in graded.values()
    )
    failures = dict(zip((source.strip() for source in sources), errors, strict=True))
    for index in cell_indices(notebook.path, is_test_cell).values():
        assert SOME_CHECKS_FAILED.search(failures[saved.cells[index].source.strip()])
    # Validate saved the notebook first; the answers are still the release's stubs.
    for index in cell_indices(notebook.path, is_answer_cell).values():
        cell = saved.cells[index]
        assert (CODE_STUB if cell.cell_type == "code" else WRITTEN_STUB) in cell.source


def test_buggy_backprop_notebook_runs_to_its_bar_chart(
    page, lab_server, work_dir, source_dir, screenshot
) -> None:
    notebook = NotebookPage(page, lab_server, str(work_dir / BUGGY_BACKPROP)).open()
    type_solutions(notebook, source_dir / BUGGY_BACKPROP)
    notebook.run_all()
    saved = notebook.save()

    assert_ran_cleanly(notebook, saved)
    charts = image_cells(saved)
    assert charts, "no figure in the saved notebook"
    assert_image_shown(notebook, charts[-1])
    shown = notebook.shown_text(charts[-1])
    assert all(block in shown for block in BLOCKS), shown
    screenshot("03_buggy_backprop_bar_chart")


def test_practice_notebook_runs_to_its_figures_and_validates(
    page, lab_server, work_dir, source_dir, screenshot
) -> None:
    notebook = NotebookPage(page, lab_server, str(work_dir / PRACTICE)).open()
    type_solutions(notebook, source_dir / PRACTICE)
    notebook.run_all()
    saved = notebook.save()

    assert_ran_cleanly(notebook, saved)
    figures = image_cells(saved)
    # The step figure (four methods, two precisions) and the verdicts chart, at least.
    assert len(figures) >= 2, figures
    assert_image_shown(notebook, figures[-1])
    screenshot("04_practice_verdict_chart")

    dialog = notebook.validate()
    assert "nbgrader-SuccessDialog" in dialog.get_attribute("class")
    assert SUCCESS in dialog.inner_text()
    screenshot("04_practice_validated")
