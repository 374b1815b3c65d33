"""Run, the second stage of grading: a job -> its result, on a worker.

For each notebook of a job: the sandboxed run and the judge (:mod:`instructor.execution`),
then everything that follows from them without the gradebook, as nbgrader's autograde and
feedback would do it: nbgrader's output preprocessors (``IgnorePattern``,
``ClearMetadataPreprocessor``, ``LimitOutput``), each graded cell's score
(``nbgrader.utils.determine_grade``, as ``SaveAutoGrades``), each answer's automatic comment,
the answer cells that raised, and the feedback page (the course's feedback chain, the scores
put in the cells as ``GetGrades`` would). Plain data in, plain data out: a worker needs the
kit installed and nothing else.

Next: :mod:`instructor.record` writes the result on the single writer.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils

from instructor import cells, judge
from instructor.execution import execute_and_judge, notebook_from_data
from instructor.limits import CELL_TIMEOUT_SECONDS
from instructor.problems import Problem, run_kind

# nbgrader's autograde preprocessors that follow Execute and only transform the notebook;
# the gradebook's (SaveAutoGrades, AssignLatePenalties) are record's, done from the scores.
OUTPUT_PREPROCESSORS = ("IgnorePattern", "ClearMetadataPreprocessor", "LimitOutput")
# A time-out shows in an answer cell as the interrupt it caused; the run reports those.
INTERRUPTED_ERRORS = ("CellTimeoutError", "KeyboardInterrupt")


class WorkerProblem(RuntimeError):
    """A worker cannot grade at all (no sandbox there, say)."""


@dataclass
class NotebookResult:
    """One notebook run, judged and scored.

    Attributes
    ----------
    notebook : str
        The autograded notebook's file text, as ``OUT/autograded`` keeps it.
    scores : dict of str to float or None
        grade_id -> automatic score of each graded cell (None: for a person to grade).
    comments : dict of str to str or None
        grade_id -> automatic comment of each answer cell ("No response." when unchanged).
    problems : list of Problem
    feedback : str or None
        The feedback page (HTML), None when it could not be made.
    tests : list of dict
        Each test cell's verdict and checks (``judge.verdict_data``), for the class report.
    seconds : float
        What running, judging and scoring the notebook took.
    """

    notebook: str
    scores: dict[str, float | None]
    comments: dict[str, str | None]
    problems: list[Problem] = field(default_factory=list)
    feedback: str | None = None
    tests: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def as_data(self) -> dict:
        return {
            "notebook": self.notebook,
            "scores": dict(self.scores),
            "comments": dict(self.comments),
            "problems": [problem.as_data() for problem in self.problems],
            "feedback": self.feedback,
            "tests": list(self.tests),
            "seconds": self.seconds,
        }

    @classmethod
    def from_data(cls, data: dict) -> NotebookResult:
        return cls(
            data["notebook"],
            data["scores"],
            data["comments"],
            [Problem.from_data(problem) for problem in data["problems"]],
            data.get("feedback"),
            list(data.get("tests", [])),
            float(data.get("seconds", 0.0)),
        )


def job_data(job, course, hide) -> dict:
    """What a worker needs to run ``job`` (an intake Job), as plain data."""
    return {
        "student_id": job.student_id,
        "digest": job.digest,
        "assignment": course.assignment,
        "notebooks": job.notebooks,
        "sandboxed": course.sandbox,
        "timeout": float(course.config.Execute.get("timeout", CELL_TIMEOUT_SECONDS)),
        "hide": list(hide),
        "autograded_dir": str(course.student_dir("autograded", job.student_id)),
    }


def run_job(job: dict, sources: dict) -> dict:
    """Worker side: run, judge and score each notebook of one student.

    Parameters
    ----------
    job : dict
        :func:`job_data`'s plain data.
    sources : dict
        ``{name: notebook dict}``: the instructor's source notebooks.

    Returns
    -------
    dict
        ``{name: NotebookResult.as_data()}``.

    Raises
    ------
    WorkerProblem
        The worker has no working sandbox.
    """
    if job["sandboxed"]:
        from instructor.sandbox import sandbox_problem

        problem = sandbox_problem()
        if problem:
            raise WorkerProblem(f"worker on {os.uname().nodename} has no sandbox: {problem}")
    results = {}
    for name, nb in job["notebooks"].items():
        started = time.perf_counter()
        run = execute_and_judge(
            notebook_from_data(nb),
            notebook_from_data(sources[name]),
            sandboxed=job["sandboxed"],
            timeout=job["timeout"],
            hide=job.get("hide", ()),
        )
        problems = [Problem(run_kind(text), name, str(text)) for text in run.problems]
        result = finish(run.notebook, name, job, problems)
        result.tests = [judge.verdict_data(verdict) for verdict in run.verdicts]
        result.seconds = time.perf_counter() - started
        results[name] = result.as_data()
    return results


def finish(nb, name: str, job: dict, problems: list[Problem]) -> NotebookResult:
    """Everything after the run of one notebook: outputs, scores, comments, feedback.

    Parameters
    ----------
    nb : NotebookNode
        The notebook as run and judged (test cells carry the judge's report).
    name : str
        Its file name.
    job : dict
        The job's plain data (student, assignment, where the autograded copy goes).
    problems : list of Problem
        What the run found.
    """
    config = grading_config()
    resources = _resources(job, name)
    for kind in OUTPUT_PREPROCESSORS:
        nb, resources = _preprocessor(kind)(config)(nb, resources)
    scores, comments = {}, {}
    for cell in nb.cells:
        if utils.is_grade(cell):
            scores[cell.metadata.nbgrader["grade_id"]] = utils.determine_grade(cell)[0]
        if cells.has_comment(cell):
            unchanged = cell.metadata.nbgrader.get("checksum") == utils.compute_checksum(cell)
            comments[cell.metadata.nbgrader["grade_id"]] = (
                "No response." if unchanged and not utils.is_task(cell) else None
            )
    broken = answer_errors(nb)
    if broken:
        problems = [*problems, Problem("answer_errors", name, broken)]
    text = nbformat.writes(nb)
    feedback = None
    try:
        feedback = feedback_page(nbformat.reads(text, as_version=4), name, job, scores, comments)
    except Exception as error:  # a page that cannot be made costs no grade
        problems = [*problems, Problem("no_feedback", name, f"{type(error).__name__}: {error}")]
    return NotebookResult(text + "\n", scores, comments, problems, feedback)


def answer_errors(nb) -> str:
    """The answer cells that raised when run (a SyntaxError, say): ``"id (Error), ..."``.

    A wrong answer only costs points; an answer cell that does not even run is worth telling
    the instructor plainly. Time-outs are reported by the run itself.
    """
    broken = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not cells.is_answer(cell):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") not in (
                INTERRUPTED_ERRORS
            ):
                broken.append(f"{cell.metadata.nbgrader.get('grade_id')} ({output.get('ename')})")
                break
    return ", ".join(broken)


def feedback_page(nb, name: str, job: dict, scores: dict, comments: dict) -> str:
    """The feedback page of one autograded notebook, as nbgrader's generate_feedback makes it
    from a fresh gradebook entry (automatic scores and comments, no person's yet)."""
    notebook_score = 0.0
    for cell in nb.cells:
        if cells.is_graded(cell):
            score = scores.get(cell.metadata.nbgrader["grade_id"])
            # Grade.score: the automatic score, 0.0 when there is none.
            cell.metadata.nbgrader["score"] = 0.0 if score is None else float(score)
            cell.metadata.nbgrader["points"] = float(cell.metadata.nbgrader.get("points", 0))
            notebook_score += cell.metadata.nbgrader["score"]
        if cells.has_comment(cell):
            # Comment.comment: the automatic comment while no person wrote one.
            cell.metadata.nbgrader["comment"] = comments.get(cell.metadata.nbgrader["grade_id"])
    resources = _resources(job, name)
    resources["nbgrader"].update(
        score=notebook_score,
        max_score=sum(
            float(c.metadata.nbgrader.get("points", 0))
            for c in nb.cells
            if cells.is_graded(c)
        ),
        late_penalty=0,
    )
    resources["metadata"] = {"name": Path(name).stem, "path": job.get("autograded_dir", "")}
    html, _ = _feedback_exporter().from_notebook_node(nb, resources=resources)
    return html


def _resources(job: dict, name: str) -> dict:
    return {
        "unique_key": Path(name).stem,
        "output_files_dir": f"{Path(name).stem}_files",
        "nbgrader": {
            "student": job["student_id"],
            "assignment": job["assignment"],
            "notebook": Path(name).stem,
            "db_url": None,
        },
    }


@functools.cache
def grading_config():
    """The repository's nbgrader settings (this process's copy of the kit)."""
    from instructor.course import load_config

    return load_config(Path(tempfile.gettempdir()))


@functools.cache
def _preprocessor(kind: str):
    """The class of one of nbgrader's autograde preprocessors, by name, from the config."""
    chain = grading_config().Autograde.get("autograde_preprocessors", [])
    (found,) = [pp for pp in chain if pp.__name__ == kind]

    def make(config):
        return found(config=config)

    return make


@functools.cache
def _feedback_exporter():
    """The exporter generate_feedback uses, with its preprocessors after GetGrades."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades

    converter = GenerateFeedback(coursedir=None, config=grading_config())
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    for preprocessor in converter.preprocessors:
        if preprocessor is not GetGrades:  # the scores are in the cells already
            exporter.register_preprocessor(preprocessor)
    return exporter
