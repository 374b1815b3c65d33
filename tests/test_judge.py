"""instructor.judge: tests run on the grader's side, against student code in a live kernel.

Each test plants student code in a real kernel, then judges an instructor test cell against
it. The attacks are the ones a determined student tries when tests run in their own kernel.
The kernel here is a plain local one: the sandbox has tests of its own (test_sandbox.py) and
grading runs both together (test_grade.py).
"""

import textwrap

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from course_utils.runner import CheckRecord
from instructor import judge

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_new_kernel(kernel_name="python3")
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


@pytest.fixture
def link(kernel):
    km, kc = kernel
    if not km.is_alive():
        pytest.fail("an earlier test killed the module's kernel")
    return judge.KernelLink(kc, km.interrupt_kernel, lambda: None, timeout=3.0)


def run_student(kernel, code):
    """Run the student's cell in the kernel, as their notebook would."""
    _, kc = kernel
    reply = kc.execute_interactive(textwrap.dedent(code), timeout=30, output_hook=lambda m: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def notebook(solutions, test):
    """A source notebook: answer cells defining ``solutions`` and one test cell."""
    cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom course_utils import HiddenChecks",
            metadata={"nbgrader": {"locked": True, "grade_id": "imports", "grade": False,
                                   "solution": False, "schema_version": 3}},
        )
    ]
    for name in solutions:
        cells.append(nbformat.v4.new_code_cell(
            f"def {name}(*args):\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION",
            metadata={"nbgrader": {"solution": True, "grade": False, "locked": False,
                                   "grade_id": name, "schema_version": 3}},
        ))
    cells.append(nbformat.v4.new_code_cell(
        textwrap.dedent(test),
        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                               "grade_id": "the_tests", "points": 1, "schema_version": 3}},
    ))
    return nbformat.v4.new_notebook(cells=cells)


def judged(link, solutions, test):
    (verdict,) = judge.judge_notebook(notebook(solutions, test), link)
    return verdict


HIDDEN_DOUBLE = """
    \"\"\"double doubles.\"\"\"
    hidden = HiddenChecks("double")
    hidden.close("an array is doubled", np.array([2.0, -4.0]), double, np.array([1.0, -2.0]))
    hidden.close("a number is doubled", 7.0, double, 3.5)
    hidden.finish()
"""


def test_a_correct_function_passes_and_the_report_lists_no_inputs(kernel, link):
    run_student(kernel, "def double(x):\n    return 2 * x")
    verdict = judged(link, ["double"], HIDDEN_DOUBLE)
    assert verdict.passed, verdict.report
    assert "3.5" not in verdict.report and "All 2 checks passed" in verdict.report


def test_values_that_claim_to_equal_everything_fail(kernel, link):
    run_student(kernel, """
        import numpy as np
        class Anything(float):
            def __eq__(self, other): return True
            __hash__ = float.__hash__
            def __sub__(self, other): return 0.0
            def __rsub__(self, other): return 0.0
            def __abs__(self): return 0.0
            def __lt__(self, other): return True
        class AnyArray(np.ndarray):
            def __eq__(self, other): return True
        def double(x):
            return np.zeros(2).view(AnyArray) if np.ndim(x) else Anything(0.0)
    """)
    verdict = judged(link, ["double"], HIDDEN_DOUBLE)
    assert not verdict.passed and "0 of 2" in verdict.report, verdict.report


def test_patching_the_checks_in_the_kernel_changes_nothing(kernel, link):
    run_student(kernel, """
        import course_utils, course_utils.runner
        course_utils.runner.HiddenChecks.finish = lambda self: None
        course_utils.HiddenChecks = None
        HiddenChecks = None
        def double(x):
            return 0
    """)
    verdict = judged(link, ["double"], HIDDEN_DOUBLE)
    assert not verdict.passed


def test_the_expected_value_is_not_in_any_frame_the_student_can_reach(kernel, link):
    run_student(kernel, """
        import gc, inspect, sys
        def double(x):
            # Look for the expected value in every frame and object of the kernel.
            frame = inspect.currentframe()
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    if type(value).__name__ == "ndarray" and value.shape == (2,) and value[1] == -4:
                        return value
                frame = frame.f_back
            for value in gc.get_objects():
                if type(value).__name__ == "ndarray" and value.shape == (2,) and value[1] == -4:
                    return value
            return 7.0
    """)
    verdict = judged(link, ["double"], HIDDEN_DOUBLE)
    assert not verdict.passed


def test_a_student_exception_is_reported_by_name_and_a_stub_as_not_implemented(kernel, link):
    run_student(kernel, "def double(x):\n    raise ValueError('no')\n"
                        "def triple(x):\n    raise NotImplementedError()")
    with pytest.raises(judge.StudentError, match="no") as info:
        judge.RemoteFunction(link, "double")(1.0)
    assert type(info.value).__name__ == "ValueError"
    with pytest.raises(NotImplementedError):
        judge.RemoteFunction(link, "triple")(1.0)
    with pytest.raises(judge.StudentError, match="defines no function"):
        judge.RemoteFunction(link, "absent")(1.0)


def test_a_call_that_loops_is_interrupted_and_the_next_call_still_works(kernel, link):
    run_student(kernel, "import time\ndef slow(x):\n    while True:\n        time.sleep(0.01)\n"
                        "def double(x):\n    return 2 * x")
    with pytest.raises(judge.CallInterrupted):
        judge.RemoteFunction(link, "slow")(1.0)
    assert judge.RemoteFunction(link, "double")(2.0) == 4.0
    assert any("time limit" in problem for problem in link.problems)


def test_array_arguments_changed_by_the_student_are_copied_back(kernel, link):
    import numpy as np

    run_student(kernel, "def spoil(parameters):\n    parameters['W1'] += 1\n    return None")
    parameters = {"W1": np.zeros((2, 2))}
    judge.RemoteFunction(link, "spoil")(parameters)
    assert np.array_equal(parameters["W1"], np.ones((2, 2)))


def _secret_backprop(x):
    # The grader's own function: its code must never reach the kernel.
    secret_marker = "grader-only-line"
    return [x * 3, secret_marker[:0]]


def test_a_grader_function_given_as_argument_runs_grader_side_as_a_callback(kernel, link):
    run_student(kernel, """
        import inspect
        def apply(function, x):
            try:
                source = inspect.getsource(function)
            except Exception:
                source = ""
            return function(x), "grader-only-line" in source, function.__name__
    """)
    value, saw_source, name = judge.RemoteFunction(link, "apply")(_secret_backprop, 2.0)
    assert value == [6.0, ""]
    assert saw_source is False and name.startswith("grader_function_")


def test_course_utils_functions_cross_by_name_and_replaced_globals_reaches_the_kernel(kernel, link):
    from course_utils import replaced_globals, standins

    run_student(kernel, "def forward(x, theta):\n    return theta * x\n"
                        "def uses_forward(x, theta):\n    return forward(x, theta)")
    remote = judge.RemoteFunction(link, "uses_forward")
    assert remote(2.0, 3.0) == 6.0
    with replaced_globals(remote, forward=standins.cubic_cost):
        assert remote(2.0, 3.0) == standins.cubic_cost(2.0, 3.0)
    assert remote(2.0, 3.0) == 6.0


def test_a_test_that_breaks_on_the_grader_side_fails_without_quoting_itself(kernel, link):
    """An exception in the instructor's hidden code: the cell fails, the feedback says only
    that, and the reason goes to the instructor."""
    run_student(kernel, "def double(x):\n    return 2 * x")
    verdict = judged(link, ["double"], """
        \"\"\"double doubles.\"\"\"
        hidden = HiddenChecks("double")
        secret_reference_h = undefined_helper_h(3)
        hidden.finish()
    """)
    assert not verdict.passed and verdict.judge_error
    assert "undefined_helper_h" not in verdict.error
    assert "undefined_helper_h" in verdict.detail


def test_hidden_inputs_never_reach_a_later_visible_report(kernel, link):
    """A student function keeps the hidden test's inputs and raises them in a later cell's
    visible check: the judge runs every visible part before any hidden call."""
    run_student(kernel, """
        SEEN = []
        def double(x):
            SEEN.append(x)
            return 2 * x
        def triple(x):
            raise ValueError(f"seen so far: {SEEN}")
    """)
    first = notebook(["double", "triple"], """
        \"\"\"double doubles.\"\"\"
        hidden = HiddenChecks("double")
        ### BEGIN HIDDEN TESTS
        hidden.close("a secret number is doubled", 246.912, double, 123.456)
        ### END HIDDEN TESTS
        hidden.finish()
    """)
    second = notebook([], """
        \"\"\"triple triples (visible).\"\"\"
        from course_utils import Checker
        checker = Checker("triple")
        checker.call("triple runs", triple, 1.0)
        checker.finish()
    """).cells[-1]
    second.metadata["nbgrader"]["grade_id"] = "later_tests"
    first.cells.append(second)
    verdicts = judge.judge_notebook(first, link)
    assert verdicts[0].passed
    assert not verdicts[1].passed and "seen so far" in verdicts[1].report
    assert all("123.456" not in v.report + (v.error or "") for v in verdicts)
    # What the class report counts: each check's label, kind and outcome, and nothing more.
    assert verdicts[0].checks == (CheckRecord("a secret number is doubled", True, True),)
    assert verdicts[1].checks == (CheckRecord("triple runs", False, False),)


def test_an_ignored_interrupt_stops_the_kernel_and_every_later_call_fails(kernel):
    km, kc = kernel
    run_student(kernel, """
        import time
        def stubborn(x):
            while True:
                try:
                    time.sleep(0.01)
                except KeyboardInterrupt:
                    pass
    """)
    stopped = []
    link = judge.KernelLink(kc, km.interrupt_kernel, lambda: stopped.append(True), timeout=1.0)
    with pytest.raises(judge.KernelGone):
        judge.RemoteFunction(link, "stubborn")(1.0)
    assert stopped and link.dead
    with pytest.raises(judge.KernelGone):
        judge.RemoteFunction(link, "stubborn")(1.0)
    # This test runs last in the module: the kernel really is stuck now.
    km.shutdown_kernel(now=True)
