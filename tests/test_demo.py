"""The example class's building blocks and the demo's table (fast: no kernels, no nbgrader)."""

import ast

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from instructor.demo import format_table
from instructor.example_class import (
    fill_answer,
    return_as_matrix,
    return_constant,
    solution_regions,
    solve,
)

STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
SOURCE = """def f(x):
    \"\"\"Double x.\"\"\"
    ### BEGIN SOLUTION
    y = 2 * x
    ### END SOLUTION
    return y"""
RELEASED = """def f(x):
    \"\"\"Double x.\"\"\"
    # YOUR CODE HERE
    raise NotImplementedError()
    return y"""


def answer(source, grade_id="f", cell=new_code_cell):
    c = cell(source)
    c.metadata.nbgrader = {
        "solution": True,
        "grade": False,
        "locked": False,
        "grade_id": grade_id,
        "schema_version": 3,
    }
    return c


def test_solution_regions_are_the_lines_between_markers():
    assert solution_regions(SOURCE) == [["    y = 2 * x"]]
    assert solution_regions("x = 1") is None


def test_fill_answer_puts_each_region_where_its_stub_was():
    filled = fill_answer(RELEASED, SOURCE, STUB)
    namespace = {}
    exec(filled, namespace)
    assert namespace["f"](3) == 6
    assert "NotImplementedError" not in filled and "BEGIN SOLUTION" not in filled


def test_fill_answer_names_a_mismatch():
    with pytest.raises(ValueError, match="1 solution regions in the source but 0 stubs"):
        fill_answer("def f(x):\n    return x", SOURCE, STUB)


def test_solve_matches_cells_by_grade_id_and_never_copies_other_cells():
    released = new_notebook(cells=[answer(RELEASED), new_code_cell("assert f(1) == 2")])
    source = new_notebook(
        cells=[answer(SOURCE), new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nsecret\n")]
    )
    solved = solve(released, source)
    assert "2 * x" in solved.cells[0].source
    assert solved.cells[1].source == "assert f(1) == 2"
    assert released.cells[0].source == RELEASED  # the release itself is left alone


def test_solve_replaces_a_whole_markdown_answer():
    released = new_notebook(cells=[answer("YOUR ANSWER HERE", "why", new_markdown_cell)])
    source = new_notebook(cells=[answer("Because.", "why", new_markdown_cell)])
    assert solve(released, source).cells[0].source == "Because."


def test_return_as_matrix_wraps_every_return_value():
    cell = new_code_cell("def g(a):\n    if a:\n        return a + 1\n    return 0")
    return_as_matrix(cell, "g")
    namespace = {}
    exec(cell.source, namespace)
    assert namespace["g"](1).shape == (1, 1) and namespace["g"](0)[0, 0] == 0


def test_return_constant_replaces_the_body():
    cell = new_code_cell('def g(a,\n      b):\n    """Doc."""\n    return a * b\n\nh = 1')
    return_constant(cell, "g", 2.5e-10)
    ast.parse(cell.source)
    namespace = {}
    exec(cell.source, namespace)
    assert namespace["g"](3, 4) == 2.5e-10 and namespace["h"] == 1


def test_format_table_aligns_columns(tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text("student_id,nb1,status\nfull_solution,5,ok\nx,0,missing notebook nb1\n")
    lines = format_table(grades).splitlines()
    assert lines[0].split() == ["student_id", "nb1", "status"]
    assert set(lines[1]) == {"-"}
    assert lines[2].index("5") == lines[3].index("0")
    assert lines[3].endswith("missing notebook nb1")


def test_written_notebooks_stay_valid(tmp_path):
    released = new_notebook(cells=[answer(RELEASED)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(solve(released, new_notebook(cells=[answer(SOURCE)])), path)
    nbformat.validate(nbformat.read(path, as_version=4))
