"""instructor.progress: a bar with an estimate on a terminal, plain lines elsewhere."""

import io
import re

from instructor.progress import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stderr does in an instructor's shell."""

    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal_count_students_and_estimate_from_graded_ones():
    lines = []
    progress = Progress(["a", "b", "c", "d"], lines.append, stream=io.StringIO())
    assert progress.bar is None
    progress.done("a", [], "unchanged")
    progress.done("b", ["missing notebook 02.ipynb"], "graded")
    progress.done("c\x1b[31m", [], None)
    progress.done("d", [], "graded")
    progress.close()
    assert lines[0] == "[1/4] a: unchanged; ok"
    assert re.fullmatch(r"\[2/4, about \d+ s left\] b: graded; missing notebook 02\.ipynb",
                        lines[1])
    # Control characters a folder name may carry never reach the terminal.
    assert lines[2] == "[3/4] c [31m: not graded; ok"
    assert lines[3] == "[4/4] d: graded; ok"
    assert progress.graded == 2


def test_a_terminal_gets_a_bar_with_time_left_and_a_line_per_student_with_problems():
    lines, terminal = [], Terminal()
    progress = Progress(["a", "b", "c", "d"], lines.append, stream=terminal)
    assert progress.bar is not None
    progress.done("a", [], "unchanged")
    # Skipped students leave the total: the estimate counts work still to do.
    assert progress.bar.total == 3
    progress.done("b", [], "graded")
    progress.done("c", ["kernel died in 01.ipynb"], "graded")
    drawn = terminal.getvalue()
    progress.close()
    assert lines == []  # the bar replaces the plain lines
    assert "c: graded; kernel died in 01.ipynb" in drawn
    assert "b: graded" not in drawn  # a student without problems is only counted
    assert re.search(r"2/3 students \[\d\d:\d\d<\d\d:\d\d\]", drawn), drawn
    assert "1 unchanged" in drawn
    progress.close()  # twice is harmless


def test_the_bar_can_be_turned_off_on_a_terminal():
    lines = []
    progress = Progress(["a"], lines.append, stream=Terminal(), bar=False)
    progress.done("a", [], "graded")
    assert progress.bar is None and lines == ["[1/1] a: graded; ok"]
