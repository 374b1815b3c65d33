"""Grade a class of submissions into one output folder: ``make grade``.

Run as ``python -m instructor.grade --submissions DIR --out DIR [--db-url URL]``. DIR holds
``<student_id>/<assignment>/*.ipynb`` and is only read. Under OUT: nbgrader's course folders,
``gradebook.db``, ``feedback/<student_id>/<assignment>/*.html``, ``grades.csv`` and
``report.html``.

One student goes through three stages, each a module, with plain data between them:
:mod:`instructor.intake` (the folder -> a job), :mod:`instructor.run` (the job -> a result,
on a worker) and :mod:`instructor.record` (the result -> gradebook, OUT and ledger, on this
single writer); then :mod:`instructor.export` writes ``grades.csv`` from the gradebook, and
:mod:`instructor.report` the class report.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from instructor import export, workers
from instructor import report as class_report
from instructor.course import (
    CONFIG_FILE,
    SOURCE_ROOT,
    GradingError,
    quiet_known_warnings,
    setup_course,
)
from instructor.intake import RUN, Intake, student_ids
from instructor.ledger import Ledger
from instructor.progress import Progress
from instructor.record import Recorder
from instructor.run import job_data

GRADES_FILE = export.GRADES_FILE
NO_SANDBOX_WARNING = "grading WITHOUT the sandbox (--no-sandbox): trusted class only"


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
    """Grade every student folder of ``submissions`` into ``out`` and write ``out/grades.csv``.

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
        When grading cannot run at all (missing folders, no sandbox, nbgrader cannot
        generate the assignment). A broken submission never raises: its row says why.
    """
    submissions, out = _checked_folders(submissions, out)
    ledger = Ledger(out)
    course = setup_course(out, ledger, source_root, config_file, assignment, db_url, sandbox)
    if not sandbox:
        echo(f"WARNING: {NO_SANDBOX_WARNING}")
    hide = [str(course.root), str(Path(source_root).resolve()), str(submissions)]
    intake, progress = Intake(course, ledger, submissions), Progress(student_ids(submissions), echo)
    with Recorder(course, ledger) as recorder:
        running = {}  # taken in, not yet recorded

        def jobs():
            """Students taken in as the runner asks for work: memory holds those running."""
            for student_id in progress.student_ids:
                job = intake.take(student_id)
                if job.action == RUN:
                    running[job.student_id] = job
                    yield job.student_id, job_data(job, course, hide)
                else:
                    progress.done(job.student_id, recorder.record(job), job.action)

        try:
            with _runner(workers, scheduler, recorder, ledger) as run:
                for student_id, result, failure in run(jobs(), course.sources()):
                    problems = recorder.record(running.pop(student_id), result, failure)
                    progress.done(student_id, problems, "graded" if failure is None else None)
        except KeyboardInterrupt:
            # Every student recorded so far is kept; the rest are graded by the next run.
            recorder.flush()
            progress.close()
            _write_grades(course, ledger, None, echo)
            echo(f"interrupted: {progress.graded} graded; run again to grade the rest")
            raise
    progress.close()
    return _write_grades(course, ledger, roster, echo)


def _checked_folders(submissions, out) -> tuple[Path, Path]:
    """Resolved folders; submissions exist, and never overlap what grading writes."""
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
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
    return submissions, out


def _write_grades(course, ledger, roster, echo) -> list[export.GradeRow]:
    """grades.csv (and canvas.csv with a roster) from the gradebook and the ledger."""
    rows = export.read_rows(course.db_url, course.course_id, course.assignment, ledger.state)
    export.write_grades_csv(rows, course.root / GRADES_FILE)
    if roster:
        report = export.write_canvas_csv(rows, roster, course.root / export.CANVAS_FILE)
        echo(f"Canvas file: {report.path} ({len(report.written)} students)")
        if report.missing:
            echo(f"not in the roster, so not in the Canvas file: {', '.join(report.missing)}")
    class_report.write_class_report(course.root, rows, ledger.state, course.db_url,
                                    course.course_id, course.assignment, course.sandbox)
    return rows


@contextlib.contextmanager
def _runner(count, scheduler, recorder, ledger):
    """Where jobs run: here when ``count == 1`` and no scheduler, else on Dask.

    Run here, a student's code runs in this process's care: the student is marked in the
    ledger first, so that one whose run kills the grader is reported by the next run
    instead of killing it again.
    """
    if count != 1 or scheduler:
        with workers.dask_runner(count, scheduler) as run:
            yield run
        return
    running = None

    def run(jobs, sources):
        nonlocal running
        for key, job in jobs:
            recorder.flush()  # the mark must not claim students the gradebook lacks
            running = key
            ledger.mark_running(key, job["digest"])
            yield from workers.run_here([(key, job)], sources)
            running = None

    try:
        yield run
    except KeyboardInterrupt:
        ledger.forget_running(running)
        raise


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
