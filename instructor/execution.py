"""Run one submitted notebook in a sandboxed kernel, then judge its tests on the grader's side.

This is the expensive step of grading and the only one that touches student code. It takes
a notebook and returns a notebook (plain data in, plain data out), so it can run in the
grading process or on a worker elsewhere.

- Every cell but the graded test cells runs in the student's kernel, in a private, empty
  scratch folder, under the sandbox of :mod:`instructor.sandbox`.
- Test cells do not run in the kernel at all: after the last cell, :mod:`instructor.judge`
  runs the instructor's copy of each one here, calling the student's functions in the
  still-running kernel, and writes its report as that cell's outputs.
- What the kernel prints is capped (``Limits.output_bytes`` per notebook, while it runs and
  while it is judged), and so is every message it sends (:func:`instructor.sandbox.cap`):
  whatever a kernel publishes, the grader's memory holds a bounded part of it.
- The sandbox's disk quota and other incidents are named in the problems.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import zmq
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from instructor import judge, sandbox
from instructor.limits import (
    CELL_TIMEOUT_SECONDS,
    NOTEBOOK_RUN_SECONDS,
    UNSANDBOXED_OUTPUT_BYTES,
)
from instructor.problems import RunProblem

# How long a cell waits for output once its kernel's output channel was cut (none comes).
CUT_IOPUB_TIMEOUT_SECONDS = 0


@dataclass
class Run:
    """The outcome of running and judging one notebook."""

    notebook: object
    problems: list[str] = field(default_factory=list)
    verdicts: list[judge.Verdict] = field(default_factory=list)

    def as_data(self) -> dict:
        """Plain data (JSON-ready): the notebook, the problems, the failed tests' grade_ids,
        and each test's verdict with its checks (for the class report)."""
        return {
            "notebook": json.loads(nbformat.writes(self.notebook)),
            "problems": list(self.problems),
            "failed_tests": [v.grade_id for v in self.verdicts if not v.passed],
            "tests": [judge.verdict_data(v) for v in self.verdicts],
        }


def notebook_from_data(data):
    """A notebook from its JSON-ready form (``Run.as_data()``, a job): sources re-joined."""
    return nbformat.reads(json.dumps(data), as_version=4)


class _CappedKernelManager(AsyncKernelManager):
    """A plain local kernel (a trusted class) whose clients have the message caps too."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        sandbox.cap(self.context)

    def client(self, **kwargs):
        client = super().client(**kwargs)
        sandbox.cap(client.context)
        return client

    def blocking_client(self):
        client = sandbox.JudgeClient(parent=self)
        sandbox.cap(client.context)
        client.load_connection_info(self.get_connection_info())
        return client


class _Client(NotebookClient):
    """nbclient with an output cap, and the judge run before the kernel is shut down."""

    def __init__(self, nb, source_nb, output_bytes, run_budget=NOTEBOOK_RUN_SECONDS, **kwargs):
        super().__init__(nb, **kwargs)
        self.source_nb = source_nb
        self.run_budget = run_budget
        self.output_budget = output_bytes
        self.output_cut = False
        self.problems: list[str] = []
        self.verdicts: list[judge.Verdict] = []

    # Every message that carries output counts against the budget, updates of a display
    # included (they replace its content in place, and would bypass a count of new outputs).
    COUNTED = (
        "stream", "display_data", "execute_result", "update_display_data", "error",
        "comm_open", "comm_msg",
    )

    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") in self.COUNTED:
            self.output_budget -= len(str(msg.get("content", "")))
            if self.output_budget < 0:
                if not self.output_cut:
                    self.output_cut = True
                    self.problems.append(judge.OUTPUT_CUT)
                    cell.setdefault("outputs", []).append(
                        nbformat.v4.new_output(
                            "stream", name="stdout", text="[output over the size limit was cut]\n"
                        )
                    )
                return None
        return super().process_message(msg, cell, cell_index)

    async def run_and_judge(self, cwd):
        self.reset_execution_trackers()
        # The kernel is shut down on the way out even though the manager was passed in.
        async with self.async_setup_kernel(cwd=cwd, cleanup_kc=True):
            # A message over the size cap cuts its channel for good: watch for it.
            cuts = sandbox.Cuts()
            for label in ("iopub", "shell"):
                cuts.watch(getattr(self.kc, f"{label}_channel").socket, label)
            try:
                await self._run_and_judge(cuts)
            finally:
                cuts.close()

    async def _run_and_judge(self, cuts):
        """Run every cell, then judge the tests while the kernel still runs."""
        info = await self.async_wait_for_reply(await _maybe(self.kc.kernel_info()))
        if info is not None and "language_info" in info["content"]:
            self.nb.metadata["language_info"] = info["content"]["language_info"]
        dead = False
        started = time.monotonic()
        for index, cell in enumerate(self.nb.cells):
            if time.monotonic() - started > self.run_budget:
                self.problems.append(RunProblem(
                    "timeout",
                    f"the notebook's cells used up their {self.run_budget:.0f} s: "
                    f"{_cell_name(cell, index)} and the cells after it were not run",
                ))
                break
            try:
                await self.async_execute_cell(
                    cell, index, execution_count=self.code_cells_executed + 1
                )
            except DeadKernelError:
                dead = True
                self.problems.append(RunProblem(
                    "kernel_died", f"the kernel died while running {_cell_name(cell, index)}"
                ))
                break
            except Exception as error:  # a garbled message (forked processes write too)
                self.problems.append(
                    f"the kernel's messages for {_cell_name(cell, index)} could not be read "
                    f"({type(error).__name__})"
                )
                continue
            _note_timeout(cell, index, self.problems)
            self._note_incidents()
            cut = cuts.cut()
            if cut and _process_alive(self.km):
                # A message over the size cap cut a channel of nbclient's for good (the
                # judge's client connects anew). Without output channel, no cell waits for
                # output that cannot come; without shell channel, nothing else can run.
                self._note(RunProblem("limit", sandbox.MESSAGE_TOO_LARGE))
                self.iopub_timeout = CUT_IOPUB_TIMEOUT_SECONDS
                if "shell" in cut:
                    break
        if cuts.cut() and _process_alive(self.km):
            self._note(RunProblem("limit", sandbox.MESSAGE_TOO_LARGE))
        # nbclient's own client would keep, unread, what the kernel publishes while it is
        # judged: it stops listening (the judge's client drains and counts instead).
        with contextlib.suppress(Exception):
            self.kc.iopub_channel.socket.setsockopt(zmq.UNSUBSCRIBE, b"")
        loop = asyncio.get_running_loop()
        self.verdicts = await loop.run_in_executor(None, self._judge, loop, dead)
        self._note_incidents()

    def _gone(self, cut):
        """Why the judge can no longer reach the kernel, or None (see KernelLink.gone)."""
        if not _process_alive(self.km):
            return RunProblem("kernel_died", "the kernel died during a call")
        if {"shell", "stdin"} & set(cut):
            return RunProblem("limit", sandbox.MESSAGE_TOO_LARGE)
        return None

    def _note(self, problem):
        if problem not in self.problems:
            self.problems.append(problem)

    def _note_incidents(self):
        """Add what the sandbox saw so far (a full disk, ...) to the problems."""
        check = getattr(self.km, "check_disk", None)
        if check is not None:
            check()
        self.problems.extend(
            RunProblem("limit", i)
            for i in getattr(self.km, "incidents", ())
            if i not in self.problems
        )

    def _judge(self, loop, dead):
        """Judge in a worker thread: the event loop stays free to interrupt or stop the kernel."""
        # The manager's own client: it asks the manager whether the kernel lives; a client
        # built from the connection file alone asks the heartbeat, which a loaded machine
        # can miss, and a healthy kernel would be stopped as dead.
        client = self.km.blocking_client()
        sandbox.cap(client.context)
        # No heartbeat channel: the manager says whether the kernel lives. Its thread opens
        # its socket late, and after a quick judgement (a dead kernel) it would find the
        # context already closed and fail in the background.
        client.start_channels(hb=False)
        try:
            # A kernel's input() to a stdin channel not yet connected would be lost.
            if not dead and not client.wait_connected():
                self._note("the grader could not connect to the kernel to judge it")
                dead = True
            link = judge.KernelLink(
                client=client,
                interrupt=lambda: _on_loop(loop, self.km.interrupt_kernel()),
                stop=lambda: _on_loop(loop, self.km.shutdown_kernel(now=True)),
                timeout=self.timeout or CELL_TIMEOUT_SECONDS,
                gone=lambda: self._gone(client.cut()),
            )
            link.dead = dead
            # What the kernel publishes while judged counts against the same output cap.
            link.output_budget = max(self.output_budget, 0)
            verdicts = judge.judge_notebook(self.source_nb, link)
            self.output_budget = link.output_budget
            self.problems.extend(p for p in link.problems if p not in self.problems)
            if client.cut() and _process_alive(self.km):
                self._note(RunProblem("limit", sandbox.MESSAGE_TOO_LARGE))
            return verdicts
        finally:
            client.stop_channels()


def _process_alive(km):
    """Whether the kernel's process (bubblewrap, for a sandboxed one) still runs."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    return process is not None and process.poll() is None


async def _maybe(value):
    return await value if asyncio.iscoroutine(value) else value


def _on_loop(loop, coroutine):
    """Run a kernel-manager coroutine on the client's loop from the judge's thread."""
    if asyncio.iscoroutine(coroutine):
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)


def _cell_name(cell, index):
    """``cell forward_propagation`` (its grade_id) or ``cell 4`` (counted from 1)."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {grade_id}" if grade_id else f"cell {index + 1}"


def _run_to_completion(coroutine):
    """``asyncio.run``, or, where an event loop already runs in this thread (a notebook, a
    test framework), the same in a thread of its own, which lives as long as the kernel:
    the sandbox dies with the thread that started it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome = {}

    def run():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, name="gradcheck-notebook")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _note_timeout(cell, index, problems):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" and output.get("ename") in (
            "CellTimeoutError",
            "KeyboardInterrupt",
        ):
            problems.append(RunProblem(
                "timeout", f"{_cell_name(cell, index)} ran past the time limit and was interrupted"
            ))
            return


def execute_and_judge(
    nb, source_nb, *, sandboxed=True, limits=None, timeout=None, hide=(),
    run_budget=NOTEBOOK_RUN_SECONDS,
) -> Run:
    """Run ``nb`` (a student's notebook, sanitized) and judge it against ``source_nb``.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The student's notebook with nbgrader's metadata restored; changed in place.
    source_nb : nbformat.NotebookNode
        The instructor's notebook (solutions and hidden tests): its test cells are judged.
    sandboxed : bool, default=True
        Run the kernel in the sandbox. False only for a trusted class (``--no-sandbox``).
    limits : instructor.sandbox.Limits, optional
        Resource caps; the sandbox's defaults when omitted.
    timeout : float, optional
        Seconds a cell, or one call made by a test, may take.
    hide : iterable of path-like
        Folders the kernel must not see, besides what the sandbox always hides: the grading
        output, the submissions, the source notebooks.
    run_budget : float, default=NOTEBOOK_RUN_SECONDS
        Seconds all the cells may take together; the cells left then are not run (a cell
        started in time may still take its ``timeout``). The judge's calls come after.

    Returns
    -------
    Run
        The notebook with outputs (test cells carry the judge's report), the problems met,
        and the verdict of each test cell.
    """
    if sandboxed:
        limits = limits or sandbox.Limits()
    output_bytes = limits.output_bytes if limits else UNSANDBOXED_OUTPUT_BYTES
    timeout = timeout or CELL_TIMEOUT_SECONDS
    test_ids = {id(cell) for cell in judge.test_cells(nb)}
    sources = {}
    for cell in nb.cells:
        if id(cell) in test_ids:
            # The kernel never runs a test: its source goes back after execution.
            sources[id(cell)] = cell.source
            cell.source = ""
            cell.outputs = []
    scratch = Path(tempfile.mkdtemp(prefix="gradcheck-kernel-"))
    try:
        km = (
            sandbox.kernel_manager(scratch, limits, hide=hide)
            if sandboxed
            else _CappedKernelManager(kernel_name="python3")
        )
        client = _Client(
            nb,
            source_nb,
            output_bytes,
            run_budget,
            km=km,
            kernel_name="python3",
            timeout=timeout,
            interrupt_on_timeout=True,
            allow_errors=True,
            record_timing=False,
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
        )
        try:
            _run_to_completion(client.run_and_judge(str(scratch)))
            # What the sandbox saw: a cap hit, an interrupt that needed a kill, ...
            client.problems.extend(
                RunProblem("limit", i)
                for i in getattr(km, "incidents", ())
                if i not in client.problems
            )
        except Exception as error:  # the kernel would not start, or died at start
            client.problems.append(
                f"the notebook could not be run ({type(error).__name__}: {error})"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for cell in nb.cells:
        if id(cell) in sources:
            cell.source = sources[id(cell)]
    _write_verdicts(nb, client.verdicts, client.problems)
    return Run(nb, client.problems, client.verdicts)


def _write_verdicts(nb, verdicts, problems):
    """Give each test cell the judge's outputs; a cell without a verdict failed to run."""
    by_id = {verdict.grade_id: verdict for verdict in verdicts}
    for cell in judge.test_cells(nb):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        verdict = by_id.get(grade_id) or judge.Verdict(
            grade_id, False, "", "the test could not be run: see the status"
        )
        cell.outputs = judge.verdict_outputs(verdict)
        if verdict.judge_error:
            problems.append(RunProblem(
                "judge_error", f"the grader could not finish test {grade_id} ({verdict.detail})"
            ))
