"""instructor/course.py: course folders that apply the repository's nbgrader settings."""

import subprocess
import sys

import pytest

from instructor.course import GradingError, load_config, write_course_config

PROBE = """\
from traitlets.config import PyFileConfigLoader
c = PyFileConfigLoader("nbgrader_config.py", path={folder!r}).load_config()
print(c.CourseDirectory.root)
print(c.CourseDirectory.get("db_url", "default"))
print(",".join(p.__name__ for p in c.GenerateFeedback.preprocessors))
print(c.Execute.timeout, c.OverwriteCells.add_missing_cells)
"""


def _load_elsewhere(folder, cwd):
    """Load folder/nbgrader_config.py in an isolated interpreter started in ``cwd``."""
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE.format(folder=str(folder))],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_course_folder_gets_every_repository_setting_from_anywhere(tmp_path):
    folder, elsewhere = tmp_path / "course", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    write_course_config(folder)
    root, db_url, preprocessors, rest = _load_elsewhere(folder, elsewhere)
    assert root == str(folder.resolve())
    assert db_url == "default"
    # The scrubber runs before ClearHiddenTests: it needs the hidden lines to find them.
    scrub_then_clear = ["GetGrades", "ScrubHiddenTracebacks", "ClearHiddenTests"]
    assert preprocessors.split(",")[:3] == scrub_then_clear
    assert rest == "15 True"


def test_a_custom_gradebook_is_recorded(tmp_path):
    write_course_config(tmp_path, db_url="sqlite:////data/big-course.db")
    assert _load_elsewhere(tmp_path, tmp_path)[1] == "sqlite:////data/big-course.db"


def test_a_missing_repository_config_is_an_error_not_silence(tmp_path):
    fake = tmp_path / "gone" / "nbgrader_config.py"
    fake.parent.mkdir()
    fake.write_text("c = get_config()\n")
    write_course_config(tmp_path, config_file=fake)
    fake.unlink()
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE.format(folder=str(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "is gone" in result.stderr


def test_grading_refuses_a_config_whose_feedback_could_show_hidden_tests(tmp_path):
    bare = tmp_path / "nbgrader_config.py"
    bare.write_text(
        "from nbgrader.preprocessors import ClearHiddenTests, GetGrades\n"
        "c = get_config()\n"
        "c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests]\n"
    )
    with pytest.raises(GradingError, match="must list ScrubHiddenTracebacks before"):
        load_config(tmp_path / "course", config_file=bare)
    # The repository's own config passes.
    load_config(tmp_path / "course")


def test_grading_refuses_a_config_whose_pages_could_run_a_students_script(tmp_path):
    config = tmp_path / "nbgrader_config.py"
    config.write_text(
        "from nbgrader.preprocessors import ClearHiddenTests, GetGrades\n"
        "from instructor.feedback import ScrubHiddenTracebacks\n"
        "c = get_config()\n"
        "c.GenerateFeedback.preprocessors = [GetGrades, ScrubHiddenTracebacks, ClearHiddenTests]\n"
    )
    with pytest.raises(GradingError, match="would run script a student wrote") as refused:
        load_config(tmp_path / "course", config_file=config)
    for setting in ("sanitize_html", "SanitizedMarkdown", "InertOutputMetadata"):
        assert setting in str(refused.value)


@pytest.mark.slow
def test_a_tampered_course_folder_is_regenerated_and_everyone_graded_again(tmp_path):
    """A release file deleted, a gradebook test source rewritten: the next set-up rebuilds
    both from the source notebooks and empties the ledger (everyone is graded again)."""
    from nbgrader.api import Gradebook

    from instructor.course import SOURCE_ROOT, find_assignment, setup_course
    from instructor.ledger import Ledger

    assignment = find_assignment(SOURCE_ROOT)
    source = tmp_path / "source" / assignment
    source.mkdir(parents=True)
    first = sorted((SOURCE_ROOT / assignment).glob("*.ipynb"))[0]
    (source / first.name).write_bytes(first.read_bytes())
    out = tmp_path / "out"
    ledger = Ledger(out)
    course = setup_course(out, ledger, source.parent, sandbox=False)
    release = (course.release_dir / first.name).read_bytes()

    def graded_once():
        ledger.students["someone"] = {"hash": "h", "graded": True, "problems": []}
        ledger.save()

    graded_once()
    setup_course(out, Ledger(out), source.parent, sandbox=False)
    assert "someone" in Ledger(out).students  # nothing drifted: nothing regenerated

    (course.release_dir / first.name).unlink()
    ledger = Ledger(out)
    setup_course(out, ledger, source.parent, sandbox=False)
    assert (course.release_dir / first.name).read_bytes() == release
    assert ledger.students == {}

    graded_once()
    with Gradebook(course.db_url, course.course_id) as gb:
        cells = gb.find_assignment(assignment).notebooks[0].source_cells
        cell = next(c for c in cells if c.name.endswith("_tests"))  # a test cell's record
        name = cell.name
        cell.source, cell.checksum = "pass  # rewritten", "0" * 64
        gb.db.commit()
    ledger = Ledger(out)
    setup_course(out, ledger, source.parent, sandbox=False)
    assert ledger.students == {}
    with Gradebook(course.db_url, course.course_id) as gb:
        cells = gb.find_assignment(assignment).notebooks[0].source_cells
        assert "rewritten" not in next(c for c in cells if c.name == name).source


def test_grading_refuses_to_run_without_a_sandbox_and_says_how_to_get_one(tmp_path, monkeypatch):
    from instructor import sandbox
    from instructor.course import setup_course
    from instructor.ledger import Ledger

    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "bwrap is not installed")
    with pytest.raises(GradingError, match="bwrap is not installed") as info:
        setup_course(tmp_path / "out", Ledger(tmp_path / "out"))
    assert "--no-sandbox" in str(info.value) and "NO_SANDBOX=1" in str(info.value)
