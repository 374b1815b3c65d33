"""instructor.nbgrader_adapter: the pieces plugged into nbgrader's autograde.

The faster metadata check is held to nbgrader's own, cell by cell, on valid and broken cells;
TrustedExecute, for nbgrader's own autograde command, runs a student in the sandbox. (make
grade sanitizes from GradebookSnapshot: tests/test_record.py holds it to nbgrader's.)
"""

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from instructor.course import SOURCE_ROOT, find_assignment
from instructor.nbgrader_adapter import (
    CheckCellMetadataOnce,
    FastMetadataValidator,
    share_gradebook_engines,
)

NOTEBOOKS = SOURCE_ROOT / find_assignment(SOURCE_ROOT)


def _graded_cells():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        yield from (cell for cell in nb.cells if "nbgrader" in cell.metadata)


BREAKAGES = {
    "no grade_id": lambda meta: meta.pop("grade_id"),
    "empty grade_id": lambda meta: meta.update(grade_id=""),
    "points as text": lambda meta: meta.update(points="ten"),
    "negative points": lambda meta: meta.update(points=-1),
    "grade as text": lambda meta: meta.update(grade="yes"),
    "no locked flag": lambda meta: meta.pop("locked"),
    "an unknown key": lambda meta: meta.update(surprise=1),
    "old schema": lambda meta: meta.update(schema_version=2),
    "new schema": lambda meta: meta.update(schema_version=4),
    "no schema": lambda meta: meta.pop("schema_version"),
    "not a dict": None,
}


def _outcome(validator, cell):
    try:
        validator.validate_cell(cell)
    except Exception as error:  # nbgrader's errors, or whatever garbage makes it raise
        return type(error).__name__, str(error)
    return "valid", ""


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_the_fast_check_agrees_with_nbgrader_on_every_cell(breakage):
    cells = list(_graded_cells())
    assert cells, "the source notebooks should have nbgrader cells"
    ours, theirs = FastMetadataValidator(), MetadataValidator()
    outcomes = set()
    for cell in cells:
        cell = copy.deepcopy(cell)
        if BREAKAGES[breakage] is None:
            cell.metadata["nbgrader"] = "not metadata"
        else:
            BREAKAGES[breakage](cell.metadata["nbgrader"])
        expected = _outcome(theirs, cell)
        assert _outcome(ours, cell) == expected, (breakage, cell.metadata["nbgrader"])
        outcomes.add(expected[0])
    # Each breakage must be caught by nbgrader on at least some cell: else it tests nothing.
    assert outcomes - {"valid"}, f"nbgrader accepts {breakage!r} everywhere"


def test_every_cell_of_the_course_is_valid_for_both():
    for cell in _graded_cells():
        assert _outcome(FastMetadataValidator(), cell) == ("valid", "")
        assert _outcome(MetadataValidator(), cell) == ("valid", "")


def test_a_notebook_with_a_duplicated_grade_id_fails_the_preprocessor():
    (path, *_) = sorted(NOTEBOOKS.glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    graded[1].metadata["nbgrader"]["grade_id"] = graded[0].metadata["nbgrader"]["grade_id"]
    with pytest.raises(ValidationError, match="may be corrupted"):
        CheckCellMetadataOnce().preprocess(nb, {})
    with pytest.raises(ValidationError, match="Duplicate grade id"):
        MetadataValidator().validate_nb(nb)


def test_gradebooks_of_one_database_share_an_engine_and_still_close(tmp_path):
    import nbgrader.api
    from nbgrader.api import Gradebook

    share_gradebook_engines()
    wrapper = nbgrader.api.create_engine
    share_gradebook_engines()  # a second call wraps nothing twice
    assert nbgrader.api.create_engine is wrapper
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    with Gradebook(first) as gradebook:
        gradebook.add_student("ada")
        engine = gradebook.engine
    # Closed: no connection left open on the database.
    assert engine.pool.checkedout() == 0
    with Gradebook(first) as again, Gradebook(second) as other:
        assert again.engine is engine and other.engine is not engine
        assert again.find_student("ada").id == "ada"
        assert [student.id for student in other.students] == []


@pytest.mark.slow
def test_nbgrader_autograde_by_hand_runs_in_the_sandbox_and_is_judged(tmp_path):
    """`nbgrader autograde` run by hand in a course folder (make grade does not use it)
    still runs student code as user 65534 and scores test cells by the judge."""
    import shutil

    from instructor.cells import is_test
    from instructor.course import open_api, setup_course
    from instructor.ledger import Ledger

    name = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))[0]
    source = tmp_path / "source" / NOTEBOOKS.name
    source.mkdir(parents=True)
    shutil.copy2(NOTEBOOKS / name, source / name)
    course = setup_course(tmp_path / "out", Ledger(tmp_path / "out"), source.parent)
    nb = nbformat.read(source / name, as_version=4)  # the solution, as a student's work
    nb.cells.append(nbformat.v4.new_code_cell("import os\nprint('uid', os.getuid())"))
    folder = course.student_dir("submitted", "ada")
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / name)
    result = open_api(course.config).autograde(course.assignment, "ada", force=True)
    assert result["success"], result.get("error")
    graded = nbformat.read(course.student_dir("autograded", "ada") / name, as_version=4)
    assert "uid 65534" in graded.cells[-1].outputs[0]["text"]
    tests = [cell for cell in graded.cells if is_test(cell)]
    assert tests and all(
        [o.output_type for o in cell.outputs] == ["stream"] for cell in tests
    )  # the judge's report only, every check passed
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        submission = gb.find_submission(course.assignment, "ada")
        assert submission.code_score == submission.max_code_score > 0
