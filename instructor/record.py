"""Record, the last stage of grading: results -> gradebook, ``OUT``, ledger, on the single writer.

For each student, the result of :mod:`instructor.run` is written as nbgrader's autograde and
generate_feedback would leave it: ``OUT/submitted`` (the repaired notebooks),
``OUT/autograded`` (the run ones), ``OUT/feedback`` (the pages), and in the gradebook the
student, the submission, every graded cell's automatic score (a person's score kept, and
marked for review, as ``SaveAutoGrades`` does) and every answer's automatic comment. A
notebook without a result scores zero, as nbgrader does for a missing one.

Gradebook writes are batched: students are committed together, in one transaction, every
``BATCH_STUDENTS`` students or ``BATCH_SECONDS`` (and when the run ends or is interrupted);
the ledger is saved after each commit, so it never claims a student the gradebook lacks.
A student the gradebook held a person's grade or comment for gets its feedback made again
from the gradebook, by nbgrader, after the commit.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from instructor import report as class_report
from instructor.course import Course, only_notebook, open_api
from instructor.intake import RUN, UNCHANGED, Job
from instructor.ledger import Ledger
from instructor.limits import BATCH_SECONDS, BATCH_STUDENTS
from instructor.problems import Problem
from instructor.run import NotebookResult

OUT_FOLDERS = ("submitted", "autograded", "feedback")


@dataclass
class _Pending:
    """One student waiting for the next commit."""

    job: Job
    results: dict[str, NotebookResult] | None
    problems: list[Problem]
    graded: bool
    crashed: bool = False
    zero: bool = False
    manual_feedback: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Recorder:
    """The single writer of one course's gradebook, ``OUT`` folders and ledger.

    Use as a context manager: leaving it commits what is pending, whatever happened.
    """

    def __init__(self, course: Course, ledger: Ledger, batch: int = BATCH_STUDENTS):
        self.course = course
        self.ledger = ledger
        self.batch = batch
        self.pending: list[_Pending] = []
        self.since = time.monotonic()
        self._cells = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()

    def record(self, job: Job, results: dict | None = None, failure: str | None = None):
        """Record one student; return its problems (for the progress line): Problem records,
        or their plain data for an unchanged student.

        Parameters
        ----------
        job : Job
            The intake's job (any action).
        results : dict, optional
            ``{name: NotebookResult.as_data()}`` from :func:`instructor.run.run_job`.
        failure : str, optional
            Why the job could not be run (its workers died, no sandbox there, ...).
        """
        if job.action == UNCHANGED:  # graded before: the ledger keeps what was found then
            return list(self.ledger.entry(job.student_id).get("problems", []))
        started = time.perf_counter()
        if job.action == RUN and failure is None:
            try:
                decoded = {name: NotebookResult.from_data(data) for name, data in results.items()}
                problems = [*job.problems]
                for name in self.course.notebooks:
                    if name in decoded:
                        problems += decoded[name].problems
                self._write_files(job, decoded)
                pending = _Pending(job, decoded, problems, graded=True)
                pending.seconds = sum(result.seconds for result in decoded.values())
            except Exception as error:  # nothing one student sends back may stop the class
                problem = Problem("record_failed", None, f"{type(error).__name__}: {error}")
                pending = _Pending(job, None, [*job.problems, problem], graded=True, zero=True)
        elif job.action == RUN:
            self._clear_files(job.student_id)
            problem = Problem("job_failed", None, failure)
            pending = _Pending(job, None, [*job.problems, problem], graded=False, zero=True)
        else:
            crashed = any(p.kind == "crashed_grader" for p in job.problems)
            pending = _Pending(job, None, job.problems, graded=False, crashed=crashed, zero=crashed)
        pending.seconds += time.perf_counter() - started
        self.pending.append(pending)
        if len(self.pending) >= self.batch or time.monotonic() - self.since > BATCH_SECONDS:
            self.flush()
        return pending.problems

    def flush(self) -> None:
        """Commit every pending student to the gradebook, then save the ledger.

        Interrupted (Ctrl-C) on the way, the students stay pending for the next flush: the
        gradebook's transaction was not committed, and writing a student again is the same.
        """
        pending = list(self.pending)
        self.since = time.monotonic()
        if not pending:
            return
        in_gradebook = [p for p in pending if p.zero or p.results is not None]
        if in_gradebook:
            self._commit(in_gradebook)
        for p in pending:
            job = p.job
            results = {name: {"tests": r.tests} for name, r in (p.results or {}).items()}
            self.ledger.note(
                job.student_id,
                job.digest if p.graded or p.crashed else None,
                p.problems,
                graded=p.graded,
                sandbox=self.course.sandbox,
                crashed=p.crashed,
                report=class_report.student_entry(
                    results, [problem.kind for problem in p.problems], p.seconds
                ),
            )
        self.ledger.save()
        del self.pending[: len(pending)]
        for p in pending:
            if p.manual_feedback:
                self._feedback_from_gradebook(p)

    def _commit(self, pending: list[_Pending]) -> None:
        """Write the students in one transaction; should that fail, one at a time."""
        from nbgrader.api import Gradebook

        with Gradebook(self.course.db_url, self.course.course_id) as gb:
            try:
                for p in pending:
                    self._write_student(gb.db, p)
                gb.db.commit()
                return
            except Exception:
                gb.db.rollback()
            for p in pending:
                try:
                    self._write_student(gb.db, p)
                    gb.db.commit()
                except Exception as error:
                    gb.db.rollback()
                    problem = Problem("record_failed", None, f"{type(error).__name__}: {error}")
                    p.problems = [*p.problems, problem]
                    p.graded = False

    def _cell_map(self, db):
        """The assignment's notebooks and cells, read once: ``(assignment id, notebooks)``,
        notebooks being ``[(name, notebook id, [(cell id, grade_id, grade?, comment?)])]``."""
        if self._cells is None:
            from nbgrader.api import Assignment

            name = self.course.assignment
            assignment = db.query(Assignment).filter(Assignment.name == name).one()
            notebooks = []
            for notebook in assignment.notebooks:
                cells = {}
                for cell in notebook.grade_cells:
                    cells[cell.id] = [cell.name, True, False]
                for cell in [*notebook.solution_cells, *notebook.task_cells]:
                    cells.setdefault(cell.id, [cell.name, False, False])[2] = True
                for cell in notebook.task_cells:
                    cells[cell.id][1] = True
                notebooks.append(
                    (notebook.name + ".ipynb", notebook.id,
                     [(cell_id, *flags) for cell_id, flags in cells.items()])
                )
            self._cells = (assignment.id, notebooks)
        return self._cells

    def _write_student(self, db, p: _Pending) -> None:
        """Add or update one student's submission, grades and comments in session ``db``."""
        from nbgrader.api import (
            Comment,
            Grade,
            Student,
            SubmittedAssignment,
            SubmittedNotebook,
        )

        assignment_id, notebooks = self._cell_map(db)
        student_id = p.job.student_id
        if db.get(Student, student_id) is None:
            db.add(Student(id=student_id))
        submission = (
            db.query(SubmittedAssignment)
            .filter_by(assignment_id=assignment_id, student_id=student_id)
            .one_or_none()
        )
        grades, comments, submitted = {}, {}, {}
        if submission is None:
            submission = SubmittedAssignment(assignment_id=assignment_id, student_id=student_id)
            db.add(submission)
        else:
            for notebook in db.query(SubmittedNotebook).filter_by(assignment_id=submission.id):
                submitted[notebook.notebook_id] = notebook
            ids = [notebook.id for notebook in submitted.values()]
            for grade in db.query(Grade).filter(Grade.notebook_id.in_(ids)):
                grades[(grade.notebook_id, grade.cell_id)] = grade
            for comment in db.query(Comment).filter(Comment.notebook_id.in_(ids)):
                comments[(comment.notebook_id, comment.cell_id)] = comment
        for name, notebook_id, cells in notebooks:
            notebook = submitted.get(notebook_id)
            if notebook is None:
                notebook = SubmittedNotebook(notebook_id=notebook_id, assignment=submission)
                db.add(notebook)
            notebook.late_submission_penalty = None  # no timestamps: never late
            result = (p.results or {}).get(name)
            for cell_id, grade_id, graded, commented in cells:
                if graded:
                    grade = grades.get((notebook.id, cell_id))
                    if grade is None:
                        grade = Grade(cell_id=cell_id, notebook=notebook)
                        db.add(grade)
                    if result is None:
                        grade.auto_score, grade.manual_score = 0.0, None
                        grade.needs_manual_grade = False
                    else:
                        grade.auto_score = result.scores.get(grade_id)
                        grade.needs_manual_grade = (
                            grade.manual_score is not None or grade.auto_score is None
                        )
                        if grade.manual_score is not None and name not in p.manual_feedback:
                            p.manual_feedback.append(name)
                if commented:
                    comment = comments.get((notebook.id, cell_id))
                    if comment is None:
                        comment = Comment(cell_id=cell_id, notebook=notebook)
                        db.add(comment)
                    if result is not None:
                        comment.auto_comment = result.comments.get(grade_id)
                        if comment.manual_comment and name not in p.manual_feedback:
                            p.manual_feedback.append(name)

    def _clear_files(self, student_id: str) -> None:
        for kind in OUT_FOLDERS:
            folder = self.course.student_dir(kind, student_id)
            if folder.exists():
                shutil.rmtree(folder)

    def _write_files(self, job: Job, results: dict[str, NotebookResult]) -> None:
        """The student's folders in OUT, rewritten: nothing stale survives a regrade."""
        self._clear_files(job.student_id)
        folders = {kind: self.course.student_dir(kind, job.student_id) for kind in OUT_FOLDERS}
        for name, text in job.submitted.items():
            _write_text(folders["submitted"] / name, text)
        for name, result in results.items():
            _write_text(folders["autograded"] / name, result.notebook)
            if result.feedback is not None:
                _write_text(folders["feedback"] / (Path(name).stem + ".html"), result.feedback)

    def _feedback_from_gradebook(self, p: _Pending) -> None:
        """Pages of a student with a person's grades: nbgrader makes them from the gradebook."""
        api = open_api(self.course.config)
        for name in p.manual_feedback:
            with only_notebook(api, name):
                result = api.generate_feedback(self.course.assignment, p.job.student_id, force=True)
            if not result.get("success"):
                self.ledger.students[p.job.student_id]["problems"].append(
                    Problem("no_feedback", name, "nbgrader generate_feedback failed").as_data()
                )
        self.ledger.save()


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

