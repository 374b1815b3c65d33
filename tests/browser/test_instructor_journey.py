"""The instructor's term end to end, in a real browser: a Canvas download of a class is
collected, graded, looked at in the class report, one student's written answer is graded by
hand in Formgrader, and ``nbgrader export`` sends the manual points to canvas.csv.

The class is the example class (built from the notebooks, so it never drifts) on the first two
notebooks, which its students are built on; the first holds a written answer graded by hand
(``read_the_plot``). The Canvas zip is named as Canvas names its "Download submissions"
archive.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from labdriver import UI_TIMEOUT_MS, start_lab, stop_lab

from instructor.cells import is_answer, is_graded
from instructor.collect import Kind, collect_zip
from instructor.course import SOURCE_ROOT, find_assignment, notebook_names, setup_course
from instructor.example_class import build_example_class
from instructor.export import CANVAS_FILE, CANVAS_POINTS_POSSIBLE, GRADES_FILE
from instructor.grade import grade_class
from instructor.ledger import Ledger
from instructor.report import REPORT_FILE

pytestmark = pytest.mark.browser

ASSIGNMENT = find_assignment(SOURCE_ROOT)
# The example class's notebooks; the first has a written answer for Formgrader.
NOTEBOOKS = notebook_names(SOURCE_ROOT / ASSIGNMENT)[:2]
NOTEBOOK = NOTEBOOKS[0]
# Example students and their Canvas identities: (student_id, Canvas name, Canvas user id).
CLASS = [
    ("full_solution", "lovelaceada", "1001"),
    ("visible_only", "turingalan", "1002"),
    ("blank_release", "hoppergrace", "1003"),
]
GRADED_BY_HAND = "full_solution"
MANUAL_POINTS = 1.5
# What Canvas's download holds besides the class's notebooks.
# Formgrader's grading page has fetched the grades and comments and bound their fields.
FORMGRADER_LOADED = (
    "() => Boolean(window.formgrader && formgrader.grades && formgrader.grades.loaded"
    " && formgrader.comments && formgrader.comments.loaded)"
)
STRANGER = "mallory_9999_80_" + NOTEBOOK
OTHER_FILE = "lovelaceada_1001_70_notes.pdf"


def written_answers(source: Path) -> dict[str, float]:
    """grade_id -> points of the manually graded (written) answers of the notebook."""
    return {
        cell.metadata.nbgrader["grade_id"]: float(cell.metadata.nbgrader["points"])
        for cell in nbformat.read(source, as_version=4).cells
        if cell.cell_type == "markdown" and is_answer(cell) and is_graded(cell)
    }


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """The class's Canvas download and roster, collected and graded (before any browser
    starts: grading runs event loops of its own)."""
    root = tmp_path_factory.mktemp("term")
    source = root / "source"
    (source / ASSIGNMENT).mkdir(parents=True)
    for name in NOTEBOOKS:
        shutil.copy2(SOURCE_ROOT / ASSIGNMENT / name, source / ASSIGNMENT / name)
    out = root / "out"
    setup_course(out, Ledger(out), source_root=source, assignment=ASSIGNMENT)
    students = root / "example"
    build_example_class(out / "release" / ASSIGNMENT, source / ASSIGNMENT, students)

    # Canvas's "Download submissions": <name>[_LATE]_<user id>_<submission id>_<file>.
    download = root / "submissions.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (student_id, name, user_id) in enumerate(CLASS):
            late = "_LATE" if student_id == "blank_release" else ""
            for notebook in NOTEBOOKS:
                data = (students / student_id / ASSIGNMENT / notebook).read_bytes()
                archive.writestr(f"{name}{late}_{user_id}_{500 + number}_{notebook}", data)
        archive.writestr(STRANGER, b"{}")
        archive.writestr(OTHER_FILE, b"%PDF")
    roster = root / "roster.csv"
    with roster.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "Student", "ID", "SIS User ID"])
        for student_id, name, user_id in CLASS:
            writer.writerow([student_id, name, user_id, f"SIS{user_id}"])

    submissions = root / "submissions"
    summary = collect_zip(download, roster, submissions, source_root=source)
    rows = grade_class(submissions, out, source_root=source, roster=roster, workers=1)
    return {"out": out, "roster": roster, "summary": summary, "source": source,
            "rows": {row.student_id: row for row in rows}, "submissions": submissions}


def nbgrader_export(out: Path, roster: Path) -> subprocess.CompletedProcess:
    """``nbgrader export`` in OUT, as the README tells the instructor to run it."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "ROSTER": str(roster)}
    return subprocess.run([str(Path(bin_dir) / "nbgrader"), "export"], cwd=out, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_canvas_zip_to_canvas_csv_with_a_written_answer_graded_in_formgrader(
    term, page, screenshot, tmp_path
):
    out, summary = term["out"], term["summary"]
    # Collect: every roster student placed; the stranger, the other file and late work named.
    assert sorted(p.student_id for p in summary.placed) == sorted(
        s for s, _, _ in CLASS for _ in NOTEBOOKS)
    assert [f.subject for f in summary.of_kind(Kind.UNKNOWN_STUDENT)] == [STRANGER]
    assert [f.subject for f in summary.of_kind(Kind.NOT_COURSE)] == [OTHER_FILE]
    assert [f.subject for f in summary.of_kind(Kind.LATE)] == ["blank_release"] * len(NOTEBOOKS)

    # Grade: the written answer waits for a person; canvas.csv has the automatic points.
    rows = term["rows"]
    answers = written_answers(term["source"] / ASSIGNMENT / NOTEBOOK)
    assert answers, f"{NOTEBOOK} has no manually graded answer"
    answer = next(iter(answers))
    assert 0 < MANUAL_POINTS < answers[answer]
    before = rows[GRADED_BY_HAND]
    assert before.manual_pending and before.manual_score == 0
    assert before.total == before.max_score - sum(answers.values())

    # The class report, as the instructor opens it: figures drawn, failed hidden checks named.
    page.goto((out / REPORT_FILE).as_uri())
    images = page.locator("img")
    assert images.count() == 4
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    glance = page.locator("h2:has-text('At a glance') + ul").inner_text()
    assert "Hidden check failed by" in glance, glance
    page.locator("h1").scroll_into_view_if_needed()
    screenshot("05_instructor_class_report")

    # Formgrader in JupyterLab, served from OUT as the README says.
    server = start_lab(out, tmp_path / "lab-home")
    try:
        page.goto(f"{server.base_url}/formgrader/gradebook?token={server.token}")
        page.locator("a", has_text=re.compile(f"^{ASSIGNMENT}$")).click()
        page.locator("a", has_text=re.compile(f"^{NOTEBOOK.removesuffix('.ipynb')}$")).click()
        # Names are hidden until asked for; the button reveals the rows loaded so far.
        page.locator("a.name-hidden").nth(len(CLASS) - 1).wait_for(timeout=UI_TIMEOUT_MS)
        page.locator("#toggle_names").click()
        page.locator("a.name-shown", has_text=re.compile(f"^{GRADED_BY_HAND}$")).click()
        # A field typed in before the page has loaded its grades is reset when they arrive.
        page.wait_for_function(FORMGRADER_LOADED, timeout=UI_TIMEOUT_MS)
        score = page.locator(f"input.score#{answer}")
        score.fill(f"{MANUAL_POINTS:g}")
        # Leaving the field fires its change event, which saves the grade to the gradebook.
        with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                                  and r.request.method == "PUT") as saved:
            score.press("Tab")
        assert saved.value.ok, saved.value.status
        comment = page.locator(f"textarea#{answer}-comment")
        comment.fill("Right reading of both slopes; say why the floor sits near 1e-5.")
        with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url
                                  and r.request.method == "PUT") as saved:
            comment.press("Tab")
        assert saved.value.ok, saved.value.status
        screenshot("05_instructor_formgrader_manual_grade")
    finally:
        stop_lab(server)

    # Export: grades.csv and canvas.csv carry the manual points.
    result = nbgrader_export(out, term["roster"])
    assert result.returncode == 0, result.stdout + result.stderr
    grades = {line[0]: dict(zip(read_csv(out / GRADES_FILE)[0], line, strict=True))
              for line in read_csv(out / GRADES_FILE)[1:]}
    mine = grades[GRADED_BY_HAND]
    assert float(mine["manual_score"]) == MANUAL_POINTS
    assert float(mine["total"]) == before.total + MANUAL_POINTS
    assert mine["manual_pending"] == "no"
    canvas = read_csv(out / CANVAS_FILE)
    header, possible, *students = canvas
    assert header[:3] == ["Student", "ID", "SIS User ID"] and header[-1] == ASSIGNMENT
    assert possible[0] == CANVAS_POINTS_POSSIBLE and float(possible[-1]) == before.max_score
    by_id = {line[1]: line for line in students}
    assert sorted(by_id) == sorted(user_id for _, _, user_id in CLASS)
    assert float(by_id["1001"][-1]) == before.total + MANUAL_POINTS
    # The others were not touched by hand: their Canvas points are what grading gave them.
    for student_id, _, user_id in CLASS[1:]:
        assert float(by_id[user_id][-1]) == rows[student_id].total
