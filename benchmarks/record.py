"""The single writer's speed: worker results of a class recorded into a fresh gradebook.

Run as ``python -m benchmarks.record [--students 1000] [--db-url URL]``. A small real class
(one student of each kind in ``KINDS``, from the example class) goes through intake and the
run stage, in this process and in the sandbox; their results are then replayed as
``--students`` students (cycling through the kinds, each under an id of its own) into a fresh
course folder and gradebook by the record stage, as the grading process does with results
coming back from workers: files in OUT, the gradebook in batched transactions, the ledger.
Only the recording is timed. The last line reads
``recorded N students in S s (X s per student)``.

With ``--db-url`` the gradebook is that database (PostgreSQL: a fresh, empty one).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

from instructor.course import SOURCE_ROOT, find_assignment, quiet_known_warnings, setup_course
from instructor.example_class import build_example_class
from instructor.intake import RUN, Intake
from instructor.ledger import Ledger
from instructor.record import Recorder
from instructor.run import job_data, run_job

# Honest and odd students, one of each: a full and a partial score, a blank copy, a
# repaired notebook, a missing one.
KINDS = ["full_solution", "first_notebook_only", "blank_release", "test_cell_deleted",
         "missing_notebook", "hard_coded"]  # fmt: skip


def capture(root: Path, kinds=KINDS, notebooks=slice(None)):
    """Grade one student of each kind through intake and run, in this process.

    Returns
    -------
    tuple
        ``(source root, submissions folder, [(job, results)])``: the results as a worker
        sends them back.
    """
    assignment = find_assignment(SOURCE_ROOT)
    source = root / "source" / assignment
    source.mkdir(parents=True)
    for path in sorted((SOURCE_ROOT / assignment).glob("*.ipynb"))[notebooks]:
        shutil.copy2(path, source / path.name)
    out = root / "captured"
    ledger = Ledger(out)
    course = setup_course(out, ledger, source.parent, assignment=assignment)
    everyone, submissions = root / "everyone", root / "submissions"
    build_example_class(course.release_dir, source, everyone)
    for kind in kinds:
        shutil.copytree(everyone / kind, submissions / kind, symlinks=True)
    intake = Intake(course, ledger, submissions)
    hide = [str(course.root), str(source.parent), str(submissions)]
    captured = []
    for kind in kinds:
        job = intake.take(kind)
        if job.action != RUN:
            raise RuntimeError(f"{kind} did not go through intake: {job.problems}")
        captured.append((job, run_job(job_data(job, course, hide), course.sources())))
    return source.parent, submissions, captured


def replay(captured, out: Path, source_root: Path, students: int, db_url=None) -> float:
    """Record ``students`` students, cycling through ``captured``, into a fresh course
    folder ``out``; return the seconds the recording took (course set-up excluded).

    Student number i is ``<kind>_<i>``, with the results of ``captured[i % len(captured)]``.
    """
    ledger = Ledger(out)
    course = setup_course(out, ledger, source_root, db_url=db_url)
    start = time.perf_counter()
    with Recorder(course, ledger) as recorder:
        for number in range(students):
            job, results = captured[number % len(captured)]
            copy = dataclasses.replace(job, student_id=f"{job.student_id}_{number:05d}")
            recorder.record(copy, results)
    return time.perf_counter() - start


def main(argv=None) -> int:
    """Capture a small class, replay it as a large one, print the writer's seconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=1000, help="students recorded")
    parser.add_argument("--db-url", default=None, help="gradebook URL (default: SQLite)")
    args = parser.parse_args(argv)
    quiet_known_warnings()
    with tempfile.TemporaryDirectory(prefix="record-bench-") as tmp:
        root = Path(tmp)
        source, _, captured = capture(root)
        print(f"captured {len(captured)} students' results ({', '.join(KINDS)})")
        seconds = replay(captured, root / "out", source, args.students, args.db_url)
    print(f"gradebook: {args.db_url or 'SQLite (OUT/gradebook.db)'}")
    print(f"recorded {args.students} students in {seconds:.1f} s "
          f"({seconds / args.students:.3f} s per student)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
