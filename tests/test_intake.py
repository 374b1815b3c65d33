"""instructor/intake.py: any submission folder becomes a job with a status, never an exception.

The fuzz test pushes generated submissions (structural mutations of a real notebook's JSON,
random bytes, brackets nested deep, odd file and folder names) through intake; the named
cases below are the ones that once stopped a whole class.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instructor.course import SOURCE_ROOT, find_assignment, setup_course
from instructor.export import spreadsheet_cell
from instructor.intake import NOT_GRADED, RUN, UNCHANGED, Intake
from instructor.ledger import Ledger
from instructor.problems import Problem, words

ASSIGNMENT = find_assignment(SOURCE_ROOT)
FIRST = sorted(path.name for path in (SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))[0]
FUZZ_EXAMPLES = 1000


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course of the first notebook, and its released notebook as JSON."""
    root = tmp_path_factory.mktemp("intake")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    shutil.copy2(SOURCE_ROOT / ASSIGNMENT / FIRST, source / FIRST)
    out = root / "out"
    ledger = Ledger(out)
    course = setup_course(out, ledger, source.parent, assignment=ASSIGNMENT, sandbox=False)
    return {
        "course": course,
        "ledger": ledger,
        "root": root,
        "release": json.loads((course.release_dir / FIRST).read_text()),
    }


def submit(folder: Path, files: dict) -> None:
    """Write ``{relative name (str or bytes): bytes}`` as a student's assignment folder."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, content in files.items():
        path = Path(os.fsdecode(name)) if isinstance(name, bytes) else Path(name)
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def check(job, course) -> None:
    """What every job must be: an action, statuses in printable words, every notebook
    either ready to run or named in a problem."""
    assert job.action in (RUN, NOT_GRADED, UNCHANGED)
    assert all(isinstance(problem, Problem) for problem in job.problems)
    for text in [job.student_id, *(words(p) for p in job.problems)]:
        spreadsheet_cell(text).encode("utf-8")  # a CSV cell, as export writes it
    json.dumps([p.as_data() for p in job.problems], ensure_ascii=False).encode("utf-8")
    if job.action == NOT_GRADED:
        assert job.problems and not job.notebooks
    if job.action == RUN:
        for name in course.notebooks:
            named = {p.notebook for p in job.problems}
            assert name in job.notebooks or name in named, (name, job.problems)
        for nb in job.notebooks.values():
            nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))


def take(course_data, student_id: str, files: dict):
    course, ledger = course_data["course"], course_data["ledger"]
    submissions = course_data["root"] / "submissions"
    submit(submissions / student_id / ASSIGNMENT, files)
    job = Intake(course, ledger, submissions).take(student_id)
    check(job, course)
    return job


# Structural mutations of a real notebook's JSON.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw, release):
    """The released notebook with a few subtrees replaced, deleted or copied."""
    nb = copy.deepcopy(release)
    for _ in range(draw(st.integers(1, 4))):
        parent, key = None, None
        node = nb
        while isinstance(node, dict | list) and node and draw(st.integers(0, 4)) > 0:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        if parent is None:
            continue
        action = draw(st.sampled_from(["replace", "delete", "copy", "metadata"]))
        if action == "replace":
            parent[key] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "copy" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(node))
        elif nb.get("cells") and isinstance(nb["cells"], list):
            cell = draw(st.sampled_from(nb["cells"]))
            if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict):
                cell["metadata"]["nbgrader"] = draw(JSON_VALUES)
    return json.dumps(nb).encode()


ODD_NAMES = st.binary(min_size=1, max_size=24).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b"..")
)


@st.composite
def submissions(draw, release):
    """A submission folder: the notebook (mutated, random bytes, nested brackets, valid,
    or missing) and perhaps extra files with odd names."""
    kind = draw(st.sampled_from(["mutated", "mutated", "bytes", "brackets", "valid", "none"]))
    files = {}
    if kind == "mutated":
        files[FIRST] = draw(mutated(release))
    elif kind == "bytes":
        files[FIRST] = draw(st.binary(max_size=3000))
    elif kind == "brackets":
        depth = draw(st.integers(100, 200_000))
        files[FIRST] = b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    elif kind == "valid":
        files[FIRST] = json.dumps(release).encode()
    for name in draw(st.lists(ODD_NAMES, max_size=2)):
        if name != FIRST.encode():
            files[name] = draw(st.binary(max_size=50))
    student = draw(st.sampled_from(["student", "s.2", "café", "-x", "a" * 120]))
    return student, files


def test_fuzz_no_submission_escapes_intake(course):
    """At least 1,000 generated submissions: no exception, each gets an action and words."""
    seen = {RUN: 0, NOT_GRADED: 0}

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(submissions(course["release"]))
    def one(submission):
        student, files = submission
        job = take(course, student, files)
        seen[job.action] += 1

    one()
    assert sum(seen.values()) >= FUZZ_EXAMPLES
    assert seen[RUN] and seen[NOT_GRADED]  # both ends reached, not one path a thousand times


def test_brackets_nested_too_deep_are_not_json(course):
    job = take(course, "deep", {FIRST: b"[" * 200_000 + b"]" * 200_000})
    assert job.action == RUN and job.problems == [Problem("not_json", FIRST)]


def test_nbgrader_metadata_that_is_not_a_dict_is_put_right(course):
    nb = copy.deepcopy(course["release"])
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
    answer["metadata"]["nbgrader"] = "not a dict"
    job = take(course, "odd_metadata", {FIRST: json.dumps(nb).encode()})
    assert job.action == RUN and FIRST in job.notebooks
    assert [p.kind for p in job.problems] == ["metadata_restored"]


def test_a_file_name_that_is_not_utf8_is_named_and_ignored(course):
    job = take(course, "zip_from_elsewhere", {
        FIRST: json.dumps(course["release"]).encode(), b"r\xe9sum\xe9.txt": b"notes",
    })
    assert job.action == RUN and FIRST in job.notebooks
    assert [words(p) for p in job.problems] == ["other files ignored: r\\udce9sum\\udce9.txt"]


def test_a_student_folder_whose_name_is_not_utf8_gets_a_printable_row(course):
    student = os.fsdecode(b"\xffbad")
    job = take(course, student, {FIRST: json.dumps(course["release"]).encode()})
    assert job.action == NOT_GRADED and job.problems == [Problem("bad_student_id")]
    assert job.student_id == "\\udcffbad"


def test_an_unchanged_submission_is_not_taken_again(course):
    files = {FIRST: json.dumps(course["release"]).encode()}
    job = take(course, "again", files)
    course["ledger"].note("again", job.digest, [], graded=True, sandbox=True)
    assert take(course, "again", files).action == UNCHANGED
    course["ledger"].students["again"]["in_progress"] = True
    assert take(course, "again", files).problems == [Problem("crashed_grader")]
    files[FIRST] += b" "
    assert take(course, "again", files).action == RUN


def test_what_cannot_be_read_is_named_per_notebook(course, tmp_path):
    assert take(course, "bytes", {FIRST: b"\xff\xfe"}).problems == [Problem("not_utf8", FIRST)]
    assert take(course, "empty", {}).problems == [Problem("missing", FIRST)]
    job = take(course, "not_nb", {FIRST: b'{"cells": 3}'})
    assert [p.kind for p in job.problems] == ["not_notebook"]
    folder = course["root"] / "submissions" / "linked" / ASSIGNMENT
    submit(folder, {})
    (folder / FIRST).symlink_to(course["course"].source_dir / FIRST)
    job = Intake(course["course"], course["ledger"], folder.parent.parent).take("linked")
    assert job.problems == [Problem("symlink", FIRST)] and not job.notebooks
    assert take(course, "x" * 101, {}).problems == [Problem("bad_student_id")]

