"""Checks and repairs on one student's submitted files, before any of it runs.

Everything here takes what a student handed in as hostile: any bytes as a notebook, any
JSON shape, any metadata types, any file names. Findings are :class:`Problem` records.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
from pathlib import Path

import nbformat

from instructor.cells import grade_id, is_answer, meta
from instructor.limits import MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_CELLS
from instructor.problems import Problem, printable

SKIP_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}


def files_below(folder: Path) -> list[Path]:
    """Every entry below ``folder`` that is not a folder, sorted, symbolic links included
    (never followed), editor and Jupyter leftovers skipped."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIP_NAMES]
        for name in names:
            path = Path(root) / name
            if not SKIP_NAMES.intersection(path.relative_to(folder).parts):
                found.append(path)
        found += [Path(root) / d for d in dirs if (Path(root) / d).is_symlink()]
    return sorted(found)


def regular_file(path: Path) -> bool:
    """True for a regular file that is not a symbolic link (no FIFO, device or link)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def content_hash(folder: Path, salt: str = "") -> str:
    """A sha256 over the relative names (as bytes: any name) and contents below ``folder``."""
    digest = hashlib.sha256(salt.encode())
    for path in files_below(folder):
        digest.update(os.fsencode(path.relative_to(folder)) + b"\0")
        if regular_file(path) and os.lstat(path).st_size <= MAX_NOTEBOOK_BYTES:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            digest.update(f"{path.is_symlink()} {os.lstat(path).st_size}".encode())
    return digest.hexdigest()


def read_notebook(path: Path, name: str) -> tuple[nbformat.NotebookNode | None, Problem | None]:
    """Read the notebook at ``path``: ``(notebook, None)``, or ``(None, why not)``.

    Any bytes may be there: not UTF-8, not JSON, JSON nested too deep to parse, JSON that
    is no notebook. The file must be a regular file under the size cap, with at most
    :data:`~instructor.limits.MAX_NOTEBOOK_CELLS` cells.
    """
    if Path(path).is_symlink():
        return None, Problem("symlink", name)
    if not os.path.lexists(path):
        return None, Problem("missing", name)
    if not regular_file(path) or os.lstat(path).st_size > MAX_NOTEBOOK_BYTES:
        return None, Problem("not_regular", name)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None, Problem("not_utf8", name)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, or brackets nested too deep
        return None, Problem("not_json", name)
    cells = data.get("cells") if isinstance(data, dict) else None
    if isinstance(cells, list) and len(cells) > MAX_NOTEBOOK_CELLS:
        detail = f"{len(cells)} cells; a notebook may have at most {MAX_NOTEBOOK_CELLS}"
        return None, Problem("not_notebook", name, detail)
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except Exception as error:  # nbformat raises several unrelated types for bad notebooks
        message = str(error).strip() or type(error).__name__
        return None, Problem("not_notebook", name, message.splitlines()[0])
    return nb, None


def _grade_cells(nb) -> dict[str, dict]:
    """Map grade_id -> {"source", "points", "test"} for the graded cells of a notebook."""
    cells = {}
    for cell in nb.cells:
        found = meta(cell)
        if found.get("grade") and grade_id(cell):
            cells[grade_id(cell)] = {
                "source": str(cell.get("source", "")).rstrip(),
                "points": found.get("points"),
                "test": not is_answer(cell),
            }
    return cells


def tampering(submitted, release, name: str) -> list[Problem]:
    """Name the graded cells of ``submitted`` that differ from the released notebook.

    nbgrader restores these from the gradebook (test cell source, points), and
    :func:`restore_deleted_cells` deleted ones; this names them for the status.

    Parameters
    ----------
    submitted : NotebookNode
        The student's notebook, after :func:`repair_metadata`.
    release : NotebookNode
        The released notebook of the same name.
    name : str
        The notebook's file name.

    Returns
    -------
    list of Problem
        ``test_edited``, ``test_deleted`` (detail: grade_id) and ``points_restored``
        (detail: ``grade_id (old -> new)``).
    """
    theirs, ours = _grade_cells(submitted), _grade_cells(release)
    found = []
    for key, cell in ours.items():
        if key not in theirs:
            if cell["test"]:
                found.append(Problem("test_deleted", name, key))
            continue
        if cell["test"] and theirs[key]["source"] != cell["source"]:
            found.append(Problem("test_edited", name, key))
        if theirs[key]["points"] != cell["points"]:
            points = printable(theirs[key]["points"])[:20]
            found.append(Problem("points_restored", name, f"{key} ({points} -> {cell['points']})"))
    return found


def restore_deleted_cells(nb, release) -> list[str]:
    """Put released cells with a grade_id that ``nb`` lacks back in place; return their ids.

    Test cells and locked cells (the imports, the given code) come back; answer cells do
    not (a missing answer is the student's to lose). A cell goes right after the nearest
    earlier released cell the student still has, or, when there is none, right before the
    nearest later one, so a restored test never lands above the imports it needs.
    nbgrader's own ``OverwriteCells.add_missing_cells`` fails with KeyError when the cell
    before a missing one is locked and ungraded (nbgrader 0.9.6), losing the notebook.
    """
    restored = []
    for index, cell in enumerate(release.cells):
        key = grade_id(cell)
        present = [grade_id(c) for c in nb.cells]
        if key is None or key in present or is_answer(cell):
            continue
        position = None
        for earlier in reversed(release.cells[:index]):
            if grade_id(earlier) is not None and grade_id(earlier) in present:
                position = present.index(grade_id(earlier)) + 1
                break
        if position is None:
            later = [grade_id(c) for c in release.cells[index + 1 :]]
            found = [present.index(g) for g in later if g is not None and g in present]
            position = found[0] if found else len(nb.cells)
        nb.cells.insert(position, copy.deepcopy(cell))
        restored.append(key)
    return restored


def repair_metadata(nb, release, name: str) -> list[Problem]:
    """Undo what nbgrader cannot: stripped, altered, mistyped or duplicated nbgrader metadata.

    - nbgrader metadata that is not a dict, or has no usable grade_id, is dropped (nbgrader
      would fail the whole notebook on it); the next rule may give the cell its own back.
    - A cell whose metadata was stripped, but which is the released cell of the same cell
      id (or, for given code, the same source), gets the released metadata back.
    - A cell whose grade_id is known but whose metadata was changed (a test cell turned into
      an answer, points raised, ...) gets the released metadata back.
    - A second cell with the same grade_id (a copy-pasted cell) loses its metadata if it is
      an answer, so its code still runs as the student's, and is dropped otherwise; nbgrader
      would otherwise leave it with empty metadata and fail the whole notebook.

    Returns
    -------
    list of Problem
        One per kind of repair, the grade_ids in its detail.
    """
    for cell in nb.cells:
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict):
            cell["metadata"] = nbformat.NotebookNode()
        elif "nbgrader" in metadata and not grade_id(cell):
            del metadata["nbgrader"]
    released = {grade_id(c): c for c in release.cells if grade_id(c)}
    by_cell_id = {c.get("id"): c for c in released.values() if c.get("id")}
    by_source = {c.source.strip(): c for c in released.values() if not is_answer(c)}
    present = {grade_id(c) for c in nb.cells} - {None}
    notes: list[tuple[str, str]] = []
    for cell in nb.cells:
        if grade_id(cell):
            continue
        source = cell.get("source", "")
        match = by_cell_id.get(cell.get("id")) if isinstance(cell.get("id"), str) else None
        match = match or (by_source.get(source.strip()) if isinstance(source, str) else None)
        if (
            match is not None
            and grade_id(match) not in present
            and match.cell_type == cell.get("cell_type")
        ):
            cell.metadata["nbgrader"] = copy.deepcopy(meta(match))
            present.add(grade_id(match))
            notes.append(("metadata_restored", grade_id(match)))
    seen, kept = set(), []
    for cell in nb.cells:
        key = grade_id(cell)
        if key in seen:
            notes.append(("duplicate_ignored", key))
            if key in released and is_answer(released[key]):
                del cell.metadata["nbgrader"]
                kept.append(cell)
            continue
        if key is not None:
            seen.add(key)
            original = released.get(key)
            if original is None:
                # A cell pasted from another notebook: nbgrader would refuse the whole notebook.
                del cell.metadata["nbgrader"]
                notes.append(("foreign_cell", key[:40]))
                kept.append(cell)
                continue
            if cell.get("cell_type") != original.cell_type:
                # A code cell turned into text (or back): the released cell comes back, with
                # the student's text in it when it is their answer.
                restored = copy.deepcopy(original)
                if is_answer(original):
                    restored.source = cell.get("source", "")
                kept.append(restored)
                notes.append(("cell_type_restored", key))
                continue
            # Changed points are nbgrader's to restore (and tampering() names them).
            want = {k: v for k, v in meta(original).items() if k != "points"}
            have = meta(cell)
            if {k: have.get(k) for k in want} != want:
                cell.metadata["nbgrader"] = {**have, **copy.deepcopy(want)}
                notes.append(("metadata_reset", key))
        kept.append(cell)
    nb.cells = kept
    grouped: dict[str, list[str]] = {}
    for kind, key in notes:
        grouped.setdefault(kind, []).append(key)
    return [Problem(kind, name, ", ".join(keys)) for kind, keys in grouped.items()]
