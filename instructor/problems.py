"""What grading found unusual about a student, as typed records, and their words.

Every stage reports a :class:`Problem` (what kind, which notebook, a detail), never a
sentence; the records travel through the job, the result and the ledger as plain data, and
are turned into words once, by :func:`words`, where a person reads them (``grades.csv``,
the progress lines). Code decides on ``kind``, never on the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from instructor.limits import MAX_DETAIL_CHARS

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

# kind -> the words, with {notebook} and {detail} filled in.
WORDS = {
    # The student's folder (intake)
    "bad_student_id": "folder name is not a usable student id",
    "no_assignment_folder": "no {detail} folder in the submission",
    "crashed_grader": (
        "grading stopped during this student in an earlier run (crash or kill); "
        "not retried until the submission changes"
    ),
    "unreadable_submission": "the submission could not be read ({detail})",
    "other_files": "other files ignored: {detail}",
    # One notebook's file (intake)
    "missing": "missing notebook {notebook}",
    "symlink": "{notebook} is a symbolic link: not followed, graded as missing",
    "not_regular": "{notebook} is not a regular notebook file under 20 MB",
    "not_utf8": "{notebook} is not UTF-8 text",
    "not_json": "{notebook} is not valid JSON",
    "not_notebook": "{notebook} is not a valid notebook ({detail})",
    "unusable": "{notebook} could not be prepared for grading ({detail})",
    # Cells put right (intake); detail: grade_ids, or "grade_id (old -> new)" for points
    "test_edited": "test cell restored: {notebook} {detail} (edited)",
    "test_deleted": "test cell restored: {notebook} {detail} (deleted)",
    "points_restored": "points restored: {notebook} {detail}",
    "metadata_restored": "{notebook}: nbgrader metadata restored: {detail}",
    "metadata_reset": "{notebook}: nbgrader metadata reset: {detail}",
    "duplicate_ignored": "{notebook}: duplicated cell ignored: {detail}",
    "foreign_cell": "{notebook}: cell from elsewhere, its grade_id ignored: {detail}",
    "cell_type_restored": "{notebook}: cell type restored: {detail}",
    "cell_restored": "{notebook}: cell restored: {detail}",
    # The run (worker): detail is what the run, the judge or the sandbox said; the kind
    # is named where it was found (RunProblem), "run" when nothing more is known
    "run": "{notebook}: {detail}",
    "timeout": "{notebook}: {detail}",
    "limit": "{notebook}: {detail}",
    "kernel_died": "{notebook}: {detail}",
    "judge_error": "{notebook}: {detail}",
    # a grader function asked for what its test does not use, or after its call was over
    "callback_abuse": "{notebook}: {detail}",
    "answer_errors": "errors in answer cells of {notebook}: {detail}",
    "no_feedback": "{notebook}: feedback could not be generated ({detail})",
    # The grading of the student as a whole
    "job_failed": "not graded: the grading job failed ({detail})",
    "record_failed": "grading failed ({detail})",
}


@dataclass(frozen=True)
class Problem:
    """One thing grading found: ``kind`` (a key of :data:`WORDS`), the notebook it concerns
    (a file name, or None for the whole submission) and a detail (text, may be empty)."""

    kind: str
    notebook: str | None = None
    detail: str = ""

    def __post_init__(self):
        if self.kind not in WORDS:
            raise ValueError(f"unknown problem kind {self.kind!r}; expected one of {sorted(WORDS)}")

    def as_data(self) -> dict:
        return {"kind": self.kind, "notebook": self.notebook, "detail": self.detail}

    @classmethod
    def from_data(cls, data: dict) -> Problem:
        return cls(data["kind"], data.get("notebook"), data.get("detail", ""))


class RunProblem(str):
    """A problem of the run stage: its words, with the kind named where it was found.

    The run (execution, the judge, the sandbox) still reports in words; a ``RunProblem``
    is those words and a kind of :data:`WORDS`, so that :func:`instructor.run.run_job` can
    make a typed :class:`Problem` without reading the words. A plain ``str`` there is kind
    "run".
    """

    kind: str

    def __new__(cls, kind: str, text: str):
        if kind not in WORDS:
            raise ValueError(f"unknown problem kind {kind!r}; expected one of {sorted(WORDS)}")
        made = super().__new__(cls, text)
        made.kind = kind
        return made


def run_kind(text) -> str:
    """The kind of a run stage's problem: a RunProblem's own, "run" for plain words."""
    return getattr(text, "kind", "run")


def printable(text) -> str:
    """``text`` as one line of valid UTF-8: no control characters, undecodable bytes of a
    file name shown as escapes (a zip from another system may carry them)."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return CONTROL.sub(" ", text).strip()


def words(problem: Problem | dict | str) -> str:
    """The status words of one problem (a record, its plain data, or a ledger's old text)."""
    if isinstance(problem, str):
        return printable(problem)[:MAX_DETAIL_CHARS]
    if isinstance(problem, dict):
        problem = Problem.from_data(problem)
    detail = printable(problem.detail)[:MAX_DETAIL_CHARS]
    notebook = printable(problem.notebook or "")[:MAX_DETAIL_CHARS]
    return WORDS[problem.kind].format(notebook=notebook, detail=detail)
