"""instructor/submissions.py: reading, hashing and repairing what a student handed in."""

from __future__ import annotations

import copy
import os

import nbformat
import pytest

from instructor.cells import grade_id, is_answer, is_test
from instructor.course import REPO_ROOT, SOURCE_ROOT, find_assignment
from instructor.problems import Problem
from instructor.submissions import (
    content_hash,
    read_notebook,
    repair_metadata,
    restore_deleted_cells,
    tampering,
)

ASSIGNMENT = find_assignment(SOURCE_ROOT)
NAME = sorted(path.name for path in (SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))[0]


@pytest.fixture
def release():
    return nbformat.read(REPO_ROOT / "release" / ASSIGNMENT / NAME, as_version=4)


def first(nb, predicate):
    return next(cell for cell in nb.cells if predicate(cell))


def test_the_hash_covers_names_of_any_bytes_and_contents(tmp_path):
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"one")
    before = content_hash(tmp_path)
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"two")
    changed = content_hash(tmp_path)
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).rename(tmp_path / "cafe.txt")
    assert len({before, changed, content_hash(tmp_path)}) == 3
    assert content_hash(tmp_path, salt="a") != content_hash(tmp_path, salt="b")


@pytest.mark.parametrize(("content", "kind"), [
    (b"\xff\xfe", "not_utf8"),
    (b"{", "not_json"),
    (b"[" * 50_000 + b"]" * 50_000, "not_json"),
    (b'{"cells": "none", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "not_notebook"),
    (b"[1, 2]", "not_notebook"),
])  # fmt: skip
def test_what_is_no_notebook_is_named(tmp_path, content, kind):
    path = tmp_path / NAME
    path.write_bytes(content)
    nb, problem = read_notebook(path, NAME)
    assert nb is None and problem.kind == kind and problem.notebook == NAME


def test_a_notebook_of_too_many_cells_is_not_read_and_one_at_the_cap_is(release, tmp_path):
    """Tiny cells by the thousand cost the grader far more than their bytes: a cap on cells."""
    from instructor.limits import MAX_NOTEBOOK_CELLS

    nb = copy.deepcopy(release)
    added = MAX_NOTEBOOK_CELLS - len(nb.cells)
    nb.cells += [nbformat.v4.new_markdown_cell("x") for _ in range(added)]
    path = tmp_path / NAME
    nbformat.write(nb, path)
    read, problem = read_notebook(path, NAME)
    assert problem is None and len(read.cells) == MAX_NOTEBOOK_CELLS
    nb.cells.append(nbformat.v4.new_markdown_cell("one too many"))
    nbformat.write(nb, path)
    read, problem = read_notebook(path, NAME)
    assert read is None and problem.kind == "not_notebook" and problem.notebook == NAME
    assert f"{MAX_NOTEBOOK_CELLS + 1} cells" in problem.detail


def test_a_link_a_folder_and_nothing_are_named(tmp_path):
    assert read_notebook(tmp_path / NAME, NAME)[1] == Problem("missing", NAME)
    (tmp_path / NAME).mkdir()
    assert read_notebook(tmp_path / NAME, NAME)[1] == Problem("not_regular", NAME)
    (tmp_path / "link.ipynb").symlink_to(tmp_path / NAME)
    assert read_notebook(tmp_path / "link.ipynb", NAME)[1] == Problem("symlink", NAME)


def test_edited_and_deleted_tests_and_raised_points_are_named(release):
    nb = copy.deepcopy(release)
    tests = [cell for cell in nb.cells if is_test(cell)]
    tests[0].source += "\npass"
    tests[1].metadata.nbgrader["points"] = 100
    nb.cells.remove(tests[2])
    found = tampering(nb, release, NAME)
    points = first(release, lambda c: grade_id(c) == grade_id(tests[1])).metadata.nbgrader[
        "points"
    ]
    assert found == [
        Problem("test_edited", NAME, grade_id(tests[0])),
        Problem("points_restored", NAME, f"{grade_id(tests[1])} (100 -> {points})"),
        Problem("test_deleted", NAME, grade_id(tests[2])),
    ]


def test_a_deleted_test_comes_back_right_after_the_graded_cell_before_it(release):
    nb = copy.deepcopy(release)
    test = first(nb, is_test)
    index = nb.cells.index(test)
    before = next(grade_id(c) for c in reversed(nb.cells[:index]) if grade_id(c))
    del nb.cells[index]
    assert restore_deleted_cells(nb, release) == [grade_id(test)]
    ids = [grade_id(c) for c in nb.cells]
    assert ids.index(grade_id(test)) == ids.index(before) + 1
    assert restore_deleted_cells(nb, release) == []


def test_metadata_stripped_mistyped_changed_or_copied_is_put_right(release):
    nb = copy.deepcopy(release)
    answer = first(nb, lambda c: is_answer(c) and c.cell_type == "code")
    test = first(nb, is_test)
    answer_id, test_id = grade_id(answer), grade_id(test)
    answer.metadata["nbgrader"] = "not a dict"  # nbformat allows any metadata value
    test.metadata.nbgrader["solution"] = True  # a test passed off as an answer
    nb.cells.append(copy.deepcopy(test))  # a copy-pasted test
    pasted = copy.deepcopy(test)
    pasted.metadata.nbgrader["grade_id"] = "from_elsewhere"
    nb.cells.append(pasted)
    found = repair_metadata(nb, release, NAME)
    assert found == [
        Problem("metadata_restored", NAME, answer_id),
        Problem("metadata_reset", NAME, test_id),
        Problem("duplicate_ignored", NAME, test_id),
        Problem("foreign_cell", NAME, "from_elsewhere"),
    ]
    assert grade_id(answer) == answer_id and is_test(test)
    assert [grade_id(c) for c in nb.cells].count(test_id) == 1
    assert "nbgrader" not in nb.cells[-1].metadata  # the pasted cell runs as plain code


def test_a_test_turned_into_text_comes_back_as_code(release):
    nb = copy.deepcopy(release)
    test = first(nb, is_test)
    index = nb.cells.index(test)
    nb.cells[index] = nbformat.v4.new_markdown_cell(test.source, metadata=test.metadata)
    assert repair_metadata(nb, release, NAME) == [
        Problem("cell_type_restored", NAME, grade_id(test))
    ]
    assert nb.cells[index].cell_type == "code" and is_test(nb.cells[index])
