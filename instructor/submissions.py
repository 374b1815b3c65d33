"""Checks on one submitted notebook, before and after nbgrader grades it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

TIMEOUT_ERROR = "CellTimeoutError"
INTERRUPTED = {TIMEOUT_ERROR, "KeyboardInterrupt"}


def read_problem(path: Path) -> str | None:
    """Say why the notebook at `path` cannot be graded, or return None when it can.

    nbgrader stops at the first unreadable notebook of a student, so each one is
    checked here first.
    """
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return f"{name} is not UTF-8 text"
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return f"{name} is not valid JSON"
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several unrelated types for bad notebooks
        message = str(error).strip() or type(error).__name__
        first_line = message.splitlines()[0]
        return f"{name} is not a valid notebook ({first_line})"
    return None


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _grade_cells(nb) -> dict[str, dict]:
    """Map grade_id -> {"source", "points", "test"} for the graded cells of a notebook."""
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            cells[meta["grade_id"]] = {
                "source": cell.source.rstrip(),
                "points": meta.get("points"),
                "test": not meta.get("solution", False),
            }
    return cells


def tampering(submitted: Path, release: Path) -> list[str]:
    """List the graded cells of `submitted` that differ from the released notebook.

    nbgrader restores these from the gradebook (test cell source, points, and with
    `OverwriteCells.add_missing_cells` deleted test cells); this names them so the
    grades table can say it happened.

    Parameters
    ----------
    submitted : Path
        The student's notebook (already known to be readable).
    release : Path
        The released notebook of the same name.

    Returns
    -------
    list of str
        One message per restored cell, e.g. ``test cell restored: nb.ipynb test_x (edited)``.
    """
    name = Path(submitted).name
    theirs = _grade_cells(nbformat.read(submitted, as_version=4))
    ours = _grade_cells(nbformat.read(release, as_version=4))
    messages = []
    for grade_id, cell in ours.items():
        if grade_id not in theirs:
            if cell["test"]:
                messages.append(f"test cell restored: {name} {grade_id} (deleted)")
            continue
        if cell["test"] and theirs[grade_id]["source"] != cell["source"]:
            messages.append(f"test cell restored: {name} {grade_id} (edited)")
        if theirs[grade_id]["points"] != cell["points"]:
            messages.append(
                f"points restored: {name} {grade_id} "
                f"({theirs[grade_id]['points']} -> {cell['points']})"
            )
    return messages


def restore_deleted_test_cells(nb, release) -> list[str]:
    """Put released test cells that `nb` lacks back in place; return their grade_ids.

    nbgrader's own `OverwriteCells.add_missing_cells` inserts a deleted cell after the
    cell before it in the source, and fails with KeyError when that cell is a locked
    cell without a grade (nbgrader 0.9.6), losing the whole notebook. A re-inserted
    cell still gets its source (hidden tests included) from the gradebook.
    """
    present = {_grade_id(cell) for cell in nb.cells} - {None}
    restored = []
    for index, cell in enumerate(release.cells):
        grade_id = _grade_id(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if grade_id is None or grade_id in present or not meta.get("grade"):
            continue
        # After the nearest earlier released cell the student still has, else first.
        position = 0
        for earlier in reversed(release.cells[:index]):
            ids = [_grade_id(c) for c in nb.cells]
            if _grade_id(earlier) in present:
                position = ids.index(_grade_id(earlier)) + 1
                break
        nb.cells.insert(position, copy.deepcopy(cell))
        present.add(grade_id)
        restored.append(grade_id)
    return restored


def answer_errors(autograded: Path) -> list[str]:
    """Name the answer cells that raised when run (a SyntaxError, say), one message per notebook.

    A wrong answer only costs points; an answer cell that does not even run is worth telling
    the instructor plainly. Time-outs are reported by :func:`timed_out`.

    Returns
    -------
    list of str
        Empty, or one message such as
        ``errors in answer cells of nb.ipynb: forward_propagation (SyntaxError)``.
    """
    nb = nbformat.read(autograded, as_version=4)
    broken = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        for output in cell.get("outputs", []):
            # A time-out shows as the interrupt it caused; timed_out() reports those.
            if output.get("output_type") == "error" and output.get("ename") not in INTERRUPTED:
                broken.append(f"{meta.get('grade_id')} ({output.get('ename')})")
                break
    if not broken:
        return []
    return [f"errors in answer cells of {Path(autograded).name}: {', '.join(broken)}"]


def timed_out(autograded: Path) -> bool:
    """Return True when a cell of the autograded notebook was interrupted by the timeout."""
    nb = nbformat.read(autograded, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == TIMEOUT_ERROR:
                return True
    return False
