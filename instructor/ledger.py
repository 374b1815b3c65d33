"""The grader's ledger (``OUT/grading_state.json``): what each run found, for the next run.

Per student: the hash of the submission last graded, its problems (typed records, see
:class:`instructor.intake.Problem`, as plain data), whether it was graded, with or without
the sandbox, and whether its code was running in the grader when the grader stopped. For
the course: the hashes of the sources and the release the gradebook was generated from.

Intake reads it (unchanged students are skipped, a student that crashed the grader is not
run again), record writes it, export reads the problems to word the statuses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "grading_state.json"


def load_state(path: str | os.PathLike) -> dict:
    """Return the ledger at ``path``, or ``{}`` when there is none.

    Raises
    ------
    ValueError
        When the file exists but is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); regrade to rebuild it") from error
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, expected a JSON object")
    return state


class Ledger:
    """The ledger of one output folder, held in memory and saved atomically on request."""

    def __init__(self, out: Path):
        self.path = Path(out) / STATE_FILE
        self.state = load_state(self.path) or {"source_hash": None, "students": {}}
        self.state.setdefault("students", {})

    @property
    def students(self) -> dict[str, dict]:
        return self.state["students"]

    def entry(self, student_id: str) -> dict:
        """What the ledger knows of one student (``{}`` when nothing)."""
        return self.students.get(student_id) or {}

    def note(self, student_id, digest, problems, graded: bool, sandbox: bool,
             crashed: bool = False, report: dict | None = None) -> None:
        """Record one student's outcome (``problems``: Problem records).

        ``crashed``: the grader stopped while this student's code ran in it; the mark stays
        until the submission changes, so that it is never run here again. ``report``: what
        the class report keeps of the student (``instructor.report.student_entry``).
        """
        self.students[student_id] = {
            "hash": digest,
            "problems": [problem.as_data() for problem in problems],
            "graded": graded,
            "sandbox": sandbox,
            **({"in_progress": True} if crashed else {}),
            **({"report": report} if report is not None else {}),
        }

    def mark_running(self, student_id: str, digest: str | None) -> None:
        """Note, durably, that this student's code is about to run in this process."""
        self.students[student_id] = {"hash": digest, "in_progress": True, "problems": []}
        self.save()

    def forget_running(self, student_id: str | None) -> None:
        """Forget the mark of a run the instructor interrupted (not a crash)."""
        if student_id and self.entry(student_id).get("in_progress"):
            self.students.pop(student_id)
            self.save()

    def reset(self, source_hash: str, release_hash: str) -> None:
        """A new release: every student is graded again against it."""
        self.state = {"source_hash": source_hash, "release_hash": release_hash, "students": {}}
        self.save()

    def save(self) -> None:
        """Write the ledger atomically, so an interrupted run never leaves half a file."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True, ensure_ascii=True))
        os.replace(tmp, self.path)
