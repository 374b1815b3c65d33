"""The trusted judge: runs each graded test cell on the grader's side.

A student's kernel is hostile: it can rebind the checks, fake return types, read anything in
its memory. So no test decides a score there. After the student's notebook has run in its
sandboxed kernel, the judge executes every graded test cell of the *instructor's* notebook
(visible checks and hidden tests alike) in a namespace of its own: the trusted
``course_utils``, the notebook's locked imports and definitions, and one
:class:`RemoteFunction` per function the student was asked to write. Calling a
``RemoteFunction`` sends plain data into the kernel, runs the student's function there, and
brings plain data back (:mod:`course_utils.wire`). Hidden inputs, reference implementations
and expected values never leave the grader; the kernel only ever sees the arguments of the
calls made to it, after every one of its own cells has run, so nothing it learns can reach
the notebook or the feedback.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import zmq

from course_utils import wire
from course_utils.runner import CheckRecord, recording_checks
from instructor import cells
from instructor.limits import (
    CELL_TIMEOUT_SECONDS,
    INTERRUPT_GRACE_SECONDS,
    MAX_CALLBACK_REPLY_CHARS,
    MAX_CALLBACK_REQUEST_CHARS,
    MAX_CALLBACKS_PER_CALL,
    MAX_REPORT_CHARS,
    NOTEBOOK_BUDGET_SECONDS,
)
from instructor.problems import RunProblem

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,60}")


class KernelGone(RuntimeError):
    """The student's kernel is no longer running: no call can reach it."""


class StudentError(Exception):
    """An exception raised by student code in the kernel, known here by name only.

    Subclasses are made per exception name (:func:`student_error`), so that a check's
    message reads "raised ValueError: ..." as it would in the student's own kernel.
    """


class CallInterrupted(KeyboardInterrupt):
    """A call ran past its time limit and was interrupted, as a time-out would in a cell."""


_ERROR_CLASSES: dict[str, type] = {}


def student_error(type_name: str, message: str) -> StudentError:
    """An exception standing for the student's ``type_name`` (its last dotted part)."""
    name = type_name.rsplit(".", 1)[-1]
    if not IDENTIFIER.fullmatch(name):
        name = "Exception"
    if name not in _ERROR_CLASSES:
        # NotImplementedError keeps its meaning: checks recognise an unanswered stub by it.
        bases = (
            (StudentError, NotImplementedError)
            if name == "NotImplementedError"
            else (StudentError,)
        )
        _ERROR_CLASSES[name] = type(name, bases, {"__module__": "student"})
    return _ERROR_CLASSES[name](message)


@dataclass
class KernelLink:
    """Calls functions in a live kernel and answers the callbacks they make.

    Parameters
    ----------
    client : jupyter_client.BlockingKernelClient
        A client on the student's kernel, channels started.
    interrupt : callable
        Interrupts the kernel (a signal or a control-channel message).
    stop : callable
        Stops the kernel for good (an interrupt was ignored).
    timeout : float
        Seconds one call may take, callbacks included.
    """

    client: object
    interrupt: Callable[[], None]
    stop: Callable[[], None]
    timeout: float = CELL_TIMEOUT_SECONDS
    budget: float = NOTEBOOK_BUDGET_SECONDS
    problems: list[str] = field(default_factory=list)
    calls: int = 0
    spent: float = 0.0
    dead: bool = False
    # Bytes the kernel may still publish (shared with the run of its notebook); None: no cap.
    output_budget: int | None = None
    # Why the kernel can no longer be talked to (it died, a channel was cut), or None.
    gone: Callable[[], str | None] = lambda: None

    def call(self, name, args, kwargs, replace=None):
        """Run ``name(*args, **kwargs)`` in the kernel; return its value as plain data.

        Raises
        ------
        StudentError
            The student's function raised.
        CallInterrupted
            It ran out of time and was interrupted.
        KernelGone
            The kernel is dead or was stopped.
        """
        if self.dead:
            raise KernelGone("the notebook's kernel had stopped, so this was not run")
        if self.spent > self.budget:
            message = RunProblem(
                "timeout", f"the tests' calls used up the notebook's {self.budget:.0f} s"
            )
            if message not in self.problems:
                self.problems.append(message)
            raise CallInterrupted(message)
        callbacks: dict[str, Callable] = {}
        reference = _references(callbacks)
        request = {
            "function": name,
            "args": wire.encode(list(args), reference),
            "kwargs": wire.encode(dict(kwargs), reference),
            "replace": wire.encode(dict(replace or {}), reference),
        }
        code = (
            "__import__('course_utils.wire', fromlist=['serve']).serve("
            f"{wire.dumps(request)!r}, globals())"
        )
        self.calls += 1
        started = time.monotonic()
        # The call's own deadline, and never past what is left of the notebook's budget.
        deadline = started + min(self.timeout, max(self.budget - self.spent, 0.0))
        guard = _Guard(name, (args, kwargs, replace or {}))
        try:
            outcome = self._execute(code, callbacks, guard, deadline)
        finally:
            self.spent += time.monotonic() - started
        for problem in guard.problems:
            if problem not in self.problems:
                self.problems.append(problem)
        if type(outcome) is not dict:
            raise student_error("ValueError", "the kernel sent back something unreadable")
        if outcome.get("ok") is not True:
            error, message = str(outcome.get("error", "Exception")), str(outcome.get("message", ""))
            if error == "KeyboardInterrupt":
                raise CallInterrupted(f"{name} was interrupted")
            raise student_error(error, message[:300])
        try:
            value = wire.decode(outcome.get("value"))
            _copy_back(list(args), wire.decode(outcome.get("args")))
            _copy_back(dict(kwargs), wire.decode(outcome.get("kwargs")))
        except wire.WireError as error:
            raise student_error(
                "ValueError", f"returned data the grader cannot read ({error})"
            ) from None
        return value

    def _execute(self, code, callbacks, guard, deadline):
        """Run ``code`` in the kernel; answer its requests; return the outcome it sent.

        Only the stdin channel (outcome and callbacks) and the shell channel (the end of
        the request) are read. What the kernel publishes meanwhile is received and dropped
        unread, counted against :attr:`output_budget`.
        """
        client = self.client
        msg_id = client.execute(
            code, silent=False, store_history=False, allow_stdin=True, stop_on_error=False
        )
        result, replied = None, False
        poller = zmq.Poller()
        iopub = client.iopub_channel.socket
        poller.register(iopub, zmq.POLLIN)
        poller.register(client.stdin_channel.socket, zmq.POLLIN)
        poller.register(client.shell_channel.socket, zmq.POLLIN)
        interrupted_at, answered = None, 0
        while not replied:
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                interrupted_at = now
                self.interrupt()
            if interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE_SECONDS:
                self._give_up(
                    RunProblem("timeout", "a call ignored the interrupt sent after its time limit")
                )
            events = dict(poller.poll(100))
            if iopub in events:
                self._drain(iopub)
            if client.stdin_channel.socket in events:
                request = _receive(client.stdin_channel)
                if request is not None:
                    prompt = str(request["content"].get("prompt", ""))
                    if prompt.startswith(wire.RESULT_PROMPT):
                        # The last outcome sent before the reply counts (a function may send
                        # a forged one first: it could as well have returned that value).
                        result = _read_outcome(prompt[len(wire.RESULT_PROMPT):])
                        client.input("")
                    else:
                        answered += 1
                        client.input(
                            _answer_callback(request, callbacks, answered, guard, deadline)
                        )
            if client.shell_channel.socket in events:
                reply = _receive(client.shell_channel)
                if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                    replied = True
                    if reply["content"].get("ename") == "KeyboardInterrupt":
                        result = {"ok": False, "error": "KeyboardInterrupt"}
            if not events:
                if not _alive(client):
                    self._give_up(RunProblem("kernel_died", "the kernel died during a call"))
                why = self.gone()
                if why:
                    self._give_up(why)
        if interrupted_at is not None:
            self.problems.append(
                RunProblem("timeout", "a call ran past its time limit and was interrupted")
            )
            return {"ok": False, "error": "KeyboardInterrupt"}
        return result

    def _drain(self, socket):
        """Receive, unread, what the kernel published; count it; stop listening when over."""
        for _ in range(1000):
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            if self.output_budget is None:
                continue
            self.output_budget -= sum(len(frame) for frame in frames)
            if self.output_budget < 0:
                if OUTPUT_CUT not in self.problems:
                    self.problems.append(OUTPUT_CUT)
                # Nothing more is read: the kernel's channel stops sending to us.
                with contextlib.suppress(zmq.ZMQError):
                    socket.setsockopt(zmq.UNSUBSCRIBE, b"")
                return

    def _give_up(self, why):
        self.dead = True
        self.problems.append(why)
        with contextlib.suppress(Exception):
            self.stop()
        raise KernelGone(why)


# How the status names output over the notebook's cap (while it ran or while it was judged).
OUTPUT_CUT = RunProblem("limit", "output over the size limit was cut")


def _read_outcome(text):
    """A call's outcome sent by the kernel, or None when it is not readable data."""
    try:
        return wire.loads(text)
    except wire.WireError:
        return None


def _receive(channel):
    """The next message of a channel, or None for one that fails to parse or verify."""
    try:
        return channel.get_msg(timeout=0)
    except Exception:  # a garbled or unsigned message: the kernel's side is not trusted
        return None


def _alive(client):
    """Whether the kernel still runs, as far as its manager knows (True when it cannot say)."""
    try:
        alive = client.is_alive()
    except Exception:
        return False
    if inspect.isawaitable(alive):
        # An async manager's answer cannot be awaited from this thread: the call's own
        # time limit catches a dead kernel instead.
        with contextlib.suppress(Exception):
            alive.close()
        return True
    return bool(alive)


def _references(callbacks):
    """Turn a function argument into a reference the kernel can resolve.

    A grader function becomes an anonymous handle whose token is new for this call: a
    handle kept from an earlier call names no function in this one.
    """

    def reference(function):
        if isinstance(function, RemoteFunction):
            return {"$kernel": function.name}
        qualified = wire.qualified_name(function)
        if qualified:
            return {"$function": qualified}
        token = secrets.token_hex(8)
        callbacks[token] = function
        return {"$callback": token}

    return reference


class _Guard:
    """What the grader's functions handed to one call accept from the kernel.

    A grader function is called with the kernel's choice of arguments. It runs only on
    arguments like the ones its test is about: numbers, and arrays of float64 (complex128,
    for complex steps) or of a dtype the call was given (integer labels), whose sides are
    sides of the arrays the call was given, in at most as many dimensions; dicts, lists and
    tuples of those, small. Anything else (int8 or
    long double arrays, objects, shapes crafted to broadcast into big ones) is refused
    before any work: an array holds at most (largest side)**ndim entries of the call's own
    data, so a callback's cost is bounded by the call's own data.
    """

    MAX_ITEMS = 64
    MAX_DEPTH = 4

    def __init__(self, name, given):
        self.name = name
        self.problems: list[str] = []
        self.sides = {1}
        self.ndim = 1
        self.dtypes = {np.dtype(np.float64), np.dtype(np.complex128)}
        self._collect(given, 0)

    def _collect(self, data, depth):
        if depth > self.MAX_DEPTH + 2:
            return
        if isinstance(data, np.ndarray):
            self.sides.update(data.shape)
            if data.dtype.kind in "biuf" and data.dtype.itemsize <= 8:
                self.dtypes.add(data.dtype)
            self.ndim = max(self.ndim, data.ndim)
        elif isinstance(data, dict):
            for item in list(data.values())[:1000]:
                self._collect(item, depth + 1)
        elif isinstance(data, list | tuple):
            for item in list(data)[:1000]:
                self._collect(item, depth + 1)

    def refusal(self, data, depth=0) -> str | None:
        """Why ``data`` may not reach a grader function, or None when it may."""
        if depth > self.MAX_DEPTH:
            return "arguments nested too deep"
        kind = type(data)
        if data is None or kind in (bool, float, complex):
            return None
        if kind is int:
            return None if abs(data) <= 2**53 else "an integer too large"
        if kind is np.ndarray:
            if data.dtype not in self.dtypes:
                return f"an array of dtype {data.dtype} (float64 expected)"
            if data.ndim > self.ndim or not set(data.shape) <= self.sides:
                return f"an array of shape {data.shape}, unlike the test's arrays"
            return None
        if kind in (list, tuple, dict):
            items = list(data.values()) if kind is dict else data
            if len(items) > self.MAX_ITEMS:
                return f"a {kind.__name__} of {len(items)} items"
            for item in items:
                why = self.refusal(item, depth + 1)
                if why:
                    return why
            return None
        if isinstance(data, np.generic) and data.dtype in self.dtypes:
            return None
        if isinstance(data, wire.Opaque):
            return f"data the grader does not take ({data.type_name})"
        return f"a value of type {wire.type_name(data)}"

    def refuse(self, why):
        problem = RunProblem(
            "callback_abuse",
            f"{self.name} called a function the grader handed it with arguments its test "
            f"does not use ({why}): refused",
        )
        if problem not in self.problems and len(self.problems) < 5:
            self.problems.append(problem)


def _answer_callback(request, callbacks, number, guard, deadline):
    """Run a grader function the kernel asked for; reply with plain data (never raise).

    The kernel chooses the arguments and how often it asks: both are bounded, the
    arguments are checked before any work, and nothing is run past the call's deadline.
    Every refusal and failure reads the same in the kernel (:data:`wire.CALLBACK_REFUSED`);
    what happened goes to the status.
    """
    prompt = str(request["content"].get("prompt", ""))
    if not prompt.startswith(wire.CALLBACK_PROMPT):
        return ""  # the student's own input(): there is nobody to type
    refused = wire.dumps({"ok": False})
    if number > MAX_CALLBACKS_PER_CALL:
        guard.refuse(f"more than {MAX_CALLBACKS_PER_CALL} requests in one call")
        return refused
    if len(prompt) > MAX_CALLBACK_REQUEST_CHARS:
        guard.refuse("a request larger than the test's data")
        return refused
    if time.monotonic() > deadline:
        return refused  # the call is over its time: the interrupt names it
    try:
        ask = wire.loads(prompt[len(wire.CALLBACK_PROMPT) :])
        if type(ask) is not dict:
            raise wire.WireError("not a request")
        token = ask.get("callback")
        function = callbacks.get(token) if type(token) is str else None
        if function is None:
            guard.refuse("a function handed to an earlier call, or none at all")
            return refused
        args = wire.decode(ask.get("args", []))
        kwargs = wire.decode(ask.get("kwargs", {"$dict": []}))
    except (wire.WireError, RecursionError):
        guard.refuse("unreadable data")
        return refused
    if type(args) is not list or type(kwargs) is not dict:
        guard.refuse("unreadable data")
        return refused
    why = guard.refusal(args) or guard.refusal(kwargs)
    if not why and isinstance(function, Pinned):
        why = function.refusal(args, kwargs)
    if why:
        guard.refuse(why)
        return refused
    try:
        with np.errstate(all="ignore"):
            value = function(*args, **kwargs)
        reply = wire.dumps({"ok": True, "value": wire.encode(value)})
    except Exception:  # the grader's function failed on these arguments: say nothing more
        return refused
    if len(reply) > MAX_CALLBACK_REPLY_CHARS:
        return refused
    return reply


class Pinned:
    """A grader function that answers only for the inputs of its own case.

    A hidden test hands student code a reference (the correct backprop of a case, say)
    that must not become an oracle: pinned, it runs only on arguments equal, to within
    ``rtol``, to the ones given here, so the kernel cannot ask it anything but what the
    case is about. Make one with :func:`only_on`.
    """

    def __init__(self, function, args, kwargs, rtol):
        self.function, self.args, self.kwargs, self.rtol = function, args, kwargs, rtol
        self.__name__ = self.__qualname__ = "function"

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def refusal(self, args, kwargs) -> str | None:
        """Why the kernel's ``args`` and ``kwargs`` are not this case's, or None."""
        if not (_same(list(args), list(self.args), self.rtol)
                and _same(dict(kwargs), dict(self.kwargs), self.rtol)):
            return "inputs of its own choosing, not the case's"
        return None


def only_on(function, *args, rtol=1e-12, **kwargs) -> Pinned:
    """``function``, answering student code only when called on ``args`` and ``kwargs``.

    For hidden tests: ``only_on(reference_backward, X, Y, cache)`` hands over a backprop
    that the student's checker may call on the case's own cache (the kernel's forward pass
    reproduces it to within rounding) and on nothing else.
    """
    return Pinned(function, args, kwargs, rtol)


def _same(got, expected, rtol, depth=0) -> bool:
    """Whether the kernel's ``got`` is ``expected`` (arrays to within ``rtol``)."""
    if depth > 8:
        return False
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        if not (isinstance(expected, np.ndarray) and isinstance(got, np.ndarray)):
            return False
        return got.shape == expected.shape and bool(
            np.allclose(got, expected, rtol=rtol, atol=0.0, equal_nan=True)
        )
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == expected.keys()
                and all(_same(got[k], expected[k], rtol, depth + 1) for k in expected))
    if isinstance(expected, list | tuple):
        return (isinstance(got, list | tuple) and len(got) == len(expected)
                and all(_same(g, e, rtol, depth + 1) for g, e in zip(got, expected, strict=True)))
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        return type(got) in (float, int) and bool(np.isclose(got, expected, rtol=rtol, atol=0.0))
    return type(got) is type(expected) and got == expected


def _copy_back(originals, returned):
    """Copy array mutations made in the kernel into the grader's own arguments."""
    if type(returned) is not type(originals):
        return
    if isinstance(originals, dict):
        pairs = [(originals[key], returned[key]) for key in originals if key in returned]
    else:
        pairs = list(zip(originals, returned, strict=False))
    for original, value in pairs:
        if isinstance(original, np.ndarray) and isinstance(value, np.ndarray):
            if original.shape == value.shape and original.flags.writeable:
                with contextlib.suppress(TypeError, ValueError):
                    np.copyto(original, value, casting="unsafe")
        elif isinstance(original, dict | list):
            _copy_back(original, value)


class RemoteFunction:
    """The grader's handle on a function the student defined in the kernel.

    Calling it runs the student's function there on plain data. ``replaced_globals`` works
    on it as on a local function: the names are rebound in the kernel for each call.
    """

    def __init__(self, link: KernelLink, name: str):
        self.link = link
        self.name = self.__name__ = self.__qualname__ = name
        self.replacements: dict[str, object] = {}

    def __repr__(self):
        return f"<the student's function {self.name}>"

    def __call__(self, *args, **kwargs):
        return self.link.call(self.name, args, kwargs, self.replacements)

    @contextlib.contextmanager
    def __replaced_globals__(self, **replacements):
        """Rebind globals of the student's function (in the kernel) while the block runs."""
        saved = dict(self.replacements)
        self.replacements.update(replacements)
        try:
            yield
        finally:
            self.replacements = saved


def student_functions(source_nb) -> list[str]:
    """Names of the functions the student writes: top-level defs of solution code cells."""
    names = []
    for cell in source_nb.cells:
        if cells.is_autograded_answer(cell):
            with contextlib.suppress(SyntaxError):
                names += [
                    n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)
                ]
    return names


def given_definitions(source_nb) -> list[str]:
    """Sources of the locked code cells that only import and define (safe to run here)."""
    kept = []
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    for cell in source_nb.cells:
        if not cells.is_given(cell):
            continue
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:
            continue
        docstring_or_def = all(
            isinstance(n, allowed)
            or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            for n in body
        )
        if body and docstring_or_def:
            kept.append(cell.source)
    return kept


def test_cells(source_nb) -> list:
    """The graded code cells (autograder tests) of a notebook, in order."""
    return [cell for cell in source_nb.cells if cells.is_test(cell)]


def namespace_for(source_nb, link: KernelLink) -> dict:
    """The grader-side namespace the instructor's test cells run in."""
    namespace = {"__name__": "__judge__", "np": np}
    exec("from course_utils import *", namespace)  # the trusted copy, every public name
    for source in given_definitions(source_nb):
        # An error here is the instructor's: the test cells that need the name will fail
        # with a judge error that says so.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
            exec(compile(source, "<given code>", "exec"), namespace)
    for name in student_functions(source_nb):
        namespace[name] = RemoteFunction(link, name)
    return namespace


@dataclass
class Verdict:
    """What the judge found for one test cell.

    ``checks`` holds one record per check the cell's checkers finished, visible then hidden
    (label, hidden or not, passed): what the class report counts. Labels only, so a hidden
    check's inputs and code never reach it.
    """

    grade_id: str
    passed: bool
    report: str
    error: str | None = None
    judge_error: bool = False
    detail: str | None = None  # why a judge error happened: for the instructor only
    checks: tuple[CheckRecord, ...] = ()


def verdict_data(verdict: Verdict) -> dict:
    """A verdict as plain data for the grader's records: the outcome and each check's label,
    kind and outcome (no report text, no error message)."""
    return {
        "grade_id": verdict.grade_id,
        "passed": verdict.passed,
        "checks": [[check.label, check.hidden, check.ok] for check in verdict.checks],
    }


def split_test(source: str) -> tuple[str, str]:
    """A test cell's source as (visible part, hidden part): the hidden part is the hidden
    block and everything after it (``hidden.finish()``), line numbers kept. The block
    starts where nbgrader's release starts cutting it (:data:`instructor.cells.BEGIN_HIDDEN`
    anywhere in a line), so what a student never saw is never judged as visible."""
    lines = source.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if cells.BEGIN_HIDDEN in line:
            return "".join(lines[:index]), "\n" * index + "".join(lines[index:])
    return source, ""


class _Part:
    """One part of a test cell run on the grader's side: what it printed and how it ended."""

    def __init__(self, grade_id):
        self.grade_id = grade_id
        self.printed = io.StringIO()
        self.error = self.detail = None
        self.judge_error = False
        self.checks: list[CheckRecord] = []

    def run(self, source, namespace, label):
        from course_utils import CheckFailed

        if not source.strip() or self.error:
            return
        # Checks count where they finished, also when a later one raised.
        with recording_checks() as records:
            try:
                with (
                    contextlib.redirect_stdout(self.printed),
                    contextlib.redirect_stderr(self.printed),
                ):
                    exec(compile(source, f"<test {self.grade_id} {label}>", "exec"), namespace)
            except CheckFailed as failure:
                self.error = f"CheckFailed: {failure}"
            except BaseException as failure:  # an instructor bug or a dead kernel: fail, say so
                # The details go to the instructor (status column), never into feedback: the
                # message of an exception in a hidden test may quote it.
                self.error = "the grader could not finish this test; your instructor can see why"
                self.detail = f"{type(failure).__name__}: {failure}"[:300]
                self.judge_error = True
        self.checks.extend(records)

    def verdict(self) -> Verdict:
        report = self.printed.getvalue()
        if len(report) > MAX_REPORT_CHARS:
            report = report[:MAX_REPORT_CHARS] + "\n[report cut]\n"
        error = self.error[:2000] if self.error else None
        return Verdict(
            self.grade_id, error is None, report, error, self.judge_error, self.detail,
            tuple(self.checks),
        )


def judge_cells(cells, namespace) -> list[Verdict]:
    """Run test cells: every cell's visible part first, then every hidden part.

    The kernel sees the arguments of every call made to it. Were the cells run one after
    another, a student function could keep a hidden test's inputs and put them in the
    message of an error a later *visible* check prints, and so in the feedback. Run in this
    order, nothing a visible check prints can come after a hidden call. Each cell keeps a
    namespace of its own, so one cell's hidden names never reach another cell.
    """
    parts = [_Part(cell.metadata["nbgrader"]["grade_id"]) for cell in cells]
    spaces = [dict(namespace) for _ in cells]
    sources = [split_test(cell.source) for cell in cells]
    for part, space, (visible, _) in zip(parts, spaces, sources, strict=True):
        part.run(visible, space, "visible")
    for part, space, (_, hidden) in zip(parts, spaces, sources, strict=True):
        part.run(hidden, space, "hidden")
    return [part.verdict() for part in parts]


def judge_notebook(source_nb, link: KernelLink) -> list[Verdict]:
    """Judge every test cell of ``source_nb`` against the student's live kernel."""
    return judge_cells(test_cells(source_nb), namespace_for(source_nb, link))


def verdict_outputs(verdict: Verdict) -> list[dict]:
    """The outputs a judged test cell gets in the graded notebook (and so in feedback)."""
    import nbformat

    outputs = []
    if verdict.report:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=verdict.report))
    if verdict.error:
        ename = "CheckFailed" if not verdict.judge_error else "GradingError"
        outputs.append(
            nbformat.v4.new_output(
                "error", ename=ename, evalue=verdict.error, traceback=[verdict.error]
            )
        )
    return outputs
