"""instructor.judge: tests run on the grader's side, against student code in a live kernel.

Each test plants student code in a real kernel, then judges an instructor test cell against
it. The attacks are the ones a determined student tries when tests run in their own kernel.
The kernel here is a plain local one: the sandbox has tests of its own (test_sandbox.py) and
grading runs both together (test_grade.py).
"""

import textwrap

import nbformat
import numpy as np
import pytest
from jupyter_client.manager import start_new_kernel

from course_utils import wire
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
    assert saw_source is False and name == "function"


def test_handed_functions_are_anonymous_and_their_failures_say_nothing(kernel, link):
    """Names, qualnames, docstrings and error texts of handed functions are all alike: a
    course_utils backprop whose name says where its bugs are crosses as a callback too."""
    from course_utils import buggy_backward_propagation_n, forward_propagation_n

    def _db3_without_m(x):
        """db3 missing its 1/m (a hidden case's secret)."""
        raise ValueError("hidden case db3_without_m: expected 0.25")

    run_student(kernel, """
        def describe(*functions):
            seen = []
            for function in functions:
                try:
                    function(1.0)
                    error = None
                except Exception as failure:
                    error = str(failure)
                seen.append([function.__name__, function.__qualname__, function.__doc__, error])
            return seen
    """)
    seen = judge.RemoteFunction(link, "describe")(
        _db3_without_m, buggy_backward_propagation_n, forward_propagation_n
    )
    # The forward pass runs in the kernel (it crosses by name), under the same disguise.
    assert seen[0] == seen[1] == seen[2] == ["function", "function", None, wire.CALLBACK_REFUSED]


def test_a_handle_kept_from_one_call_is_refused_in_the_next(kernel, link):
    """A student keeps the correct reference handed in one case and asks it in another:
    the handle's token belongs to its own call only; the status names the attempt."""
    run_student(kernel, """
        KEPT = []
        def check(backward, x):
            KEPT.append(backward)
            answers = []
            for kept in KEPT:
                try:
                    answers.append(kept(x))
                except RuntimeError as failure:
                    answers.append(str(failure))
            return answers
    """)
    check = judge.RemoteFunction(link, "check")
    assert check(lambda x: x + 1.0, 1.0) == [2.0]
    assert check(lambda x: x - 1.0, 1.0) == [wire.CALLBACK_REFUSED, 0.0]
    assert link.problems == [
        "check called a function the grader handed it with arguments its test does not use "
        "(a function handed to an earlier call, or none at all): refused"
    ]


@pytest.mark.parametrize(
    ("crafted", "why"),
    [
        ("np.ones((4, 3), dtype=np.int8)", "an array of dtype int8 (float64 expected)"),
        ("np.ones((4, 3), dtype=np.longdouble)", "an array of dtype float128 (float64 expected)"),
        ("np.array([None] * 3)", "data the grader does not take (numpy.ndarray of dtype object)"),
        ("np.ones((4, 1))", None),  # a shape of the test's: accepted
        ("np.ones((3000, 1))", "an array of shape (3000, 1), unlike the test's arrays"),
        ("[np.ones((1, 3)), np.ones((4, 1, 1))]",
         "an array of shape (4, 1, 1), unlike the test's arrays"),
        ("2**200", "data the grader does not take (int too large)"),
        ("'W1'", "a value of type str"),
    ],
)
def test_a_callback_refuses_arguments_unlike_its_tests_before_any_work(kernel, link, crafted, why):
    """int8 or long double arrays (no BLAS), objects, shapes crafted to broadcast big,
    huge integers: refused before the grader's function runs, and named in the status."""
    run_student(kernel, f"""
        import numpy as np
        def crafty(backward, X):
            try:
                return backward({crafted})
            except RuntimeError as failure:
                return str(failure)
    """)
    ran = []

    def backward(data):
        ran.append(True)
        return 1.0

    got = judge.RemoteFunction(link, "crafty")(backward, np.zeros((4, 3)))
    if why is None:
        assert got == 1.0 and ran and link.problems == []
    else:
        assert got == wire.CALLBACK_REFUSED and not ran
        assert link.problems == [
            f"crafty called a function the grader handed it with arguments its test does not "
            f"use ({why}): refused"
        ]


def test_what_the_kernel_publishes_while_judged_is_dropped_counted_and_named(kernel):
    """600 messages of 1 MiB published during one call: the call's result still arrives,
    the output cap is hit and named, and the judge's client stops listening."""
    km, _ = kernel
    run_student(kernel, """
        from IPython.display import display
        def double(x):
            for _ in range(600):
                display({"text/plain": "x" * 2**20}, raw=True)
            return 2 * x
    """)
    client = km.blocking_client()  # the judge's own (it unsubscribes from the output)
    client.start_channels()
    try:
        link = judge.KernelLink(client, km.interrupt_kernel, lambda: None, timeout=30.0)
        link.output_budget = 2**20
        assert judge.RemoteFunction(link, "double")(3.0) == 6.0
        assert link.problems == [judge.OUTPUT_CUT] and link.output_budget < 0
    finally:
        client.stop_channels()


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


def test_a_pinned_reference_answers_only_for_its_own_case(kernel, link):
    """``only_on``: the correct backprop handed to a checker runs on the case's own cache
    (recomputed in the kernel) and refuses a cache of the kernel's choosing."""
    from course_utils import forward_propagation_n, gradient_check_n_test_case
    from instructor.references import backward_propagation_n

    run_student(kernel, """
        def ask(forward, backward, parameters, X, Y):
            _, cache = forward(X, Y, parameters)
            own = backward(X, Y, cache)["dW1"]
            _, chosen = forward(X, Y, {k: 1.01 * v for k, v in parameters.items()})
            try:
                backward(X, Y, chosen)
                answer = "answered"
            except RuntimeError as failure:
                answer = str(failure)
            return own, answer
    """)
    X, Y, parameters = gradient_check_n_test_case()
    cache = forward_propagation_n(X, Y, parameters)[1]
    pinned = judge.only_on(backward_propagation_n, X, Y, cache)
    own, answer = judge.RemoteFunction(link, "ask")(
        forward_propagation_n, pinned, parameters, X, Y
    )
    np.testing.assert_array_equal(own, backward_propagation_n(X, Y, cache)["dW1"])
    assert answer == wire.CALLBACK_REFUSED
    assert link.problems == [
        "ask called a function the grader handed it with arguments its test does not use "
        "(inputs of its own choosing, not the case's): refused"
    ]


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



@pytest.mark.parametrize(
    "begin", ["### BEGIN HIDDEN TESTS", "# BEGIN HIDDEN TESTS", "BEGIN HIDDEN TESTS  "]
)
def test_the_judge_hides_what_nbgrader_cuts_from_the_release(begin):
    """nbgrader's release is the oracle: a line it cuts is never judged as visible."""
    from nbgrader.preprocessors import ClearHiddenTests

    source = (
        f'checker.equal("one", 1, 1)\n{begin}\nhidden.equal("secret", 2, 2)\n'
        "### END HIDDEN TESTS\n"
    )
    cell = nbformat.v4.new_code_cell(
        source, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                       "grade_id": "t", "points": 1}}
    )
    released, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    visible, hidden = judge.split_test(source)
    assert visible.strip() == released.source.strip()  # students saw exactly the visible part
    assert "secret" in hidden and "secret" not in visible
