"""instructor.execution: one student notebook run in a kernel, then judged by the grader."""

import threading

import nbformat
import pytest

from instructor import execution
from instructor.course import REPO_ROOT, SOURCE_ROOT, find_assignment

NOTEBOOKS = SOURCE_ROOT / find_assignment(SOURCE_ROOT)


pytestmark = pytest.mark.slow


RELEASE = REPO_ROOT / "release" / NOTEBOOKS.name


@pytest.mark.parametrize("name", [path.name for path in sorted(NOTEBOOKS.glob("*.ipynb"))[2:]])
def test_the_later_notebooks_are_judged_in_the_sandbox_all_right_or_all_wrong(name):
    """The solution passes every test cell and the blank release none, judged as in grading.

    (The example class is graded on the first two notebooks in test_grade.py; these have
    callbacks to grader-side backprops and the longest hidden tests.)
    """
    source = nbformat.read(NOTEBOOKS / name, as_version=4)
    solved = execution.execute_and_judge(nbformat.read(NOTEBOOKS / name, as_version=4), source)
    assert solved.verdicts and all(v.passed for v in solved.verdicts), solved.problems
    blank = execution.execute_and_judge(nbformat.read(RELEASE / name, as_version=4), source)
    assert len(blank.verdicts) == len(solved.verdicts)
    assert not any(v.passed for v in blank.verdicts), blank.problems


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
