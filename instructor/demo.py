"""`make demo`: release the notebooks, build the example class, grade it, print the table."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from instructor.course import (
    REPO_ROOT,
    SOURCE_ROOT,
    GradingError,
    find_assignment,
    quiet_known_warnings,
)
from instructor.example_class import build_example_class
from instructor.grade import GRADES_FILE, grade_class
from instructor.release import generate_release

DEMO_DIR = REPO_ROOT / "build" / "demo"


def format_table(grades_csv: Path) -> str:
    """Render grades.csv as an aligned text table (student x notebook, totals, status)."""
    with Path(grades_csv).open(newline="") as handle:
        rows = list(csv.reader(handle))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            value.ljust(width) if i == 0 else value.rjust(width)
            for i, (value, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]))
        if number == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def main() -> int:
    """Run the demo; return the process exit status."""
    start = time.perf_counter()
    quiet_known_warnings()
    try:
        generate_release()  # as `make release` does
        assignment = find_assignment(SOURCE_ROOT)
        submissions = DEMO_DIR / "submissions"
        students = build_example_class(
            REPO_ROOT / "release" / assignment, SOURCE_ROOT / assignment, submissions
        )
        print(f"example class: {len(students)} students in {submissions}")
        try:
            grade_class(submissions, DEMO_DIR, assignment=assignment)
        except GradingError as error:
            if "new --out folder" not in str(error):
                raise
            # The notebooks changed shape since the last demo: its gradebook is disposable.
            print("notebooks changed since the last demo: grading afresh")
            for name in ("gradebook.db", "grading_state.json"):
                (DEMO_DIR / name).unlink(missing_ok=True)
            grade_class(submissions, DEMO_DIR, assignment=assignment)
    except (GradingError, ValueError, KeyError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    print()
    print(format_table(DEMO_DIR / GRADES_FILE))
    print()
    print(f"grades:   {DEMO_DIR / GRADES_FILE}")
    print(f"feedback: {DEMO_DIR / 'feedback'}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
