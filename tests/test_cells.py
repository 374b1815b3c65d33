"""instructor.cells: each of nbgrader's cell types (its Create Assignment menu) has the roles
the course gives it, and a cell a student could hand in with broken metadata has none."""

import nbformat
import pytest

from instructor import cells

ROLES = ("is_test", "is_answer", "is_autograded_answer", "is_graded", "is_given", "is_locked",
         "has_comment")
# nbgrader's menu entry -> (cell type, metadata flags) -> the roles that hold.
TYPES = {
    "Manually graded answer": ("code", {"solution": True, "grade": True},
                               {"is_answer", "is_graded", "has_comment"}),
    "Manually graded task": ("markdown", {"task": True}, {"is_graded", "has_comment"}),
    "Autograded answer": ("code", {"solution": True},
                          {"is_answer", "is_autograded_answer", "has_comment"}),
    "Autograder tests": ("code", {"grade": True, "locked": True},
                         {"is_test", "is_graded", "is_locked"}),
    "Read-only code": ("code", {"locked": True}, {"is_given", "is_locked"}),
    "Read-only text": ("markdown", {"locked": True}, {"is_locked"}),
}


def _cell(cell_type, flags):
    meta = {"solution": False, "grade": False, "locked": False, "grade_id": "x", **flags}
    new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return new("", metadata={"nbgrader": meta})


@pytest.mark.parametrize("name", TYPES)
def test_each_nbgrader_cell_type_has_its_roles(name):
    cell_type, flags, expected = TYPES[name]
    cell = _cell(cell_type, flags)
    assert {role for role in ROLES if getattr(cells, role)(cell)} == expected


@pytest.mark.parametrize("metadata", [{}, {"nbgrader": "not a dict"}, {"nbgrader": {}}])
def test_a_cell_without_readable_nbgrader_metadata_has_no_role(metadata):
    cell = nbformat.v4.new_code_cell("", metadata=metadata)
    assert not any(getattr(cells, role)(cell) for role in ROLES)
