"""Seconds per submission of `make grade`, against the floor of running the notebooks alone.

Run as ``python benchmarks/autograde.py [--students 20]``. A class of full solutions is
graded with instructor.grade (nbgrader autograde + feedback + gradebook); the floor runs
the instructor's source notebooks (solutions and hidden tests: what autograde executes
for a full solution) with nbclient, one fresh kernel per notebook, as many times.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from instructor.course import SOURCE_ROOT, find_assignment, notebook_names
from instructor.example_class import solve
from instructor.grade import ClassGrader, grade_class

CELL_TIMEOUT = 15  # seconds, as c.Execute.timeout in nbgrader_config.py


def full_solutions(release_dir: Path, source_dir: Path, dest: Path, students: int) -> None:
    """Write `students` copies of the full solution as ``dest/<id>/<assignment>/*.ipynb``."""
    names = notebook_names(release_dir)
    solved = {
        name: solve(
            nbformat.read(release_dir / name, as_version=4),
            nbformat.read(source_dir / name, as_version=4),
        )
        for name in names
    }
    for number in range(students):
        folder = dest / f"student_{number:02d}" / release_dir.name
        folder.mkdir(parents=True)
        for name, nb in solved.items():
            nbformat.write(nb, folder / name)


def nbclient_floor(source_dir: Path, work: Path, students: int) -> float:
    """Seconds to execute every source notebook `students` times with nbclient alone."""
    notebooks = [nbformat.read(path, as_version=4) for path in sorted(source_dir.glob("*.ipynb"))]
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for _ in range(students):
        for nb in notebooks:
            client = NotebookClient(
                nbformat.from_dict(nb),
                timeout=CELL_TIMEOUT,
                kernel_name="python3",
                allow_errors=True,
                resources={"metadata": {"path": str(work)}},
            )
            client.execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    """Run the benchmark and print seconds per submission and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20, help="class size (default 20)")
    args = parser.parse_args(argv)
    assignment = find_assignment(SOURCE_ROOT)
    with tempfile.TemporaryDirectory(prefix="autograde-bench-") as tmp:
        root = Path(tmp)
        out, submissions = root / "out", root / "submissions"
        setup_start = time.perf_counter()
        ClassGrader(out, assignment=assignment, echo=lambda line: None).setup()
        setup = time.perf_counter() - setup_start
        full_solutions(
            out / "release" / assignment, SOURCE_ROOT / assignment, submissions, args.students
        )

        start = time.perf_counter()
        rows = grade_class(submissions, out, assignment=assignment, echo=lambda line: None)
        grading = time.perf_counter() - start
        if any(row.total != row.max_score or row.status != "ok" for row in rows):
            print("warning: some full solutions did not get full marks", file=sys.stderr)

        floor = nbclient_floor(SOURCE_ROOT / assignment, root / "floor", args.students)

    notebooks = len(notebook_names(SOURCE_ROOT / assignment))
    per_grade, per_floor = grading / args.students, floor / args.students
    print(f"class of {args.students} full solutions, {notebooks} notebooks each")
    print(f"generate_assignment (once): {setup:6.1f} s")
    print(f"make grade:                 {per_grade:6.2f} s per submission ({grading:.0f} s)")
    print(f"nbclient alone (floor):     {per_floor:6.2f} s per submission ({floor:.0f} s)")
    print(f"ratio grade / floor:        {per_grade / per_floor:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
