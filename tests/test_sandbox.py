"""The sandbox of student kernels: real bubblewrap, real kernels, no mocks.

Each test asks a sandboxed kernel to do what a hostile submission would (read the
repository, write outside its folder, reach the grader's loopback, outlive grading, eat
memory or processes) and checks, from the grader's side, that it could not.
"""

import asyncio
import json
import os
import shutil
import socket
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from instructor.sandbox import (
    REPOSITORY,
    SANDBOX_UID,
    SYSTEM_FOLDERS,
    Limits,
    _python_paths,
    kernel_manager,
    sandbox_problem,
)

PROBLEM = sandbox_problem()
# Without a sandbox the tests skip on a workstation and fail under CI, where one must exist.
pytestmark = pytest.mark.skipif(
    PROBLEM is not None and not os.environ.get("CI"), reason=f"no sandbox here: {PROBLEM}"
)
GRADER_SECRETS = {"NBGRADER_EXECUTION": "autograde", "DB_URL": "postgresql://grader@db/class"}


class Kernel:
    """A sandboxed kernel driven from a synchronous test through a blocking client.

    The manager's coroutines run on an event loop of this thread, the one that started
    bubblewrap (the sandbox dies with its starting thread).
    """

    def __init__(self, workdir, **options):
        self.loop = asyncio.new_event_loop()
        self.km = kernel_manager(workdir, **options)
        self.loop.run_until_complete(self.km.start_kernel())
        self.client = self.km.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code, timeout=30):
        """Run ``code``; return its stdout, or fail the test with its traceback."""
        chunks = []

        def keep(msg):
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                chunks.append(msg["content"]["text"])

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        content = reply["content"]
        if content["status"] != "ok":
            pytest.fail("kernel error:\n" + "\n".join(content.get("traceback", [])))
        return "".join(chunks)

    def json(self, code):
        """Run ``code``, which prints one JSON document as its last line; return it."""
        return json.loads(self.run(code).strip().splitlines()[-1])

    def host_pid(self):
        """The kernel's process id on the grader's side (under bwrap, prlimit's exec)."""
        for pid in _descendants(self.km.provisioner.pid):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if argv[0].endswith(b"python") and b"ipykernel_launcher" in argv:
                return pid
        raise AssertionError("no kernel process under bubblewrap")

    def shutdown(self):
        self.client.stop_channels()
        self.loop.run_until_complete(self.km.shutdown_kernel())
        self.loop.close()


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        for children in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            with_ids = [int(child) for child in children.read_text().split()]
            found += with_ids
            todo += with_ids
    return found


def _start_time(pid):
    """A running process's start time, or None once it has ended (or is a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _members(pid):
    """The running processes of the PID namespace of ``pid``, as (pid, start time) pairs.

    Namespace ids are reused as soon as a namespace ends, so what outlives a sandbox is
    looked for by these pairs, never by namespace id afterwards.
    """
    namespace = os.readlink(f"/proc/{pid}/ns/pid")
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") == namespace:
                    members.add((int(entry.name), _start_time(entry.name)))
            except OSError:  # gone meanwhile
                pass
    return {(member, started) for member, started in members if started is not None}


def _still_running(members):
    return [pid for pid, started in members if _start_time(pid) == started]


def _attempts(action, paths):
    """Kernel code that tries ``action`` ("read" or "write") on each path, printing outcomes."""
    return f"""
import json
def attempt(path):
    try:
        if {action!r} == "read":
            with open(path) as handle:
                handle.read()
        else:
            with open(path, "w") as handle:
                handle.write("planted by the sandbox test")
        return "done"
    except OSError as error:
        return type(error).__name__
print(json.dumps({{path: attempt(path) for path in {[str(p) for p in paths]!r}}}))
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A student's scratch folder with a hidden subfolder and planted shadow modules."""
    root = tmp_path_factory.mktemp("sandbox")
    work = root / "work"
    (work / "secret").mkdir(parents=True)
    (work / "secret" / "answers.txt").write_text("hidden answers")
    (work / "notes.txt").write_text("the student's own file")
    (root / "outside.txt").write_text("next to the work folder")
    (work / "course_utils").mkdir()
    (work / "course_utils" / "__init__.py").write_text("PLANTED = True\n")
    (work / "ipykernel_launcher.py").write_text("raise SystemExit('planted launcher ran')\n")
    return work


@pytest.fixture(scope="module")
def kernel(workdir):
    """One sandboxed kernel started while the grader's environment holds secrets."""
    saved = {name: os.environ.get(name) for name in GRADER_SECRETS}
    os.environ.update(GRADER_SECRETS)
    try:
        started = Kernel(workdir, hide=[workdir / "secret"])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    yield started
    started.shutdown()


def test_a_sandbox_can_start_here():
    assert PROBLEM is None, PROBLEM


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match=r"Limits\.processes must be a positive int, got 0"):
        Limits(processes=0)


def test_kernel_manager_needs_an_existing_folder(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        kernel_manager(tmp_path / "missing")


def test_kernel_runs_as_the_unprivileged_user(kernel):
    ids = kernel.json("import os, json; print(json.dumps([os.getuid(), os.getgid()]))")
    assert ids == [SANDBOX_UID, SANDBOX_UID]
    # On the host too: a sandbox started by root must not be root outside its namespace.
    status = Path(f"/proc/{kernel.host_pid()}/status").read_text()
    host_uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert int(host_uid) == (SANDBOX_UID if os.geteuid() == 0 else os.getuid())


def test_kernel_reads_only_its_own_folder(kernel, workdir):
    secret = workdir / "secret" / "answers.txt"
    outside = workdir.parent / "outside.txt"
    repository = REPOSITORY / "pyproject.toml"
    got = kernel.json(_attempts("read", [workdir / "notes.txt", secret, outside, repository]))
    assert got == {
        str(workdir / "notes.txt"): "done",
        str(secret): "FileNotFoundError",
        str(outside): "FileNotFoundError",
        str(repository): "FileNotFoundError",
    }


_WALK_FOR_COURSE_COPIES = """
import json, os
found = []
for top in sorted(os.listdir("/")):
    if top in ("proc", "sys", "dev"):
        continue
    for folder, _, names in os.walk("/" + top):
        if folder.endswith("/notebooks/gradient_checking"):
            found += [os.path.join(folder, name) for name in names]
print(json.dumps([sorted(os.listdir("/")), found]))
"""


def test_no_copy_of_the_course_elsewhere_on_the_machine_is_visible(kernel):
    """Another checkout (say a colleague's, beside ours) must not show through the sandbox.

    The attack prints every instructor notebook it can find into its own feedback; the
    sandbox's root holds only the system folders and the Python environment.
    """
    other = REPOSITORY.parent / f"other-checkout-{os.getpid()}"
    planted = other / "notebooks" / "gradient_checking"
    planted.mkdir(parents=True)
    (planted / "01_gradient_check_1d.ipynb").write_text("hidden tests here")
    try:
        top, found = kernel.json(_WALK_FOR_COURSE_COPIES)
    finally:
        shutil.rmtree(other)
    assert found == []
    python = {Path(p).parts[1] for p in _python_paths()}
    assert set(top) <= {Path(f).name for f in SYSTEM_FOLDERS} | python | {"dev", "proc", "tmp"}


def test_kernel_writes_only_its_own_folder(kernel, workdir):
    inside = workdir / "result.txt"
    targets = [
        workdir.parent / "planted.txt",
        REPOSITORY / "planted-by-sandbox.txt",
        REPOSITORY / "course_utils" / "planted.py",
        Path("/etc/planted-by-sandbox"),
    ]
    got = kernel.json(_attempts("write", [inside, *targets]))
    assert got[str(inside)] == "done"
    assert kernel.json(f"import json; print(json.dumps(open({str(inside)!r}).read()))") == (
        "planted by the sandbox test"
    )
    # The work folder is the sandbox's own copy, in memory: nothing reaches the host.
    assert not inside.exists()
    for target in targets:
        assert not target.exists(), f"the kernel wrote {target} ({got[str(target)]})"


_FILL = """
import json, os
written, error = 0, None
try:
    for number in range(64):  # 64 files of 16 MiB less a byte: each under the file-size cap
        with open(os.path.join({folder!r}, f"fill-{{number}}.bin"), "wb") as fill:
            for _ in range(16):
                fill.write(bytes(2**20 - (_ == 15)))
                written += 2**20
except OSError as failure:
    error = failure.strerror
print(json.dumps([written, error]))
"""


# Empty files cost no tmpfs bytes but the host's kernel memory (600,000 in 8 s, uncapped).
_MANY_FILES = """
import json, os
os.mkdir("many")
made, error = 0, None
try:
    for made in range(10**6):
        open(f"many/{made}", "w").close()
except OSError as failure:
    error = failure.strerror
print(json.dumps([made, error]))
"""


def test_a_kernel_filling_its_disk_stops_at_its_quota_and_the_host_sees_nothing(tmp_path):
    """64 files of 16 MiB (1 GiB) in the work folder, then in /tmp: each write stops at the
    quota, the host's disk holds nothing of it, and the manager names the full folders; as
    root, empty files stop at a count too."""
    limits = Limits(disk_bytes=8 * 2**20, disk_files=2000)
    started = Kernel(tmp_path, limits=limits)
    try:
        assert started.km.check_disk() is False and started.km.incidents == ()
        for folder in (tmp_path, Path("/tmp")):
            out = started.run(_FILL.format(folder=str(folder)))
            # IPython's history thread, its database in a full /tmp, may say so after us.
            line = next(line for line in out.splitlines() if line.startswith("["))
            (written, error), _ = json.JSONDecoder().raw_decode(line)
            assert error == "No space left on device"
            assert written <= limits.disk_bytes
        assert list(tmp_path.iterdir()) == []
        assert started.km.check_disk() is True
        if os.geteuid() == 0:  # the grader as root caps the number of files too
            made, error = started.json(_MANY_FILES)
            assert error == "No space left on device" and made < limits.disk_files
        assert started.km.incidents == (
            "the kernel filled its 8 MiB work folder (disk quota)",
            "the kernel filled its 8 MiB /tmp (disk quota)",
        )
    finally:
        started.shutdown()


def test_kernel_cannot_reach_the_graders_loopback(kernel):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        outcome = kernel.json(
            f"""
import json, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    outcome = "connected"
except OSError as error:
    outcome = type(error).__name__
print(json.dumps(outcome))
"""
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    assert outcome == "ConnectionRefusedError"


def test_kernel_sees_none_of_the_graders_environment(kernel):
    names = set(kernel.json("import os, json; print(json.dumps(sorted(os.environ)))"))
    assert not names & {*GRADER_SECRETS, "JPY_PARENT_PID", "VIRTUAL_ENV"}


def test_working_folder_is_not_on_sys_path(kernel, workdir):
    found = kernel.json(
        "import sys, json, course_utils\n"
        "print(json.dumps([sys.path, course_utils.__file__, hasattr(course_utils, 'PLANTED')]))"
    )
    path, course_utils_file, planted = found
    assert "" not in path and str(workdir) not in path
    assert Path(course_utils_file).is_relative_to(REPOSITORY / "course_utils")
    assert not planted


def test_stdin_is_answered_across_the_sandbox(kernel):
    client = kernel.client
    msg_id = client.execute("name = input('who? ')", allow_stdin=True)
    request = client.get_stdin_msg(timeout=10)
    assert request["msg_type"] == "input_request"
    assert request["content"]["prompt"] == "who? "
    client.input("ada")
    while True:
        reply = client.get_shell_msg(timeout=10)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "ok"
    assert kernel.run("print(name)") == "ada\n"


DETACH = """
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        while True:
            with open("heartbeat", "w") as beat:
                beat.write(repr(time.time()))
            time.sleep(0.05)
    os._exit(0)
"""


def test_a_detached_child_dies_with_the_kernel(tmp_path):
    started = Kernel(tmp_path)
    try:
        started.run(DETACH)
        deadline = time.monotonic() + 10
        beating = "import json, os; print(json.dumps(os.path.exists('heartbeat')))"
        while not started.json(beating) and time.monotonic() < deadline:
            time.sleep(0.05)
        members = _members(started.host_pid())
        assert len(members) >= 3  # bwrap's init, the kernel, the daemon
    finally:
        started.shutdown()
    # The daemon wrote into the sandbox's own work folder, gone with it; and so is the daemon.
    assert _still_running(members) == []


FORK_MANY = """
import json, os
hold, release = os.pipe()
children, outcome = 0, "no limit"
try:
    for _ in range({count}):
        if os.fork() == 0:
            os.close(release)
            os.read(hold, 1)
            os._exit(0)
        children += 1
except OSError as error:
    outcome = type(error).__name__
print(json.dumps([children, outcome]))
"""


def test_memory_and_process_caps_hold(tmp_path):
    limits = Limits(memory_bytes=2**30, processes=40)
    started = Kernel(tmp_path, limits=limits)
    try:
        outcome = started.json(
            "import json, numpy as np\n"
            "try:\n"
            f"    np.ones({2 * limits.memory_bytes // 8})\n"
            "    outcome = 'allocated'\n"
            "except MemoryError:\n"
            "    outcome = 'MemoryError'\n"
            "print(json.dumps(outcome))"
        )
        assert outcome == "MemoryError"
        assert started.run("print(6 * 7)") == "42\n"  # only the allocation failed
        children, outcome = started.json(FORK_MANY.format(count=10 * limits.processes))
        assert outcome == "BlockingIOError"
        assert 0 < children < limits.processes
    finally:
        started.shutdown()


def test_memory_in_anonymous_files_is_bounded_by_the_open_file_cap(tmp_path):
    """memfd_create's files are memory outside the address-space cap: 40 of 16 MiB took
    640 MB of the host's memory. Each is capped by the file size, their number by the
    open-file cap."""
    limits = Limits(open_files=128, file_size_bytes=2**20)
    started = Kernel(tmp_path, limits=limits)
    try:
        made, error = started.json(
            "import json, os\n"
            "made, error = [], None\n"
            "try:\n"
            "    for _ in range(10_000):\n"
            "        made.append(os.memfd_create('m'))\n"
            "        os.write(made[-1], bytes(2**20 - 1))\n"
            "except OSError as failure:\n"
            "    error = failure.strerror\n"
            "for fd in made:\n"
            "    os.close(fd)  # the kernel needs descriptors to answer\n"
            "print(json.dumps([len(made), error]))"
        )
    finally:
        started.shutdown()
    assert error == "Too many open files" and made < limits.open_files


def test_file_size_cap_holds(kernel):
    outcome = kernel.json(
        "import json\n"
        "try:\n"
        "    with open('big.bin', 'wb') as big:\n"
        f"        big.write(bytes({Limits().file_size_bytes + 1}))\n"
        "    outcome = 'written'\n"
        "except OSError as error:\n"
        "    outcome = error.strerror\n"
        "print(json.dumps(outcome))"
    )
    assert outcome == "File too large"


@pytest.mark.slow
def test_cpu_cap_stops_the_kernel_and_says_so(tmp_path):
    started = Kernel(tmp_path, limits=Limits(cpu_seconds=3))
    try:
        started.client.execute("while True:\n    pass")
        deadline = time.monotonic() + 30
        while started.loop.run_until_complete(started.km.is_alive()):
            assert time.monotonic() < deadline, "the CPU cap did not stop the kernel"
            time.sleep(0.2)
    finally:
        started.shutdown()
    assert started.km.incidents == ("the kernel used up its 3 s of CPU time and was stopped",)


@pytest.mark.slow
def test_the_process_cap_is_per_sandbox(tmp_path):
    """Two sandboxes of user 65534 each get their own budget: counts are per user namespace."""
    limits = Limits(processes=40)
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        folder.mkdir()
    first, second = (Kernel(folder, limits=limits) for folder in folders)
    try:
        # The first sandbox keeps its 20 children while the second forks its own 20.
        assert first.json(FORK_MANY.format(count=20)) == [20, "no limit"]
        assert second.json(FORK_MANY.format(count=20)) == [20, "no limit"]
    finally:
        first.shutdown()
        second.shutdown()


def _notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


@pytest.mark.slow
def test_a_looping_cell_is_interrupted_and_later_cells_run(tmp_path):
    nb = _notebook("x = 1", "while True:\n    pass", "x = x + 41", "print(x)")
    km = kernel_manager(tmp_path)
    client = NotebookClient(nb, km=km, timeout=2, interrupt_on_timeout=True, allow_errors=True)

    async def run():
        try:
            await client.async_execute()
        finally:
            client.kc.stop_channels()  # nbclient leaves a given manager's client open
            await km.shutdown_kernel()

    asyncio.run(run())
    assert [out["ename"] for out in nb.cells[1].outputs] == ["KeyboardInterrupt"]
    assert nb.cells[3].outputs[0]["text"] == "42\n"
    assert km.incidents == ()


@pytest.mark.slow
def test_a_kernel_ignoring_interrupts_is_stopped(tmp_path):
    ignore = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    nb = _notebook(ignore, "print('never')")
    km = kernel_manager(tmp_path)
    km.interrupt_grace = 1.0
    # As nbgrader does: a timed-out cell gets an error and the next one is sent at once.
    error = {"ename": "CellTimeoutError", "evalue": "", "traceback": []}
    client = NotebookClient(
        nb, km=km, timeout=2, interrupt_on_timeout=True, allow_errors=True, error_on_timeout=error
    )
    members = set()

    async def run():
        await km.start_kernel()
        # bwrap's init and the kernel, once both exist.
        for _ in range(200):
            kernels = _descendants(km.provisioner.pid)[1:]
            if kernels:
                members.update(_members(kernels[0]))
                break
            await asyncio.sleep(0.05)
        try:
            with pytest.raises(DeadKernelError):
                await client.async_execute()
        finally:
            client.kc.stop_channels()
            await km.shutdown_kernel()

    asyncio.run(run())
    assert km.incidents == ("the kernel ignored an interrupt for 1 s and was stopped",)
    assert len(members) == 2
    assert _still_running(members) == []


def test_every_client_of_a_kernel_has_the_message_caps(kernel):
    """nbclient's client (``km.client()``, a fresh zmq context) and the judge's blocking one:
    every channel refuses oversized messages and queues few unread ones."""
    import zmq

    from instructor.limits import MAX_KERNEL_MESSAGE_BYTES, MAX_QUEUED_MESSAGES

    for client in (kernel.km.client(), kernel.km.blocking_client()):
        client.start_channels(hb=False)
        try:
            for channel in ("iopub", "shell", "stdin", "control"):
                socket = getattr(client, f"{channel}_channel").socket
                assert socket.getsockopt(zmq.MAXMSGSIZE) == MAX_KERNEL_MESSAGE_BYTES
                assert socket.getsockopt(zmq.RCVHWM) == MAX_QUEUED_MESSAGES
        finally:
            client.stop_channels()
