"""Seconds per submission of `make grade`, serial, parallel and on a Dask cluster, in one run.

Run as ``python -m benchmarks.autograde [--students 40]``. The class cycles through the
example class (honest and odd submissions, from the notebooks) up to the size asked. Each
mode grades it into a fresh output folder, after the assignment has been generated once:

- serial: ``WORKERS=1``, one student after another in this process;
- parallel: ``WORKERS=2``, a local Dask cluster of two worker processes;
- cluster: a ``dask scheduler`` and two ``dask worker`` processes on loopback (``SCHEDULER=``).

The floor is nbclient alone executing the same submitted notebooks, one fresh plain kernel
per notebook, one after another: no sandbox, no judge, no nbgrader. "floor x2" executes them
two at a time in two processes: the most any parallel grading could gain on this machine
(two cores of a shared virtual machine rarely give twice one). Every figure is printed as
seconds per submission and as a ratio to the floor, measured in this one run.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from instructor.course import REPO_ROOT, SOURCE_ROOT, find_assignment, setup_course
from instructor.example_class import build_example_class
from instructor.grade import grade_class
from instructor.ledger import Ledger
from instructor.limits import CELL_TIMEOUT_SECONDS
from instructor.workers import WORKER_ENV

# Students left out: a deliberate 15 s time-out is not grading cost, and the attacks must
# not run where the floor runs them, outside any sandbox (kills_the_grader killed an
# earlier run of this benchmark: its kernel's parent is the benchmark itself).
LEFT_OUT = {
    "infinite_loop",
    "kills_the_grader",
    "touches_the_class",
    "lingering_daemon",
    "resource_hog",
    "leak_attempt",
    "patched_checks",
    "shadow_package",
    "symlinked_source",
    "script_for_the_grader",
}


def make_class(release_dir: Path, source_dir: Path, dest: Path, students: int) -> list[str]:
    """Write ``students`` submissions, cycling through the example class."""
    examples = dest.parent / "examples"
    names = [
        name
        for name in build_example_class(release_dir, source_dir, examples)
        if name not in LEFT_OUT
    ]
    chosen = list(itertools.islice(itertools.cycle(names), students))
    for number, name in enumerate(chosen):
        shutil.copytree(examples / name, dest / f"{name}_{number:03d}", symlinks=True)
    return chosen


def _execute_plainly(path: Path, work: Path) -> None:
    """Execute one submitted notebook with nbclient alone, in a fresh plain kernel."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # not JSON: grading skips it too
        return
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(work)}},
    )
    try:
        client.execute()
    except Exception:  # a dying kernel: grading pays for it too
        pass


def nbclient_floor(submissions: Path, work: Path, processes: int = 1) -> float:
    """Seconds to execute every readable submitted notebook with nbclient alone.

    With ``processes`` > 1 the notebooks are shared out among that many processes, a
    notebook at a time: what this machine can do in parallel with no grading at all, the
    ceiling of any parallel grading on it.
    """
    work.mkdir(parents=True, exist_ok=True)
    paths = sorted(p for p in submissions.rglob("*.ipynb") if not p.is_symlink())
    start = time.perf_counter()
    if processes == 1:
        for path in paths:
            _execute_plainly(path, work)
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            pool.starmap(_execute_plainly, [(path, work) for path in paths], chunksize=1)
    return time.perf_counter() - start


def start_cluster(workers: int):
    """A scheduler and ``workers`` single-threaded worker processes on loopback."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    # The workers get the settings the embedded cluster gets (see the README's cluster recipe).
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **WORKER_ENV}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    address = f"tcp://127.0.0.1:{port}"
    processes = [
        subprocess.Popen(
            [bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--dashboard-address", "127.0.0.1:0", "--no-show"],
            **quiet,
        )
    ]
    for _ in range(workers):
        processes.append(
            subprocess.Popen(
                [bin_dir / "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
                cwd=REPO_ROOT,
                **quiet,
            )
        )
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(workers, timeout=120)
    return address, processes


def timed_grading(submissions, out, source, **options) -> float:
    start = time.perf_counter()
    grade_class(submissions, out, source_root=source, echo=lambda line: None, **options)
    return time.perf_counter() - start


def prepare_class(root: Path, students: int) -> tuple[Path, Path, list[str], float]:
    """Copy the sources under ``root``, generate the assignment once and write the class.

    Returns
    -------
    tuple
        ``(source root, submissions folder, chosen example students, seconds to generate)``.
    """
    assignment = find_assignment(SOURCE_ROOT)
    source = root / "source"
    shutil.copytree(SOURCE_ROOT / assignment, source / assignment)
    start = time.perf_counter()
    once = root / "release-once"
    setup_course(once, Ledger(once), source, assignment=assignment)
    setup = time.perf_counter() - start
    submissions = root / "class" / "submissions"
    chosen = make_class(root / "release-once" / "release" / assignment, source / assignment,
                        submissions, students)
    return source, submissions, chosen, setup


def main(argv=None) -> int:
    """Run the benchmark and print seconds per submission and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=40, help="class size (default 40)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="autograde-bench-") as tmp:
        root = Path(tmp)
        source, submissions, chosen, setup = prepare_class(root, args.students)
        seconds = {"floor": nbclient_floor(submissions, root / "floor")}
        seconds["floor x2"] = nbclient_floor(submissions, root / "floor2", processes=2)
        seconds["serial"] = timed_grading(submissions, root / "serial", source, workers=1)
        seconds["parallel"] = timed_grading(submissions, root / "parallel", source, workers=2)
        address, processes = start_cluster(2)
        try:
            seconds["cluster"] = timed_grading(
                submissions, root / "cluster", source, scheduler=address
            )
        finally:
            for process in processes:
                process.kill()
                process.wait()

    n = args.students
    print(f"class of {n} submissions ({len(set(chosen))} kinds of example student), "
          f"{os.cpu_count()} cores")
    print(f"generate_assignment (once):     {setup:6.1f} s")
    for mode in ("floor", "floor x2", "serial", "parallel", "cluster"):
        per = seconds[mode] / n
        print(f"{mode:9} {per:6.2f} s per submission ({seconds[mode]:5.0f} s), "
              f"{per / (seconds['floor'] / n):5.2f} x floor")
    print(f"parallel speed-up over serial:  {seconds['serial'] / seconds['parallel']:5.2f} x")
    print(f"the machine's ceiling (floor / floor x2): "
          f"{seconds['floor'] / seconds['floor x2']:5.2f} x")
    print(f"cluster / parallel:             {seconds['cluster'] / seconds['parallel']:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
