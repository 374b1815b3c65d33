"""Intake, the first stage of grading: one student's submission folder -> a :class:`Job`.

The expected notebooks are read (any bytes, any JSON, any metadata), repaired (stripped,
altered and duplicated cells put right, deleted tests restored from the release) and
sanitized by nbgrader's own chain (outputs cleared, locked and test cells restored from the
gradebook), once. Everything else in the folder is ignored and named. The submission
itself is only read. Whatever the folder holds, intake returns a job: its ``action`` says
whether it runs (``RUN``), is already graded (``UNCHANGED``), or cannot be graded
(``NOT_GRADED``, its problems say why); nothing raised for one student stops the class.

Next: :mod:`instructor.run` runs a job's notebooks, on a worker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from instructor.course import Course
from instructor.ledger import Ledger
from instructor.nbgrader_adapter import GradebookSnapshot, sanitizers
from instructor.problems import Problem, printable
from instructor.submissions import (
    SKIP_NAMES,
    content_hash,
    files_below,
    read_notebook,
    repair_metadata,
    restore_deleted_cells,
    tampering,
)

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
RUN, UNCHANGED, NOT_GRADED = "run", "unchanged", "not graded"
SHOWN_EXTRA_FILES = 5


@dataclass
class Job:
    """One student after intake.

    Attributes
    ----------
    student_id : str
        The folder's name (made printable when it is not a usable id).
    action : str
        ``RUN``, ``UNCHANGED`` or ``NOT_GRADED``.
    digest : str or None
        Hash of the submission folder (and the sources), None when it could not be taken.
    problems : list of Problem
        What intake found.
    submitted : dict of str to str
        Notebook file name -> the repaired notebook's JSON text, as ``OUT/submitted`` keeps it.
    notebooks : dict of str to dict
        Notebook file name -> the sanitized notebook (JSON-ready), ready to run. A notebook
        of the assignment missing here scores zero.
    """

    student_id: str
    action: str
    digest: str | None = None
    problems: list[Problem] = field(default_factory=list)
    submitted: dict[str, str] = field(default_factory=dict)
    notebooks: dict[str, dict] = field(default_factory=dict)


def student_ids(submissions: Path) -> list[str]:
    """The student folders of ``submissions``, sorted (hidden and leftover folders skipped)."""
    return sorted(
        path.name
        for path in Path(submissions).iterdir()
        if path.is_dir() and not path.name.startswith(".") and path.name not in SKIP_NAMES
    )


class Intake:
    """Takes in students of one submissions folder for one course (see :func:`take`)."""

    def __init__(self, course: Course, ledger: Ledger, submissions: Path):
        self.course = course
        self.ledger = ledger
        self.submissions = Path(submissions).resolve()
        self.release = {
            name: nbformat.read(course.release_dir / name, as_version=4)
            for name in course.notebooks
        }
        snapshot = GradebookSnapshot(course.db_url, course.course_id, course.assignment)
        self.sanitizers = sanitizers(course.config, snapshot)

    def take(self, student_id: str) -> Job:
        """The job of one student folder; never raises for anything in the folder."""
        try:
            return self._take(student_id)
        except Exception as error:  # the per-student boundary: report, go on with the class
            return Job(
                printable(student_id),
                NOT_GRADED,
                problems=[Problem("unreadable_submission", None, _what(error))],
            )

    def _take(self, student_id: str) -> Job:
        folder = self.submissions / student_id / self.course.assignment
        if not STUDENT_ID.fullmatch(student_id):
            return Job(printable(student_id), NOT_GRADED, problems=[Problem("bad_student_id")])
        if not _inside(folder, self.submissions) or not folder.is_dir():
            problem = Problem("no_assignment_folder", None, self.course.assignment)
            return Job(student_id, NOT_GRADED, problems=[problem])
        digest = content_hash(folder, salt=self.ledger.state.get("source_hash") or "")
        known = self.ledger.entry(student_id)
        if known.get("hash") == digest and known.get("in_progress"):
            return Job(student_id, NOT_GRADED, digest, [Problem("crashed_grader")])
        if known.get("hash") == digest and known.get("graded"):
            return Job(student_id, UNCHANGED, digest)
        job = Job(student_id, RUN, digest)
        for name in self.course.notebooks:
            self._take_notebook(job, folder / name, name)
        extra = [
            printable(path.relative_to(folder))
            for path in files_below(folder)
            if str(path.relative_to(folder)) not in self.course.notebooks
        ]
        if extra:
            shown = ", ".join(extra[:SHOWN_EXTRA_FILES])
            if len(extra) > SHOWN_EXTRA_FILES:
                shown += f" and {len(extra) - SHOWN_EXTRA_FILES} more"
            job.problems.append(Problem("other_files", None, shown))
        return job

    def _take_notebook(self, job: Job, path: Path, name: str) -> None:
        """Read, repair and sanitize one notebook into ``job`` (or name why it cannot be)."""
        try:
            nb, problem = read_notebook(path, name)
            if problem is not None:
                job.problems.append(problem)
                return
            release = self.release[name]
            repairs = repair_metadata(nb, release, name)
            found = tampering(nb, release, name) + repairs
            deleted = {p.detail for p in found if p.kind == "test_deleted"}
            restored = [key for key in restore_deleted_cells(nb, release) if key not in deleted]
            if restored:
                found.append(Problem("cell_restored", name, ", ".join(restored)))
            # What OUT/submitted keeps: the notebook as repaired, before sanitizing.
            submitted = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            sanitized = self._sanitize(nb, job.student_id, name)
        except Exception as error:  # nbgrader refused it, or something no check foresaw
            job.problems.append(Problem("unusable", name, _what(error)))
            return
        job.problems += found
        job.submitted[name] = submitted
        job.notebooks[name] = sanitized

    def _sanitize(self, nb, student_id: str, name: str) -> dict:
        """nbgrader's sanitizing chain (``Autograde.sanitize_preprocessors``), as autograde
        applies it before executing: outputs cleared, ids deduplicated, kernelspec set,
        locked and test cells restored from the gradebook, metadata checked. Changes ``nb``."""
        resources = {
            "unique_key": Path(name).stem,
            "nbgrader": {
                "student": student_id,
                "assignment": self.course.assignment,
                "notebook": Path(name).stem,
                "db_url": self.course.db_url,
            },
        }
        for preprocessor in self.sanitizers:
            nb, resources = preprocessor(nb, resources)
        return json.loads(json.dumps(nb))


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` and every link on its way stay inside ``folder``."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def _what(error: BaseException) -> str:
    """``TypeName: first line of the message``."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__
