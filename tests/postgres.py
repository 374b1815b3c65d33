"""A real PostgreSQL server for tests, and the small gradebook the export tests fill in.

The server comes from Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``),
listens on a free loopback port, and keeps its data and socket folders outside pytest's
tmp (which only root can enter): PostgreSQL refuses to run as root, so under root it runs
as ``nobody``. Without the package the tests skip with an install hint on a workstation and
fail under CI (``CI`` set), where a skip would hide that they never ran.

Fixtures: ``postgresql_server`` (one per session) and ``postgresql_url`` (a fresh database
per test, as a ``postgresql+psycopg://`` URL that SQLAlchemy and nbgrader accept).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = (
    "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
    "package (`sudo apt-get install -y --no-install-recommends postgresql`; .ci/run does)"
)
SUPERUSER = "postgres"
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections
# Trust: only loopback and a private socket folder reach this throw-away server.
INITDB_OPTIONS = f"-A trust -U {SUPERUSER} --no-sync --no-locale -E UTF8"


def skip_or_fail(message: str) -> None:
    """Skip locally; in CI a database test that cannot run is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = [Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
    if not found:
        return None
    return max(found, key=lambda folder: int(folder.parent.name.split(".")[0]))


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: where it lives and how to reach it."""

    bin: Path
    base: Path
    port: int
    pid: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def sockets(self) -> Path:
        return self.base / "sockets"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str = SUPERUSER) -> str:
        """SQLAlchemy URL of `database` over loopback TCP (trust authentication)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database with a fresh name; return its URL."""
        import psycopg

        name = f"kit_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=SUPERUSER, autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_server_user(base: Path) -> dict:
    """subprocess arguments that run a command as the owner of `base` (nobody under root)."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    # extra_groups=[] drops root's supplementary groups too.
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": [], "cwd": base}


def _run(command: list, base: Path, timeout: float) -> None:
    """Run a server command as the server's user; fail with its output when it fails."""
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        check=False,
        **_as_server_user(base),
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(command[0]).name} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def start_server(bin_dir: Path) -> PostgresServer:
    """initdb and start a server on a free loopback port; return it once it accepts connections."""
    # Under root the server runs as nobody, who must reach the folder: /tmp, not a TMPDIR
    # that only root can enter.
    base = Path(tempfile.mkdtemp(prefix="kit-postgres-", dir="/tmp" if os.geteuid() == 0 else None))
    sockets = base / "sockets"
    sockets.mkdir(mode=0o700)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for folder in (base, sockets):
            os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    server = PostgresServer(bin=bin_dir, base=base, port=0, pid=0)
    try:
        _run(
            [bin_dir / "initdb", "-D", server.data, *INITDB_OPTIONS.split()],
            base,
            timeout=120,
        )
        # A port found free can be taken before the server binds it: try a few.
        for attempt in range(3):
            server.port = free_port()
            # Durability is pointless for a throw-away database and costs seconds.
            options = (
                f"-p {server.port} -k {server.sockets} -h 127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                pg_ctl = [bin_dir / "pg_ctl", "-D", server.data, "-l", server.log, "-o", options]
                wait = ["-w", "-t", str(START_TIMEOUT)]
                _run([*pg_ctl, *wait, "start"], base, timeout=START_TIMEOUT + 10)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        server.pid = int((server.data / "postmaster.pid").read_text().split()[0])
    except BaseException as error:
        log = server.log.read_text() if server.log.is_file() else ""
        stop_server(server)
        if isinstance(error, RuntimeError):
            raise RuntimeError(f"{error}\nserver log:\n{log}") from None
        raise
    return server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_server(server: PostgresServer) -> None:
    """Stop the server (pg_ctl fast shutdown, then its process id) and delete its folders."""
    pid_file = server.data / "postmaster.pid"
    if not server.pid and pid_file.is_file():
        # A start that failed late may still have left a server running.
        server.pid = int(pid_file.read_text().split()[0])
    if server.pid:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run(
                [server.bin / "pg_ctl", "-D", server.data, "-m", "fast", "-w", "stop"],
                server.base,
                timeout=30,
            )
        deadline = time.monotonic() + 10
        while _alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(server.pid):
            os.kill(server.pid, signal.SIGKILL)
    shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the test session, stopped by process id at its end."""
    bin_dir = find_bin()
    if bin_dir is None:
        skip_or_fail(INSTALL_HINT)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("the psycopg package is missing: run `make setup`")
    server = start_server(bin_dir)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def postgresql_url(postgresql_server: PostgresServer) -> str:
    """URL of a fresh, empty database on the session's server."""
    return postgresql_server.create_database()


# The small gradebook of the export tests: two notebooks, three code tests and one written
# answer. alice's written answer was graded by hand and a grader raised one autograded test;
# bob's written answer waits in Formgrader; dave is enrolled and submitted nothing.
COURSE_ID = "gradient-checking"
ASSIGNMENT = "ps1"
CELLS = {
    "nb1": {"test_a": ("code", 2.0), "test_b": ("code", 3.0)},
    "nb2": {"test_c": ("code", 1.0), "written": ("markdown", 2.0)},
}
# student -> notebook -> cell -> (auto_score, manual_score, needs_manual_grade)
GRADES = {
    "alice": {
        "nb1": {"test_a": (2.0, None, False), "test_b": (0.0, 1.0, False)},
        "nb2": {"test_c": (1.0, None, False), "written": (None, 1.5, False)},
    },
    "bob": {
        "nb1": {"test_a": (2.0, None, False), "test_b": (3.0, None, False)},
        "nb2": {"test_c": (0.0, None, False), "written": (None, None, True)},
    },
}
ENROLLED_ONLY = ["dave"]


def fill_gradebook(db_url: str, course_id: str = COURSE_ID, grades: dict = GRADES) -> None:
    """Create ASSIGNMENT with CELLS and the students' `grades` through nbgrader's Gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        gb.add_assignment(ASSIGNMENT)
        for notebook, cells in CELLS.items():
            gb.add_notebook(notebook, ASSIGNMENT)
            for cell, (cell_type, points) in cells.items():
                gb.add_grade_cell(cell, notebook, ASSIGNMENT, max_score=points, cell_type=cell_type)
        for student, notebooks in grades.items():
            gb.add_student(student)
            gb.add_submission(ASSIGNMENT, student)
            for notebook, cells in notebooks.items():
                for cell, (auto, manual, pending) in cells.items():
                    grade = gb.find_grade(cell, notebook, ASSIGNMENT, student)
                    grade.auto_score = auto
                    grade.manual_score = manual
                    grade.needs_manual_grade = pending
        for student in ENROLLED_ONLY:
            gb.add_student(student)
        gb.db.commit()


@pytest.fixture(scope="session")
def alembic_head() -> str:
    """The gradebook schema version nbgrader stamps into every new gradebook."""
    from nbgrader.api import get_alembic_version

    return get_alembic_version()


@pytest.fixture
def quick_gradebooks(monkeypatch: pytest.MonkeyPatch, alembic_head: str) -> None:
    """Create gradebooks without nbgrader's `alembic heads` subprocess (seconds each).

    nbgrader runs it for every new gradebook only to learn the version `alembic_head` holds.
    """
    import nbgrader.api

    monkeypatch.setattr(nbgrader.api, "get_alembic_version", lambda: alembic_head)
