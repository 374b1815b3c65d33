"""Collect an LMS download into nbgrader's layout: ``<dir>/<student_id>/<assignment>/<nb>``.

Run as ``python -m instructor.collect --zip DOWNLOAD.zip --roster roster.csv --submissions DIR``
(or ``make collect ZIP=... ROSTER=... SUBMISSIONS=...``). Two downloads are understood:

- Canvas's "Download submissions": flat files
  ``<name>[_LATE]_<user id>_<submission id>_<original file name>``, where a file uploaded
  again carries ``-1``, ``-2``, ... before its extension;
- Moodle's assignment download: ``<Full Name>_<id>_assignsubmission_file_/<file>`` (or the
  same without the folder's slash when "download in folders" is off).

The LMS's user id is mapped to the course's ``student_id`` through the roster ``make grade
ROSTER=`` reads (its ``ID`` column: the LMS user id). The names are read by
:class:`LmsCollector`, an nbgrader collector plugin, so the same rules also serve
``nbgrader zip_collect --collector=instructor.collect.LmsCollector`` (with
``--LmsCollector.roster=roster.csv``). The placing is done here rather than by
``zip_collect``, because zip_collect extracts the whole archive to disk before looking at it
and tells what it skipped only in log lines; here the archive is only read, member by
member, and every finding becomes a record of one summary.

The download is hostile input too: only members whose names map to a roster student and a
course notebook are read, with a size cap; the destination is built from the roster's id and
the course's notebook name, never from a member's path, so ``..``, absolute paths, links and
strange encodings can place nothing anywhere. Everything else is reported, never dropped
silently, and a notebook already in ``DIR`` is only replaced with a line saying so.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import hashlib
import os
import re
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from traitlets import Unicode

from instructor.course import SOURCE_ROOT, GradingError, find_assignment, notebook_names
from instructor.export import read_roster
from instructor.intake import STUDENT_ID
from instructor.limits import MAX_NOTEBOOK_BYTES
from instructor.problems import printable

# The roster column holding the LMS's own user id (Canvas's gradebook export calls it "ID").
LMS_ID_COLUMN = "ID"
# An archive with more members than this is not a class's download.
MAX_MEMBERS = 100_000
# How much of a member name a summary line shows.
MAX_SHOWN_NAME = 120
# Zip flag bit 11: the member's name is UTF-8 (else zipfile decodes it as cp437).
UTF8_FLAG = 0x800

CANVAS_NAME = re.compile(
    r"(?P<name>[^/\\]+?)(?P<late>_LATE)?_(?P<user_id>\d+)_(?P<submission_id>\d+)_"
    r"(?P<file_id>[^/\\]+)"
)
MOODLE_NAME = re.compile(
    r"(?P<name>[^/\\]+?)_(?P<user_id>\d+)_assignsubmission_file_/?(?P<file_id>[^/\\]+)"
)
# Canvas numbers a file uploaded again: notebook-1.ipynb, notebook-2.ipynb, ...
RESUBMITTED = re.compile(r"(?P<stem>.+?)-(?P<copy>\d+)(?P<suffix>\.[^.]+)")


class Kind(enum.StrEnum):
    """What a summary line is about."""

    UNKNOWN_STUDENT = "unknown student"
    DUPLICATE = "duplicate"
    LATE = "late"
    NOT_COURSE = "not a course notebook"
    UNSAFE = "unsafe member"
    TOO_LARGE = "too large"
    UNREADABLE = "unreadable"
    REPLACED = "replaced"
    NOT_WRITTEN = "not written"
    MISSING = "missing notebooks"
    NO_SUBMISSION = "no submission"


@dataclass(frozen=True)
class MemberName:
    """What an LMS download's member name says.

    Attributes
    ----------
    lms : str
        "canvas" or "moodle".
    user_id : str
        The LMS's user id.
    notebook : str
        The original file name, Canvas's ``-N`` copy number removed when what remains is a
        course notebook.
    late : bool
        Canvas marked the submission late.
    rank : tuple of int
        Orders the copies of one file: the highest is the newest (submission id, copy).
    """

    lms: str
    user_id: str
    notebook: str
    late: bool = False
    rank: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Finding:
    """One line of the summary: what, about which member or student, and details."""

    kind: Kind
    subject: str
    detail: str = ""


@dataclass(frozen=True)
class Placed:
    """A notebook written (or found already in place) in the submissions folder."""

    student_id: str
    notebook: str
    member: str
    changed: bool


@dataclass
class Summary:
    """Everything one collect did and found: data, rendered by :func:`render`."""

    placed: list[Placed] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def of_kind(self, kind: Kind) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind == kind]


def shown(name: str) -> str:
    """A member name safe for one terminal line: no control characters, cut short."""
    text = printable(name)
    return text if len(text) <= MAX_SHOWN_NAME else text[: MAX_SHOWN_NAME - 1] + "…"


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, UTF-8 recovered when the archive did not flag it as such."""
    name = info.filename
    if not info.flag_bits & UTF8_FLAG:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # not UTF-8 either: kept as zipfile read it, matched against nothing
    return name


def unsafe(name: str) -> str | None:
    """Why a member's path is suspect (absolute, climbing out, a drive), or None."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "a path climbing out of the archive (..)"
    return None


class LmsCollector(FileNameCollectorPlugin):
    """nbgrader collector plugin for Canvas and Moodle downloads, mapped through a roster.

    ``parse`` reads one member name into a :class:`MemberName`; ``collect`` is nbgrader's
    plugin method (``nbgrader zip_collect``), which returns ``student_id`` and ``file_id``,
    or None for a file of no roster student or no course notebook.
    """

    roster = Unicode("", help="Roster CSV: student_id and the LMS user id (column ID).").tag(
        config=True
    )
    notebooks = Unicode(
        "", help="Comma-separated course notebook names (default: the source notebooks)."
    ).tag(config=True)

    def course_notebooks(self) -> set[str]:
        if self.notebooks:
            return {name.strip() for name in self.notebooks.split(",") if name.strip()}
        folder = SOURCE_ROOT / find_assignment(SOURCE_ROOT)
        return set(notebook_names(folder))

    def students(self) -> dict[str, str]:
        """LMS user id -> student_id, from the roster."""
        return lms_students(self.roster)

    def parse(self, name: str, notebooks: Iterable[str]) -> MemberName | None:
        """Read a member name (relative to the archive); None when it follows no LMS's rule."""
        notebooks = set(notebooks)
        match = MOODLE_NAME.fullmatch(name)
        if match:
            return MemberName("moodle", match["user_id"], match["file_id"])
        match = CANVAS_NAME.fullmatch(name)
        if match:
            notebook, copy = match["file_id"], 0
            again = RESUBMITTED.fullmatch(notebook)
            if notebook not in notebooks and again:
                original = again["stem"] + again["suffix"]
                if original in notebooks:
                    notebook, copy = original, int(again["copy"])
            return MemberName(
                "canvas", match["user_id"], notebook, bool(match["late"]),
                (int(match["submission_id"]), copy),
            )
        return None

    def collect(self, submitted_file: str) -> dict | None:
        """nbgrader's hook: ``{"student_id", "file_id"}`` for a course notebook of a roster
        student, else None (nbgrader then skips the file)."""
        path = PurePosixPath(submitted_file)
        # zip_collect passes absolute paths; Moodle's name spans the member's last folder.
        relative = f"{path.parent.name}/{path.name}" if path.parent.name.endswith(
            "_assignsubmission_file_") else path.name
        notebooks = self.course_notebooks()
        parsed = self.parse(relative, notebooks)
        students = self.students()
        if parsed is None or parsed.notebook not in notebooks or parsed.user_id not in students:
            return None
        return {"student_id": students[parsed.user_id], "file_id": parsed.notebook}


def lms_students(roster_path) -> dict[str, str]:
    """LMS user id -> student_id from a roster (see :func:`instructor.export.read_roster`).

    Raises
    ------
    ValueError
        When the roster has no LMS user id for some student, or gives two students one id,
        or a student_id that cannot name a folder.
    """
    roster = read_roster(roster_path)
    students: dict[str, str] = {}
    for student_id, identity in roster.items():
        user_id = identity.get(LMS_ID_COLUMN, "").strip()
        if not user_id:
            raise ValueError(
                f"roster {roster_path}: {student_id!r} has no {LMS_ID_COLUMN} (the LMS user id "
                "that the download's file names carry); collect needs it for every student"
            )
        if user_id in students:
            raise ValueError(
                f"roster {roster_path}: {LMS_ID_COLUMN} {user_id} is given to both "
                f"{students[user_id]!r} and {student_id!r}"
            )
        if not STUDENT_ID.fullmatch(student_id):
            raise ValueError(
                f"roster {roster_path}: student_id {student_id!r} cannot name a folder; "
                f"expected letters, digits and _ . @ - (at most 100)"
            )
        students[user_id] = student_id
    return students


def collect_zip(
    archive, roster, submissions, assignment: str | None = None, source_root=SOURCE_ROOT
) -> Summary:
    """Place the course notebooks of an LMS download into ``submissions``.

    Parameters
    ----------
    archive : path-like
        Canvas's or Moodle's zip; only read.
    roster : path-like
        Roster CSV with ``student_id`` and ``ID`` (the LMS user id) for every student.
    submissions : path-like
        Folder of ``<student_id>/<assignment>/<notebook>.ipynb``; created if needed. Other
        files in it are left alone.
    assignment : str, optional
        Default: the only assignment under ``source_root``.
    source_root : path-like
        The source notebooks: which names are course notebooks.

    Returns
    -------
    Summary
        Every notebook placed and every finding (unknown students, duplicates, late work,
        other files, unsafe or oversized members, replaced copies, missing notebooks).

    Raises
    ------
    GradingError
        When the archive cannot be read as a zip, or the roster is unusable.
    """
    assignment = find_assignment(Path(source_root), assignment)
    notebooks = notebook_names(Path(source_root) / assignment)
    try:
        students = lms_students(roster)
    except ValueError as error:
        raise GradingError(str(error)) from None
    collector = LmsCollector(notebooks=",".join(notebooks))
    summary = Summary()
    try:
        with zipfile.ZipFile(archive) as download:
            chosen = _choose(download, collector, notebooks, students, summary)
            for (student_id, notebook), (info, name) in sorted(chosen.items()):
                _place(download, info, name, Path(submissions), student_id, assignment,
                       notebook, summary)
    except (zipfile.BadZipFile, OSError) as error:
        raise GradingError(f"{archive} cannot be read as a zip archive ({error})") from None
    seen = {placed.student_id for placed in summary.placed}
    have: dict[str, set[str]] = {}
    for placed in summary.placed:
        have.setdefault(placed.student_id, set()).add(placed.notebook)
    for student_id in sorted(set(students.values())):
        if student_id not in seen:
            summary.findings.append(Finding(Kind.NO_SUBMISSION, student_id))
        elif missing := [name for name in notebooks if name not in have[student_id]]:
            summary.findings.append(Finding(Kind.MISSING, student_id, ", ".join(missing)))
    return summary


def _choose(download, collector, notebooks, students, summary):
    """(student_id, notebook) -> (ZipInfo, name) of the newest copy; findings for the rest."""
    members = download.infolist()
    if len(members) > MAX_MEMBERS:
        raise GradingError(f"the archive has {len(members)} members; at most {MAX_MEMBERS}")
    chosen: dict[tuple[str, str], tuple[zipfile.ZipInfo, str, MemberName]] = {}
    for info in members:
        name = member_name(info)
        if info.is_dir():
            continue
        why = unsafe(name)
        if why:
            summary.findings.append(Finding(Kind.UNSAFE, shown(name), f"{why}: not read"))
            continue
        parsed = collector.parse(name, notebooks)
        if parsed is None:
            summary.findings.append(
                Finding(Kind.NOT_COURSE, shown(name), "not named as a Canvas or Moodle download")
            )
            continue
        student_id = students.get(parsed.user_id)
        if student_id is None:
            summary.findings.append(Finding(
                Kind.UNKNOWN_STUDENT, shown(name),
                f"{parsed.lms} user {parsed.user_id} is not in the roster: not collected",
            ))
            continue
        if parsed.notebook not in notebooks:
            summary.findings.append(Finding(Kind.NOT_COURSE, shown(name), f"from {student_id}"))
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            summary.findings.append(
                Finding(Kind.UNSAFE, shown(name), "a symbolic link: not followed")
            )
            continue
        if info.file_size > MAX_NOTEBOOK_BYTES:
            summary.findings.append(Finding(
                Kind.TOO_LARGE, shown(name),
                f"{info.file_size} bytes; a notebook may have {MAX_NOTEBOOK_BYTES}",
            ))
            continue
        if parsed.late:
            summary.findings.append(Finding(Kind.LATE, student_id, f"{parsed.notebook}"))
        key = (student_id, parsed.notebook)
        if key in chosen:
            kept, dropped = (chosen[key], (info, name, parsed))
            if parsed.rank > kept[2].rank:
                kept, dropped = dropped, kept
            summary.findings.append(Finding(
                Kind.DUPLICATE, f"{student_id} {parsed.notebook}",
                f"kept {shown(kept[1])}, not {shown(dropped[1])}",
            ))
            chosen[key] = kept
        else:
            chosen[key] = (info, name, parsed)
    return {key: (info, name) for key, (info, name, _) in chosen.items()}


def _place(download, info, name, submissions, student_id, assignment, notebook, summary):
    """Write one member's bytes to its place, atomically; never through a link."""
    try:
        with download.open(info) as member:
            # The declared size may lie: never read more than the cap allows.
            data = member.read(MAX_NOTEBOOK_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as error:
        # RuntimeError: encrypted; NotImplementedError: an unknown compression method.
        summary.findings.append(
            Finding(Kind.UNREADABLE, shown(name), f"{type(error).__name__}: {error}"[:200])
        )
        return
    if len(data) > MAX_NOTEBOOK_BYTES:
        summary.findings.append(
            Finding(Kind.TOO_LARGE, shown(name), f"over {MAX_NOTEBOOK_BYTES} bytes once read")
        )
        return
    folder = submissions / student_id / assignment
    target = folder / notebook
    for path in (submissions / student_id, folder, target):
        if path.is_symlink() or (path.exists() and path != target and not path.is_dir()):
            summary.findings.append(Finding(
                Kind.NOT_WRITTEN, f"{student_id} {notebook}",
                f"{path} is a link or not a folder: left as it is",
            ))
            return
    if target.exists() and not target.is_file():
        summary.findings.append(Finding(
            Kind.NOT_WRITTEN, f"{student_id} {notebook}", f"{target} is not a file: left as it is"
        ))
        return
    folder.mkdir(parents=True, exist_ok=True)
    changed = True
    if target.exists():
        before = hashlib.sha256(target.read_bytes()).digest()
        changed = before != hashlib.sha256(data).digest()
        if changed:
            summary.findings.append(Finding(
                Kind.REPLACED, f"{student_id} {notebook}",
                f"the copy already in {folder} differed; now the download's {shown(name)}",
            ))
    if changed:
        # A new file of a name nobody chose (O_EXCL): a link planted at a fixed temporary
        # name would have taken the bytes wherever it points, and then the notebook's place.
        handle, tmp = tempfile.mkstemp(prefix=f".{notebook}.", suffix=".collect-tmp", dir=folder)
        try:
            with os.fdopen(handle, "wb") as written:
                written.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    summary.placed.append(Placed(student_id, notebook, shown(name), changed))


ORDER = [
    Kind.UNKNOWN_STUDENT, Kind.NO_SUBMISSION, Kind.MISSING, Kind.LATE, Kind.DUPLICATE,
    Kind.REPLACED, Kind.NOT_WRITTEN, Kind.NOT_COURSE, Kind.UNSAFE, Kind.TOO_LARGE,
    Kind.UNREADABLE,
]


def render(summary: Summary, submissions) -> str:
    """The summary as text for a terminal: counts first, then every finding by kind."""
    students = {placed.student_id for placed in summary.placed}
    written = sum(placed.changed for placed in summary.placed)
    lines = [
        f"collected {len(summary.placed)} notebooks of {len(students)} students into "
        f"{submissions} ({written} written, {len(summary.placed) - written} already there)"
    ]
    for kind in ORDER:
        found = summary.of_kind(kind)
        if not found:
            continue
        lines.append(f"{kind} ({len(found)}):")
        lines.extend(
            f"  {finding.subject}" + (f": {finding.detail}" if finding.detail else "")
            for finding in found
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m instructor.collect", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", required=True, type=Path, help="the LMS download (read only)")
    parser.add_argument("--roster", required=True, type=Path,
                        help="CSV with student_id and ID (the LMS user id)")
    parser.add_argument("--submissions", required=True, type=Path,
                        help="folder to collect into: <student_id>/<assignment>/<notebook>")
    parser.add_argument("--assignment", default=None, help="default: the only one")
    args = parser.parse_args(argv)
    try:
        summary = collect_zip(args.zip, args.roster, args.submissions, args.assignment)
    except GradingError as error:
        print(f"collect: {error}", file=sys.stderr)
        return 1
    print(render(summary, args.submissions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
