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
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import zmq

from course_utils import wire
from course_utils.runner import CheckRecord, recording_checks
from instructor.limits import CELL_TIMEOUT_SECONDS
from instructor.problems import RunProblem

# How long the kernel gets to answer an interrupt before it is stopped for good.
INTERRUPT_GRACE_SECONDS = 5.0
# What all the calls the tests of one notebook make may take together.
NOTEBOOK_BUDGET_SECONDS = 240.0
# What the kernel may ask of the grader's own functions (callbacks) during one call.
MAX_CALLBACKS_PER_CALL = 500
MAX_CALLBACK_REQUEST_CHARS = 4 * 2**20
MAX_CALLBACK_REPLY_CHARS = 16 * 2**20
# What one test cell may print on the grader's side (visible-check lines).
MAX_REPORT_CHARS = 20_000
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
        callbacks: list[Callable] = []
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
        try:
            outcome = self._execute(code, callbacks)
        finally:
            self.spent += time.monotonic() - started
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

    def _execute(self, code, callbacks):
        client = self.client
        msg_id = client.execute(
            code, silent=False, store_history=False, allow_stdin=True, stop_on_error=False
        )
        deadline = time.monotonic() + self.timeout
        result, idle, replied = None, False, False
        poller = zmq.Poller()
        poller.register(client.iopub_channel.socket, zmq.POLLIN)
        poller.register(client.stdin_channel.socket, zmq.POLLIN)
        poller.register(client.shell_channel.socket, zmq.POLLIN)
        interrupted_at, answered = None, 0
        while not (idle and replied):
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                interrupted_at = now
                self.interrupt()
            if interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE_SECONDS:
                self._give_up(
                    RunProblem("timeout", "a call ignored the interrupt sent after its time limit")
                )
            events = dict(poller.poll(100))
            if client.stdin_channel.socket in events:
                request = _receive(client.stdin_channel)
                if request is not None:
                    answered += 1
                    client.input(_answer_callback(request, callbacks, answered))
            if client.iopub_channel.socket in events:
                message = _receive(client.iopub_channel)
                if message is None or message["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = message["header"]["msg_type"], message["content"]
                if kind == "display_data" and wire.RESULT_MIMETYPE in content.get("data", {}):
                    result = content["data"][wire.RESULT_MIMETYPE]
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind == "error" and content.get("ename") == "KeyboardInterrupt":
                    result = {"ok": False, "error": "KeyboardInterrupt"}
            if client.shell_channel.socket in events:
                reply = _receive(client.shell_channel)
                if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                    replied = True
            if not events and not _alive(client):
                self._give_up(RunProblem("kernel_died", "the kernel died during a call"))
        if interrupted_at is not None:
            self.problems.append(
                RunProblem("timeout", "a call ran past its time limit and was interrupted")
            )
            return {"ok": False, "error": "KeyboardInterrupt"}
        return result

    def _give_up(self, why):
        self.dead = True
        self.problems.append(why)
        with contextlib.suppress(Exception):
            self.stop()
        raise KernelGone(why)


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
    """Turn a function argument into a reference the kernel can resolve."""

    def reference(function):
        if isinstance(function, RemoteFunction):
            return {"$kernel": function.name}
        qualified = wire.qualified_name(function)
        if qualified:
            return {"$function": qualified}
        callbacks.append(function)
        return {"$callback": len(callbacks) - 1}

    return reference


def _answer_callback(request, callbacks, number=1):
    """Run a grader function the kernel asked for; reply with plain data (never raise).

    The kernel chooses the arguments and how often it asks: both are bounded, so a small
    request cannot make the grader build something huge or work without end.
    """
    prompt = str(request["content"].get("prompt", ""))
    if not prompt.startswith(wire.CALLBACK_PROMPT):
        return ""  # the student's own input(): there is nobody to type
    if number > MAX_CALLBACKS_PER_CALL or len(prompt) > MAX_CALLBACK_REQUEST_CHARS:
        return wire.dumps({"ok": False, "error": "too many or too large requests to the grader"})
    try:
        ask = wire.loads(prompt[len(wire.CALLBACK_PROMPT) :])
        function = callbacks[int(ask["callback"])]
        args = wire.decode(ask.get("args", []))
        kwargs = wire.decode(ask.get("kwargs", {"$dict": []}))
        if type(args) is not list or type(kwargs) is not dict:
            raise wire.WireError("bad callback arguments")
        if not _plausible(args) or not _plausible(kwargs):
            raise ValueError("arguments too large for the grader's function")
        value = function(*args, **kwargs)
        reply = wire.dumps({"ok": True, "value": wire.encode(value)})
        if len(reply) > MAX_CALLBACK_REPLY_CHARS:
            raise ValueError("the grader's answer would be too large")
        return reply
    except Exception as error:  # a callback's own failure, reported to the caller
        return wire.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"[:300]})


def _plausible(data, limit=10**6):
    """True when no array in ``data`` has more than ``limit`` entries or a side over 2000
    (the course's arrays are tiny; a grader function's work grows with their sides)."""
    if isinstance(data, np.ndarray):
        return data.size <= limit and all(side <= 2000 for side in data.shape)
    if isinstance(data, dict):
        return all(_plausible(item, limit) for item in data.values())
    if isinstance(data, list | tuple):
        return all(_plausible(item, limit) for item in data)
    return True


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
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
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
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("grade"):
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
    return [
        cell
        for cell in source_nb.cells
        if cell.cell_type == "code"
        and cell.metadata.get("nbgrader", {}).get("grade")
        and not cell.metadata.get("nbgrader", {}).get("solution")
    ]


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


BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


def split_test(source: str) -> tuple[str, str]:
    """A test cell's source as (visible part, hidden part): the hidden part is the hidden
    block and everything after it (``hidden.finish()``), line numbers kept."""
    lines = source.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip() == BEGIN_HIDDEN:
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
