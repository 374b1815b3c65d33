"""instructor/export.py: grades.csv and the Canvas file from the gradebook; `nbgrader export`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from postgres import ASSIGNMENT, COURSE_ID, fill_gradebook

from instructor.course import load_config, write_course_config
from instructor.export import (
    CANVAS_IDENTITY,
    CANVAS_POINTS_POSSIBLE,
    FORMULA_STARTS,
    NO_SANDBOX,
    NO_SUBMISSION,
    UNFINISHED,
    GradeRow,
    read_roster,
    read_rows,
    spreadsheet_cell,
    student_status,
    write_canvas_csv,
    write_grades_csv,
)
from instructor.problems import Problem

HEADER = [
    "student_id", "nb1", "nb2", "auto_score", "manual_score", "total", "max", "manual_pending",
    "status",
]  # fmt: skip
# carol's whole submission failed: the grader knows her, the gradebook has no submission.
STATE = {
    "students": {
        "alice": {"problems": []},
        "bob": {"problems": ["cell timed out in nb1.ipynb"]},
        "carol": {"problems": ["no ps1 folder in the submission"]},
    }
}
# Text a student controls (an exception's message) or a hostile folder name can carry.
HOSTILE = [
    "ZeroDivisionError\nmallory,5,5,5,0,5,8,no,ok",
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "line\u2028separator\u2029paragraph",
    "bell\x07escape\x1b[31mnull\x00",
    "right\u202eto-left",
    "\uff1d1+1",
]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def row(student_id="s", status="ok", **overrides) -> GradeRow:
    values = {
        "student_id": student_id,
        "assignment": ASSIGNMENT,
        "scores": {"nb1": 1.0, "nb2": 2.0},
        "auto_score": 3.0,
        "manual_score": 0.0,
        "total": 3.0,
        "max_score": 8.0,
        "manual_pending": False,
        "status": status,
    }
    values.update(overrides)
    return GradeRow(**values)


@pytest.fixture
def gradebook_url(tmp_path, quick_gradebooks) -> str:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    fill_gradebook(url)
    return url


@pytest.mark.slow
def test_grades_csv_has_a_row_per_student_with_manual_grades_and_statuses(gradebook_url, tmp_path):
    rows = read_rows(gradebook_url, COURSE_ID, ASSIGNMENT, STATE)
    path = write_grades_csv(rows, tmp_path / "grades.csv")
    assert read_csv(path) == [
        HEADER,
        # A manual grade replaces the autograde of its cell and counts as manual.
        ["alice", "3", "2.5", "3", "2.5", "5.5", "8", "no", "ok"],
        ["bob", "5", "0", "5", "0", "5", "8", "yes", "cell timed out in nb1.ipynb"],
        ["carol", "0", "0", "0", "0", "0", "8", "no", "no ps1 folder in the submission"],
        ["dave", "0", "0", "0", "0", "0", "8", "no", NO_SUBMISSION],
    ]
    assert [(r.student_id, r.submitted) for r in rows] == [
        ("alice", True), ("bob", True), ("carol", False), ("dave", False),
    ]  # fmt: skip


@pytest.mark.slow
def test_a_sandbox_opt_out_is_in_every_status(gradebook_url):
    rows = read_rows(gradebook_url, COURSE_ID, ASSIGNMENT, {**STATE, "sandbox": False})
    assert all(r.status.startswith(NO_SANDBOX) for r in rows)
    assert rows[1].problems == (NO_SANDBOX, "cell timed out in nb1.ipynb")


def test_statuses_come_from_the_graders_state():
    """The ledger keeps typed problems; the status puts them into words, here only."""
    missing = Problem("missing", "nb2.ipynb")
    state = {
        "students": {
            "ann": {"problems": [missing.as_data()]},
            "ben": {"in_progress": True, "problems": []},
            "cat": {"problems": [], "sandbox": False},
            "dan": {"problems": ["an older ledger's words"]},
        }
    }
    assert student_status(state, "ann", True)[0] == "missing notebook nb2.ipynb"
    assert student_status(state, "ben", True)[0] == UNFINISHED
    assert student_status(state, "new", False)[0] == NO_SUBMISSION
    assert student_status(state, "new", True)[0] == "ok"
    assert student_status(state, "dan", True)[0] == "an older ledger's words"
    # Graded without the sandbox: the student's own mark, or the whole run's.
    assert student_status(state, "cat", True)[1] == (NO_SANDBOX,)
    opted_out = {**state, "sandbox": False}
    assert student_status(opted_out, "ann", True)[1] == (NO_SANDBOX, "missing notebook nb2.ipynb")


@pytest.mark.slow
def test_an_unknown_assignment_is_named(gradebook_url):
    with pytest.raises(KeyError, match=r"no assignment 'ps2'.*\['ps1'\]"):
        read_rows(gradebook_url, COURSE_ID, "ps2")


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def safe(cell: str) -> bool:
    """One line, no control or direction characters, quoted when it looks like a formula."""
    return (
        not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in cell)
        and not any("\u202a" <= char <= "\u202e" for char in cell)
        and (cell.startswith("'") or not cell.lstrip(" ").startswith(FORMULA_STARTS))
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_is_one_line_without_controls_and_never_a_formula(text):
    assert safe(spreadsheet_cell(text))


def test_plain_text_and_numbers_are_kept():
    assert spreadsheet_cell("autograde failed for nb1.ipynb: ValueError: x < 0") == (
        "autograde failed for nb1.ipynb: ValueError: x < 0"
    )
    assert spreadsheet_cell("Ünïcødé, «quoted»") == "Ünïcødé, «quoted»"
    assert spreadsheet_cell("=1") == "'=1"


def test_injected_statuses_and_ids_cannot_forge_rows_or_formulas(tmp_path):
    rows = [row(f"s{index}", status=text) for index, text in enumerate(HOSTILE)]
    rows.append(row("=cmd|' /C calc'!A0", status="ok"))
    rows.append(row("neg", manual_score=-1.0, total=2.0))
    path = write_grades_csv(rows, tmp_path / "grades.csv")
    raw = path.read_bytes()
    # One line per row: no newline, CR or separator survives inside a cell.
    assert raw.decode("utf-8").count("\n") == len(rows) + 1
    table = read_csv(path)
    assert [line[0] for line in table[1:]] == [r.student_id.replace("=", "'=", 1) for r in rows]
    for line in table[1:]:
        assert len(line) == len(HEADER)
        for cell in line:
            assert is_number(cell) or safe(cell), cell
    # The forged row's text stays inside its own status cell.
    assert table[1][-1] == "ZeroDivisionError mallory,5,5,5,0,5,8,no,ok"
    # Numbers stay numbers (a negative score is not quoted).
    assert table[-1][HEADER.index("manual_score")] == "-1"


def write_roster(path: Path, lines: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(lines)
    return path


ROSTER_HEADER = ["student_id", "Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def test_canvas_file_has_canvas_columns_points_row_and_roster_rows(tmp_path):
    roster = write_roster(
        tmp_path / "roster.csv",
        [
            ROSTER_HEADER,
            ["bob", "Jones, Bob", "234567", "S-2", "bjones", "Period 2"],
            ["alice", "=Smith, Ann", "123456", "S-1", "asmith", "Period 2"],
            ["erin", "Lee, Erin", "345678", "S-3", "elee", "Period 2"],
        ],
    )
    rows = [
        row("alice", total=5.5),
        row("bob", total=5.0),
        row("mallory", total=8.0),
        row("zed", total=0.0),
    ]
    report = write_canvas_csv(rows, roster, tmp_path / "canvas.csv")
    assert read_csv(report.path) == [
        [*CANVAS_IDENTITY, ASSIGNMENT],
        [CANVAS_POINTS_POSSIBLE, "", "", "", "", "8"],
        ["Jones, Bob", "234567", "S-2", "bjones", "Period 2", "5"],
        ["'=Smith, Ann", "123456", "S-1", "asmith", "Period 2", "5.5"],
    ]
    assert CANVAS_IDENTITY == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert report.written == ["bob", "alice"]
    # Graded but unknown to the LMS: reported, never silently dropped.
    assert report.missing == ["mallory", "zed"]
    assert report.not_graded == ["erin"]


def test_a_canvas_export_with_a_student_id_column_is_a_roster(tmp_path):
    roster = write_roster(
        tmp_path / "roster.csv",
        [
            ["Student", "ID", "SIS Login ID", "Section", "Quiz 1 (111)", "student_id"],
            [CANVAS_POINTS_POSSIBLE, "", "", "", "10", ""],
            ["Smith, Ann", "123456", "asmith", "P2", "9", "alice"],
        ],
    )
    assert read_roster(roster) == {
        "alice": {
            "Student": "Smith, Ann", "ID": "123456", "SIS User ID": "", "SIS Login ID": "asmith",
            "Section": "P2",
        }
    }  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([["Student", "ID"], ["A", "1"]], r"needs a student_id column"),
        ([["student_id", "Student"], ["alice", "A"]], r"needs a student_id column and one of"),
        ([["student_id", "ID"], ["alice", "1"], ["alice", "2"]], r"line 3: 'alice' repeated"),
        ([["student_id", "ID"], ["alice", ""]], r"line 2: 'alice' has none of"),
        ([["student_id", "ID"], ["", "1"]], r"line 2: empty student_id"),
    ],
)
def test_a_bad_roster_is_refused_with_the_line(tmp_path, lines, message):
    roster = write_roster(tmp_path / "roster.csv", lines)
    with pytest.raises(ValueError, match=message):
        write_canvas_csv([row("alice")], roster, tmp_path / "canvas.csv")


def test_a_missing_roster_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"roster .*nowhere\.csv does not exist"):
        write_canvas_csv([row("alice")], tmp_path / "nowhere.csv", tmp_path / "canvas.csv")
    assert not (tmp_path / "canvas.csv").exists()


def nbgrader_export(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `nbgrader export` in the course folder `root` as an instructor would."""
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(
        [str(Path(bin_dir) / "nbgrader"), "export", *args],
        cwd=root,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_nbgrader_export_in_a_course_folder_writes_grades_and_canvas_files(
    tmp_path, quick_gradebooks
):
    course = tmp_path / "out"
    course.mkdir()
    write_course_config(course)
    config = load_config(course).CourseDirectory
    fill_gradebook(config.db_url, config.course_id)
    (course / "grading_state.json").write_text(json.dumps(STATE))
    roster = write_roster(
        tmp_path / "roster.csv", [ROSTER_HEADER, ["alice", "Smith, Ann", "1", "", "", ""]]
    )
    # Stale rows from before manual grading are replaced.
    (course / "grades.csv").write_text("student_id,status\nalice,old\n")

    result = nbgrader_export(course, ROSTER=str(roster))

    assert result.returncode == 0, result.stdout + result.stderr
    expected = write_grades_csv(
        read_rows(config.db_url, config.course_id, ASSIGNMENT, STATE), tmp_path / "expected.csv"
    )
    assert read_csv(course / "grades.csv") == read_csv(expected)
    assert read_csv(course / "grades.csv")[1][:3] == ["alice", "3", "2.5"]
    assert read_csv(course / "canvas.csv")[2] == ["Smith, Ann", "1", "", "", "", "5.5"]
    # bob, carol and dave have grades but no roster entry: the log names them.
    assert "not in the roster" in result.stderr and "bob, carol, dave" in result.stderr
