"""instructor.execution: one student notebook run in a kernel, then judged by the grader."""

import threading

import nbformat
import pytest

from instructor import execution, judge
from instructor.cells import is_answer
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


def test_cells_that_each_stop_short_of_the_timeout_cannot_hold_the_grader():
    """Past the notebook's run budget the cells left are not run, and the status says so.

    Each added cell sleeps under the cell timeout, so only a budget for all the cells
    together stops them; the answers above them are still judged.
    """
    source = _first_notebook()
    nb = _first_notebook()
    nb.cells += [nbformat.v4.new_code_cell("import time\ntime.sleep(0.5)") for _ in range(6)]
    nb.cells.append(nbformat.v4.new_code_cell("print('reached the last cell')"))
    run = execution.execute_and_judge(nb, source, sandboxed=False, timeout=10, run_budget=1)
    assert any("were not run" in problem and problem.kind == "timeout" for problem in run.problems)
    assert nb.cells[-1].outputs == []
    assert run.verdicts and all(verdict.passed for verdict in run.verdicts), run.problems


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
        run = execution.execute_and_judge(nb, source, sandboxed=False, timeout=10, run_budget=1)
        assert any("kernel died" in problem for problem in run.problems), run.problems
        assert all(not verdict.passed for verdict in run.verdicts)
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=5)
    assert not failures, [f.exc_value for f in failures]


def _example_students():
    """The example class's students on every notebook (built, not graded)."""
    from instructor.example_class import example_class, solve

    names = [path.name for path in sorted(RELEASE.glob("*.ipynb"))]
    blank = {name: nbformat.read(RELEASE / name, as_version=4) for name in names}
    solved = {
        name: solve(blank[name], nbformat.read(NOTEBOOKS / name, as_version=4))
        for name in names
    }
    return example_class(solved, blank)


def _notebook_defining(function):
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        if f"def {function}(" in path.read_text():
            return path.name
    raise AssertionError(f"no notebook defines {function}")


@pytest.fixture(scope="module")
def cheats():
    """Notebook 4's cheating students, each judged on the hidden cases alone (the visible
    checks, which they fail too, are left out of the instructor's test cell)."""
    from instructor.example_class import CHEATED_FUNCTION, NOTEBOOK_4_CHEATS

    name = _notebook_defining(CHEATED_FUNCTION)
    source = nbformat.read(NOTEBOOKS / name, as_version=4)
    (cell,) = [c for c in judge.test_cells(source) if f"{CHEATED_FUNCTION}_test(" in c.source]
    cell.source = "\n".join(
        line for line in cell.source.splitlines() if f"{CHEATED_FUNCTION}_test(" not in line
    )
    students = _example_students()
    return {
        student: execution.execute_and_judge(students[student][name], source)
        for student in NOTEBOOK_4_CHEATS
    }


# What each cheat's grading must say, beyond failing check_gradients' tests.
CHEAT_STATUS = {
    "cheat_by_name": [],
    "cheat_keeps_reference": [
        "check_gradients called a function the grader handed it with arguments its test does "
        "not use (a function handed to an earlier call, or none at all): refused"
    ],
    "cheat_error_text": [
        "check_gradients called a function the grader handed it with arguments its test does "
        "not use (a value of type str): refused"
    ],
    "callback_abuse": [
        "check_gradients called a function the grader handed it with arguments its test does "
        "not use (an array of shape (1500, 1), unlike the test's arrays): refused"
    ],
}


@pytest.mark.parametrize("student", sorted(CHEAT_STATUS))
def test_check_gradients_that_asks_the_graders_functions_scores_nothing(cheats, student):
    """Names, kept handles, error texts and crafted arguments tell a checker nothing: its
    hidden cases fail, every other cell of the notebook passes, and the status names abuse."""
    run = cheats[student]
    failed = [v for v in run.verdicts if not v.passed]
    assert [v.grade_id for v in failed] == ["check_gradients_tests"], run.problems
    assert "(hidden tests)" in failed[0].report and "hidden tests" in failed[0].error
    assert run.problems == CHEAT_STATUS[student]


_MEASURE = """
import json, sys
import nbformat
from instructor import execution, judge
source = nbformat.read(sys.argv[1], as_version=4)
outcomes = []
for text in json.loads(sys.stdin.read()):
    run = execution.execute_and_judge(nbformat.reads(text, as_version=4), source, timeout=60)
    outcomes.append([run.problems, [v.passed for v in run.verdicts]])
# This process's own high-water mark (ru_maxrss would carry the parent's over exec).
status = open("/proc/self/status").read()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
print(json.dumps([peak * 1024, outcomes]))
"""


def test_the_graders_memory_stays_bounded_whatever_a_judged_kernel_publishes():
    """The issue's swelling students, publishing only while the judge calls: 600 messages of
    1 MiB; then one of 160 MiB and 12 of 40 MiB. The grading process's peak memory stays
    under 600 MB, the answers keep their marks, and the status names the cap hit."""
    import json
    import subprocess
    import sys

    from instructor.example_class import SWELL_WHEN_JUDGED
    from instructor.judge import OUTPUT_CUT
    from instructor.sandbox import MESSAGE_TOO_LARGE

    (path,) = NOTEBOOKS.glob("01_*.ipynb")
    texts = []
    for sizes in ([2**20] * 600, [160 * 2**20] + [40 * 2**20] * 12):
        nb = _example_students()["full_solution"][path.name]
        answer = next(c for c in nb.cells if is_answer(c))
        answer.source += "\n" + SWELL_WHEN_JUDGED.format(sizes=sizes)
        texts.append(nbformat.writes(nb))
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], input=json.dumps(texts),
        capture_output=True, text=True, timeout=600, check=True,
    )
    peak, outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert peak < 600e6, f"the grading process peaked at {peak / 1e6:.0f} MB"
    assert outcomes[0][0] == [OUTPUT_CUT] and all(outcomes[0][1])
    assert outcomes[1][0] == [MESSAGE_TOO_LARGE] and all(outcomes[1][1])
    print(f"peak {peak / 1e6:.0f} MB")


def test_a_message_over_the_size_cap_while_running_is_named_and_costs_no_marks():
    """A cell displays 20 MiB at once: the grader cuts that channel, names it, and the rest
    of the notebook runs and is judged (its outputs are lost, and nothing waits for them)."""
    import time

    from instructor.sandbox import MESSAGE_TOO_LARGE

    (path,) = NOTEBOOKS.glob("01_*.ipynb")
    nb = _example_students()["full_solution"][path.name]
    answer = next(c for c in nb.cells if is_answer(c))
    answer.source += (
        '\nfrom IPython.display import display\ndisplay({"text/plain": "x" * 20 * 2**20}, raw=True)'
    )
    started = time.monotonic()
    run = execution.execute_and_judge(nb, nbformat.read(path, as_version=4))
    assert run.problems == [MESSAGE_TOO_LARGE]
    assert run.verdicts and all(v.passed for v in run.verdicts)
    print(f"graded in {time.monotonic() - started:.1f} s")
