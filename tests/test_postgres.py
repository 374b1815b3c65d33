"""A PostgreSQL gradebook: nbgrader round trips, the export matches sqlite, the server is ours."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from postgres import (
    ASSIGNMENT,
    COURSE_ID,
    INSTALL_HINT,
    fill_gradebook,
    find_bin,
    skip_or_fail,
    start_server,
    stop_server,
)
from test_export import STATE, nbgrader_export, read_csv

from instructor.course import write_course_config
from instructor.export import read_rows, write_grades_csv

pytestmark = pytest.mark.slow


def test_the_export_reads_the_same_rows_from_postgresql_as_from_sqlite(
    postgresql_url, tmp_path, quick_gradebooks
):
    sqlite_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    for url in (sqlite_url, postgresql_url):
        fill_gradebook(url)
    from_sqlite = read_rows(sqlite_url, COURSE_ID, ASSIGNMENT, STATE)
    from_postgresql = read_rows(postgresql_url, COURSE_ID, ASSIGNMENT, STATE)
    assert from_postgresql == from_sqlite
    # Not two empty lists: a manual grade and a pending one came through.
    assert [r.manual_score > 0 for r in from_sqlite] == [True, False, False, False]
    assert [r.manual_pending for r in from_sqlite] == [False, True, False, False]


def test_an_nbgrader_gradebook_round_trips_through_postgresql(postgresql_url):
    """Written by one Gradebook (nbgrader's first-time set-up included), read by another."""
    from nbgrader.api import Gradebook
    from sqlalchemy import inspect

    with Gradebook(postgresql_url, COURSE_ID) as gb:
        gb.add_assignment(ASSIGNMENT)
        gb.add_notebook("nb1", ASSIGNMENT)
        gb.add_grade_cell("test_a", "nb1", ASSIGNMENT, max_score=2.0, cell_type="code")
        gb.add_grade_cell("written", "nb1", ASSIGNMENT, max_score=3.0, cell_type="markdown")
        gb.add_student("ünïcødé-student", first_name="Zoë")
        gb.add_submission(ASSIGNMENT, "ünïcødé-student")
        grade = gb.find_grade("test_a", "nb1", ASSIGNMENT, "ünïcødé-student")
        grade.auto_score, grade.needs_manual_grade = 2.0, False
        gb.db.commit()

    # Formgrader's manual grade, in a session of its own.
    with Gradebook(postgresql_url, COURSE_ID) as gb:
        grade = gb.find_grade("written", "nb1", ASSIGNMENT, "ünïcødé-student")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.db.commit()

    with Gradebook(postgresql_url, COURSE_ID) as gb:
        assert "alembic_version" in inspect(gb.engine).get_table_names()
        assert gb.find_student("ünïcødé-student").first_name == "Zoë"
        submission = gb.find_submission(ASSIGNMENT, "ünïcødé-student")
        assert (submission.score, submission.max_score) == (3.5, 5.0)
        assert not submission.needs_manual_grade
        gb.remove_submission(ASSIGNMENT, "ünïcødé-student")
        assert gb.assignment_submissions(ASSIGNMENT) == []


def test_nbgrader_export_writes_grades_from_a_postgresql_gradebook(
    postgresql_url, tmp_path, quick_gradebooks
):
    """DB_URL's course folder: its nbgrader_config.py points nbgrader at PostgreSQL."""
    sqlite_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    for url in (sqlite_url, postgresql_url):
        fill_gradebook(url)
    course = tmp_path / "out"
    course.mkdir()
    write_course_config(course, db_url=postgresql_url)
    (course / "grading_state.json").write_text(json.dumps(STATE))

    result = nbgrader_export(course)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not (course / "gradebook.db").exists()
    expected = course / "expected.csv"
    write_grades_csv(read_rows(sqlite_url, COURSE_ID, ASSIGNMENT, STATE), expected)
    assert read_csv(course / "grades.csv") == read_csv(expected)


def test_the_server_runs_as_nobody_on_loopback_and_stops_by_its_process_id():
    bin_dir = find_bin()
    if bin_dir is None:
        skip_or_fail(INSTALL_HINT)
    import psycopg

    server = start_server(bin_dir)
    try:
        with psycopg.connect(
            host="127.0.0.1", port=server.port, user="postgres", dbname="postgres"
        ) as connection:
            (listen,) = connection.execute("SHOW listen_addresses").fetchone()
        assert listen == "127.0.0.1"
        if os.geteuid() == 0:
            status = Path(f"/proc/{server.pid}/status").read_text()
            assert "\nUid:\t65534\t" in status
    finally:
        stop_server(server)
    assert not Path(f"/proc/{server.pid}").exists()
    assert not server.base.exists()


def test_a_missing_server_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get"):
        skip_or_fail("install it: apt-get install postgresql")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get"):
        skip_or_fail("install it: apt-get install postgresql")


def test_recording_into_postgresql_gives_the_rows_of_sqlite(postgresql_url, tmp_path):
    """The record stage writes a PostgreSQL gradebook as it writes SQLite's: the same rows
    for the same results (the run stood in for, as in test_record)."""
    import shutil

    from test_record import NAMES, STUDENTS, executed

    from instructor.course import SOURCE_ROOT, find_assignment, setup_course
    from instructor.example_class import build_example_class
    from instructor.execution import notebook_from_data
    from instructor.intake import Intake
    from instructor.ledger import Ledger
    from instructor.record import Recorder
    from instructor.run import finish, job_data

    assignment = find_assignment(SOURCE_ROOT)
    source = tmp_path / "source" / assignment
    source.mkdir(parents=True)
    for name in NAMES:
        shutil.copy2(SOURCE_ROOT / assignment / name, source / name)
    rows = {}
    for label, url in (("sqlite", None), ("postgresql", postgresql_url)):
        out = tmp_path / label
        ledger = Ledger(out)
        course = setup_course(out, ledger, source.parent, db_url=url, sandbox=False)
        submissions = tmp_path / "submissions"
        if not submissions.exists():
            build_example_class(course.release_dir, source, tmp_path / "everyone")
            for student in STUDENTS:
                shutil.copytree(tmp_path / "everyone" / student, submissions / student)
        intake = Intake(course, ledger, submissions)
        with Recorder(course, ledger) as recorder:
            for student in STUDENTS:
                job = intake.take(student)
                data = job_data(job, course, [])
                recorder.record(job, {
                    name: finish(executed(notebook_from_data(nb)), name, data, []).as_data()
                    for name, nb in job.notebooks.items()
                })
        rows[label] = read_rows(course.db_url, course.course_id, assignment, ledger.state)
    assert not (tmp_path / "postgresql" / "gradebook.db").exists()
    assert rows["postgresql"] == rows["sqlite"] and len(rows["sqlite"]) == len(STUDENTS)
