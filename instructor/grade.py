"""Grade a class of submissions with nbgrader, one student at a time, into one output folder.

Run as ``python -m instructor.grade --submissions DIR --out DIR [--db-url URL]``
(or ``make grade SUBMISSIONS=DIR OUT=DIR``). DIR holds ``<student_id>/<assignment>/*.ipynb``
and is only read. Under OUT: nbgrader's course folders, ``gradebook.db``,
``feedback/<student_id>/<assignment>/*.html``, ``grades.csv`` and ``report.html``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from instructor import export
from instructor import report as class_report
from instructor import workers as workers_module
from instructor.course import (
    CONFIG_FILE,
    SOURCE_ROOT,
    GradingError,
    find_assignment,
    generate_assignment,
    load_config,
    notebook_names,
    only_notebook,
    open_api,
    quiet_known_warnings,
    write_course_config,
)
from instructor.nbgrader_adapter import (
    PRECOMPUTED,
    precomputed_key,
    report_path,
    sanitize,
    share_gradebook_engines,
)
from instructor.progress import Progress
from instructor.submissions import (
    answer_errors,
    read_problem,
    repair_metadata,
    restore_deleted_cells,
    tampering,
)

STATE_FILE = "grading_state.json"
GRADES_FILE = export.GRADES_FILE
SKIP_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
# A submitted notebook larger than this is not read (the course's are a few hundred kB).
MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_PROBLEM_CHARS = 200
NO_SANDBOX_WARNING = "graded WITHOUT the sandbox (--no-sandbox): trusted class only"
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def clean_status(text: str) -> str:
    """A status safe for one CSV cell and one terminal line: no control characters."""
    return CONTROL.sub(" ", str(text)).strip()[:1000]


@dataclass
class Job:
    """One student ready to run: what was found while copying, and the sanitized notebooks."""

    student_id: str
    digest: str
    problems: list[str]
    readable: list[str]
    notebooks: dict[str, dict]


def _files(folder: Path) -> list[Path]:
    """Return every entry below `folder` that is not a folder, sorted, symbolic links included
    (never followed), skipping editor and Jupyter leftovers."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIP_NAMES]
        for name in names:
            path = Path(root) / name
            if not SKIP_NAMES.intersection(path.relative_to(folder).parts):
                found.append(path)
        found += [Path(root) / d for d in dirs if (Path(root) / d).is_symlink()]
    return sorted(found)


def _regular_file(path: Path) -> bool:
    """True for a regular file that is not a symbolic link (no FIFO, device or link)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def content_hash(folder: Path, salt: str = "") -> str:
    """Return a sha256 over the relative names and bytes of the files below `folder`."""
    digest = hashlib.sha256(salt.encode())
    for path in _files(folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if _regular_file(path) and path.stat().st_size <= MAX_NOTEBOOK_BYTES:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            digest.update(f"{path.is_symlink()} {os.lstat(path).st_size}".encode())
    return digest.hexdigest()


def _load_state(out: Path) -> dict:
    path = out / STATE_FILE
    if path.is_file():
        return json.loads(path.read_text())
    return {"source_hash": None, "students": {}}


def _save_state(out: Path, state: dict) -> None:
    """Write the state atomically, so an interrupted run never leaves half a file."""
    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, out / STATE_FILE)


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` and every link on its way stay inside ``folder``."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def _student_ids(submissions: Path) -> list[str]:
    return sorted(
        p.name
        for p in submissions.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in SKIP_NAMES
    )


def prepare_course(
    out: Path, source_root: Path, assignment: str, config_file: Path, db_url: str | None = None
) -> str:
    """Copy the source notebooks and nbgrader config into the course root `out`.

    Returns
    -------
    str
        A hash of what was copied; when it changes the assignment must be regenerated.
    """
    source = Path(source_root) / assignment
    dest = out / "notebooks" / assignment
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*SKIP_NAMES))
    # Formgrader run in OUT must grade the written answers with the repository's settings.
    write_course_config(out, config_file, db_url)
    return content_hash(dest, salt=Path(config_file).read_text())


def _in_gradebook(db_url: str, course_id: str, assignment: str, student_id: str | None) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gb:
        try:
            if student_id is None:
                gb.find_assignment(assignment)
            else:
                gb.find_submission(assignment, student_id)
        except MissingEntry:
            return False
    return True


def _zero_notebooks(db_url, course_id, assignment, student_id, names) -> None:
    """Give zero to notebooks nbgrader could not grade, as nbgrader does for missing ones.

    A notebook whose autograde failed keeps grades that say "needs manual grade"
    with no score, or the scores of an earlier run.
    """
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        gb.update_or_create_student(student_id)
        # Creates the submission (with empty grades) when no notebook could be autograded.
        gb.update_or_create_submission(assignment, student_id)
        for name in names:
            notebook = gb.find_submission_notebook(Path(name).stem, assignment, student_id)
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()


def _failure_message(result: dict, notebook: str) -> str:
    """Name what went wrong in a failed autograde of one notebook."""
    text = (result.get("log") or "") + (result.get("error") or "")
    # nbgrader turns a dead kernel (nbclient's DeadKernelError) into UnresponsiveKernelError.
    if "DeadKernelError" in text or "Kernel died" in text or "UnresponsiveKernelError" in text:
        return f"kernel died in {notebook}"
    # The traceback's own exception, not nbgrader's closing "see the log" message.
    raised = [
        match.group(1)
        for match in re.finditer(r"^\s*((?:\w+\.)*\w*(?:Error|Exception)\b.*)$", text, re.M)
        if "NbGraderException" not in match.group(1)
    ]
    what = raised[-1].strip() if raised else "see the nbgrader log"
    return f"autograde failed for {notebook}: {what[:200]}"


class ClassGrader:
    """Grades every submission of one assignment into the course root `out`.

    Parameters
    ----------
    out : Path
        Output folder and nbgrader course root.
    db_url : str, optional
        Gradebook URL; default ``sqlite:///<out>/gradebook.db``.
    source_root : Path
        Folder of source assignments (the instructor's notebooks with solutions).
    config_file : Path
        The repository's nbgrader_config.py; the course root gets one that loads it.
    assignment : str, optional
        Assignment name; default is the only one under `source_root`.
    echo : callable
        Receives one progress line per student.
    """

    def __init__(
        self,
        out,
        db_url=None,
        source_root=SOURCE_ROOT,
        config_file=CONFIG_FILE,
        assignment=None,
        echo=print,
        sandbox=True,
    ):
        self.out = Path(out).resolve()
        self.source_root = Path(source_root)
        self.config_file = Path(config_file)
        self.assignment = find_assignment(self.source_root, assignment)
        self.echo = echo
        self.sandbox = sandbox
        if sandbox:
            from instructor.sandbox import sandbox_problem

            problem = sandbox_problem()
            if problem:
                raise GradingError(
                    f"no working sandbox for student code: {problem}\n"
                    "Only for a class whose code you trust: make grade ... NO_SANDBOX=1 "
                    "(python -m instructor.grade --no-sandbox)."
                )
        self.out.mkdir(parents=True, exist_ok=True)
        share_gradebook_engines()  # this process opens the gradebook some 40 times a student
        self.custom_db_url = db_url
        self.config = load_config(self.out, self.config_file, db_url)
        self.config.TrustedExecute.sandbox = bool(sandbox)
        self.db_url = self.config.CourseDirectory.db_url
        self.course_id = self.config.CourseDirectory.course_id
        self.api = open_api(self.config)
        self.state = _load_state(self.out)
        # Students prepare() skipped because nothing changed since they were graded.
        self.unchanged: set[str] = set()
        # Hashes of the prepared students, and the one whose code runs in this process now.
        self.pending_hashes: dict[str, str] = {}
        self.running: str | None = None
        # Folders hidden from kernels besides OUT and the sources (grade_class adds the
        # submissions folder).
        self.also_hidden: list[str] = []

    @property
    def release_dir(self) -> Path:
        return self.out / "release" / self.assignment

    def _student_dir(self, kind: str, student_id: str) -> Path:
        return self.out / kind / student_id / self.assignment

    def setup(self) -> None:
        """Copy the sources and (re)generate the assignment when anything drifted from them.

        The course folder is checked against the source notebooks on every run: the copied
        sources, every released notebook, and the gradebook's record of each cell (its
        checksum), so that nothing changed between runs can grade the class.
        """
        source_hash = prepare_course(
            self.out, self.source_root, self.assignment, self.config_file, self.custom_db_url
        )
        fresh = (
            self.state.get("source_hash") == source_hash
            and _in_gradebook(self.db_url, self.course_id, self.assignment, None)
            and self._release_matches()
            and self._gradebook_matches()
        )
        if not fresh:
            generate_assignment(self.api, self.assignment)
            # Everyone is graded again against the new sources.
            self.state = {
                "source_hash": source_hash,
                "release_hash": content_hash(self.release_dir),
                "students": {},
            }
            _save_state(self.out, self.state)
        self.notebooks = notebook_names(self.release_dir)
        if self.notebooks != notebook_names(self.source_root / self.assignment):
            raise GradingError(f"nbgrader did not release every notebook into {self.release_dir}")

    def _release_matches(self) -> bool:
        """Every source notebook has its released copy, as nbgrader made it (state hashes)."""
        names = notebook_names(self.source_root / self.assignment)
        if not self.release_dir.is_dir() or notebook_names(self.release_dir) != names:
            return False
        expected = self.state.get("release_hash")
        return expected is not None and expected == content_hash(self.release_dir)

    def _gradebook_matches(self) -> bool:
        """The gradebook's record of every test and locked cell has the source notebooks' text.

        nbgrader restores those cells from the gradebook into every submission, so a
        changed record would change what every later student is graded with. (Answer
        cells are recorded as their stubs: nothing to compare.)
        """
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.utils import is_grade, is_locked, is_solution

        with Gradebook(self.db_url, self.course_id) as gb:
            for name in notebook_names(self.source_root / self.assignment):
                nb = nbformat.read(self.source_root / self.assignment / name, as_version=4)
                for cell in nb.cells:
                    if is_solution(cell) or not (is_grade(cell) or is_locked(cell)):
                        continue
                    grade_id = cell.metadata["nbgrader"]["grade_id"]
                    try:
                        stored = gb.find_source_cell(grade_id, Path(name).stem, self.assignment)
                    except MissingEntry:
                        return False
                    if stored.source.strip() != cell.source.strip():
                        return False
        return True

    def prepare(self, submissions: Path, student_id: str) -> Job | None:
        """Get one student ready to run, or return None when there is nothing to run.

        Nothing to run: an unusable folder, an unchanged submission, or one whose grading
        crashed the grader in an earlier run (reported once, not retried until it changes).
        Otherwise the expected notebooks are copied, repaired and sanitized here (cheap, and
        it reads the gradebook); running them is the job's.
        """
        source = Path(submissions) / student_id / self.assignment
        known = self.state["students"].get(student_id, {})
        if not STUDENT_ID.fullmatch(student_id):
            self._note(student_id, None, ["folder name is not a usable student id"], graded=False)
            return None
        if not _inside(source, submissions) or not source.is_dir():
            self._note(student_id, None, [f"no {self.assignment} folder in the submission"],
                       graded=False)
            return None
        digest = content_hash(source, salt=self.state["source_hash"])
        if known.get("hash") == digest and known.get("in_progress"):
            problem = ("grading stopped during this student in an earlier run (crash or kill); "
                       "not retried until the submission changes")
            _zero_notebooks(self.db_url, self.course_id, self.assignment, student_id,
                            self.notebooks)
            self._note(student_id, digest, [problem], graded=False)
            return None
        if (
            known.get("hash") == digest
            and known.get("graded")
            and _in_gradebook(self.db_url, self.course_id, self.assignment, student_id)
        ):
            self.unchanged.add(student_id)
            return None
        problems, readable = self._copy_submission(source, student_id)
        notebooks = {}
        for name in readable:
            path = self._student_dir("submitted", student_id) / name
            try:
                sanitized = sanitize(nbformat.read(path, as_version=4), self.config, student_id,
                                     self.assignment, Path(name).stem, self.db_url)
            except Exception:  # nbgrader will fail on it too, and say why when autograding
                continue
            notebooks[name] = json.loads(nbformat.writes(sanitized))
        self.pending_hashes[student_id] = digest
        return Job(student_id, digest, problems, readable, notebooks)

    def job_data(self, job: Job) -> dict:
        """What a worker needs to run ``job``: plain data."""
        return {
            "notebooks": job.notebooks,
            "sandboxed": self.sandbox,
            "timeout": float(self.config.Execute.get("timeout", 15)),
            "hide": self.hidden_folders(),
        }

    def hidden_folders(self) -> list[str]:
        """What no kernel may see: the course folder, the sources, every submission."""
        return [str(self.out), str(self.source_root.resolve()), *self.also_hidden]

    def sources(self) -> dict:
        """The instructor's source notebooks as plain data, for workers."""
        folder = self.out / "notebooks" / self.assignment
        return {name: json.loads((folder / name).read_text()) for name in self.notebooks}

    def record(self, job: Job, results: dict | None = None, failure: str | None = None) -> None:
        """Autograde ``job`` into the gradebook, with its notebooks' runs when given.

        Without ``results`` the notebooks run here, inside nbgrader's autograde. A student is
        marked in progress while this runs: if the grader itself dies here, the next run says
        so instead of dying again. ``failure`` (a job the workers could not run) is reported
        and the student left to be graded by the next run.
        """
        started = time.perf_counter()
        if failure is not None:
            _zero_notebooks(self.db_url, self.course_id, self.assignment, job.student_id,
                            self.notebooks)
            self._note(job.student_id, None,
                       [*job.problems, f"not graded: the grading job failed ({failure})"],
                       graded=False)
            return
        self.state["students"][job.student_id] = {
            "hash": job.digest, "in_progress": True, "problems": [],
        }
        _save_state(self.out, self.state)
        for name, data in (results or {}).items():
            key = precomputed_key(job.student_id, Path(name).stem, job.notebooks[name])
            PRECOMPUTED[key] = data
        try:
            problems = self._autograde(job)
        except KeyboardInterrupt:
            # The instructor stopped the run: this student is simply not graded yet.
            self.state["students"].pop(job.student_id, None)
            _save_state(self.out, self.state)
            raise
        except Exception as error:  # nothing one student does may stop the class
            problems = [*job.problems, f"grading failed ({type(error).__name__}: {error})"]
            _zero_notebooks(self.db_url, self.course_id, self.assignment, job.student_id,
                            self.notebooks)
        finally:
            # A run nbgrader did not replay was done again here: correct, but twice the work.
            for key in PRECOMPUTED:
                self.echo(f"warning: the worker's run of {key.rsplit('/', 1)[0]} was not used")
            PRECOMPUTED.clear()
        # The report groups problems by kind; until problems carry one, "unclassified".
        kinds = ["unclassified"] if problems else []
        if not self.sandbox:
            problems.append(NO_SANDBOX_WARNING)
        seconds = time.perf_counter() - started + sum(
            float(result.get("seconds", 0.0)) for result in (results or {}).values()
        )
        self._note(job.student_id, job.digest, problems, graded=True,
                   report=class_report.student_entry(results or {}, kinds, seconds))
        self.running = None

    def mark_in_progress(self, student_id: str) -> None:
        """Note (durably) that this student's code is about to run in this process."""
        job_hash = self.pending_hashes.get(student_id)
        self.state["students"][student_id] = {
            "hash": job_hash, "in_progress": True, "problems": [],
        }
        self.running = student_id
        _save_state(self.out, self.state)

    def clear_in_progress(self) -> None:
        """Forget the mark of a student whose run the instructor interrupted (not a crash)."""
        if self.running and self.state["students"].get(self.running, {}).get("in_progress"):
            self.state["students"].pop(self.running)
            _save_state(self.out, self.state)
        self.running = None

    def _note(self, student_id, digest, problems, graded, report=None) -> None:
        self.state["students"][student_id] = {
            "hash": digest,
            # Each entry is cut short, so student-chosen text (a long name, an exception's
            # message) cannot crowd out the rest of the status.
            "problems": [clean_status(p)[:MAX_PROBLEM_CHARS] for p in problems],
            "graded": graded,
            **({"report": report} if report is not None else {}),
        }
        _save_state(self.out, self.state)

    def _autograde(self, job: Job) -> list[str]:
        """Autograde and give feedback to one prepared student; return the problems."""
        student_id, problems = job.student_id, list(job.problems)
        failed = [name for name in self.notebooks if name not in job.readable]
        for name in job.readable:
            with only_notebook(self.api, name):
                result = self.api.autograde(self.assignment, student_id, force=True, create=True)
            autograded = self._student_dir("autograded", student_id) / name
            report = report_path(autograded.parent, Path(name).stem)
            if report.is_file():
                found = json.loads(report.read_text())
                problems.extend(f"{name}: {p}" for p in found.get("problems", []))
                report.unlink()
            if not result.get("success"):
                problems.append(_failure_message(result, name))
                failed.append(name)
            else:
                problems.extend(answer_errors(autograded))
        _zero_notebooks(self.db_url, self.course_id, self.assignment, student_id, failed)
        if len(failed) < len(self.notebooks):
            result = self.api.generate_feedback(self.assignment, student_id, force=True)
            if not result.get("success"):
                problems.append("feedback could not be generated: see nbgrader log")
        return problems

    def _copy_submission(self, source: Path, student_id: str) -> tuple[list[str], list[str]]:
        """Copy the expected notebooks, repaired, into OUT/submitted; return (problems, names).

        Only the released notebooks' names are copied, and only regular files: no other
        file, no symbolic link, nothing that resolves outside the student's folder. Cells
        nbgrader cannot handle (deleted, duplicated, stripped of their metadata) are put
        right here, in the copy; the submission itself is never modified. Earlier results
        for the student are removed, so nothing stale survives a regrade.
        """
        for kind in ("submitted", "autograded", "feedback"):
            folder = self._student_dir(kind, student_id)
            if folder.exists():
                shutil.rmtree(folder)
        dest = self._student_dir("submitted", student_id)
        dest.mkdir(parents=True)
        problems, readable = [], []
        for name in self.notebooks:
            path = source / name
            if path.is_symlink():
                problems.append(f"{name} is a symbolic link: not followed, graded as missing")
                continue
            if not path.exists():
                problems.append(f"missing notebook {name}")
                continue
            if not _regular_file(path) or path.stat().st_size > MAX_NOTEBOOK_BYTES:
                problems.append(f"{name} is not a regular notebook file under 20 MB")
                continue
            problem = read_problem(path)
            if problem:
                problems.append(problem)
                continue
            nb = nbformat.read(path, as_version=4)
            release = nbformat.read(self.release_dir / name, as_version=4)
            repairs = repair_metadata(nb, release)
            problems.extend(tampering(nb, release, name))
            problems.extend(f"{name}: {note}" for note in repairs)
            restored = restore_deleted_cells(nb, release)
            problems.extend(f"{name}: cell restored: {grade_id}" for grade_id in restored
                            if not any(grade_id in p and "deleted" in p for p in problems))
            nbformat.write(nb, dest / name)
            readable.append(name)
        extra = [
            str(path.relative_to(source))
            for path in _files(source)
            if str(path.relative_to(source)) not in self.notebooks
        ]
        if extra:
            shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
            problems.append(f"other files ignored: {shown}")
        return problems, readable

    def rows(self) -> list[export.GradeRow]:
        """Every known student's row, read from the gradebook (manual grades included)."""
        self.state["sandbox"] = self.sandbox
        return export.read_rows(self.db_url, self.course_id, self.assignment, self.state)

    def write_grades(self, rows, roster=None) -> list[str]:
        """Write grades.csv (and canvas.csv with a roster); return what to tell the user."""
        export.write_grades_csv(rows, self.out / GRADES_FILE)
        if not roster:
            return []
        report = export.write_canvas_csv(rows, roster, self.out / export.CANVAS_FILE)
        notes = [f"Canvas file: {report.path} ({len(report.written)} students)"]
        if report.missing:
            missing = ", ".join(report.missing)
            notes.append(f"not in the roster, so not in the Canvas file: {missing}")
        return notes


def grade_class(
    submissions,
    out,
    db_url=None,
    source_root=SOURCE_ROOT,
    config_file=CONFIG_FILE,
    assignment=None,
    echo=print,
    sandbox=True,
    workers=None,
    scheduler=None,
    roster=None,
) -> list[export.GradeRow]:
    """Grade every student folder of `submissions` into `out` and write `out/grades.csv`.

    Parameters
    ----------
    submissions : path-like
        Folder of ``<student_id>/<assignment>/<notebook>.ipynb``; never modified.
    out : path-like
        Output folder (nbgrader course root); created if needed, reused on reruns.
    db_url : str, optional
        Gradebook URL (default ``sqlite:///<out>/gradebook.db``).
    source_root, config_file, assignment
        The instructor's source notebooks, nbgrader config and assignment name.
    echo : callable
        Receives one progress line per student.
    sandbox : bool, default=True
        Run student code in the sandbox; False only for a class whose code you trust.
    workers : int, optional
        Students graded at once on a local Dask cluster (default: one per core); 1 grades
        them one after another in this process.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask scheduler whose workers do the running.
    roster : path-like, optional
        CSV mapping student ids to LMS identities: also write ``canvas.csv``.

    Returns
    -------
    list of instructor.export.GradeRow
        The rows written to grades.csv, sorted by student id.

    Raises
    ------
    GradingError
        When grading cannot run at all (missing folders, nbgrader cannot generate
        the assignment). A broken submission never raises: it is reported in its row.
    """
    submissions = Path(submissions).resolve()
    out = Path(out).resolve()
    if not submissions.is_dir():
        raise GradingError(f"submissions folder {submissions} does not exist")
    # Submissions may sit inside OUT (the demo does), but never in a folder grading
    # rewrites, and OUT never inside the read-only submissions.
    owned = [out / name for name in ("notebooks", "release", "submitted", "autograded", "feedback")]
    if (
        out == submissions
        or submissions in out.parents
        or any(folder == submissions or folder in submissions.parents for folder in owned)
    ):
        raise GradingError(
            f"--submissions {submissions} overlaps what grading writes in --out {out}; "
            "submissions are read only: use separate folders"
        )
    grader = ClassGrader(out, db_url, source_root, config_file, assignment, echo, sandbox)
    if not sandbox:
        echo(f"WARNING: {NO_SANDBOX_WARNING}")
    grader.setup()
    grader.also_hidden.append(str(submissions))
    grader.config.TrustedExecute.hide = grader.hidden_folders()
    progress = Progress(_student_ids(submissions), echo)
    jobs = {}
    for student_id in progress.student_ids:
        job = grader.prepare(submissions, student_id)
        if job is None:
            what = "unchanged" if student_id in grader.unchanged else "not graded"
            progress.done(student_id, grader.state["students"][student_id]["problems"], what)
        else:
            jobs[student_id] = job
    try:
        if jobs:
            pairs = ((student_id, grader.job_data(job)) for student_id, job in jobs.items())
            with _runner(workers, scheduler, grader) as run:
                for student_id, result, failure in run(pairs, grader.sources()):
                    grader.record(jobs[student_id], result, failure)
                    problems = grader.state["students"][student_id]["problems"]
                    progress.done(student_id, problems, "graded" if failure is None else None)
    except KeyboardInterrupt:
        # Every student recorded so far is complete; the rest are graded by the next run.
        grader.clear_in_progress()
        grader.write_grades(grader.rows())
        progress.close()
        echo(f"interrupted: {progress.graded} graded; run again to grade the rest")
        raise
    progress.close()
    rows = grader.rows()
    for note in grader.write_grades(rows, roster):
        echo(note)
    class_report.write_class_report(out, rows, grader.state, grader.db_url, grader.course_id,
                                    grader.assignment, sandbox)
    return rows


@contextlib.contextmanager
def _runner(workers, scheduler, grader):
    """Where jobs run: here when ``workers == 1`` and no scheduler, else on Dask.

    Run here, a student's code runs in this process's care: the student is marked in
    progress first, so that one whose run kills the grader is reported by the next run
    instead of killing it again.
    """
    if workers == 1 and not scheduler:

        def run(jobs, sources):
            for key, job in jobs:
                grader.mark_in_progress(key)
                yield from workers_module.run_here([(key, job)], sources)

        yield run
    else:
        with workers_module.dask_runner(workers, scheduler) as run:
            yield run


def main(argv=None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m instructor.grade", description=__doc__)
    parser.add_argument("--submissions", required=True, type=Path, help="folder to grade")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--db-url",
        default=os.environ.get("DB_URL") or None,
        help="gradebook URL (default: sqlite:///OUT/gradebook.db; env DB_URL)",
    )
    parser.add_argument("--source", type=Path, default=SOURCE_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, default=CONFIG_FILE, help=argparse.SUPPRESS)
    parser.add_argument(
        "--assignment", default=None, help="assignment name (default: the only one)"
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without the sandbox: only for a class whose code you trust",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ["WORKERS"]) if os.environ.get("WORKERS") else None,
        help="students graded at once (default: one per core; 1: one after another; env WORKERS)",
    )
    parser.add_argument(
        "--roster",
        type=Path,
        default=os.environ.get("ROSTER") or None,
        help="CSV of student ids and Canvas identities: also write OUT/canvas.csv (env ROSTER)",
    )
    parser.add_argument(
        "--scheduler",
        default=os.environ.get("SCHEDULER") or None,
        help="tcp://HOST:PORT of a Dask scheduler to grade on (env SCHEDULER)",
    )
    args = parser.parse_args(argv)
    quiet_known_warnings()
    try:
        rows = grade_class(
            args.submissions,
            args.out,
            args.db_url,
            args.source,
            args.config,
            args.assignment,
            sandbox=not args.no_sandbox,
            workers=args.workers,
            scheduler=args.scheduler,
            roster=args.roster,
        )
    except KeyboardInterrupt:
        return 130
    except GradingError as error:
        print(f"grade: cannot grade: {error}", file=sys.stderr)
        return 1
    print(f"{len(rows)} students; grades: {Path(args.out) / GRADES_FILE}; "
          f"class report: {Path(args.out) / class_report.REPORT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
