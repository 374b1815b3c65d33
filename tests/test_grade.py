"""`make grade`: the example class graded once, each student's outcome, leaks, reruns."""

import hashlib
import html
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from pages import MARK, live_payloads, render

from instructor.cells import BEGIN_HIDDEN, END_HIDDEN, is_answer, is_test
from instructor.course import (
    SOURCE_ROOT,
    find_assignment,
    load_config,
    notebook_names,
    setup_course,
)
from instructor.example_class import (
    PUBLISHED_RESULTS,
    WRONG_TYPE_FUNCTION,
    build_example_class,
)
from instructor.grade import GRADES_FILE, grade_class
from instructor.ledger import STATE_FILE, Ledger, load_state
from instructor.report import REPORT_FILE, student_record
from instructor.sandbox import Limits

pytestmark = pytest.mark.slow

ASSIGNMENT = find_assignment(SOURCE_ROOT)
# The class is graded on the first two notebooks, the ones the example class's students
# are built on (the attacks work on the first, the broken files on the last), in time for
# CI. The later notebooks are judged in the sandbox in tests/test_execution.py.
NAMES = notebook_names(SOURCE_ROOT / ASSIGNMENT)[:2]
FIRST, SECOND, LAST = NAMES[0], NAMES[1 if len(NAMES) > 1 else 0], NAMES[-1]


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def secret_lines(source_root: Path = SOURCE_ROOT) -> set[str]:
    """Non-blank hidden-test lines of the source notebooks that appear nowhere else in them.

    A line also found outside the hidden regions (a solution line, a docstring line of a
    visible function) gives nothing away when feedback shows it.
    """
    hidden, visible = set(), set()
    for path in (source_root / ASSIGNMENT).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if BEGIN_HIDDEN in line:
                    inside = True
                elif END_HIDDEN in line:
                    inside = False
                elif line.strip():
                    (hidden if inside else visible).add(line.strip())
    # A hidden line found inside a visible one (the correct backprop's line is a prefix of
    # the buggy one's, which ends in "* 2") gives nothing away either.
    return {line for line in hidden - visible if not any(line in v for v in visible)}


def cell_points(out: Path) -> dict[str, dict[str, float]]:
    """Gradebook max score of each autograded test cell: notebook name -> grade_id -> points."""
    from nbgrader.api import Gradebook

    course = load_config(out).CourseDirectory
    with Gradebook(course.db_url, course.course_id) as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        return {
            notebook.name + ".ipynb": {
                cell.name: cell.max_score
                for cell in notebook.grade_cells
                if cell.cell_type == "code"
            }
            for notebook in assignment.notebooks
        }


def sources_of_test_cells(out: Path) -> dict[str, dict[str, str]]:
    """Source (hidden tests included) of each test cell: notebook name -> grade_id -> source."""
    return {
        name: {
            cell.metadata.nbgrader["grade_id"]: cell.source
            for cell in nbformat.read(out / "notebooks" / ASSIGNMENT / name, as_version=4).cells
            if is_test(cell)
        }
        for name in NAMES
    }


def answer_cells(source: Path) -> dict[str, list[str]]:
    """grade_ids of the code answer cells of each notebook, in order."""
    return {
        name: [
            cell.metadata.nbgrader["grade_id"]
            for cell in nbformat.read(source / ASSIGNMENT / name, as_version=4).cells
            if cell.cell_type == "code" and is_answer(cell)
        ]
        for name in NAMES
    }


BAD_FOLDER = os.fsdecode(b"\xffbad")
BAD_FOLDER_LINE = "\\udcffbad: not graded; folder name is not a usable student id"


def add_broken_files(submissions: Path, graded_answer: str) -> list[str]:
    """Students whose files once stopped the whole class (issue 15): a full solution each,
    with one file made hostile; and a folder whose name is not UTF-8."""
    full = submissions / "full_solution" / ASSIGNMENT
    added = {"nested_brackets": None, "metadata_not_a_dict": None, "name_not_utf8": None}
    for student in added:
        shutil.copytree(full, submissions / student / ASSIGNMENT)
    (submissions / "nested_brackets" / ASSIGNMENT / LAST).write_bytes(
        b"[" * 100_000 + b"]" * 100_000  # 200 kB: RecursionError in json.loads
    )
    path = submissions / "metadata_not_a_dict" / ASSIGNMENT / FIRST
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == graded_answer)
    cell.metadata["nbgrader"] = "not a dict"  # nbformat allows it
    nbformat.write(nb, path)
    odd_name = os.fsdecode(b"r\xe9sum\xe9.txt")  # a zip from another system
    (submissions / "name_not_utf8" / ASSIGNMENT / odd_name).write_text("cv")
    shutil.copytree(full, submissions / BAD_FOLDER / ASSIGNMENT)
    return [*added, "\\udcffbad"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The example class, built from a fresh release, graded once."""
    root = tmp_path_factory.mktemp("grade")
    out, submissions, source = root / "out", root / "submissions", root / "source"
    # A snapshot: reruns below must see the same sources even if notebooks/ is being edited.
    (source / ASSIGNMENT).mkdir(parents=True)
    for name in NAMES:
        shutil.copy2(SOURCE_ROOT / ASSIGNMENT / name, source / ASSIGNMENT / name)
    # Generates out/release, from which the class is built; grading then reuses it.
    setup_course(out, Ledger(out), source_root=source, assignment=ASSIGNMENT)
    students = build_example_class(out / "release" / ASSIGNMENT, source / ASSIGNMENT, submissions)
    students += add_broken_files(submissions, graded_answer=answer_cells(source)[FIRST][0])
    before = tree_digest(submissions)
    lines = []
    rows = grade_class(submissions, out, source_root=source, echo=lines.append)
    return {
        "out": out,
        "submissions": submissions,
        "students": students,
        "before": before,
        "rows": {row.student_id: row for row in rows},
        "csv": (out / GRADES_FILE).read_bytes(),
        "points": cell_points(out),
        "tests": sources_of_test_cells(out),
        "answers": answer_cells(source),
        "lines": lines,
        "source": source,
    }


def maximum(graded, name: str) -> float:
    return sum(graded["points"][name].values())


def without_cells_using(graded, name: str, functions) -> float:
    """Max score of notebook `name` minus the test cells that call any of `functions`."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, functions)) + r")\b")
    return sum(
        points
        for grade_id, points in graded["points"][name].items()
        if not pattern.search(graded["tests"][name][grade_id])
    )


def expected_scores(graded, student: str) -> dict[str, float]:
    """Score per notebook stem that each example student must get, from gradebook points."""
    full = {name: maximum(graded, name) for name in NAMES}
    zero = dict.fromkeys(NAMES, 0.0)
    if student in ("blank_release", "patched_checks", "shadow_package"):
        scores = zero
    elif student == "first_notebook_only":
        scores = {**zero, FIRST: full[FIRST]}
    elif student in ("syntax_error", "symlinked_source"):
        scores = {**full, FIRST: 0.0}
    elif student in ("kernel_dies", "missing_notebook"):
        scores = {**full, SECOND: 0.0}
    elif student == "\\udcffbad":
        scores = zero
    elif student in ("invalid_json", "nested_brackets"):
        scores = {**full, LAST: 0.0}
    elif student == "wrong_types":
        scores = {name: without_cells_using(graded, name, [WRONG_TYPE_FUNCTION]) for name in NAMES}
    elif student in ("hard_coded", "visible_only"):
        scores = {name: without_cells_using(graded, name, PUBLISHED_RESULTS) for name in NAMES}
    else:
        scores = full
    return {Path(name).stem: score for name, score in scores.items()}


def expected_status(graded, student: str) -> str:
    first_test = next(iter(graded["tests"][FIRST]))  # notebook order
    first_answer = graded["answers"][FIRST][0]
    return {
        "infinite_loop": (
            f"{FIRST}: cell {first_answer} ran past the time limit and was interrupted"
        ),
        "kernel_dies": (
            f"{SECOND}: the kernel died while running cell {graded['answers'][SECOND][0]}; "
            f"{SECOND}: the kernel exited by itself (status 1)"
        ),
        "invalid_json": f"{LAST} is not valid JSON",
        "nested_brackets": f"{LAST} is not valid JSON",
        "metadata_not_a_dict": f"{FIRST}: nbgrader metadata restored: {first_answer}",
        "name_not_utf8": "other files ignored: r\\udce9sum\\udce9.txt",
        "\\udcffbad": "folder name is not a usable student id",
        "missing_notebook": f"missing notebook {SECOND}",
        "test_cell_edited": f"test cell restored: {FIRST} {first_test} (edited)",
        "test_cell_deleted": f"test cell restored: {FIRST} {first_test} (deleted)",
        "syntax_error": "errors in answer cells of {}: {}".format(
            FIRST,
            ", ".join(f"{grade_id} (SyntaxError)" for grade_id in graded["answers"][FIRST]),
        ),
        "points_raised": (
            f"points restored: {FIRST} {first_test} "
            f"(100 -> {graded['points'][FIRST][first_test]:g})"
        ),
        "imports_deleted": f"{FIRST}: cell restored: imports",
        "huge_output": f"{FIRST}: output over the size limit was cut",
        # Its answers are right: it keeps its marks, and the status names what it did.
        "swells_when_judged": f"{FIRST}: output over the size limit was cut",
        "fills_the_disk": (
            f"{FIRST}: the kernel filled its {Limits().disk_bytes / 2**20:g} MiB work folder "
            "(disk quota)"
        ),
        "shadow_package": "other files ignored: course_utils/__init__.py, ipykernel_launcher.py",
        "symlinked_source": f"{FIRST} is a symbolic link: not followed, graded as missing",
        "duplicated_cell": f"{FIRST}: duplicated cell ignored: {first_answer}",
        # The exception's name carries a newline and a forged CSV row: it must stay one field.
        "forged_csv_row": (
            f"errors in answer cells of {FIRST}: {first_answer} (Forged mallory,22,22,22,22,ok)"
        ),
    }.get(student, "ok")


STUDENTS = [
    "full_solution",
    "first_notebook_only",
    "blank_release",
    "wrong_types",
    "hard_coded",
    "visible_only",
    "imports_deleted",
    "infinite_loop",
    "syntax_error",
    "test_cell_edited",
    "test_cell_deleted",
    "points_raised",
    "kernel_dies",
    "invalid_json",
    "missing_notebook",
    "huge_output",
    # Attacks
    "patched_checks",
    "shadow_package",
    "touches_the_class",
    "leak_attempt",
    "kills_the_grader",
    "lingering_daemon",
    "forged_csv_row",
    "symlinked_source",
    "script_for_the_grader",
    "swells_when_judged",
    "fills_the_disk",
    # Honest quirks
    "stderr_debug_print",
    "duplicated_cell",
    # Files that once stopped the whole class
    "nested_brackets",
    "metadata_not_a_dict",
    "name_not_utf8",
    "\\udcffbad",
]


def test_every_example_student_gets_a_row(graded):
    assert sorted(graded["rows"]) == sorted(graded["students"])
    assert set(STUDENTS) | {"resource_hog", "stripped_metadata"} == set(graded["students"])


@pytest.mark.parametrize("student", STUDENTS)
def test_each_student_gets_the_expected_scores_and_status(graded, student):
    row = graded["rows"][student]
    assert row.scores == expected_scores(graded, student), row.status
    assert row.status == expected_status(graded, student)
    assert row.auto_score == row.total == sum(row.scores.values())
    assert row.max_score == graded["rows"]["full_solution"].max_score


def test_stripped_metadata_is_restored_and_costs_nothing(graded):
    row = graded["rows"]["stripped_metadata"]
    assert row.scores == expected_scores(graded, "full_solution")
    assert row.status.startswith(f"{FIRST}: nbgrader metadata restored: ")
    assert "deleted" not in row.status


def test_a_resource_hog_is_contained_and_graded(graded):
    """A 64 GB allocation and a fork bomb: the caps hold, the rest of the class is graded."""
    row = graded["rows"]["resource_hog"]
    assert (
        row.scores[Path(SECOND).stem] == expected_scores(graded, "full_solution")[Path(SECOND).stem]
    )
    assert row.status.startswith(FIRST), row.status


def test_honest_scores(graded):
    """Correct work earns everything; constants and wrong types lose the cells that check them."""
    full = graded["rows"]["full_solution"]
    assert full.auto_score == sum(maximum(graded, name) for name in NAMES) > 0
    for student in ("hard_coded", "visible_only", "wrong_types", "blank_release"):
        assert graded["rows"][student].auto_score < full.auto_score, student
    assert graded["rows"]["blank_release"].auto_score == 0


def test_visible_only_passes_every_visible_check_and_fails_hidden_tests(graded):
    """The hidden tests, not the visible checks, take the marks of the norm-of-sum mistake."""
    folder = graded["out"] / "autograded" / "visible_only" / ASSIGNMENT
    caught = 0
    for name in NAMES:
        for cell in nbformat.read(folder / name, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id not in {f"{function}_tests" for function in PUBLISHED_RESULTS}:
                continue
            stdout = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
            errors = [o for o in cell.outputs if o.output_type == "error"]
            # The hidden block only runs once the visible check has passed.
            assert "(hidden tests)" in stdout and "All" in stdout.split("(hidden tests)")[0]
            assert errors and "hidden tests" in errors[0].evalue
            caught += 1
    assert caught == len(PUBLISHED_RESULTS)


def test_out_has_a_course_config_for_formgrader(graded):
    """OUT/nbgrader_config.py loads the repository's settings (tests/test_course.py: how)."""
    from instructor.course import CONFIG_FILE

    text = (graded["out"] / "nbgrader_config.py").read_text()
    assert "load_subconfig" in text and repr(str(CONFIG_FILE.resolve())) in text


def test_manual_grading_is_pending_only_for_written_answers(graded):
    assert graded["rows"]["full_solution"].manual_pending
    assert not graded["rows"]["blank_release"].manual_pending


def test_feedback_exists_for_every_graded_notebook(graded):
    feedback = graded["out"] / "feedback"
    broken = {"missing_notebook": SECOND, "invalid_json": LAST, "symlinked_source": FIRST,
              "nested_brackets": LAST}
    for student in graded["students"]:
        folder = feedback / student / ASSIGNMENT
        expected = {Path(n).stem + ".html" for n in NAMES if broken.get(student) != n}
        if student == "\\udcffbad":  # never graded
            expected = set()
        assert {p.name for p in folder.glob("*.html")} == expected, student


def test_test_cells_show_only_the_judges_report(graded):
    """Whatever the kernel printed, a test cell's outputs are the grader's: stdout, then at
    most one failure; no stderr (which would zero the cell) and no kernel traceback."""
    for folder in (graded["out"] / "autograded").iterdir():
        for path in (folder / ASSIGNMENT).glob("*.ipynb"):
            for cell in nbformat.read(path, as_version=4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if not is_test(cell):
                    continue
                kinds = [(o.output_type, o.get("name") or o.get("ename")) for o in cell.outputs]
                assert kinds in (
                    [("stream", "stdout")],
                    [("stream", "stdout"), ("error", "CheckFailed")],
                ), (folder.name, meta["grade_id"], kinds)


def test_a_debug_print_to_stderr_reaches_no_test_output_and_costs_nothing(graded):
    """The student's own code (shown in feedback) prints to stderr while a test calls it:
    the test cell's outputs, which decide the score, hold only the judge's report."""
    folder = graded["out"] / "autograded" / "stderr_debug_print" / ASSIGNMENT
    printed = "".join(
        str(output.get("text", "")) + str(output.get("evalue", ""))
        for name in NAMES
        for cell in nbformat.read(folder / name, as_version=4).cells
        if is_test(cell)
        for output in cell.outputs
    )
    assert printed and "debug: checking" not in printed
    assert graded["rows"]["stderr_debug_print"].total == graded["rows"]["full_solution"].total


def test_no_attack_reached_outside_its_sandbox(graded):
    """The attackers' writes, daemons and kills changed nothing the grader owns."""
    root = graded["out"].parent
    assert not list(root.rglob("planted.txt"))
    # The lingering daemon would append to grades.csv three seconds after its kernel ended.
    time.sleep(4)
    assert (graded["out"] / GRADES_FILE).read_bytes() == graded["csv"]
    text = graded["csv"].decode()
    assert "forged,99" not in text and "spoiled" not in text
    assert text.count("\n") == len(graded["students"]) + 1
    assert b"spoiled" not in (graded["out"] / "gradebook.db").read_bytes()


def test_feedback_never_shows_hidden_tests(graded):
    secrets = secret_lines(graded["source"])
    assert secrets, "the source notebooks should have hidden tests"
    files = sorted((graded["out"] / "feedback").rglob("*.html"))
    assert files
    leaks = {}
    for path in files:
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
        found = sorted(line for line in secrets if line in text)
        if found:
            leaks[str(path.relative_to(graded["out"]))] = found[:3]
    assert not leaks, f"hidden-test lines in feedback: {leaks}"


def test_the_class_report_names_the_hidden_checks_failed_and_never_their_code(graded):
    """OUT/report.html counts each check from the judge's records: visible_only passes every
    visible check and fails hidden ones, which the page names by label, never by code."""
    out = graded["out"]
    entries = load_state(out / STATE_FILE)["students"]
    record = student_record("visible_only", entries["visible_only"].get("report"))
    assert record.tests and all(test.visible[0] == test.visible[1] > 0 for test in record.tests)
    failed = {label for test in record.tests for label in test.failed_hidden}
    assert failed and record.seconds > 0
    text = (out / REPORT_FILE).read_text(encoding="utf-8")
    assert all(html.escape(label) in text for label in failed)
    visible = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert not sorted(line for line in secret_lines(graded["source"]) if line in visible)


def test_the_class_report_groups_time_outs_and_limits_by_the_kind_found(graded):
    """The run names each problem's kind where it finds it: the report groups students by
    kind, never by reading the status words."""
    entries = load_state(graded["out"] / STATE_FILE)["students"]
    kinds = {sid: set(student_record(sid, entry.get("report")).problem_kinds)
             for sid, entry in entries.items()}
    assert "timeout" in kinds["infinite_loop"]
    assert {"kernel_died", "limit"} <= kinds["kernel_dies"]  # died, and the exit is named
    assert "limit" in kinds["huge_output"]
    assert not kinds["full_solution"] and not kinds["visible_only"]


def test_a_students_script_runs_on_no_page_the_instructor_or_student_opens(graded):
    """What a cell displayed reaches the autograded notebook, and no page runs it."""
    student = "script_for_the_grader"
    autograded = graded["out"] / "autograded" / student / ASSIGNMENT / FIRST
    assert MARK in autograded.read_text()  # the payload did reach the pages' input
    feedback = graded["out"] / "feedback" / student / ASSIGNMENT
    pages = {path.name: path.read_text() for path in feedback.glob("*.html")}
    pages["Formgrader"] = render(nbformat.read(autograded, as_version=4), "formgrade")
    found = {name: live_payloads(html) for name, html in pages.items()}
    assert found == {name: [] for name in pages}


def test_example_class_holds_no_hidden_tests(graded):
    secrets = secret_lines(graded["source"])
    for path in graded["submissions"].rglob("*.ipynb"):
        if path.is_symlink():  # symlinked_source points at the source on purpose
            continue
        text = path.read_text(encoding="utf-8")
        assert not [line for line in secrets if line in text], path


def test_submissions_are_never_modified(graded):
    assert tree_digest(graded["submissions"]) == graded["before"]


def test_rerun_changes_nothing(graded):
    out = graded["out"]
    feedback = tree_digest(out / "feedback")
    lines = []
    rows = grade_class(graded["submissions"], out, source_root=graded["source"], echo=lines.append)
    assert all("unchanged" in line or BAD_FOLDER_LINE in line for line in lines), lines
    assert (out / GRADES_FILE).read_bytes() == graded["csv"]
    assert {row.student_id: row.scores for row in rows} == {
        sid: row.scores for sid, row in graded["rows"].items()
    }
    assert tree_digest(out / "feedback") == feedback
    assert tree_digest(graded["submissions"]) == graded["before"]


def test_a_new_submission_regrades_only_that_student(graded, tmp_path):
    """Runs last: it changes the shared output (blank_release hands in a full solution)."""
    submissions = tmp_path / "submissions"
    shutil.copytree(graded["submissions"], submissions, symlinks=True)
    target = submissions / "blank_release" / ASSIGNMENT
    shutil.rmtree(target)
    shutil.copytree(submissions / "full_solution" / ASSIGNMENT, target)
    lines = []
    rows = {
        row.student_id: row
        for row in grade_class(
            submissions, graded["out"], source_root=graded["source"], echo=lines.append
        )
    }
    regraded = [line.split(":")[0].split("] ")[1] for line in lines if ": graded" in line]
    assert regraded == ["blank_release"]
    assert rows["blank_release"].scores == rows["full_solution"].scores
    assert rows["blank_release"].status == "ok"
    others = {sid: row.scores for sid, row in rows.items() if sid != "blank_release"}
    assert others == {
        sid: row.scores for sid, row in graded["rows"].items() if sid != "blank_release"
    }


def test_grading_refuses_to_run_without_submissions(tmp_path):
    from instructor.course import GradingError

    with pytest.raises(GradingError, match="does not exist"):
        grade_class(tmp_path / "nowhere", tmp_path / "out", assignment=ASSIGNMENT)
