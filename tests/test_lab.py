"""The working copy made by `make lab`: created once, never overwriting, release/ untouched."""

import hashlib
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from student.lab import copy_missing_notebooks, lab_command, release_notebooks

NOTEBOOKS = ("01_first.ipynb", "02_second.ipynb")


def write_notebook(path: Path, source: str) -> None:
    """Write a one-cell notebook holding ``source``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(source)]), path)


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A release folder with one assignment of two stub notebooks."""
    release_dir = tmp_path / "release"
    for name in NOTEBOOKS:
        write_notebook(release_dir / "assignment" / name, "raise NotImplementedError()")
    return release_dir


def test_first_run_copies_every_release_notebook(release: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    copied, kept = copy_missing_notebooks(release, work)
    assert copied == [Path("assignment", name) for name in NOTEBOOKS]
    assert kept == []
    for name in NOTEBOOKS:
        assert (work / "assignment" / name).read_bytes() == (
            release / "assignment" / name
        ).read_bytes()


def test_second_run_keeps_the_students_edits(release: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    copy_missing_notebooks(release, work)
    edited = work / "assignment" / NOTEBOOKS[0]
    write_notebook(edited, "answer = 42")
    before = tree_digest(work)

    copied, kept = copy_missing_notebooks(release, work)

    assert copied == []
    assert kept == [Path("assignment", name) for name in NOTEBOOKS]
    assert tree_digest(work) == before
    assert nbformat.read(edited, as_version=4).cells[0].source == "answer = 42"


def test_only_the_missing_notebook_is_copied_again(release: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    copy_missing_notebooks(release, work)
    write_notebook(work / "assignment" / NOTEBOOKS[0], "answer = 42")
    (work / "assignment" / NOTEBOOKS[1]).unlink()

    copied, kept = copy_missing_notebooks(release, work)

    assert copied == [Path("assignment", NOTEBOOKS[1])]
    assert kept == [Path("assignment", NOTEBOOKS[0])]
    cell = nbformat.read(work / "assignment" / NOTEBOOKS[0], as_version=4).cells[0]
    assert cell.source == "answer = 42"


def test_release_is_never_modified(release: Path, tmp_path: Path) -> None:
    before = tree_digest(release)
    work = tmp_path / "work"
    copy_missing_notebooks(release, work)
    write_notebook(work / "assignment" / NOTEBOOKS[0], "answer = 42")
    copy_missing_notebooks(release, work)
    assert tree_digest(release) == before


def test_student_files_beside_the_notebooks_are_left_alone(release: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    scratch = work / "assignment" / "my_notes.ipynb"
    write_notebook(scratch, "notes")
    copy_missing_notebooks(release, work)
    assert nbformat.read(scratch, as_version=4).cells[0].source == "notes"


def test_checkpoints_in_release_are_not_copied(release: Path, tmp_path: Path) -> None:
    write_notebook(release / "assignment" / ".ipynb_checkpoints" / "01_first-checkpoint.ipynb", "")
    assert release_notebooks(release) == [Path("assignment", name) for name in NOTEBOOKS]


def test_empty_release_says_how_to_make_one(tmp_path: Path) -> None:
    (tmp_path / "release").mkdir()
    with pytest.raises(FileNotFoundError, match="make release"):
        copy_missing_notebooks(tmp_path / "release", tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_lab_serves_the_working_copy_on_loopback_with_this_python(tmp_path: Path) -> None:
    command = lab_command(tmp_path / "work", 8899, "secret", open_browser=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path / 'work'}" in command
    assert "--ServerApp.ip=127.0.0.1" in command
    assert "--ServerApp.port=8899" in command
    assert "--IdentityProvider.token=secret" in command
    assert "--ServerApp.open_browser=False" in command
