"""Where a class's grading time goes, per student, and what the single writer costs.

Run as ``python -m benchmarks.writer [--students 8]``. The class is graded serially
(``WORKERS=1``), with a clock on each stage:

- *intake* (writer): read, repair and sanitize the student's notebooks;
- *run* (worker): the notebooks executed in the sandbox, tests judged outside it, scored,
  of which *feedback* is the feedback pages, made on the worker too;
- *record* (writer): the student's results into the gradebook, ``OUT`` and the ledger.

Then every student's feedback is generated again twice, with nbconvert's HTMLExporter and
with the course's FeedbackExporter (``instructor/feedback.py``), for their ratio. Last, the
figures are carried over, on paper, to 10,000 students and 50 one-core workers: the workers'
share and the single writer's, whichever is longer sets the pace.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from nbconvert.exporters import HTMLExporter

from benchmarks.autograde import prepare_class
from instructor import run, workers
from instructor.course import find_assignment, load_config, open_api
from instructor.feedback import FeedbackExporter
from instructor.grade import grade_class
from instructor.intake import Intake
from instructor.record import Recorder

STEPS = ("intake", "run", "feedback", "record")
SIDES = {"intake": "writer", "run": "worker", "feedback": "worker, in run", "record": "writer"}
WRITER_STEPS = ("intake", "record")
SCALE_STUDENTS, SCALE_WORKERS = 10_000, 50


class Clock:
    """Seconds spent in each step, summed over the class."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.active = set()

    def wrap(self, owner, name: str, step: str):
        """Time every call of ``owner.name`` under ``step`` (a call within a call of the same
        step counts once)."""
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            if step in self.active:
                return original(*args, **kwargs)
            self.active.add(step)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.active.discard(step)
                self.seconds[step] += time.perf_counter() - start

        setattr(owner, name, timed)
        return original


def time_steps(submissions: Path, out: Path, source: Path) -> dict[str, float]:
    """Grade the class serially with a clock on each step; return seconds per step."""
    clock = Clock()
    originals = [
        (Intake, "take", clock.wrap(Intake, "take", "intake")),
        (workers, "run_job", clock.wrap(workers, "run_job", "run")),
        (run, "feedback_page", clock.wrap(run, "feedback_page", "feedback")),
        (Recorder, "record", clock.wrap(Recorder, "record", "record")),
        (Recorder, "flush", clock.wrap(Recorder, "flush", "record")),
    ]
    try:
        grade_class(submissions, out, source_root=source, echo=lambda line: None, workers=1)
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    return dict(clock.seconds)


def time_exporters(out: Path, source: Path, students: list[str]) -> dict[str, float]:
    """Seconds to generate every student's feedback with each exporter (after a warm-up)."""
    apis = {}
    for label, exporter in (("nbconvert", HTMLExporter), ("course", FeedbackExporter)):
        config = load_config(out)
        config.GenerateFeedback.exporter_class = exporter
        apis[label] = (open_api(config), find_assignment(source))
    seconds = dict.fromkeys(apis, 0.0)
    for timed in (False, True):  # the first round loads templates and modules for both
        for label, (api, assignment) in apis.items():
            start = time.perf_counter()
            for student in students if timed else students[:1]:
                result = api.generate_feedback(assignment, student, force=True)
                if not result.get("success"):
                    raise RuntimeError(f"feedback failed for {student}: {result.get('error')}")
            if timed:
                seconds[label] = time.perf_counter() - start
    return seconds


def main(argv=None) -> int:
    """Run the benchmark and print seconds per student, the ratios and the projection."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=8, help="class size (default 8)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="writer-bench-") as tmp:
        root = Path(tmp)
        source, submissions, _, _ = prepare_class(root, args.students)
        students = sorted(path.name for path in submissions.iterdir())
        steps = time_steps(submissions, root / "out", source)
        exporters = time_exporters(root / "out", source, students)

    n = args.students
    per = {step: steps.get(step, 0.0) / n for step in STEPS}
    print(f"class of {n} students, graded serially; seconds per student:")
    for step in STEPS:
        print(f"  {step:14} {per[step]:6.2f} s  ({SIDES[step]})")
    writer = sum(per[step] for step in WRITER_STEPS)
    print(f"  writer total   {writer:6.2f} s")
    ratio = exporters["course"] / exporters["nbconvert"]
    print(f"feedback pages, course exporter / nbconvert's: {ratio:4.2f} "
          f"({exporters['course'] / n:.2f} s vs {exporters['nbconvert'] / n:.2f} s per student)")
    workers_hours = SCALE_STUDENTS * per["run"] / SCALE_WORKERS / 3600
    writer_hours = SCALE_STUDENTS * writer / 3600
    print(f"{SCALE_STUDENTS} students on {SCALE_WORKERS} workers, on paper: workers "
          f"{workers_hours:.1f} h, writer {writer_hours:.1f} h; the writer keeps up with "
          f"{per['run'] / writer:.0f} workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
