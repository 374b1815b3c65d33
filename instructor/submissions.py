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


def _notebook(notebook_or_path):
    if isinstance(notebook_or_path, nbformat.NotebookNode):
        return notebook_or_path
    return nbformat.read(notebook_or_path, as_version=4)


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


def tampering(submitted, release, name: str | None = None) -> list[str]:
    """List the graded cells of `submitted` that differ from the released notebook.

    nbgrader restores these from the gradebook (test cell source, points, and with
    `OverwriteCells.add_missing_cells` deleted test cells); this names them so the
    grades table can say it happened.

    Parameters
    ----------
    submitted : Path or NotebookNode
        The student's notebook (already known to be readable), after `repair_metadata`.
    release : Path or NotebookNode
        The released notebook of the same name.
    name : str, optional
        The notebook's file name for the messages (default: the name of `submitted`).

    Returns
    -------
    list of str
        One message per restored cell, e.g. ``test cell restored: nb.ipynb test_x (edited)``.
    """
    name = name or Path(submitted).name
    theirs = _grade_cells(_notebook(submitted))
    ours = _grade_cells(_notebook(release))
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


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def restore_deleted_cells(nb, release) -> list[str]:
    """Put released cells with a grade_id that `nb` lacks back in place; return their ids.

    Test cells and locked cells (the imports, the given code) come back; answer cells do
    not (a missing answer is the student's to lose). A cell goes right after the nearest
    earlier released cell the student still has, or, when there is none, right before the
    nearest later one, so a restored test never lands above the imports it needs.
    nbgrader's own `OverwriteCells.add_missing_cells` fails with KeyError when the cell
    before a missing one is locked and ungraded (nbgrader 0.9.6), losing the notebook.
    """
    restored = []
    for index, cell in enumerate(release.cells):
        grade_id, meta = _grade_id(cell), _meta(cell)
        present = [_grade_id(c) for c in nb.cells]
        if grade_id is None or grade_id in present or meta.get("solution"):
            continue
        position = None
        for earlier in reversed(release.cells[:index]):
            if _grade_id(earlier) in present:
                position = present.index(_grade_id(earlier)) + 1
                break
        if position is None:
            later = [_grade_id(c) for c in release.cells[index + 1 :]]
            found = [present.index(g) for g in later if g in present]
            position = found[0] if found else len(nb.cells)
        nb.cells.insert(position, copy.deepcopy(cell))
        restored.append(grade_id)
    return restored


def repair_metadata(nb, release) -> list[str]:
    """Undo what nbgrader cannot: stripped, altered or duplicated nbgrader metadata.

    - A cell whose metadata was stripped, but which is the released cell of the same cell
      id (or, for given code, the same source), gets the released metadata back.
    - A cell whose grade_id is known but whose metadata was changed (a test cell turned into
      an answer, points raised, ...) gets the released metadata back.
    - A second cell with the same grade_id (a copy-pasted cell) loses its metadata if it is
      an answer, so its code still runs as the student's, and is dropped otherwise; nbgrader
      would otherwise leave it with empty metadata and fail the whole notebook.

    Returns
    -------
    list of str
        One message per repair, in plain words, for the status column.
    """
    released = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    by_cell_id = {c.get("id"): c for c in released.values() if c.get("id")}
    by_source = {c.source.strip(): c for c in released.values() if not _meta(c).get("solution")}
    present = {_grade_id(c) for c in nb.cells} - {None}
    notes = []
    for cell in nb.cells:
        if _grade_id(cell):
            continue
        match = by_cell_id.get(cell.get("id")) or by_source.get(cell.get("source", "").strip())
        if (
            match is not None
            and _grade_id(match) not in present
            and match.cell_type == cell.cell_type
        ):
            cell.metadata["nbgrader"] = copy.deepcopy(_meta(match))
            present.add(_grade_id(match))
            notes.append(f"nbgrader metadata restored: {_grade_id(match)}")
    seen, kept = set(), []
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if grade_id in seen:
            notes.append(f"duplicated cell ignored: {grade_id}")
            if _meta(released.get(grade_id, {})).get("solution"):
                del cell.metadata["nbgrader"]
                kept.append(cell)
            continue
        if grade_id is not None:
            seen.add(grade_id)
            original = released.get(grade_id)
            if original is None:
                # A cell pasted from another notebook: nbgrader would refuse the whole notebook.
                del cell.metadata["nbgrader"]
                notes.append(f"cell from elsewhere, its grade_id ignored: {grade_id[:40]}")
                kept.append(cell)
                continue
            if cell.cell_type != original.cell_type:
                # A code cell turned into text (or back): the released cell comes back, with
                # the student's text in it when it is their answer.
                restored = copy.deepcopy(original)
                if _meta(original).get("solution"):
                    restored.source = cell.source
                kept.append(restored)
                notes.append(f"cell type restored: {grade_id}")
                continue
            # Changed points are nbgrader's to restore (and tampering() names them).
            want = {k: v for k, v in _meta(original).items() if k != "points"}
            have = _meta(cell)
            if {key: have.get(key) for key in want} != want:
                cell.metadata["nbgrader"] = {**have, **copy.deepcopy(want)}
                notes.append(f"nbgrader metadata reset: {grade_id}")
        kept.append(cell)
    nb.cells = kept
    return _grouped(notes)


def _grouped(notes: list[str]) -> list[str]:
    """``what: a``, ``what: b`` -> ``what: a, b`` (one status entry per kind of repair)."""
    groups: dict[str, list[str]] = {}
    for note in notes:
        what, _, grade_id = note.partition(": ")
        groups.setdefault(what, []).append(grade_id)
    return [f"{what}: {', '.join(ids)}" for what, ids in groups.items()]


def answer_errors(autograded: Path) -> list[str]:
    """Name the answer cells that raised when run (a SyntaxError, say), one message per notebook.

    A wrong answer only costs points; an answer cell that does not even run is worth telling
    the instructor plainly. Time-outs are reported by the run itself (instructor.execution).

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
            # A time-out shows as the interrupt it caused; the run reports those.
            if output.get("output_type") == "error" and output.get("ename") not in INTERRUPTED:
                broken.append(f"{meta.get('grade_id')} ({output.get('ename')})")
                break
    if not broken:
        return []
    return [f"errors in answer cells of {Path(autograded).name}: {', '.join(broken)}"]
