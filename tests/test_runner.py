"""Tests for course_utils.runner: results recorded as data, rendered apart; HiddenChecks' API;
replaced_globals, locally and through a grader's proxy."""

import contextlib

import numpy as np
import pytest

from course_utils import (
    Checker,
    CheckFailed,
    CheckResult,
    HiddenChecks,
    describe,
    is_finite_number,
    is_number,
    is_python_float,
    render,
    replaced_globals,
)


def add(a, b=0):
    return a + b


def raises_value_error():
    raise ValueError("shapes (5,4) and (3,) not aligned")


def raises_secret():
    raise ZeroDivisionError("secret 42")


def identity(value):
    return value


# --- Checker --------------------------------------------------------------------------------


def test_checker_records_results_as_data(capsys):
    """call() returns (ok, value); expect/require/fail record CheckResults in order."""
    checker = Checker("thing")
    assert checker.call("adds", add, 1, b=2) == (True, 3)
    assert checker.expect("true", 1 == 1) is True
    assert checker.expect("false", np.array([0.0]).any(), expected=1, got=0, hint="h") is False
    assert checker.require("silent when true", True) is True
    assert checker.call("raises", int, "x") == (False, None)
    assert checker.results == [
        CheckResult("true", True),
        CheckResult("false", False, 1, 0, "h"),
        CheckResult("raises", False, None, None,
                    "raised ValueError: invalid literal for int() with base 10: 'x'"),
    ]
    assert checker.passed == 1 and checker.failures == ["false", "raises"]
    # Nothing is printed before finish().
    assert capsys.readouterr().out == ""
    message = r"^thing: 2 of 3 checks failed \(false; raises\)$"
    with pytest.raises(CheckFailed, match=message) as info:
        checker.finish()
    assert info.value.results == checker.results


def test_checker_prints_exception_as_hint(capsys):
    """An exception from student code becomes a FAIL line naming its type and message."""
    checker = Checker("thing")
    assert checker.call("runs", raises_value_error) == (False, None)
    with pytest.raises(CheckFailed):
        checker.finish()
    assert capsys.readouterr().out == (
        "Checking thing\n"
        "  FAIL  runs\n"
        "        hint:     raised ValueError: shapes (5,4) and (3,) not aligned\n"
    )


def test_checker_keyboard_interrupt_skips_later_calls(capsys):
    """KeyboardInterrupt is recorded, not raised, and later calls are skipped uncalled."""
    checker = Checker("slow thing")
    calls = []

    def endless():
        calls.append("endless")
        raise KeyboardInterrupt

    assert checker.call("first", endless) == (False, None)
    assert checker.call("second", calls.append, "second") == (False, None)
    assert calls == ["endless"]
    assert [r.hint for r in checker.results] == [
        "interrupted: the call took too long (an endless loop?)",
        "skipped: an earlier call was interrupted",
    ]
    with pytest.raises(CheckFailed, match=r"2 of 2 checks failed \(first; second\)"):
        checker.finish()
    capsys.readouterr()


def test_checker_all_passed_returns_none(capsys):
    """With no failure, finish() prints the count and returns None (a cell shows no value)."""
    checker = Checker("thing")
    checker.expect("a", True)
    checker.expect("b", True)
    assert checker.finish() is None
    assert capsys.readouterr().out == "Checking thing\n  ok    a\n  ok    b\nAll 2 checks passed.\n"


def test_render_details_and_hidden_form():
    """render() prints details under failures; hidden form counts passes and hides details."""
    results = [CheckResult("a", True), CheckResult("b", False, "1", "2", "look")]
    assert render("t", results) == (
        "Checking t\n  ok    a\n  FAIL  b\n        expected: 1\n        got:      2\n"
        "        hint:     look"
    )
    assert render("t", results, show_details=False, show_passed=False) == (
        "Checking t\n  FAIL  b\n1 of 2 hidden checks passed."
    )


def test_check_failed_renders_one_line():
    """In IPython a CheckFailed shows as its message alone, with no traceback."""
    checker = Checker("thing", show_details=False)
    checker.expect("a label", False)
    with pytest.raises(CheckFailed) as info, contextlib.redirect_stdout(None):
        checker.finish()
    assert isinstance(info.value, AssertionError)
    assert info.value._render_traceback_() == [
        "CheckFailed: thing: 1 of 1 checks failed (a label)"
    ]


# --- HiddenChecks ---------------------------------------------------------------------------


def test_hidden_checks_list_failures_by_label_and_only_count_passes(capsys):
    """Hidden failures show their labels and nothing else; passing checks are only counted."""
    hidden = HiddenChecks("gradient_check")
    hidden.close("close value", 1.0, identity, 1.0)
    hidden.close("wrong value", 1.0, identity, 1.1)
    hidden.close("wrong shape", np.ones(2), identity, np.ones((2, 1)))
    hidden.close("raises", 0.0, raises_secret)
    hidden.satisfies("truthy", is_python_float, identity, 2.5)
    hidden.satisfies("false", is_python_float, identity, 2)
    hidden.satisfies("ambiguous array", identity, identity, np.array([True, False]))
    hidden.equal("equal", (1, 2), identity, (1, 2))
    with pytest.raises(
        CheckFailed,
        match=r"^gradient_check \(hidden tests\): 5 of 8 checks failed \(wrong value; "
        r"wrong shape; raises; false; ambiguous array\)$",
    ):
        hidden.finish()
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Checking gradient_check (hidden tests)",
        "  FAIL  wrong value",
        "  FAIL  wrong shape",
        "  FAIL  raises",
        "  FAIL  false",
        "  FAIL  ambiguous array",
        "3 of 8 hidden checks passed.",
    ]


def test_hidden_checks_all_passed(capsys):
    hidden = HiddenChecks("f")
    hidden.close("a", 2.0, add, 1.0, b=1.0)
    assert hidden.finish() is None
    assert capsys.readouterr().out == "Checking f (hidden tests)\nAll 1 checks passed.\n"


def test_hidden_checks_in_a_student_copy(capsys):
    """With the hidden block stripped, finish() says the tests run at grading time."""
    HiddenChecks("f").finish()
    assert "not in your copy" in capsys.readouterr().out


def test_hidden_close_tolerances_and_containers(capsys):
    """close() honours rtol/atol and compares lists and dicts entry by entry, in order."""
    hidden = HiddenChecks("t")
    hidden.close("within rtol", 1.0, identity, 1.0 + 1e-8)
    hidden.close("outside rtol", 1.0, identity, 1.0 + 1e-6)
    hidden.close("within atol", 0.0, identity, 1e-13, atol=1e-12)
    hidden.close("loose rtol", [1.0, 2.0], identity, [1.05, 2.0], rtol=0.1)
    hidden.close("dict", {"a": 1.0, "b": 2.0}, identity, {"a": 1.0, "b": 2.0 + 1e-9})
    hidden.close("dict order", {"a": 1.0, "b": 2.0}, identity, {"b": 2.0, "a": 1.0})
    hidden.close("string is no number", 8.0, identity, "8.0")
    hidden.close("bool is no number", 1.0, identity, True)
    hidden.close("NaN is never close", 0.0, identity, float("nan"))
    assert [r.label for r in hidden.results if not r.ok] == [
        "outside rtol", "dict order", "string is no number", "bool is no number",
        "NaN is never close",
    ]
    capsys.readouterr()


def test_hidden_equal_is_exact(capsys):
    hidden = HiddenChecks("t")
    hidden.equal("same array", np.zeros((2, 1)), identity, np.zeros((2, 1)))
    hidden.equal("other shape", np.zeros((2, 1)), identity, np.zeros(2))
    hidden.equal("int is not float", 0.0, identity, 0)
    hidden.equal("dict", {"a": 0.0}, identity, {"a": 0.0})
    hidden.equal("NaN never equal", {"a": 0.0}, identity, {"a": float("nan")})
    assert [r.label for r in hidden.results if not r.ok] == [
        "other shape", "int is not float", "NaN never equal",
    ]
    capsys.readouterr()


def test_hidden_satisfies_counts_a_raising_predicate_as_failure(capsys):
    def choke(value):
        raise TypeError("not for this value")

    hidden = HiddenChecks("t")
    hidden.satisfies("chokes", choke, identity, 1.0)
    assert hidden.results == [CheckResult("chokes", False)]
    capsys.readouterr()


# --- recording_checks -----------------------------------------------------------------------


def test_recording_checks_keeps_label_kind_and_outcome_of_every_finished_check(capsys):
    """Visible and hidden checks are recorded when they finish, failed ones too; no values,
    hints or inputs travel; nothing is recorded outside a block, nor by an inner block's
    checks in the outer one."""
    from course_utils.runner import CheckRecord, recording_checks

    outside = Checker("before")
    outside.expect("not recorded", True)
    outside.finish()
    with recording_checks() as records:
        visible = Checker("add")
        visible.expect("adds", add(1, 2) == 3, expected=3, got=3)
        visible.finish()
        hidden = HiddenChecks("add")
        hidden.close("adds negatives", -3.0, add, -1.0, -2.0)
        hidden.equal("secret input", 99, raises_secret)
        with recording_checks() as inner:
            nested = Checker("inner")
            nested.expect("inner check", True)
            nested.finish()
        with pytest.raises(CheckFailed):
            hidden.finish()
        unfinished = Checker("never finished")
        unfinished.expect("left out", True)
    assert records == [
        CheckRecord("adds", False, True),
        CheckRecord("adds negatives", True, True),
        CheckRecord("secret input", True, False),
    ]
    assert inner == [CheckRecord("inner check", False, True)]
    assert "42" not in repr(records)  # the exception's message stays in the hint
    capsys.readouterr()


# --- replaced_globals -----------------------------------------------------------------------


def test_replaced_globals_swaps_and_restores_on_error():
    """Names are swapped inside the block and restored (or removed) even when it raises."""
    namespace = {}
    exec("def helper():\n    return 'original'\n\ndef f():\n    return helper()\n", namespace)
    f, original = namespace["f"], namespace["helper"]
    with (
        pytest.raises(RuntimeError, match="inside"),
        replaced_globals(f, helper=describe, extra=1),
    ):
        assert namespace["helper"] is describe and namespace["extra"] == 1
        raise RuntimeError("inside")
    assert namespace["helper"] is original
    assert "extra" not in namespace
    assert f() == "original"


def test_replaced_globals_dispatches_to_a_proxy():
    """A proxy type with __replaced_globals__ gets the swap; its globals are never touched."""
    calls = []

    class Proxy:
        @staticmethod
        @contextlib.contextmanager
        def __replaced_globals__(function, **replacements):
            calls.append((function, replacements))
            yield

    proxy = Proxy()
    with replaced_globals(proxy, forward_propagation=describe):
        pass
    assert calls == [(proxy, {"forward_propagation": describe})]


# --- describe and predicates ----------------------------------------------------------------


class Widget:
    """A class outside builtins, to check the module-qualified name."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.zeros((1, 1)), "a numpy.ndarray of shape (1, 1)"),
        (np.zeros(47), "a numpy.ndarray of shape (47,)"),
        (3, "an int (3)"),
        (2.5, "a float (2.5)"),
        (True, "a bool (True)"),
        (None, "None"),
        ([1.0], "a list"),
        ({"W1": 1}, "a dict"),
        ("8", "a str ('8')"),
        (object(), "an object"),
        (Widget(), f"a {__name__}.Widget"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_describe(value, expected):
    """describe() names type, shape or value, with the right article."""
    assert describe(value) == expected


def test_number_predicates():
    assert is_python_float(np.float64(1.0)) and not is_python_float(1)
    assert is_number(np.int64(3)) and not is_number(True) and not is_number("1")
    assert is_finite_number(1.0) and not is_finite_number(float("nan"))
    assert not is_finite_number(float("inf"))
