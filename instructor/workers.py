"""Where the run stage of grading happens: here, on a local Dask cluster, or on a remote one.

A *job* is one student's sanitized notebooks (:func:`instructor.run.job_data`), plus the
instructor's source notebooks, as plain JSON-ready data; its result is
:func:`instructor.run.run_job`'s. Nothing is shared but that data: a worker on another
machine needs the kit installed (``pip install -e .`` of this repository, bubblewrap for the
sandbox) and nothing else, no shared folder.

The grading process stays the single writer of the gradebook, ``OUT`` and ``grades.csv``:
results come back to it and it records them one student at a time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError

from instructor.run import run_job

# Students sent to the cluster ahead of time, per worker thread (the rest wait in intake).
IN_FLIGHT_PER_WORKER = 2
# How many times Dask may lose a worker while it runs one student before giving up on it.
ALLOWED_WORKER_DEATHS = 2
# Dask settings of a grading run (and of the workers of the embedded cluster). A worker
# samples its threads' stacks every 10 ms for its dashboard's profile by default: CPU taken
# from the kernels it runs, for a profile nobody reads here.
DASK_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS,
    "distributed.worker.profile.enabled": False,
}
# The same worker settings for workers started by hand (``dask worker``), as Dask reads them
# from the environment.
WORKER_ENV = {
    "DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
    for key, value in DASK_CONFIG.items()
    if key.startswith("distributed.worker.")
}


Outcome = tuple[object, dict | None, str | None]  # (job key, result, failure)


def run_here(jobs: Iterable[tuple[object, dict]], sources: dict) -> Iterator[Outcome]:
    """Run jobs one after another in this process; a job that raises fails alone, as on Dask."""
    for key, job in jobs:
        try:
            result = run_job(job, sources)
        except Exception as error:  # WorkerProblem, or a notebook no stage foresaw
            yield key, None, f"{type(error).__name__}: {error}"
            continue
        yield key, result, None


@contextlib.contextmanager
def dask_runner(workers: int | None = None, scheduler: str | None = None):
    """A runner of jobs on Dask: a local cluster of ``workers`` processes, or ``scheduler``.

    Yields
    ------
    callable
        ``run(jobs, sources)`` taking ``(key, job)`` pairs and yielding
        ``(key, result, failure)`` as
        jobs finish, in any order. A job whose workers kept dying, or that raised, comes back
        with ``failure`` set instead of a result; a job is never returned twice.
    """
    import dask
    from distributed import Client, LocalCluster, as_completed

    with dask.config.set(DASK_CONFIG):
        cluster = None
        if scheduler:
            client = Client(scheduler, timeout="30s")
        else:
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            )
            client = Client(cluster)
        try:
            yield _dask_run(client, as_completed)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _dask_run(client, as_completed) -> Callable:
    def run(jobs, sources):
        futures, submitted, retried = {}, {}, set()
        # The source notebooks go to every worker once, not with every student.
        shared = client.scatter(sources, broadcast=True)
        # Jobs are taken from ``jobs`` as others finish: enough to keep every worker busy,
        # never a whole class's notebooks in memory at once.
        pending = iter(jobs)

        def window():
            # Workers may join a cluster while it runs: counted each time.
            return IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))

        def submit(count, finished=None):
            for key, job in itertools.islice(pending, count):
                future = client.submit(run_job, job, shared, pure=False, key=f"grade-{key}")
                futures[future], submitted[key] = key, job
                if finished is not None:
                    finished.add(future)

        try:
            submit(window())
            finished = as_completed(list(futures))
            for future in finished:
                key = futures.pop(future)
                try:
                    result = future.result()
                    submitted.pop(key, None)
                    yield key, result, None
                except CancelledError as error:
                    # The scheduler lost the job (a client reconnecting on a loaded machine
                    # makes it forget keys): submitted again, once, under a new key.
                    if key in retried:
                        submitted.pop(key, None)
                        yield key, None, f"{type(error).__name__}: {error}"
                    else:
                        retried.add(key)
                        if shared.status != "finished":
                            # The copies of the sources died with their workers (a worker that
                            # joined after the broadcast had none): send them out again.
                            shared = client.scatter(sources, broadcast=True)
                        again = client.submit(run_job, submitted[key], shared, pure=False,
                                              key=f"grade-{key}-again")
                        futures[again] = key
                        finished.add(again)
                except Exception as error:  # KilledWorker, WorkerProblem, ...
                    submitted.pop(key, None)
                    yield key, None, f"{type(error).__name__}: {error}"
                submit(window() - len(futures), finished)
        finally:
            # Interrupted (Ctrl-C) or abandoned: nothing keeps running for nobody.
            if futures:
                client.cancel(list(futures))

    return run
