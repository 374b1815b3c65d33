"""instructor/record.py (with run.finish before it): what nbgrader itself would record.

The oracle is nbgrader: the same students' submitted notebooks go through nbgrader's own
autograde and generate_feedback, with the kernel run replaced on both sides by one
deterministic stand-in (``executed``: test cells pass or fail by rule, an answer with a
syntax error raises). The course's stages must leave the same gradebook (every grade and
comment), the same autograded notebooks and the same feedback pages, byte for byte.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbgrader.preprocessors import NbGraderPreprocessor

from instructor import cells, judge
from instructor.course import (
    SOURCE_ROOT,
    find_assignment,
    open_api,
    quiet_known_warnings,
    setup_course,
)
from instructor.example_class import build_example_class
from instructor.execution import notebook_from_data
from instructor.export import read_rows
from instructor.intake import Intake
from instructor.ledger import Ledger
from instructor.nbgrader_adapter import TrustedExecute
from instructor.problems import Problem
from instructor.record import Recorder
from instructor.run import finish, job_data

ASSIGNMENT = find_assignment(SOURCE_ROOT)
NAMES = sorted(path.name for path in (SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))[:2]
STUDENTS = ["full_solution", "blank_release", "syntax_error", "test_cell_deleted",
            "missing_notebook", "points_raised"]  # fmt: skip


def executed(nb):
    """A stand-in for the sandboxed run and judge, the same whoever calls it: every other
    test cell fails, an answer that does not parse raises SyntaxError, others print."""
    tests = 0
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        if cells.is_test(cell):
            grade_id = cell.metadata.nbgrader["grade_id"]
            passed = tests % 2 == 0
            tests += 1
            verdict = judge.Verdict(grade_id, passed, f"{grade_id}: checked\n",
                                    None if passed else f"CheckFailed: {grade_id}")
            cell.outputs = [nbformat.from_dict(o) for o in judge.verdict_outputs(verdict)]
        elif "def unfinished(:" in cell.source:
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="SyntaxError", evalue="invalid syntax", traceback=["SyntaxError"]
            )]
        else:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    return nb


class Replay(NbGraderPreprocessor):
    """nbgrader's Execute replaced by the stand-in run."""

    def preprocess(self, nb, resources):
        return executed(nb), resources


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The students recorded by the course's stages (ours) and by nbgrader (theirs)."""
    quiet_known_warnings()
    root = tmp_path_factory.mktemp("record")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for name in NAMES:
        shutil.copy2(SOURCE_ROOT / ASSIGNMENT / name, source / name)
    ours, theirs = root / "ours", root / "theirs"
    ledger = Ledger(ours)
    course = setup_course(ours, ledger, source.parent, assignment=ASSIGNMENT, sandbox=False)
    build_example_class(course.release_dir, source, root / "everyone")
    submissions = root / "submissions"
    for student in STUDENTS:
        shutil.copytree(root / "everyone" / student, submissions / student)
    intake = Intake(course, ledger, submissions)
    with Recorder(course, ledger, batch=4) as recorder:  # two batches
        for student in STUDENTS:
            job = intake.take(student)
            data = job_data(job, course, [])
            results = {
                name: finish(executed(notebook_from_data(nb)), name, data, []).as_data()
                for name, nb in job.notebooks.items()
            }
            recorder.record(job, results)

    theirs_course = setup_course(theirs, Ledger(theirs), source.parent, assignment=ASSIGNMENT,
                                 sandbox=False)
    config = theirs_course.config
    chain = list(config.Autograde.autograde_preprocessors)
    config.Autograde.autograde_preprocessors = [
        Replay if kind is TrustedExecute else kind for kind in chain
    ]
    api = open_api(config)
    for student in STUDENTS:
        shutil.copytree(course.student_dir("submitted", student),
                        theirs_course.student_dir("submitted", student))
        for action in (api.autograde, api.generate_feedback):
            result = action(ASSIGNMENT, student, force=True)
            assert result["success"], result.get("error") or result.get("log")
    return course, theirs_course


def gradebook(course) -> dict:
    """Every grade and comment of every student, by (student, notebook, grade_id)."""
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for student in STUDENTS:
            for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
                key = (student, notebook.name)
                found[key] = (notebook.score, notebook.late_submission_penalty)
                for grade in notebook.grades:
                    found[(*key, grade.name)] = (
                        grade.auto_score, grade.manual_score, grade.needs_manual_grade,
                        grade.score, grade.max_score,
                    )
                for comment in notebook.comments:
                    found[(*key, comment.name, "comment")] = (
                        comment.auto_comment, comment.manual_comment
                    )
    return found


def files(course, kind: str) -> dict:
    folder = course.root / kind
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "timestamp.txt"
    }


def test_the_gradebook_holds_what_nbgrader_would_record(both):
    ours, theirs = gradebook(both[0]), gradebook(both[1])
    assert ours == theirs
    # Not trivially equal: scores of every kind, comments, a written answer to grade.
    grades = [value for key, value in ours.items() if len(key) == 3]
    assert {g[0] for g in grades} >= {0.0, None} and any(g[0] and g[0] > 0 for g in grades)
    assert any(g[2] for g in grades) and any(not g[2] for g in grades)
    assert "No response." in {value[0] for key, value in ours.items() if len(key) == 4}


def test_the_rows_are_nbgrader_rows(both):
    ours, theirs = (read_rows(c.db_url, c.course_id, ASSIGNMENT) for c in both)
    assert [(r.student_id, r.scores, r.total, r.manual_pending) for r in ours] == [
        (r.student_id, r.scores, r.total, r.manual_pending) for r in theirs
    ]
    assert len(ours) == len(STUDENTS)


def test_autograded_notebooks_are_nbgrader_s_byte_for_byte(both):
    ours, theirs = files(both[0], "autograded"), files(both[1], "autograded")
    assert ours.keys() == theirs.keys() and ours
    assert ours == theirs


def test_feedback_pages_are_nbgrader_s_byte_for_byte(both):
    ours, theirs = files(both[0], "feedback"), files(both[1], "feedback")
    assert ours.keys() == theirs.keys() and ours
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different


def test_the_ledger_keeps_typed_problems_and_the_sandbox_opt_out(both):
    course = both[0]
    ledger = Ledger(course.root)
    entry = ledger.entry("test_cell_deleted")
    assert entry["graded"] and entry["sandbox"] is False
    problems = [Problem.from_data(p) for p in entry["problems"]]
    assert [p.kind for p in problems] == ["test_deleted"]
    assert ledger.entry("missing_notebook")["problems"] == [
        Problem("missing", NAMES[1]).as_data()
    ]
    assert ledger.entry("syntax_error")["problems"][0]["kind"] == "answer_errors"


def test_a_person_s_grade_survives_a_regrade_and_reaches_the_feedback(both, tmp_path):
    """SaveAutoGrades keeps a manual score and marks it for review; the page shows it."""
    from nbgrader.api import Gradebook

    course = both[0]
    ledger = Ledger(course.root)
    with Gradebook(course.db_url, course.course_id) as gb:
        notebook = gb.find_submission_notebook(NAMES[0][:-6], ASSIGNMENT, "full_solution")
        grade = next(g for g in notebook.grades if g.auto_score)
        grade.manual_score, name = 0.25, grade.name
        gb.db.commit()
    submissions = tmp_path / "again"
    shutil.copytree(course.student_dir("submitted", "full_solution"),
                    submissions / "full_solution" / ASSIGNMENT)
    ledger.students["full_solution"]["graded"] = False  # as if the submission had changed
    job = Intake(course, ledger, submissions).take("full_solution")
    data = job_data(job, course, [])
    with Recorder(course, ledger) as recorder:
        recorder.record(job, {
            n: finish(executed(notebook_from_data(nb)), n, data, []).as_data()
            for n, nb in job.notebooks.items()
        })
    with Gradebook(course.db_url, course.course_id) as gb:
        grade = gb.find_grade(name, NAMES[0][:-6], ASSIGNMENT, "full_solution")
        assert (grade.manual_score, grade.needs_manual_grade, grade.score) == (0.25, True, 0.25)
    page = course.student_dir("feedback", "full_solution") / (NAMES[0][:-6] + ".html")
    assert "Score: 0.25 /" in page.read_text()


def record_one(course, ledger, submissions, student, results=None, failure=None):
    """Take ``student`` in and record it with the stand-in run (or ``results``/``failure``)."""
    job = Intake(course, ledger, submissions).take(student)
    if results is None and failure is None and job.notebooks:
        data = job_data(job, course, [])
        results = {
            name: finish(executed(notebook_from_data(nb)), name, data, []).as_data()
            for name, nb in job.notebooks.items()
        }
    with Recorder(course, ledger) as recorder:
        return recorder.record(job, results, failure)


def row_of(course, student):
    ledger = Ledger(course.root)
    rows = read_rows(course.db_url, course.course_id, ASSIGNMENT, ledger.state)
    return next(r for r in rows if r.student_id == student)


def test_a_student_who_crashed_the_grader_scores_zero_and_is_not_run_again(both, tmp_path):
    course = both[0]
    ledger = Ledger(course.root)
    submissions = tmp_path / "subs"
    shutil.copytree(course.student_dir("submitted", "full_solution"),
                    submissions / "full_solution" / ASSIGNMENT)
    job = Intake(course, ledger, submissions).take("full_solution")
    ledger.mark_running("full_solution", job.digest)  # ... and the grader died there
    for _ in range(2):  # reported every run until the submission changes
        ledger = Ledger(course.root)
        assert record_one(course, ledger, submissions, "full_solution") == [
            Problem("crashed_grader")
        ]
        row = row_of(course, "full_solution")
        assert "not retried" in row.status and row.total == 0


def test_a_job_that_failed_or_sent_garbage_costs_that_student_only(both, tmp_path):
    course = both[0]
    ledger = Ledger(course.root)
    submissions = tmp_path / "subs"
    for student in ("blank_release", "points_raised"):
        shutil.copytree(course.student_dir("submitted", student),
                        submissions / student / ASSIGNMENT)
    ledger.students.clear()
    problems = record_one(course, ledger, submissions, "blank_release",
                          failure="KilledWorker: died twice")
    assert problems[-1] == Problem("job_failed", None, "KilledWorker: died twice")
    assert not Ledger(course.root).entry("blank_release")["graded"]  # graded next run
    problems = record_one(course, ledger, submissions, "points_raised",
                          results={NAMES[0]: {"notebook": 3}})
    assert problems[-1].kind == "record_failed"
    assert row_of(course, "points_raised").total == 0
    assert not course.student_dir("feedback", "blank_release").exists()


@pytest.mark.slow
def test_the_writer_benchmark_replays_the_grades_of_a_normal_run(tmp_path, monkeypatch):
    """benchmarks/record's replay (results captured from real runs, recorded under new ids)
    gives each copy the row a normal `make grade` of the same student gives."""
    from instructor.course import REPO_ROOT

    monkeypatch.syspath_prepend(str(REPO_ROOT))  # benchmarks/ is no installed package
    from benchmarks.record import capture, replay
    from instructor.grade import grade_class

    kinds = ["full_solution", "test_cell_deleted"]
    source, submissions, captured = capture(tmp_path / "bench", kinds, slice(0, 2))
    normal = {
        row.student_id: row
        for row in grade_class(submissions, tmp_path / "normal", source_root=source, workers=1,
                               echo=lambda line: None)
    }
    replay(captured, tmp_path / "replayed", source, 4)
    course_root = tmp_path / "replayed"
    ledger = Ledger(course_root)
    from instructor.course import load_config

    config = load_config(course_root).CourseDirectory
    rows = read_rows(config.db_url, config.course_id, ASSIGNMENT, ledger.state)
    assert len(rows) == 4
    for row in rows:
        kind = row.student_id.rsplit("_", 1)[0]
        expected = normal[kind]
        assert (row.scores, row.total, row.manual_pending, row.status) == (
            expected.scores, expected.total, expected.manual_pending, expected.status
        )
    assert normal["full_solution"].total > 0 and "restored" in normal["test_cell_deleted"].status
