"""Progress of a grading run that an instructor can trust: a bar with an estimate on a
terminal, one plain line per student anywhere else (a log file, CI, a notebook).

On a terminal, tqdm draws the bar (students done, rate, time left); a student graded with
a problem still gets a line of its own above the bar, so nothing unusual scrolls away
unseen. Students skipped because nothing changed leave the bar's total: they take no time,
and counting them would make the estimate promise too much.

Elsewhere the lines are the same as before the bar existed:
``[3/40, about 2 min left] s003: graded; ok``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable

from instructor.problems import printable, words

GRADED = "graded"
UNCHANGED = "unchanged"
NOT_GRADED = "not graded"
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} students [{elapsed}<{remaining}]"


def duration(seconds: float) -> str:
    """``42 s`` below two minutes, else ``7 min``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class Progress:
    """Report each finished student of a run.

    Parameters
    ----------
    student_ids : iterable of str
        Every student of the run, in order.
    echo : callable
        Receives the plain lines (and, with a bar, the lines of students with problems).
    stream : file-like, optional
        Where a bar would be drawn (default ``sys.stderr``); the bar is drawn only when it
        is a terminal, or when ``bar`` says so.
    bar : bool, optional
        Force the bar on or off (default: whether ``stream`` is a terminal).
    """

    def __init__(
        self,
        student_ids: Iterable[str],
        echo: Callable[[str], object] = print,
        stream=None,
        bar: bool | None = None,
    ):
        self.student_ids = list(student_ids)
        self.echo = echo
        self.start = time.perf_counter()
        self.finished = 0
        self.graded = 0
        self.skipped = 0
        stream = sys.stderr if stream is None else stream
        if bar is None:
            isatty = getattr(stream, "isatty", None)
            bar = bool(isatty and isatty())
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(
                total=len(self.student_ids),
                file=stream,
                desc="grading",
                unit="student",
                bar_format=BAR_FORMAT,
                dynamic_ncols=True,
            )

    def done(self, student_id: str, problems: Iterable, what: str | None) -> None:
        """Report one student: ``what`` is "graded", "unchanged", "not graded" or None (the
        grading job failed); ``problems`` are Problem records (or their data, or words)."""
        self.finished += 1
        graded = what == GRADED
        self.graded += graded
        status = "; ".join(words(problem) for problem in problems) or "ok"
        what = what or NOT_GRADED
        if self.bar is not None:
            self._advance(what)
            if status != "ok" and what != UNCHANGED:
                self.bar.write(f"{printable(student_id)}: {what}; {status}", file=self.bar.fp)
            return
        elapsed = time.perf_counter() - self.start
        left = len(self.student_ids) - self.finished
        estimate = ""
        if graded and left:
            estimate = f", about {duration(elapsed / self.graded * left)} left"
        self.echo(
            f"[{self.finished}/{len(self.student_ids)}{estimate}] {printable(student_id)}: "
            f"{what}; {status}"
        )

    def _advance(self, what: str) -> None:
        if what == UNCHANGED:
            # Takes no time: out of the total, so the rate and estimate count real work only.
            self.skipped += 1
            self.bar.total -= 1
            self.bar.set_description(f"grading ({self.skipped} unchanged)", refresh=False)
        else:
            self.bar.update(1)
        # A student takes seconds: redraw at each one, whatever tqdm's own pace.
        self.bar.refresh()

    def close(self) -> None:
        """Take the bar down (a no-op for plain lines); safe to call twice."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
