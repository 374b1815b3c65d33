"""grades.csv (and a Canvas import file) from the gradebook, as an nbgrader export plugin.

``nbgrader export`` in a course folder (``OUT``) rewrites ``OUT/grades.csv`` from the gradebook,
so manual grades given in Formgrader reach it; with a roster (``ROSTER=roster.csv`` or
``--GradesExportPlugin.roster=...``) it also writes ``OUT/canvas.csv`` in Canvas's gradebook
import layout. The grader calls the same functions without nbgrader's command line:

    rows = read_rows(db_url, course_id, assignment, load_state(out / STATE_FILE))
    write_grades_csv(rows, out / GRADES_FILE)
    report = write_canvas_csv(rows, roster, out / CANVAS_FILE)  # report.missing: no LMS identity

Rows are plain data; only the writers know about CSV and spreadsheets. Every cell written is
made spreadsheet-safe: statuses can carry student-controlled text (an exception's message),
so control characters and line breaks are removed and formula-like text is quoted.
"""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Unicode, default

from instructor.ledger import STATE_FILE, load_state
from instructor.problems import words

GRADES_FILE = "grades.csv"
CANVAS_FILE = "canvas.csv"

GRADES_TAIL = ["auto_score", "manual_score", "total", "max", "manual_pending", "status"]
# Canvas's own gradebook export (instructure/canvas-lms, lib/gradebook_exporter.rb) starts with
# these columns, puts one column per assignment after them, and gives each assignment's points
# in a second row whose first cell is "    Points Possible" (four spaces); its import reads
# the same layout. A column titled with a plain name creates that assignment on import.
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "    Points Possible"
# Canvas matches a row to an enrolled student by one of these.
CANVAS_KEYS = ["ID", "SIS User ID", "SIS Login ID"]

NO_SANDBOX = "graded without the sandbox (--no-sandbox): scores are not trustworthy"
NO_SUBMISSION = "no submission"
UNFINISHED = "grading did not finish (still running, or the grader was stopped)"

# Text a spreadsheet would run as a formula; full-width forms count in some locales.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Bidirectional overrides make a cell display something other than what it holds.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class GradeRow:
    """One student's result for one assignment: one line of grades.csv.

    Attributes
    ----------
    student_id : str
    assignment : str
    scores : dict of str to float
        Notebook name (without ``.ipynb``) -> its score, the manual grade where a grader gave
        one, else the autograde; every notebook of the assignment, 0 when not submitted.
    auto_score, manual_score : float
        The total split by where each cell's points came from: cells scored by the
        autograder, cells scored (or overridden) by hand. ``auto_score + manual_score == total``.
    total, max_score : float
    manual_pending : bool
        Some cell still waits for a manual grade in Formgrader.
    status : str
        "ok", or what went wrong while grading, in plain words ("; "-separated).
    submitted : bool
        The gradebook holds a submission of this assignment by this student.
    """

    student_id: str
    assignment: str
    scores: dict[str, float]
    auto_score: float
    manual_score: float
    total: float
    max_score: float
    manual_pending: bool
    status: str
    submitted: bool = True
    problems: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class CanvasReport:
    """What write_canvas_csv wrote and whom it could not place.

    Attributes
    ----------
    path : Path
    written : list of str
        Student ids written, in roster order.
    missing : list of str
        Graded students absent from the roster: not in the Canvas file, so never imported.
    not_graded : list of str
        Roster students with no row (no grade at all), left out of the file.
    """

    path: Path
    written: list[str]
    missing: list[str]
    not_graded: list[str]


def student_status(state: dict, student_id: str, submitted: bool) -> tuple[str, tuple[str, ...]]:
    """Return (status, problems) of one student from the grader's state (the ledger).

    The ledger keeps ``state["students"][id]["problems"]``, Problem records as plain data
    (put into words here, :func:`instructor.problems.words`), ``"in_progress": true`` while
    a student is being graded, and ``"sandbox": false`` (for one student, or the whole run)
    for a student graded without the sandbox.
    """
    known = (state.get("students") or {}).get(student_id) or {}
    problems = tuple(words(problem) for problem in known.get("problems") or ())
    if not problems and known.get("in_progress"):
        problems = (UNFINISHED,)
    if not problems and not submitted:
        problems = (NO_SUBMISSION,)
    if state.get("sandbox") is False or known.get("sandbox") is False:
        problems = (NO_SANDBOX, *problems)
    return "; ".join(problems) or "ok", problems


def rows_from_gradebook(gradebook, assignment: str, state: dict | None = None) -> list[GradeRow]:
    """Read every student's row of `assignment` from an open nbgrader `Gradebook`.

    Students are those of the gradebook plus those the grader's `state` knows (a student
    whose every notebook failed may have no submission), sorted by id.

    Raises
    ------
    KeyError
        When the gradebook has no such assignment.
    """
    from nbgrader.api import (
        Grade,
        MissingEntry,
        Notebook,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    state = state or {}
    try:
        found = gradebook.find_assignment(assignment)
    except MissingEntry:
        names = sorted(a.name for a in gradebook.assignments)
        raise KeyError(f"no assignment {assignment!r} in the gradebook; it has {names}") from None
    notebooks = sorted(notebook.name for notebook in found.notebooks)
    max_score = float(found.max_score or 0.0)

    # One query for every grade of the assignment: a class of thousands stays one round trip.
    query = (
        gradebook.db.query(
            SubmittedAssignment.student_id,
            Notebook.name,
            Grade.auto_score,
            Grade.manual_score,
            Grade.extra_credit,
            Grade.needs_manual_grade,
        )
        .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
        .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
        .filter(SubmittedAssignment.assignment_id == found.id)
    )
    parts: dict[str, dict] = {}
    for student_id, notebook, auto, manual, extra, pending in query:
        part = parts.setdefault(
            student_id,
            {"scores": dict.fromkeys(notebooks, 0.0), "auto": 0.0, "manual": 0.0, "pending": False},
        )
        # nbgrader's Grade.score: the manual score wins over the autograde; extra credit adds.
        if manual is not None:
            points = float(manual) + float(extra or 0.0)
            part["manual"] += points
        elif auto is not None:
            points = float(auto) + float(extra or 0.0)
            part["auto"] += points
        else:
            points = 0.0
        part["scores"][notebook] += points
        part["pending"] = part["pending"] or bool(pending)
    # A submission whose notebooks hold no graded cell still counts as submitted.
    submitted = {
        student_id
        for (student_id,) in gradebook.db.query(SubmittedAssignment.student_id).filter(
            SubmittedAssignment.assignment_id == found.id
        )
    }

    known = set((state.get("students") or {}).keys())
    everyone = sorted({student.id for student in gradebook.students} | known | submitted)
    rows = []
    for student_id in everyone:
        part = parts.get(student_id) or {
            "scores": dict.fromkeys(notebooks, 0.0),
            "auto": 0.0,
            "manual": 0.0,
            "pending": False,
        }
        status, problems = student_status(state, student_id, student_id in submitted)
        rows.append(
            GradeRow(
                student_id=student_id,
                assignment=assignment,
                scores=part["scores"],
                auto_score=part["auto"],
                manual_score=part["manual"],
                total=part["auto"] + part["manual"],
                max_score=max_score,
                manual_pending=part["pending"],
                status=status,
                submitted=student_id in submitted,
                problems=problems,
            )
        )
    return rows


def read_rows(
    gradebook_url: str, course_id: str, assignment: str, state: dict | None = None
) -> list[GradeRow]:
    """Read every student's row of `assignment` from the gradebook at `gradebook_url`.

    Parameters
    ----------
    gradebook_url : str
        SQLAlchemy URL: ``sqlite:///OUT/gradebook.db``, ``postgresql+psycopg://...``.
    course_id : str
        nbgrader course id (``c.CourseDirectory.course_id``).
    assignment : str
        Assignment name.
    state : dict, optional
        The grader's state (see `load_state`): per-student problems, sandbox opt-out.

    Returns
    -------
    list of GradeRow
        One per student, sorted by student id.
    """
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url, course_id) as gradebook:
        return rows_from_gradebook(gradebook, assignment, state)


def spreadsheet_cell(value) -> str:
    """Return `value` as text a spreadsheet shows as written and never runs.

    Control characters (a newline in an exception message would forge a row), line and
    paragraph separators and bidirectional overrides are removed (line breaks and tabs
    become spaces); text starting like a formula (``= + - @``) gets a leading ``'``.
    """
    text = "" if value is None else str(value)
    text = re.sub(r"[\r\n\t\v\f\u0085\u2028\u2029]+", " ", text)
    text = BIDI_CONTROLS.sub("", text)
    text = "".join(char for char in text if unicodedata.category(char) != "Cc")
    if text.lstrip(" ").startswith(FORMULA_STARTS):
        text = "'" + text
    return text


def number(value: float) -> str:
    """Format a score for a CSV cell: no float noise (0.30000000000000004 -> 0.3), no '.0'."""
    value = round(float(value), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:.15g}"


def _cell(value) -> str:
    """A number as `number` writes it (never a formula, even when negative); text made safe."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    return spreadsheet_cell(value)


def _write(path: str | os.PathLike, table: Iterable[Sequence]) -> Path:
    """Write `table` as UTF-8 CSV, every cell made spreadsheet-safe, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for line in table:
            writer.writerow([_cell(cell) for cell in line])
    # A reader (a spreadsheet, an LMS upload) never sees half a file.
    os.replace(tmp, path)
    return path


def notebook_columns(rows: Sequence[GradeRow]) -> list[str]:
    """Notebook names in the order the rows give them (all rows of one assignment agree)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.scores))
    return list(names)


def write_grades_csv(rows: Sequence[GradeRow], path: str | os.PathLike) -> Path:
    """Write grades.csv: one line per student, one score column per notebook.

    Columns: ``student_id``, the notebooks, ``auto_score``, ``manual_score``, ``total``,
    ``max``, ``manual_pending`` (yes/no), ``status`` (last, free text).
    """
    notebooks = notebook_columns(rows)
    table = [["student_id", *notebooks, *GRADES_TAIL]]
    for row in rows:
        table.append(
            [
                row.student_id,
                *(row.scores.get(name, 0.0) for name in notebooks),
                row.auto_score,
                row.manual_score,
                row.total,
                row.max_score,
                "yes" if row.manual_pending else "no",
                row.status,
            ]
        )
    return _write(path, table)


def read_roster(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Read a roster CSV mapping student ids to Canvas identities.

    The header names ``student_id`` (the id in the gradebook) and any of Canvas's
    ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section`` (at least one of the
    three ids Canvas matches on); extra columns are ignored, names are case-insensitive.
    A Canvas gradebook export with a ``student_id`` column added is a valid roster.

    Returns
    -------
    dict of str to dict
        student_id -> {Canvas column: value}, in roster order.

    Raises
    ------
    ValueError
        On a missing file or column, an empty or repeated student_id, or a student without
        any Canvas id.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"roster {path} does not exist (ROSTER= names a CSV file)")
    # utf-8-sig: a roster saved by Excel starts with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"roster {path} is empty; expected a header with student_id")
        wanted = {name.lower(): name for name in ["student_id", *CANVAS_IDENTITY]}
        columns = {
            index: wanted[name.strip().lower()]
            for index, name in enumerate(header)
            if name.strip().lower() in wanted
        }
        if "student_id" not in columns.values() or not set(CANVAS_KEYS) & set(columns.values()):
            raise ValueError(
                f"roster {path} needs a student_id column and one of {CANVAS_KEYS}; "
                f"its header is {header}"
            )
        roster: dict[str, dict[str, str]] = {}
        for line_number, line in enumerate(reader, start=2):
            if not any(cell.strip() for cell in line):
                continue
            entry = dict.fromkeys(CANVAS_IDENTITY, "")
            student_id = ""
            for index, name in columns.items():
                value = line[index].strip() if index < len(line) else ""
                if name == "student_id":
                    student_id = value
                else:
                    entry[name] = value
            if entry["Student"] == CANVAS_POINTS_POSSIBLE.strip() and not student_id:
                continue  # a Canvas export's points row
            if not student_id:
                raise ValueError(f"roster {path} line {line_number}: empty student_id")
            if student_id in roster:
                raise ValueError(f"roster {path} line {line_number}: {student_id!r} repeated")
            if not any(entry[key] for key in CANVAS_KEYS):
                raise ValueError(
                    f"roster {path} line {line_number}: {student_id!r} has none of {CANVAS_KEYS}"
                )
            roster[student_id] = entry
    return roster


def write_canvas_csv(
    rows: Sequence[GradeRow], roster_path: str | os.PathLike, path: str | os.PathLike
) -> CanvasReport:
    """Write a Canvas gradebook import file: each roster student's total per assignment.

    Layout: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
    assignment titled with its name; a ``    Points Possible`` row with each assignment's
    maximum; one row per roster student who has a grade, in roster order.

    Returns
    -------
    CanvasReport
        Graded students missing from the roster are listed in ``missing``, never dropped
        silently; the caller reports them.
    """
    roster = read_roster(roster_path)
    assignments: dict[str, float] = {}
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        assignments[row.assignment] = max(assignments.get(row.assignment, 0.0), row.max_score)
        totals.setdefault(row.student_id, {})[row.assignment] = row.total
    table = [
        [*CANVAS_IDENTITY, *assignments],
        [CANVAS_POINTS_POSSIBLE, *[""] * (len(CANVAS_IDENTITY) - 1), *assignments.values()],
    ]
    written = []
    for student_id, identity in roster.items():
        if student_id not in totals:
            continue
        written.append(student_id)
        grades = totals[student_id]
        table.append(
            [
                *(identity[name] for name in CANVAS_IDENTITY),
                # Blank, not zero: Canvas leaves a blank cell's grade unchanged.
                *(grades.get(name, "") for name in assignments),
            ]
        )
    return CanvasReport(
        path=_write(path, table),
        written=written,
        missing=sorted(set(totals) - set(roster)),
        not_graded=[student_id for student_id in roster if student_id not in totals],
    )


class GradesExportPlugin(ExportPlugin):
    """``nbgrader export``: rewrite grades.csv (and canvas.csv with a roster) in the course.

    ``--to`` names the grades file (default ``<course root>/grades.csv``); ``--assignment``
    picks the assignment when the gradebook holds several; ``--student`` limits the rows.
    """

    roster = Unicode(
        help="Roster CSV (student_id plus Canvas identity columns); default: env ROSTER. "
        "When set, canvas.csv is written beside grades.csv."
    ).tag(config=True)

    canvas_to = Unicode("", help="Canvas import file (default: <course root>/canvas.csv)").tag(
        config=True
    )

    @default("roster")
    def _roster_default(self):
        return os.environ.get("ROSTER", "")

    def _root(self) -> Path:
        coursedir = getattr(self.parent, "coursedir", None)
        return Path(getattr(coursedir, "root", "") or ".").resolve()

    def _assignment(self, gradebook) -> str:
        chosen = [str(name) for name in self.assignment]
        names = sorted(a.name for a in gradebook.assignments)
        if len(chosen) == 1:
            return chosen[0]
        if not chosen and len(names) == 1:
            return names[0]
        raise ValueError(
            f"grades.csv holds one assignment; the gradebook has {names}: "
            "choose one with --assignment=NAME"
        )

    def export(self, gradebook) -> None:
        root = self._root()
        assignment = self._assignment(gradebook)
        rows = rows_from_gradebook(gradebook, assignment, load_state(root / STATE_FILE))
        if self.student:
            wanted = {str(student) for student in self.student}
            rows = [row for row in rows if row.student_id in wanted]
        destination = Path(self.to) if self.to else root / GRADES_FILE
        write_grades_csv(rows, destination)
        self.log.info("Wrote %d students of %s to %s", len(rows), assignment, destination)
        if not self.roster:
            return
        report = write_canvas_csv(rows, self.roster, self.canvas_to or root / CANVAS_FILE)
        self.log.info("Wrote %d students to %s", len(report.written), report.path)
        if report.missing:
            self.log.warning(
                "%d graded students are not in the roster %s and are not in %s: %s",
                len(report.missing),
                self.roster,
                report.path,
                ", ".join(report.missing),
            )
