"""The check framework: results recorded as data, rendered as text separately.

A check calls student code only through :meth:`Checker.call`, records one
:class:`CheckResult` per finding, and ends with :meth:`Checker.finish`, which prints the
rendered results and raises :class:`CheckFailed` if any failed. Tests read the records
(``checker.results`` or ``CheckFailed.results``) instead of parsing printed text.

At grading time the student's functions may be proxies that run in a sandbox (see the plan's
contract): so checks pass them plain data only, give them module-level functions only, and
swap their helpers with :func:`replaced_globals`, never by touching ``__globals__`` directly.

The grader counts checks across a class: inside :func:`recording_checks`, every checker that
finishes adds one :class:`CheckRecord` per check (its label, visible or hidden, passed) to
the list the block yields. Labels only: never the expected values, hints or inputs.
"""

import contextlib
import contextvars
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """One finding of a check.

    Attributes
    ----------
    label : str
        What was checked, in plain words.
    ok : bool
        Whether it held.
    expected, got : object, optional
        What the check wanted and what it found (printed on failure, when details are shown).
    hint : str, optional
        A one-line suggestion of what to look at.
    """

    label: str
    ok: bool
    expected: object = None
    got: object = None
    hint: str | None = None


@dataclass(frozen=True)
class CheckRecord:
    """One check as the grader counts it across a class.

    Attributes
    ----------
    label : str
        What was checked, in plain words (a hidden check's label names the behaviour, never
        its inputs).
    hidden : bool
        Recorded by :class:`HiddenChecks` (a hidden test) rather than a visible check.
    ok : bool
        Whether it held.
    """

    label: str
    hidden: bool
    ok: bool


# The list that finishing checkers report to, while a recording_checks block runs.
_RECORDS: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "course_utils_check_records", default=None
)


@contextlib.contextmanager
def recording_checks():
    """Record every check finished inside the block.

    Yields
    ------
    records : list of CheckRecord
        Filled as checkers finish (:meth:`Checker.finish`), in order; blocks nest, and an
        inner block's checks are not seen by the outer one.
    """
    records: list[CheckRecord] = []
    token = _RECORDS.set(records)
    try:
        yield records
    finally:
        _RECORDS.reset(token)


class CheckFailed(AssertionError):
    """A check failed; shown in Jupyter as its message alone, without a traceback.

    The message says what failed; the lines printed above it say why. Hiding the traceback
    keeps test cells from quoting their own source (and so hidden tests) in the output that
    feedback is built from.

    Attributes
    ----------
    results : list of CheckResult
        Every result the failing checker recorded.
    """

    def __init__(self, message, results=()):
        super().__init__(message)
        self.results = list(results)

    def _render_traceback_(self):
        """IPython hook: the lines shown instead of a traceback."""
        return [f"CheckFailed: {self}"]


def render(title, results, *, show_details=True, show_passed=True):
    """Render check results as the lines a test cell prints.

    Parameters
    ----------
    title : str
        What was checked.
    results : list of CheckResult
    show_details : bool, default=True
        Print expected, got and hint under each failure.
    show_passed : bool, default=True
        Print an ``ok`` line per passing result; when False they are only counted.

    Returns
    -------
    text : str
        ``Checking <title>``, one line per result (``  ok    label`` or ``  FAIL  label``),
        and, when nothing failed, ``All N checks passed.``
    """
    lines = [f"Checking {title}"]
    for result in results:
        if result.ok:
            if show_passed:
                lines.append(f"  ok    {result.label}")
            continue
        lines.append(f"  FAIL  {result.label}")
        if not show_details:
            continue
        for name, value in (("expected", result.expected), ("got", result.got)):
            if value is not None:
                lines.append(f"        {name + ':':9} {value}")
        if result.hint:
            lines.append(f"        hint:     {result.hint}")
    failed = [r for r in results if not r.ok]
    if not failed:
        lines.append(f"All {len(results)} checks passed.")
    elif not show_passed:
        lines.append(f"{len(results) - len(failed)} of {len(results)} hidden checks passed.")
    return "\n".join(lines)


class Checker:
    """Record named checks and fail once at the end.

    Calls to student code go through :meth:`call`, which turns any exception (even a
    ``KeyboardInterrupt`` from a time-out) into a recorded failure, so that nothing a
    student writes can make a check print a traceback.

    Parameters
    ----------
    title : str
        What is being checked, printed first and used in the final message.
    show_details : bool, default=True
        Print expected and actual values and hints of failures.
    """

    show_passed = True
    hidden = False

    def __init__(self, title, show_details=True):
        self.title = title
        self.show_details = show_details
        self.results = []
        self.interrupted = False
        self.not_implemented = False

    @property
    def passed(self):
        """How many checks passed."""
        return sum(result.ok for result in self.results)

    @property
    def failures(self):
        """Labels of the failed checks, in order."""
        return [result.label for result in self.results if not result.ok]

    def call(self, label, function, *args, **kwargs):
        """Run student code; return ``(True, value)``, or record why it failed and return
        ``(False, None)``."""
        if self.interrupted:
            self.fail(label, hint="skipped: an earlier call was interrupted")
            return False, None
        if self.not_implemented:
            # One "not implemented yet" says it all; more failures would only be noise.
            return False, None
        try:
            return True, function(*args, **kwargs)
        except NotImplementedError:
            self.not_implemented = True
            self.fail(label, hint="not implemented yet: replace `raise NotImplementedError()`")
        except KeyboardInterrupt:
            # A time-out interrupts the kernel; stop calling student code from here on.
            self.interrupted = True
            self.fail(label, hint="interrupted: the call took too long (an endless loop?)")
        except BaseException as exc:  # anything a student's code raises is a finding
            self.fail(label, hint=f"raised {type(exc).__name__}: {exc}")
        return False, None

    def expect(self, label, ok, *, expected=None, got=None, hint=None):
        """Record one check that passed when ``ok`` is true; return ``bool(ok)``."""
        ok = _truthy(ok)
        self.results.append(CheckResult(label, ok, expected, got, hint))
        return ok

    def require(self, label, ok, *, expected=None, got=None, hint=None):
        """A precondition: record a failure when ``ok`` is false, nothing when true."""
        ok = _truthy(ok)
        if not ok:
            self.fail(label, expected=expected, got=got, hint=hint)
        return ok

    def fail(self, label, *, expected=None, got=None, hint=None):
        """Record one failed check."""
        self.results.append(CheckResult(label, False, expected, got, hint))

    def expect_float(self, name, value):
        """Check that function ``name`` returned a Python float."""
        return self.expect(
            f"{name} returns a Python float",
            is_python_float(value),
            expected="a float",
            got=describe(value),
            hint=f"{name} returned {describe(value)}; return a Python float, "
            "e.g. float(difference)",
        )

    def expect_close(self, label, got, expected, *, rtol, atol=0.0, hint=None):
        """Check a scalar against an expected value; both are shown on failure."""
        ok = is_number(got) and math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)
        return self.expect(
            label,
            ok,
            expected=f"{expected:.10g} (within {rtol:g} relative)",
            got=f"{got:.10g}" if is_number(got) else describe(got),
            hint=hint,
        )

    def expect_unchanged(self, parameters, untouched, hint):
        """Check that a call left ``parameters`` as ``untouched`` (a deep copy) was."""
        return self.expect(
            "parameters are left unchanged",
            all(np.array_equal(parameters[k], untouched[k]) for k in untouched),
            expected="the same arrays as before the call",
            got="changed arrays",
            hint=hint,
        )

    def render(self):
        """The results as printed text (see :func:`render`)."""
        return render(self.title, self.results, show_details=self.show_details,
                      show_passed=self.show_passed)

    def finish(self):
        """Print the results; raise :class:`CheckFailed` if any check failed.

        Returns None, so that a test cell ending in ``finish()`` displays nothing more (and
        nbgrader never reads a score from it); the records stay in :attr:`results`.
        """
        records = _RECORDS.get()
        if records is not None:
            records.extend(CheckRecord(r.label, self.hidden, r.ok) for r in self.results)
        print(self.render())
        failures = self.failures
        if failures:
            raise CheckFailed(
                f"{self.title}: {len(failures)} of {len(self.results)} checks failed "
                f"({'; '.join(failures)})",
                self.results,
            )


class HiddenChecks(Checker):
    """The runner of hidden tests: failures are listed by label, passes only counted.

    Labels name the behaviour in plain words ("a derivative of the wrong sign is detected"),
    never the inputs or numbers, and no details are printed: feedback says what went wrong
    without handing over the hidden cases. Each method calls ``function(*args, **kwargs)``
    through :meth:`Checker.call` and never raises.

    Examples
    --------
    >>> hidden = HiddenChecks("gradient_check")  # doctest: +SKIP
    >>> hidden.close("a sign error gives a difference of 1", 1.0, gradient_check, 3.0, -2.0,
    ...              rtol=1e-6)  # doctest: +SKIP
    >>> hidden.finish()  # doctest: +SKIP
    """

    show_passed = False
    hidden = True

    def __init__(self, title):
        super().__init__(f"{title} (hidden tests)", show_details=False)

    def close(self, label, expected, function, *args, rtol=1e-7, atol=0.0, **kwargs):
        """Check that the call returns a value close to ``expected``.

        Numbers and arrays compare with ``np.allclose`` after an exact shape match; lists,
        tuples and dicts compare entry by entry (dicts: same keys in the same order).
        """
        ok, value = self.call(label, function, *args, **kwargs)
        if ok:
            self.expect(label, _close(value, expected, rtol, atol))

    def equal(self, label, expected, function, *args, **kwargs):
        """Check that the call returns exactly ``expected`` (arrays: same shape and entries)."""
        ok, value = self.call(label, function, *args, **kwargs)
        if ok:
            self.expect(label, _equal(value, expected))

    def satisfies(self, label, predicate, function, *args, **kwargs):
        """Check that ``predicate(value)`` is true for the call's value.

        ``predicate`` runs on the grader's side; an exception it raises is a failure.
        """
        ok, value = self.call(label, function, *args, **kwargs)
        if not ok:
            return
        try:
            verdict = _truthy(predicate(value))
        except Exception:  # a predicate choking on a wrong value is a failed check
            verdict = False
        self.expect(label, verdict)

    def finish(self):
        """As :meth:`Checker.finish`; in a student copy, where no hidden test is left, say so."""
        if not self.results:
            print("The hidden tests are not in your copy: they run when your work is graded.")
            return
        super().finish()


def _truthy(value):
    """``bool(value)``, false for anything that cannot be read as a truth value."""
    try:
        return bool(value)
    except Exception:  # e.g. an array of several entries
        return False


def _is_numeric(value):
    """True for real or complex numbers and numeric arrays; false for bool, str and None."""
    if isinstance(value, bool | np.bool_ | str | bytes) or value is None:
        return False
    if isinstance(value, np.ndarray):
        return np.issubdtype(value.dtype, np.number)
    return isinstance(value, int | float | complex | np.number)


def _close(value, expected, rtol, atol):
    """Whether value matches expected within rtol/atol, recursing into lists and dicts."""
    if isinstance(expected, dict):
        return (isinstance(value, dict) and list(value) == list(expected)
                and all(_close(value[k], expected[k], rtol, atol) for k in expected))
    if isinstance(expected, list | tuple):
        return (isinstance(value, list | tuple) and len(value) == len(expected)
                and all(_close(v, e, rtol, atol) for v, e in zip(value, expected, strict=True)))
    if not _is_numeric(value):
        return False
    try:
        return np.shape(value) == np.shape(expected) and bool(
            np.allclose(value, expected, rtol=rtol, atol=atol)
        )
    except (TypeError, ValueError):
        return False


def _equal(value, expected):
    """Exact equality; arrays need the same shape and entries, NaN never equals."""
    if isinstance(expected, np.ndarray) or isinstance(value, np.ndarray):
        return (isinstance(value, np.ndarray) and isinstance(expected, np.ndarray)
                and value.shape == expected.shape and bool(np.array_equal(value, expected)))
    if isinstance(expected, dict):
        return (isinstance(value, dict) and list(value) == list(expected)
                and all(_equal(value[k], expected[k]) for k in expected))
    if isinstance(expected, list | tuple):
        return (type(value) is type(expected) and len(value) == len(expected)
                and all(_equal(v, e) for v, e in zip(value, expected, strict=True)))
    try:
        return type(value) is type(expected) and bool(value == expected)
    except Exception:  # an opaque value that cannot compare
        return False


def describe(value):
    """Say what a value is, for messages: ``a numpy.ndarray of shape (1, 1)``."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a numpy.ndarray of shape {value.shape}"
    if isinstance(value, str):
        return f"a str ({value[:20]!r})"
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    article = "an" if name[0].lower() in "aeiou" else "a"
    if isinstance(value, int | float):
        return f"{article} {name} ({value!r})"
    return f"{article} {name}"


def is_python_float(value):
    """True for Python floats (numpy.float64 is one); false for arrays, ints and other types."""
    return isinstance(value, float)


def is_number(value):
    """True for real numbers (Python or numpy scalars); false for bool, None, strings, arrays."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def is_finite_number(value):
    """True for a real number that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(value)


def replaced_globals(function, **replacements):
    """Temporarily rebind names in the namespace ``function`` looks its helpers up in.

    The graded functions call ``forward_propagation`` (and friends) by name; swapping those
    for the stand-ins of :mod:`course_utils.standins` lets a check try them on a cost whose
    derivative it knows. Replacements must be module-level functions of ``course_utils`` or
    functions of the notebook itself.

    When ``type(function)`` provides ``__replaced_globals__`` (the grader's proxy for a
    function that runs in a sandbox), the swap is delegated to it.

    Returns
    -------
    context manager
        The names are rebound inside the ``with`` block and restored after it.
    """
    delegate = getattr(type(function), "__replaced_globals__", None)
    if delegate is not None:
        return delegate(function, **replacements)
    return _replaced_locally(function, replacements)


@contextlib.contextmanager
def _replaced_locally(function, replacements):
    """Swap names in ``function.__globals__`` for the duration of the block."""
    namespace = function.__globals__
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
