"""Jupyter kernels for student code, each inside a bubblewrap sandbox.

A kernel started by :func:`kernel_manager` runs as the unprivileged user 65534 in its own
user, mount, PID, network, IPC and UTS namespaces (``bwrap --unshare-all``):

- its root starts empty: it sees the system folders (``/usr``, ``/etc`` and the ``/bin``,
  ``/lib`` links) and the Python environment read-only, its work folder read-write, a
  private ``/tmp`` (also its HOME) and nothing else of the machine: no repository, home
  folder or other copy of the course, wherever it lives; a folder the caller names that
  lies inside a visible one (the repository around the venv) is empty and read-only;
- its work folder and ``/tmp`` are its own, in memory, each of at most
  ``Limits.disk_bytes``: the work folder starts as a copy of the caller's folder, and
  nothing the kernel writes ever reaches the host's disk (``check_disk`` names a full one);
- it has no network but its own loopback: it talks to the grader over unix sockets
  (jupyter_client's ``ipc`` transport) in a private socket folder bound into the sandbox;
- it is the second process of its PID namespace, so when it ends, or when bubblewrap is
  killed, the kernel of Linux kills every process it left behind, daemons included;
- rlimits on the kernel process (``prlimit`` inside the sandbox) cap its address space,
  processes, CPU seconds and file size; see :class:`Limits`;
- its environment is rebuilt from nothing (``--clearenv``), and ``python -P`` keeps the
  work folder off ``sys.path``, so a submitted ``course_utils/`` is never imported.

Run by root, the grader does not let bubblewrap switch users: ``bwrap --uid 65534`` only
renames the user inside a user namespace, and the kernel would still be host root (able to
read any visible root-only file, such as ``/etc/shadow``, and exempt from the process cap).
Instead the grader bind-mounts what the sandbox needs into a staging folder, in a mount
namespace of its own, then becomes 65534 before it starts bubblewrap. Each sandbox then
has its own user namespace, in which the process cap counts (rlimits are counted per user
namespace since Linux 5.14; tests/test_sandbox.py checks it): several sandboxes running at
once do not share one budget.

Interrupts travel as ``interrupt_request`` messages on the control channel: jupyter_client's
SIGINT to the process group would reach bubblewrap, not the kernel, and end the whole
sandbox (bwrap exits 130). A kernel that has not finished the interrupted request
``interrupt_grace`` seconds later is killed, and the manager names it in ``incidents``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, fields
from pathlib import Path

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Instance, List, Unicode

from instructor.limits import (
    DISK_FULL_MARGIN_BYTES,
    KERNEL_CPU_SECONDS,
    KERNEL_DISK_BYTES,
    KERNEL_DISK_FILES,
    KERNEL_FILE_SIZE_BYTES,
    KERNEL_MEMORY_BYTES,
    KERNEL_OPEN_FILES,
    KERNEL_OUTPUT_BYTES,
    KERNEL_PROCESSES,
    MAX_COPIED_ENTRIES,
    MAX_KERNEL_MESSAGE_BYTES,
    MAX_QUEUED_MESSAGES,
)

SANDBOX_UID = 65534
SANDBOX_GID = 65534
INSTALL_HINT = "apt-get install -y --no-install-recommends bubblewrap"
REPOSITORY = Path(__file__).resolve().parent.parent
# The trusted, installed packages the kernel may import (read-only), wherever they live.
TRUSTED_PACKAGES = ("course_utils",)
# The machine's folders a sandbox sees (read-only), besides the Python environment: the
# programs, libraries and settings a kernel needs. Nothing else of the machine is there.
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Fewer threads (each counts against the process cap) and a smaller address space.
KERNEL_ENV = {
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "JUPYTER_PLATFORM_DIRS": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}
# What the grader's own helper processes (unshare, setpriv, bwrap) get as environment.
LAUNCHER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
# Mounts the staged sources (a folder, or "tmpfs:OPTIONS" for a new tmpfs) in a private
# mount namespace, then runs the rest ("$@").
_STAGE_SCRIPT = (
    'set -e; while [ "$1" != "--" ]; do case "$1" in '
    'tmpfs:*) mount -t tmpfs -o "${1#tmpfs:}" tmpfs "$2";; '
    '*) mount --bind "$1" "$2";; esac; shift 2; done; '
    'shift; exec "$@"'
)


@dataclass(frozen=True)
class Limits:
    """Resource caps of one sandboxed kernel.

    Parameters
    ----------
    memory_bytes : int
        Address space of each process (RLIMIT_AS): a bigger allocation raises
        ``MemoryError`` in the kernel, which keeps running.
    processes : int
        Processes and threads of the sandbox user inside this sandbox (RLIMIT_NPROC),
        the kernel's own threads included: a fork bomb stops there.
    cpu_seconds : int
        CPU seconds of each process (RLIMIT_CPU); the kernel is stopped when it uses them
        up. A backstop: a looping cell is interrupted long before, by the cell timeout.
    file_size_bytes : int
        Largest file a process may write (RLIMIT_FSIZE); Python gets ``OSError`` (EFBIG).
    output_bytes : int
        Output a notebook may produce (streams and displays). Carried here for the caller,
        which enforces it; the sandbox does not.
    disk_bytes : int
        Size of the work folder, and of ``/tmp``: each is a tmpfs of this size (in memory,
        so keep it small); a write beyond it fails with "No space left on device".
    disk_files : int
        Files and folders each of them may hold (run as root: bubblewrap alone cannot cap
        them, and empty files cost the host's kernel memory, not tmpfs bytes).
    open_files : int
        Open files of each process (RLIMIT_NOFILE): memory a process keeps in anonymous
        files (``memfd_create``) or pipes escapes the address-space cap, so this times
        ``file_size_bytes`` bounds it.
    """

    memory_bytes: int = KERNEL_MEMORY_BYTES
    processes: int = KERNEL_PROCESSES
    cpu_seconds: int = KERNEL_CPU_SECONDS
    file_size_bytes: int = KERNEL_FILE_SIZE_BYTES
    output_bytes: int = KERNEL_OUTPUT_BYTES
    disk_bytes: int = KERNEL_DISK_BYTES
    disk_files: int = KERNEL_DISK_FILES
    open_files: int = KERNEL_OPEN_FILES

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{field.name} must be a positive int, got {value!r}")


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _tool(name: str) -> str:
    """Absolute path of a system tool, or a ``FileNotFoundError`` naming it."""
    found = shutil.which(name, path=LAUNCHER_ENV["PATH"]) or shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found on PATH")
    return found


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _python_paths() -> list[Path]:
    """Folders the kernel's interpreter reads: the venv, its base Python, trusted packages."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.base_exec_prefix)]
    paths += [path.resolve() for path in paths]
    # The venv's python may be a symlink chain into another folder (pyenv, /opt/...).
    link = Path(sys.executable)
    for _ in range(40):  # as many hops as the kernel of Linux follows
        if not link.is_symlink():
            break
        link = link.parent / os.readlink(link)
        paths.append(link.parent.parent)
    for name in TRUSTED_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths += [Path(location) for location in spec.submodule_search_locations]
    return [Path(os.path.abspath(path)) for path in paths]


def _opaque_to_others(folder: Path) -> bool:
    """True when a user other than the owner cannot enter ``folder``."""
    try:
        return not os.stat(folder).st_mode & stat.S_IXOTH
    except OSError:
        return False


class _Layout:
    """The private folder of one sandbox: its socket folder and, as root, staging points."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="sandbox-"))
        self.sockets = self.root / "sockets"
        self.sockets.mkdir(mode=0o700)
        if _running_as_root():
            # The sandbox user must get through root/ to reach sockets/ and the staging points.
            self.root.chmod(0o755)
            os.chown(self.sockets, SANDBOX_UID, SANDBOX_GID)
        self._points = 0

    def stage_point(self) -> Path:
        point = self.root / f"stage-{self._points}"
        point.mkdir(mode=0o755)
        self._points += 1
        return point

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


def _font_caches() -> list[Path]:
    """The grader's matplotlib font cache: without a copy each kernel rebuilds it (0.7 s here)."""
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    return [p for p in Path(folder).glob("fontlist-v*.json") if p.stat().st_size < 2**22]


def cap(context):
    """Give every socket ``context`` makes later the grader's caps on what a kernel sends.

    A bigger message cuts the connection instead of filling the grader's memory, and a
    socket nobody reads holds at most :data:`MAX_QUEUED_MESSAGES` (the kernel's side keeps
    the rest, within its own memory cap, or drops them).
    """
    context.setsockopt(zmq.MAXMSGSIZE, MAX_KERNEL_MESSAGE_BYTES)
    context.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
    return context


class Cuts:
    """Watches a kernel's sockets for connections the grader cut.

    A message over :data:`MAX_KERNEL_MESSAGE_BYTES` makes zmq drop the connection it came
    on, for good: a cut output channel only loses output, a cut shell or stdin channel
    leaves nothing to talk to the kernel with. Each watched socket gets a zmq monitor.
    """

    def __init__(self):
        self._watched: list[tuple[str, object, object]] = []

    def watch(self, socket, label: str):
        """Watch ``socket`` (sync or asyncio), named ``label`` in :meth:`cut`."""
        shadow = zmq.Context.shadow(socket.context.underlying)
        address = f"inproc://gradcheck-cuts-{id(self)}-{len(self._watched)}-{os.getpid()}"
        socket.monitor(address, zmq.EVENT_DISCONNECTED)
        pair = shadow.socket(zmq.PAIR)
        pair.linger = 0
        pair.connect(address)
        self._watched.append((label, socket, pair))

    def cut(self) -> list[str]:
        """Labels of the watched sockets that lost their connection so far."""
        found = []
        for label, _, pair in self._watched:
            with contextlib.suppress(zmq.ZMQError):
                if pair.poll(0):
                    found.append(label)
        return found

    def close(self):
        for _, socket, pair in self._watched:
            with contextlib.suppress(Exception):
                socket.disable_monitor()
            pair.close(linger=0)
        self._watched = []


class JudgeClient(BlockingKernelClient):
    """A blocking client that knows when its channels reach the kernel, and when one is cut.

    zmq connects in the background: a kernel's ``input()`` sent to a stdin channel whose
    connection is not up yet is dropped, and the kernel waits for an answer that never
    comes. The judge waits for every channel's handshake first (:meth:`wait_connected`).
    Each socket gets a zmq monitor before it connects; :meth:`cut` names the channels whose
    connection was lost (a message over the size cap cuts one for good).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._monitors: dict[str, tuple[object, object]] = {}
        self._connected: set[str] = set()
        self._lost: set[str] = set()

    def _create_connected_socket(self, channel, identity=None):
        from jupyter_client.connect import channel_socket_types

        socket = self.context.socket(channel_socket_types[channel])
        socket.linger = 1000
        if identity:
            socket.identity = identity
        address = f"inproc://gradcheck-monitor-{id(self)}-{channel}-{os.getpid()}"
        socket.monitor(address, zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        pair = zmq.Context.shadow(self.context.underlying).socket(zmq.PAIR)
        pair.linger = 0
        pair.connect(address)
        self._monitors[channel] = (socket, pair)
        socket.connect(self._make_url(channel))
        return socket

    def _read_events(self, channel, timeout_ms=0):
        from zmq.utils.monitor import recv_monitor_message

        _, pair = self._monitors[channel]
        while pair.poll(timeout_ms):
            event = recv_monitor_message(pair)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected.add(channel)
            elif event == zmq.EVENT_DISCONNECTED:
                self._lost.add(channel)
            timeout_ms = 0

    def wait_connected(self, channels=("shell", "stdin", "iopub"), seconds=30.0) -> bool:
        """Wait until each of ``channels`` has reached the kernel; False past ``seconds``."""
        deadline = time.monotonic() + seconds
        for channel in channels:
            getattr(self, f"{channel}_channel")  # made (and connected) on first use
            while channel not in self._connected:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._read_events(channel, int(min(left, 0.1) * 1000) + 1)
        return True

    def cut(self) -> list[str]:
        """The channels whose connection was lost so far."""
        for channel in self._monitors:
            self._read_events(channel)
        return sorted(self._lost)

    def stop_channels(self):
        for socket, pair in self._monitors.values():
            with contextlib.suppress(Exception):
                socket.disable_monitor()
            pair.close(linger=0)
        self._monitors = {}
        super().stop_channels()


# How the status names a cut channel.
MESSAGE_TOO_LARGE = (
    f"the kernel sent a message over the {MAX_KERNEL_MESSAGE_BYTES // 2**20} MiB size limit: "
    "the grader cut that channel"
)


def _copies(workdir: Path, hidden) -> tuple[list[str], dict[str, int]]:
    """The folders (``--dir``) and files (``--file`` descriptors) that copy ``workdir`` in.

    Links are not followed, hidden paths are left out. The caller closes the descriptors.
    """
    folders, files = [], {}
    entries = 0
    for folder, names, filenames in os.walk(workdir):
        names[:] = sorted(n for n in names if not any(
            _inside(Path(folder, n), h) for h in hidden) and not Path(folder, n).is_symlink())
        for name in names:
            folders.append(os.path.join(folder, name))
        for name in sorted(filenames):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file() or any(_inside(path, h) for h in hidden):
                continue
            entries += 1
            if entries > MAX_COPIED_ENTRIES:
                raise ValueError(
                    f"the work folder {workdir} holds more than {MAX_COPIED_ENTRIES} files"
                )
            files[str(path)] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    return folders, files


def _sandbox_command(
    inner, workdir: Path, layout: _Layout, hide=(), files=None, limits=None, folders=()
) -> list[str]:
    """The command that runs ``inner`` in a sandbox whose only writable folder is ``workdir``.

    The sandbox's root starts empty: only the system folders, the Python environment and
    the trusted packages are bound into it (read-only), so no copy of the course anywhere
    on the machine (another checkout, a colleague's folder) is visible, whatever its path.
    Folders in ``hide`` (and the repository) are masked where they lie inside a visible one.

    ``workdir`` and ``/tmp`` are tmpfs of ``disk_bytes`` each (``Limits.disk_bytes`` by
    default); ``folders`` are created in them and ``files`` maps paths inside them to open
    file descriptors, which bubblewrap copies in (the descriptors must be passed to it).
    """
    limits = limits or Limits()
    as_root = _running_as_root()
    system = [Path(folder) for folder in SYSTEM_FOLDERS if os.path.lexists(folder)]
    links = [path for path in system if path.is_symlink()]
    readonly = [path for path in system if not path.is_symlink()]
    readonly += [path for path in _python_paths() if path.exists()]
    # One bind per outermost folder (a Python under /usr is visible with /usr).
    readonly = sorted(
        p for p in set(readonly) if not any(p != o and _inside(p, o) for o in readonly)
    )
    writable = [layout.sockets]
    visible = readonly + writable
    hidden: list[Path] = []
    for raw in (REPOSITORY, *hide):
        path = Path(os.path.abspath(raw))
        if path == Path("/"):
            raise ValueError("cannot hide / from the sandbox: name the folders to hide")
        # Only what lies inside a visible folder needs masking; /tmp is private already.
        if not path.exists() or (_inside(path, Path("/tmp")) and not _inside(path, workdir)):
            continue
        if any(_inside(path, folder) for folder in visible):
            hidden.append(path)
    hidden = sorted(h for h in set(hidden) if not any(h != o and _inside(h, o) for o in hidden))

    staged: list[str] = []
    mounts = []  # (depth, order, bwrap arguments)
    for path in links:
        mounts.append((len(path.parts), 0, ["--symlink", os.readlink(path), str(path)]))
    for path, option in [(p, "--ro-bind") for p in readonly] + [(p, "--bind") for p in writable]:
        source = str(path)
        # As root, bubblewrap runs as the sandbox user, who cannot reach a folder below a
        # root-only one (a pyenv Python under /root): root binds it to a staging point.
        if as_root and path != layout.sockets and any(map(_opaque_to_others, path.parents)):
            point = layout.stage_point()
            staged += [source, str(point)]
            source = str(point)
        mounts.append((len(path.parts), 1, [option, source, str(path)]))
    for path in hidden:
        if path.is_dir():
            mounts.append((len(path.parts), 2, ["--tmpfs", str(path)]))
        else:
            mounts.append((len(path.parts), 2, ["--ro-bind", "/dev/null", str(path)]))
    args = [
        _tool("bwrap"),
        "--dev", "/dev",
        "--proc", "/proc",
    ]  # fmt: skip
    # The work folder and /tmp live in memory, each of its own size: no write reaches the
    # host. As root they are mounted in the staging namespace, where the number of files
    # can be capped too; bubblewrap's own tmpfs caps the size only.
    for folder in (Path("/tmp"), workdir):
        if as_root:
            point = layout.stage_point()
            options = f"size={limits.disk_bytes},nr_inodes={limits.disk_files},mode=1777"
            staged += [f"tmpfs:{options}", str(point)]
            mount = ["--bind", str(point), str(folder)]
        else:
            mount = ["--perms", "1777", "--size", str(limits.disk_bytes), "--tmpfs", str(folder)]
        if folder == Path("/tmp"):
            args += mount
        else:
            mounts.append((len(folder.parts), 3, mount))
    for _, _, mount in sorted(mounts, key=lambda m: (m[0], m[1], m[2][-1])):
        args += mount
    for folder in folders:
        args += ["--perms", "0777", "--dir", str(folder)]
    for dest, fd in (files or {}).items():
        args += ["--perms", "0666", "--file", str(fd), dest]
    # The root, empty hiding folders and /dev (its shm) are in memory: the kernel may not
    # fill them.
    for path in hidden:
        if path.is_dir():
            args += ["--remount-ro", str(path)]
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    args += [
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--hostname", "sandbox",
        "--die-with-parent", "--new-session",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--chdir", str(workdir),
        "--clearenv",
    ]  # fmt: skip
    env = dict(KERNEL_ENV, PATH=f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin")
    for name, value in env.items():
        args += ["--setenv", name, value]
    args += ["--", *inner]
    if not as_root:
        return args
    drop = [_tool("setpriv"), f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}"]
    drop += ["--clear-groups", "--"]
    stage = [_tool("unshare"), "--mount", "--propagation", "private", "--"]
    stage += [_tool("sh"), "-c", _STAGE_SCRIPT, "sandbox-stage", *staged, "--"]
    return stage + drop + args


def _limited(command, limits: Limits) -> list[str]:
    """``command`` under ``prlimit`` with the caps of ``limits``."""
    return [
        _tool("prlimit"),
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        # SIGXCPU at the soft limit: the exit status then tells a CPU cap from a kill.
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
        *command,
    ]


@functools.cache
def sandbox_problem() -> str | None:
    """Why no sandbox can start on this machine, or None when one can.

    Tries once (the answer is cached) to run Python with ipykernel importable in a sandbox
    built exactly as a kernel's would be.

    Returns
    -------
    str or None
        None when sandboxed kernels work here; otherwise one paragraph saying what failed
        and how to get a sandbox.
    """
    how = (
        f"Install bubblewrap ({INSTALL_HINT}) and run the grader as root, or as a user "
        "allowed to create user namespaces (sysctl kernel.unprivileged_userns_clone=1; "
        "on Ubuntu 24.04 and later also kernel.apparmor_restrict_unprivileged_userns=0)."
    )
    tools = ["bwrap", "prlimit"] + (["unshare", "setpriv", "sh"] if _running_as_root() else [])
    for name in tools:
        try:
            _tool(name)
        except FileNotFoundError:
            return f"{name} is not installed, so student code cannot be sandboxed. {how}"
    layout = _Layout()
    try:
        workdir = layout.root / "work"
        workdir.mkdir()
        probe = [sys.executable, "-P", "-c", "import ipykernel, zmq"]
        command = _sandbox_command(_limited(probe, Limits()), workdir, layout)
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=60, cwd="/", env=LAUNCHER_ENV
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"a sandbox could not be started here ({error}). {how}"
    finally:
        layout.remove()
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        return f"a trial sandbox failed here ({lines[-1]}). {how}"
    return None


def _start_time(pid: int) -> str | None:
    """A process's start time (tells it from a later one with the same pid), None if gone."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, *rest = stat_line.rsplit(")", 1)[1].split()
    return None if state == "Z" else rest[18]


class _Running:
    """A running sandbox as the grader sees it: bubblewrap, and the init of its PID namespace.

    bubblewrap exits as soon as the kernel does, while its init is still killing what the
    kernel left behind; only when that init has ended is every process of the sandbox gone.
    """

    def __init__(self, process, layout: _Layout):
        self.process = process
        self.layout = layout
        self.init: tuple[int, str] | None = None

    def find_init(self) -> bool:
        """Note the namespace's init once it exists; True when found.

        It is bubblewrap's child in another PID namespace (as root, the staging shell's
        ``mount`` children come first, in ours).
        """
        ours = os.readlink("/proc/self/ns/pid")
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for pid in map(int, children.read_text().split()):
                    started = _start_time(pid)
                    if started is not None and os.readlink(f"/proc/{pid}/ns/pid") != ours:
                        self.init = (pid, started)
                        return True
        return False

    def stop(self, seconds: float = 10.0):
        """SIGKILL bubblewrap, then wait until every process of the sandbox has ended."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=seconds)
        if self.init is None:
            return
        pid, started = self.init
        deadline = time.monotonic() + seconds
        while _start_time(pid) == started and time.monotonic() < deadline:
            # --die-with-parent has sent it SIGKILL if bubblewrap died first.
            time.sleep(0.01)

    def release(self):
        """Last resort when a manager is dropped or the grader exits: nothing outlives it."""
        self.stop()
        self.layout.remove()


def _describe_exit(code: int, limits: Limits) -> str:
    """Plain words for how a kernel ended by itself (bubblewrap reports 128 + signal)."""
    if code > 128:
        number = code - 128
        if number == signal.SIGXCPU:
            return f"the kernel used up its {limits.cpu_seconds} s of CPU time and was stopped"
        if number == signal.SIGKILL:
            return "the kernel was killed"
        with contextlib.suppress(ValueError):
            return f"the kernel died of {signal.Signals(number).name}"
    return f"the kernel exited by itself (status {code})"


def _answers(session, url: str, seconds: float) -> bool:
    """True when the kernel answers a kernel_info_request on ``url`` within ``seconds``.

    The shell channel serves one request at a time: the answer comes only after the
    interrupted request has ended.
    """
    context = zmq.Context()
    try:
        socket = context.socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(url)
        session.send(socket, "kernel_info_request")
        return bool(socket.poll(int(seconds * 1000)))
    finally:
        context.destroy(linger=0)


class SandboxedKernelManager(AsyncKernelManager):
    """An ipykernel in a bubblewrap sandbox, reached over unix sockets.

    Use :func:`kernel_manager` to make one. It starts, interrupts and shuts down like any
    ``AsyncKernelManager`` (``nbclient.NotebookClient(nb, km=...)`` drives it), but:

    - the kernel's command and working directory are fixed: a ``cwd`` given to
      ``start_kernel`` is ignored, except that it names the work folder when
      ``workdir`` is unset;
    - ``interrupt_kernel`` sends an ``interrupt_request`` on the control channel and kills
      the kernel if it has not finished the interrupted request ``interrupt_grace``
      seconds later;
    - ``incidents`` names, in plain words, what went wrong: an ignored interrupt, a kernel
      that died or used up its CPU time;
    - the sandbox dies with the thread that started it (``bwrap --die-with-parent``): start
      and stop it from one long-lived thread or event loop. Always ``shutdown_kernel``;
      dropping the manager, or the grader's exit, kills the sandbox as a last resort.

    ``km.client()`` gives an ``AsyncKernelClient``, ``km.blocking_client()`` a blocking one
    (for a judge in another thread); both reach stdin (``allow_stdin=True``).
    """

    workdir = Unicode("", help="The only folder the kernel may write (its cwd).").tag(config=True)
    hidden = List(Unicode(), help="Folders hidden from the kernel besides the defaults.").tag(
        config=True
    )
    limits = Instance(Limits, args=())
    interrupt_grace = Float(
        5.0, help="Seconds an interrupted kernel has to finish before it is killed."
    ).tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        self._spec = KernelSpec(
            argv=[],
            display_name="Python 3 (sandboxed)",
            language="python",
            interrupt_mode="message",
        )
        self._layout: _Layout | None = None
        self._running: _Running | None = None
        self._finalizer = None
        self._incidents: list[str] = []
        self._exit_noted = False
        cap(self.context)

    @property
    def kernel_spec(self):
        # Never an installed kernelspec: the command is ours whatever the machine holds.
        return self._spec

    @property
    def incidents(self) -> tuple[str, ...]:
        """What went wrong with this kernel so far, in plain words (empty when nothing)."""
        return tuple(self._incidents)

    def client(self, **kwargs):
        """An asynchronous client (nbclient's), its sockets under the grader's caps."""
        client = super().client(**kwargs)
        cap(client.context)
        return client

    def blocking_client(self) -> BlockingKernelClient:
        """A blocking client of this kernel, for use from another thread.

        Unlike ``BlockingKernelClient()`` fed with ``get_connection_info()``, it asks this
        manager, not heartbeats, whether the kernel lives: on a busy machine a slow
        heartbeat makes a healthy kernel look dead. Its sockets are under the grader's caps.
        """
        client = JudgeClient(parent=self)
        cap(client.context)
        client.load_connection_info(self.get_connection_info())
        return client

    def check_disk(self) -> bool:
        """Name, once, a work folder or /tmp the kernel has filled; True when one is full.

        The grader looks at the sandbox's own mounts through its init's root.
        """
        running = self._running
        if running is None or running.init is None:
            return False
        pid, started = running.init
        full = False
        for folder in (Path(os.path.abspath(self.workdir)), Path("/tmp")):
            try:
                room = os.statvfs(f"/proc/{pid}/root{folder}")
            except OSError:
                continue
            if _start_time(pid) != started:  # another process took the pid meanwhile
                return False
            if room.f_bavail * room.f_frsize < DISK_FULL_MARGIN_BYTES or room.f_favail == 0:
                full = True
                where = "work folder" if folder != Path("/tmp") else "/tmp"
                incident = (
                    f"the kernel filled its {self.limits.disk_bytes / 2**20:g} MiB {where} "
                    "(disk quota)"
                )
                if incident not in self._incidents:
                    self._incidents.append(incident)
        return full

    def format_kernel_cmd(self, extra_arguments=None):
        """The kernel's own command, run inside the sandbox under the limits."""
        command = [sys.executable, "-P", "-m", "ipykernel_launcher", "-f", self.connection_file]
        return _limited(command + list(extra_arguments or []), self.limits)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if _running_as_root():
            os.chown(self.connection_file, SANDBOX_UID, SANDBOX_GID)

    async def _async_pre_start_kernel(self, **kw):
        cwd = kw.pop("cwd", None)
        if not self.workdir:
            if cwd is None:
                raise ValueError("SandboxedKernelManager needs a workdir (or a cwd at start)")
            self.workdir = str(cwd)
        workdir = Path(self.workdir)
        if not workdir.is_dir():
            raise ValueError(f"the sandbox's work folder {workdir} is not a folder")
        if self._layout is None:
            self._layout = _Layout()
            self.transport = "ipc"
            self.ip = str(self._layout.sockets / "kernel")
            self.connection_file = str(self._layout.sockets / "connection.json")
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        workdir = Path(os.path.abspath(self.workdir))
        files = {}
        with contextlib.ExitStack() as opened:
            hidden = [Path(path) for path in self.hidden]
            folders, copies = _copies(workdir, hidden)
            for fd in copies.values():
                opened.callback(os.close, fd)
            for cache in _font_caches():
                with contextlib.suppress(OSError):
                    fd = os.open(cache, os.O_RDONLY | os.O_CLOEXEC)
                    opened.callback(os.close, fd)
                    files[f"/tmp/.cache/matplotlib/{cache.name}"] = fd
            files.update(copies)
            kw["pass_fds"] = tuple(files.values())
            command = _sandbox_command(
                kernel_cmd, workdir, self._layout, self.hidden, files,
                limits=self.limits, folders=folders,
            )
            await self._launch_in_sandbox(command, kw)

    async def _launch_in_sandbox(self, command, kw):
        # The grader's environment (DB_URL, NBGRADER_EXECUTION, ...) never reaches bwrap.
        kw.update(cwd="/", env=dict(LAUNCHER_ENV))
        # The kernel's own stdout and stderr only carry its start-up banner (cells' output goes
        # to the grader over iopub); a student writing to them must not flood the grader's log.
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        self.log.debug("Starting sandboxed kernel: %s", command)
        try:
            await super()._async_launch_kernel(command, **kw)
        except Exception:
            self._layout.remove()
            self._layout = None
            raise
        self._running = running = _Running(self.provisioner.process, self._layout)
        self._exit_noted = False
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, running.release)
        # The staging and bwrap's own set-up take a few milliseconds.
        for _ in range(500):
            if running.find_init() or running.process.poll() is not None:
                break
            await asyncio.sleep(0.01)

    async def _async_interrupt_kernel(self):
        await super()._async_interrupt_kernel()
        running = self._running
        if self.shutting_down or running is None or running.process.poll() is not None:
            return
        watchdog = threading.Thread(
            target=self._watch_interrupt,
            args=(running, self.session.clone(), self._make_url("shell")),
            name="sandbox-interrupt-watchdog",
            daemon=True,
        )
        watchdog.start()

    interrupt_kernel = _async_interrupt_kernel

    def _watch_interrupt(self, running, session, url):
        if _answers(session, url, self.interrupt_grace) or running.process.poll() is not None:
            return
        if self.shutting_down:
            return
        self._exit_noted = True
        self._incidents.append(
            f"the kernel ignored an interrupt for {self.interrupt_grace:g} s and was stopped"
        )
        running.stop()

    def _note_exit(self):
        """Record, once, a kernel that ended while nobody asked it to."""
        running = self._running
        if self._exit_noted or self.shutting_down or running is None:
            return
        code = running.process.poll()
        if code is None:
            return
        self._exit_noted = True
        self._incidents.append(_describe_exit(code, self.limits))

    async def _async_is_alive(self):
        alive = await super()._async_is_alive()
        if not alive:
            self._note_exit()
        return alive

    is_alive = _async_is_alive

    async def _async_shutdown_kernel(self, now=False, restart=False):
        self._note_exit()
        await super()._async_shutdown_kernel(now=now, restart=restart)

    shutdown_kernel = _async_shutdown_kernel

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        loop = asyncio.get_running_loop()
        if restart:
            if self._running is not None:
                await loop.run_in_executor(None, self._running.stop)
            return
        if self._finalizer is not None:
            # Waits for the sandbox's last process, then removes its sockets and staging.
            await loop.run_in_executor(None, self._finalizer)
            self._finalizer = None
        elif self._layout is not None:
            self._layout.remove()
        self._layout = None

    cleanup_resources = _async_cleanup_resources


def kernel_manager(workdir, limits=Limits(), hide=()) -> SandboxedKernelManager:
    """A ready-to-start manager of a sandboxed kernel working in ``workdir``.

    Parameters
    ----------
    workdir : str or Path
        The kernel's working directory and the only folder it may write: inside the
        sandbox, a copy of this folder in memory (``limits.disk_bytes``); the kernel's
        writes never reach it.
    limits : Limits, optional
        Resource caps of the kernel.
    hide : iterable of str or Path, optional
        Folders (or files) the kernel must not see, besides the repository, the home
        folders and ``/run``: for example the grading output folder.

    Returns
    -------
    SandboxedKernelManager
        Not started yet: ``await km.start_kernel()``, or give it to
        ``nbclient.NotebookClient(nb, km=km)``. Always ``await km.shutdown_kernel()``.

    Raises
    ------
    ValueError
        If ``workdir`` is not a folder or ``limits`` is not a :class:`Limits`.
    """
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise ValueError(f"the sandbox's work folder {workdir} is not a folder")
    if not isinstance(limits, Limits):
        raise ValueError(f"limits must be a Limits, got {type(limits).__name__}")
    return SandboxedKernelManager(
        workdir=str(workdir.resolve()),
        limits=limits,
        hidden=[str(Path(path).resolve()) for path in hide],
    )
