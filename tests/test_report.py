"""instructor.report: the class report counted from records and rendered as one offline page.

The class here is made of records (as the judge and the gradebook give them), so every count
can be checked against a count made by hand below; tests/test_grade.py checks the page of a
really graded class (no hidden test line in it).
"""

import base64
import json
import re

import pytest

from course_utils.runner import CheckRecord
from instructor.export import GradeRow
from instructor.report import (
    MISSING,
    OPT_OUT,
    OTHER,
    REPAIR,
    CellResult,
    StudentRecord,
    build,
    student_entry,
    student_record,
    write_report,
)

MAXIMA = {"01_one": 3.0, "02_two": 2.0}
HOSTILE = '<img src=x onerror="alert(1)">'


def row(student_id, one, two, submitted=True, status="ok"):
    return GradeRow(student_id, "gc", {"01_one": one, "02_two": two}, one + two, 0.0, one + two,
                    5.0, False, status, submitted)


def checks(visible, hidden):
    """Visible then hidden check records from (label, ok) pairs."""
    return (*(CheckRecord(label, False, ok) for label, ok in visible),
            *(CheckRecord(label, True, ok) for label, ok in hidden))


def cell(notebook, grade_id, visible, hidden=()):
    ok = all(o for _, o in visible) and all(o for _, o in hidden)
    return CellResult.from_checks(notebook, grade_id, ok, checks(visible, hidden))


@pytest.fixture
def klass():
    """Four students: one perfect, one failing a hidden check, one failing visibly (so its
    hidden checks never ran), one with no submission."""
    rows = [row("ada", 3, 2), row("bob", 1, 2), row("cy", 0, 0), row("dee", 0, 0, False)]
    sign, zero = "a derivative of the wrong sign gives 1", "zero input gives zero"
    records = {
        "ada": StudentRecord("ada", (
            cell("01_one", "grad_tests", [("runs", True)], [(sign, True), (zero, True)]),
            cell("02_two", "nd_tests", [("runs", True)], [("shape", True)]),
        ), (), 4.0),
        "bob": StudentRecord("bob", (
            cell("01_one", "grad_tests", [("runs", True)], [(sign, False), (zero, True)]),
            cell("02_two", "nd_tests", [("runs", True)], [("shape", True)]),
        ), ("test_edited", "missing"), 9.5),
        "cy": StudentRecord("cy", (
            cell("01_one", "grad_tests", [("runs", False)]),
            cell("02_two", "nd_tests", [("runs", False)]),
        ), ("run",), 2.0),
    }
    return rows, records, sign


def test_counts_come_from_the_records(klass):
    rows, records, sign = klass
    report = build(rows, records, MAXIMA)
    assert report.students == 3 and report.not_submitted == ["dee"]
    assert report.notebook_scores == {"01_one": [3, 1, 0], "02_two": [2, 2, 0]}
    assert report.totals == [5, 3, 0] and report.total_max == 5.0
    grad = next(c for c in report.cells if c.grade_id == "grad_tests")
    assert (grad.judged, grad.passed) == (3, 1)
    assert (grad.visible_passed, grad.visible_total) == (2, 3)
    assert (grad.hidden_passed, grad.hidden_total, grad.hidden_not_run) == (3, 4, 1)
    ((failure),) = report.hidden_failures
    assert (failure.label, failure.failed, failure.ran) == (sign, 1, 2)
    assert report.statuses == {REPAIR: ["bob"], MISSING: ["bob"], OTHER: ["cy"]}
    assert report.seconds == {"ada": 4.0, "bob": 9.5, "cy": 2.0}


def test_every_kind_of_problem_has_its_status_group():
    from instructor.problems import WORDS
    from instructor.report import GROUP_KINDS

    placed = [kind for kinds in GROUP_KINDS.values() for kind in kinds]
    assert sorted(placed) == sorted(WORDS)  # each kind once, none left out


def test_a_run_problem_carries_its_kind_and_its_words():
    from instructor.problems import RunProblem, run_kind

    found = RunProblem("timeout", "cell f ran past the time limit and was interrupted")
    assert (run_kind(found), found) == ("timeout", "cell f ran past the time limit and was "
                                                   "interrupted")
    assert run_kind("words alone") == "run"
    with pytest.raises(ValueError, match="unknown problem kind 'late'"):
        RunProblem("late", "x")


def test_a_class_graded_without_the_sandbox_says_so_for_everyone(klass):
    rows, records, _ = klass
    assert build(rows, records, MAXIMA, sandboxed=False).statuses[OPT_OUT] == ["ada", "bob", "cy"]


def test_entries_keep_counts_and_failed_hidden_labels_and_read_back_as_records():
    """What the grader stores for a student is small (counts, not every check) and reads
    back as the records the report counts."""
    checks_data = [["runs", False, True], ["shape", False, False], ["h1", True, True],
                   ["h2", True, False]]
    results = {"01_one.ipynb": {"tests": [
        {"grade_id": "g", "passed": False, "checks": checks_data},
    ], "seconds": 1.5}}
    entry = student_entry(results, ["run", "run"], 3.25)
    assert entry == {"tests": {"01_one.ipynb": [["g", False, 1, 2, 1, 2, ["h2"]]]},
                     "kinds": ["run"], "seconds": 3.25}
    expected = CellResult.from_checks(
        "01_one.ipynb", "g", False, [CheckRecord(*check) for check in checks_data])
    assert expected == CellResult("01_one.ipynb", "g", False, (1, 2), (1, 2), ("h2",))
    assert student_record("s", json.loads(json.dumps(entry))) == StudentRecord(
        "s", (expected,), ("run",), 3.25)
    assert student_record("s", None) == StudentRecord("s")


def test_the_page_is_self_contained_escaped_and_script_free(klass, tmp_path):
    rows, records, sign = klass
    rows = [*rows, row("eve", 1, 1, status=HOSTILE)]
    records["eve"] = StudentRecord(
        "eve", (cell("01_one", HOSTILE, [(HOSTILE, True)], [(HOSTILE, False)]),),
        ("surprise",), 1.0)
    page = write_report(tmp_path / "report.html", build(rows, records, MAXIMA))
    text = page.read_text(encoding="utf-8")
    assert HOSTILE not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    assert "<script" not in text.lower()
    assert re.search(r"Content-Security-Policy\" content=\"default-src 'none'", text)
    # Every image is embedded: a PNG in a data URL, nothing fetched from anywhere.
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) == 4  # scores, pass rates, hidden failures, grading time
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix):]).startswith(b"\x89PNG")
    assert not re.search(r"(href|src)=\"(https?:|//|file:)", text)
    # The hidden check failed most often is named in plain words, at a glance.
    glance = text[text.index("At a glance"):text.index("<h2>Scores")]
    assert sign in glance and "grad_tests" in glance


def test_a_large_group_is_counted_in_full_and_named_in_part(tmp_path):
    from instructor.report import NAMED_PER_GROUP

    ids = [f"s{number:05d}" for number in range(NAMED_PER_GROUP + 7)]
    rows = [row(student_id, 1, 1) for student_id in ids]
    records = {student_id: StudentRecord(student_id, (), ("run",)) for student_id in ids}
    text = write_report(tmp_path / "r.html", build(rows, records, MAXIMA)).read_text()
    named = re.search(r"<td>other</td><td class=\"n\">(\d+)</td><td>([^<]*)</td>", text)
    assert named and int(named[1]) == len(ids)
    assert named[2] == ", ".join(ids[:NAMED_PER_GROUP]) + " and 7 more"


def test_an_empty_class_still_gives_a_page(tmp_path):
    text = write_report(tmp_path / "r.html", build([], {}, MAXIMA)).read_text()
    assert "0 students graded" in text and "No test cell was judged" in text
