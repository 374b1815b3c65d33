"""Grading a class on Dask workers and interrupted: the same outcome as one after another.

The small class (a few example students, sandboxed) is graded serially once; a cluster run
with a worker killed mid-run, and a run stopped with Ctrl-C and finished by the next, must
give exactly what it gave: scores, statuses and feedback. (The embedded local cluster grades
the example class in tests/test_grade.py; PostgreSQL, a crashed grader and a tampered course
folder are proved without kernels in test_postgres, test_record and test_course.)
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from instructor.cells import is_test
from instructor.course import REPO_ROOT, SOURCE_ROOT, find_assignment, setup_course
from instructor.example_class import build_example_class
from instructor.export import NO_SANDBOX
from instructor.grade import grade_class
from instructor.ledger import Ledger

pytestmark = pytest.mark.slow

ASSIGNMENT = find_assignment(SOURCE_ROOT)
# Nothing, a full solution, a dying kernel, on the assignment's first two notebooks: small,
# so that its runs stay quick (every kind of student is graded in tests/test_grade.py). How a
# class is spread over workers does not depend on which notebooks it holds.
CLASS = ["blank_release", "full_solution", "kernel_dies"]
NOTEBOOKS = slice(0, 2)


def outcome(rows, out: Path) -> dict:
    """What a run decides: each student's scores and status, which feedback files exist, and
    the judge's report in every test cell (what feedback says about each test).

    The rest of a feedback file is the student's own output, which differs from run to run
    by itself (notebook 4 prints a measured time ratio; a print may arrive in two pieces).
    """
    folder = out / "feedback"
    feedback = sorted(str(path.relative_to(folder)) for path in folder.rglob("*.html"))
    reports = {}
    for path in sorted((out / "autograded").rglob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if is_test(cell):
                key = f"{path.relative_to(out / 'autograded')}:{meta['grade_id']}"
                reports[key] = [
                    (o.output_type, o.get("text") or o.get("evalue")) for o in cell.outputs
                ]
    return {
        "rows": {r.student_id: (r.scores, r.status) for r in rows},
        "feedback": feedback,
        "reports": reports,
    }


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    """The class, and the outcome of grading it serially (one student after another)."""
    root = tmp_path_factory.mktemp("workers")
    source = root / "source"
    import shutil

    (source / ASSIGNMENT).mkdir(parents=True)
    for path in sorted((SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))[NOTEBOOKS]:
        shutil.copy2(path, source / ASSIGNMENT / path.name)
    out = root / "serial"
    setup_course(out, Ledger(out), source_root=source, assignment=ASSIGNMENT)
    everyone = root / "everyone"
    build_example_class(out / "release" / ASSIGNMENT, source / ASSIGNMENT, everyone)
    submissions = root / "submissions"
    for student in CLASS:
        shutil.copytree(everyone / student, submissions / student)
    rows = grade_class(submissions, out, source_root=source, workers=1, echo=print)
    assert len(list((out / "feedback" / "full_solution").rglob("*.html"))) == len(
        list((source / ASSIGNMENT).glob("*.ipynb"))
    )
    return {"root": root, "source": source, "submissions": submissions,
            "serial": outcome(rows, out)}


def test_the_serial_run_grades_the_class_as_expected(small_class):
    rows = small_class["serial"]["rows"]
    assert sorted(rows) == CLASS
    full = sum(rows["full_solution"][0].values())
    assert full > 0 and sum(rows["blank_release"][0].values()) == 0
    assert 0 < sum(rows["kernel_dies"][0].values()) < full


@pytest.fixture
def cluster():
    """A Dask scheduler and two worker processes on loopback, stopped by process id."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [subprocess.Popen(
        [bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", "127.0.0.1:0", "--no-show"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )]
    workers = []
    for _ in range(2):
        worker = subprocess.Popen(
            [bin_dir / "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--host", "127.0.0.1", "--no-nanny", "--dashboard-address", "127.0.0.1:0"],
            env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        workers.append(worker)
    processes += workers
    try:
        _wait_for_workers(address, 2)
        yield address, workers
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_workers(address, count, seconds=60):
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=seconds)


def test_a_cluster_run_equals_the_local_run_even_when_a_worker_dies(small_class, cluster):
    address, workers = cluster
    killed = threading.Event()

    def kill_one_worker_mid_run():
        # Once the run is under way (the first student came back), a worker dies.
        while not lines_seen:
            time.sleep(0.1)
        workers[0].kill()
        killed.set()

    lines_seen = []
    out = small_class["root"] / "cluster"
    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    rows = grade_class(small_class["submissions"], out, source_root=small_class["source"],
                       scheduler=address, echo=lines_seen.append)
    assert killed.is_set()
    assert outcome(rows, out) == small_class["serial"]
    graded = [line.split("] ")[1].split(":")[0] for line in lines_seen]
    assert sorted(graded) == CLASS  # each student exactly once


def test_an_interrupted_run_is_finished_by_the_next(small_class):
    out = small_class["root"] / "interrupted"
    command = [sys.executable, "-m", "instructor.grade", "--submissions",
               str(small_class["submissions"]), "--out", str(out), "--workers", "1",
               "--source", str(small_class["source"])]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    first = []
    for line in process.stdout:
        if "graded" in line and line.startswith("["):
            first.append(line)
            process.send_signal(signal.SIGINT)  # Ctrl-C after the first student
            break
    rest = process.communicate(timeout=300)[0]
    assert process.returncode == 130, rest
    assert "interrupted: 1 graded" in rest, rest
    assert (out / "grades.csv").is_file()
    rows = grade_class(small_class["submissions"], out, source_root=small_class["source"],
                       workers=1, echo=first.append)
    assert outcome(rows, out) == small_class["serial"]
    graded_again = [line for line in first[1:] if ": graded" in line]
    assert len(graded_again) == len(CLASS) - 1


def test_opting_out_of_the_sandbox_is_said_in_the_output_and_in_every_row(small_class):
    import shutil

    one = small_class["root"] / "one_student"
    shutil.copytree(small_class["submissions"] / "full_solution", one / "full_solution")
    out = small_class["root"] / "no_sandbox"
    lines = []
    rows = grade_class(one, out, source_root=small_class["source"], workers=1, sandbox=False,
                       echo=lines.append)
    assert lines[0].startswith("WARNING") and "WITHOUT the sandbox" in lines[0]
    assert rows[0].status == NO_SANDBOX
    assert NO_SANDBOX in (out / "grades.csv").read_text()
    assert rows[0].scores == small_class["serial"]["rows"]["full_solution"][0]
