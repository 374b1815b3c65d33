"""instructor.collect: an LMS download placed into nbgrader's layout, hostile archives included.

Archives are built here with zipfile, named as Canvas and Moodle name their downloads; the
notebooks' bytes are tokens (collect copies bytes, grading reads them).
"""

import csv
import hashlib
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from instructor.collect import (
    Kind,
    LmsCollector,
    collect_zip,
    main,
    render,
)
from instructor.course import SOURCE_ROOT, GradingError, find_assignment, notebook_names
from instructor.limits import MAX_NOTEBOOK_BYTES

ASSIGNMENT = find_assignment(SOURCE_ROOT)
NOTEBOOKS = notebook_names(SOURCE_ROOT / ASSIGNMENT)
FIRST, SECOND = NOTEBOOKS[0], NOTEBOOKS[1]
ROSTER = [["student_id", "Student", "ID"], ["s001", "Ada Lovelace", "1001"],
          ["s002", "Alan Turing", "1002"], ["s003", "Grace Hopper", "1003"]]


def write_roster(path, lines=ROSTER):
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(lines)
    return path


def zip_of(path, members):
    """Write ``members`` (name -> bytes, or ZipInfo -> bytes) as a deflated zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def raw_name(path, placeholder: str, raw: bytes):
    """Give a member a name of raw bytes, not flagged UTF-8 (as old Windows zippers write)."""
    assert len(placeholder.encode()) == len(raw)
    data = path.read_bytes()
    assert data.count(placeholder.encode()) == 2  # local header and central directory
    path.write_bytes(data.replace(placeholder.encode(), raw))


def tree(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def canvas(tmp_path):
    """A Canvas download with every case of the summary, and its roster."""
    link = zipfile.ZipInfo(f"turingalan_1002_77_{SECOND}")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    members = {
        # Ada: every notebook, the first uploaded twice (-1 is the later copy).
        **{f"lovelaceada_1001_70_{name}": f"ada {name}".encode() for name in NOTEBOOKS},
        f"lovelaceada_1001_71_{FIRST[:-6]}-1.ipynb": b"ada again",
        "lovelaceada_1001_70_notes.pdf": b"%PDF",
        # Alan: late, and his second notebook is a link; his name is not UTF-8 (placeholder).
        f"XXXXXX_LATE_1002_72_{FIRST}": b"alan late",
        link: b"/etc/passwd",
        # A student the roster does not know, and members that try to leave the folder.
        f"mallory_9999_73_{FIRST}": b"mallory",
        f"../../lovelaceada_1001_74_{SECOND}": b"climb",
        f"/etc/lovelaceada_1001_75_{SECOND}": b"absolute",
        "README.txt": b"instructions",
    }
    archive = zip_of(tmp_path / "submissions.zip", members)
    raw_name(archive, "XXXXXX", "turing".encode("latin-1")[:4] + b"\xe9\xe0")
    return archive, write_roster(tmp_path / "roster.csv")


def test_a_canvas_download_lands_in_nbgrader_layout_with_one_summary(canvas, tmp_path):
    archive, roster = canvas
    before = (hashlib.sha256(archive.read_bytes()).hexdigest(), os.stat(archive).st_mtime_ns)
    out = tmp_path / "subs"
    summary = collect_zip(archive, roster, out)

    assert tree(out) == {
        **{f"s001/{ASSIGNMENT}/{name}": f"ada {name}".encode() for name in NOTEBOOKS[1:]},
        f"s001/{ASSIGNMENT}/{FIRST}": b"ada again",
        f"s002/{ASSIGNMENT}/{FIRST}": b"alan late",
    }
    kinds = {kind: [(f.subject, f.detail) for f in summary.of_kind(kind)] for kind in Kind}
    assert [subject for subject, _ in kinds[Kind.UNKNOWN_STUDENT]] == [f"mallory_9999_73_{FIRST}"]
    assert kinds[Kind.LATE] == [("s002", FIRST)]
    ((subject, detail),) = kinds[Kind.DUPLICATE]
    assert subject == f"s001 {FIRST}" and detail.startswith("kept lovelaceada_1001_71_")
    assert sorted(s for s, _ in kinds[Kind.NOT_COURSE]) == [
        "README.txt", "lovelaceada_1001_70_notes.pdf"]
    unsafe = dict(kinds[Kind.UNSAFE])
    assert "symbolic link" in unsafe[f"turingalan_1002_77_{SECOND}"]
    assert any(s.startswith("../..") and ".." in d for s, d in unsafe.items())
    assert any(s.startswith("/etc/") and "absolute" in d for s, d in unsafe.items())
    assert kinds[Kind.NO_SUBMISSION] == [("s003", "")]
    assert kinds[Kind.MISSING] == [("s002", ", ".join(NOTEBOOKS[1:]))]
    assert kinds[Kind.REPLACED] == []
    # Nothing escaped the folder, and the archive was only read.
    assert not (tmp_path / "etc").exists() and sorted(os.listdir(tmp_path)) == [
        "roster.csv", "submissions.zip", "subs"]
    assert before == (hashlib.sha256(archive.read_bytes()).hexdigest(),
                      os.stat(archive).st_mtime_ns)

    text = render(summary, out)
    assert text.splitlines()[0] == (
        f"collected {len(NOTEBOOKS) + 1} notebooks of 2 students into {out} "
        f"({len(NOTEBOOKS) + 1} written, 0 already there)"
    )
    for kind in (Kind.UNKNOWN_STUDENT, Kind.NO_SUBMISSION, Kind.LATE, Kind.DUPLICATE,
                 Kind.NOT_COURSE, Kind.UNSAFE, Kind.MISSING):
        assert f"\n{kind} (" in text


def test_collecting_again_writes_nothing_and_a_changed_copy_is_replaced_with_a_line(
    canvas, tmp_path
):
    archive, roster = canvas
    out = tmp_path / "subs"
    collect_zip(archive, roster, out)
    mine = out / "s001" / ASSIGNMENT / SECOND
    mine.write_bytes(b"edited by hand")
    summary = collect_zip(archive, roster, out)
    assert mine.read_bytes() == f"ada {SECOND}".encode()
    assert [f.subject for f in summary.of_kind(Kind.REPLACED)] == [f"s001 {SECOND}"]
    assert sum(p.changed for p in summary.placed) == 1
    assert "(1 written, " in render(summary, out)


def test_names_that_are_not_utf8_are_handled(tmp_path):
    """A name in latin-1 (invalid UTF-8) and one in UTF-8 without the zip's flag."""
    archive = zip_of(tmp_path / "a.zip", {
        f"XXXXXX_1001_1_{FIRST}": b"ada",
        f"YYYYYYY_1002_2_{FIRST}": b"alan",
        "ZZZZ_9999_3_x.ipynb": b"?",
    })
    raw_name(archive, "XXXXXX", b"l\xe9vels")  # latin-1 e-acute
    raw_name(archive, "YYYYYYY", "zoë".encode() + b"abc")
    raw_name(archive, "ZZZZ", b"\xff\xfe\x00z")
    summary = collect_zip(archive, write_roster(tmp_path / "r.csv"), tmp_path / "subs")
    assert sorted((p.student_id, p.notebook) for p in summary.placed) == [
        ("s001", FIRST), ("s002", FIRST)]
    assert "zoëabc" in {p.member[:6] for p in summary.placed}
    # zipfile ends a name at a NUL byte; what is left names nothing of the course.
    (garbled,) = summary.of_kind(Kind.NOT_COURSE)
    assert "\x00" not in garbled.subject and "\x00" not in render(summary, tmp_path)


def test_a_huge_member_is_not_read(tmp_path):
    archive = zip_of(tmp_path / "a.zip", {
        f"lovelaceada_1001_1_{FIRST}": bytes(MAX_NOTEBOOK_BYTES + 1),
    })
    summary = collect_zip(archive, write_roster(tmp_path / "r.csv"), tmp_path / "subs")
    assert summary.placed == [] and len(summary.of_kind(Kind.TOO_LARGE)) == 1
    assert not (tmp_path / "subs").exists()


def test_a_link_planted_in_a_students_folder_takes_no_bytes_out_of_it(tmp_path):
    """Whatever names a student's folder holds, collect writes only its notebook's place."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"the instructor's file")
    folder = tmp_path / "subs" / "s001" / ASSIGNMENT
    folder.mkdir(parents=True)
    for name in (f".{FIRST}.collect-tmp", f".{FIRST}.tmp", f"{FIRST}.tmp"):
        (folder / name).symlink_to(outside)
    archive = zip_of(tmp_path / "a.zip", {f"lovelaceada_1001_1_{FIRST}": b"notebook bytes"})
    summary = collect_zip(archive, write_roster(tmp_path / "r.csv"), tmp_path / "subs")
    assert outside.read_bytes() == b"the instructor's file"
    assert not (folder / FIRST).is_symlink() and (folder / FIRST).read_bytes() == b"notebook bytes"
    assert [placed.notebook for placed in summary.placed] == [FIRST]
    assert sorted(p.name for p in folder.iterdir() if not p.is_symlink()) == [FIRST]


def test_a_moodle_download_in_folders_or_flat(tmp_path):
    archive = zip_of(tmp_path / "moodle.zip", {
        f"Ada Lovelace_1001_assignsubmission_file_/{FIRST}": b"ada",
        f"Alan Turing_1002_assignsubmission_file_{SECOND}": b"alan",
        "Alan Turing_1002_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
    })
    out = tmp_path / "subs"
    summary = collect_zip(archive, write_roster(tmp_path / "r.csv"), out)
    assert tree(out) == {
        f"s001/{ASSIGNMENT}/{FIRST}": b"ada", f"s002/{ASSIGNMENT}/{SECOND}": b"alan"}
    assert [f.subject for f in summary.of_kind(Kind.NOT_COURSE)] == [
        "Alan Turing_1002_assignsubmission_onlinetext_/onlinetext.html"]


def test_the_collector_plugin_answers_nbgraders_zip_collect(tmp_path):
    collector = LmsCollector(roster=str(write_roster(tmp_path / "r.csv")),
                             notebooks=",".join(NOTEBOOKS))
    extracted = "/course/downloaded/ps1/extracted"
    assert collector.collect(f"{extracted}/lovelaceada_LATE_1001_9_{FIRST[:-6]}-2.ipynb") == {
        "student_id": "s001", "file_id": FIRST}
    assert collector.collect(
        f"{extracted}/Alan Turing_1002_assignsubmission_file_/{SECOND}") == {
        "student_id": "s002", "file_id": SECOND}
    assert collector.collect(f"{extracted}/mallory_9999_1_{FIRST}") is None
    assert collector.collect(f"{extracted}/lovelaceada_1001_9_notes.ipynb") is None


def test_a_roster_without_lms_ids_or_a_broken_zip_is_refused_with_what_was_expected(tmp_path):
    archive = zip_of(tmp_path / "a.zip", {"x": b""})
    sis_only = write_roster(tmp_path / "sis.csv", [["student_id", "SIS User ID"], ["s001", "A1"]])
    with pytest.raises(GradingError, match=r"'s001' has no ID \(the LMS user id"):
        collect_zip(archive, sis_only, tmp_path / "subs")
    not_zip = tmp_path / "b.zip"
    not_zip.write_bytes(b"PK not really")
    with pytest.raises(GradingError, match="cannot be read as a zip"):
        collect_zip(not_zip, write_roster(tmp_path / "r.csv"), tmp_path / "subs")


def test_command_line_prints_the_summary(canvas, tmp_path, capsys):
    archive, roster = canvas
    code = main(["--zip", str(archive), "--roster", str(roster),
                 "--submissions", str(tmp_path / "subs")])
    printed = capsys.readouterr()
    assert code == 0 and printed.out.startswith("collected ")
    assert "unknown student (1):" in printed.out
    assert main(["--zip", str(tmp_path / "none.zip"), "--roster", str(roster),
                 "--submissions", str(tmp_path / "subs")]) == 1
    assert "cannot be read as a zip" in capsys.readouterr().err


@pytest.mark.slow
def test_nbgrader_zip_collect_uses_the_collector_plugin(tmp_path):
    """The README's command: nbgrader's own zip_collect, with LmsCollector choosing."""
    release = tmp_path / "release" / ASSIGNMENT
    release.mkdir(parents=True)
    for name in NOTEBOOKS:
        (release / name).write_text("{}")
    archive = tmp_path / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    zip_of(archive / "submissions.zip", {
        f"lovelaceada_1001_70_{FIRST}": b"ada",
        f"turingalan_LATE_1002_71_{FIRST[:-6]}-1.ipynb": b"alan",
        f"mallory_9999_72_{FIRST}": b"mallory",
    })
    roster = write_roster(tmp_path / "roster.csv")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "nbgrader"), "zip_collect", ASSIGNMENT,
         "--collector=instructor.collect.LmsCollector", f"--LmsCollector.roster={roster}",
         f"--CourseDirectory.root={tmp_path}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
             "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "submitted") == {
        f"s001/{ASSIGNMENT}/{FIRST}": b"ada", f"s002/{ASSIGNMENT}/{FIRST}": b"alan"}
