"""instructor.execution: one student notebook run in a kernel, then judged by the grader."""

import threading

import nbformat
import pytest

from instructor import execution
from instructor.course import SOURCE_ROOT, find_assignment

NOTEBOOKS = SOURCE_ROOT / find_assignment(SOURCE_ROOT)


pytestmark = pytest.mark.slow


def _first_notebook():
    (path,) = NOTEBOOKS.glob("01_*.ipynb")
    return nbformat.read(path, as_version=4)


def test_a_kernel_that_dies_at_once_is_reported_and_leaves_nothing_failing_behind(monkeypatch):
    """A dead kernel is judged in moments; no client thread may fail after the judge closed it.

    (A heartbeat thread that opened its socket after the judge had closed the client's
    context failed in the background, which pytest reports on whichever test runs next.)
    """
    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    source = _first_notebook()
    for _ in range(3):  # the failure was a race: give it a few chances
        nb = _first_notebook()
        imports = next(c for c in nb.cells if c.cell_type == "code" and "import" in c.source)
        imports.source += "\nimport os\nos._exit(1)"
        run = execution.execute_and_judge(nb, source, sandboxed=False, timeout=10)
        assert any("kernel died" in problem for problem in run.problems), run.problems
        assert all(not verdict.passed for verdict in run.verdicts)
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=5)
    assert not failures, [f.exc_value for f in failures]
