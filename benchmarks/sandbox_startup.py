"""Kernel start-up in the bubblewrap sandbox against a plain kernel, in one run, as a ratio.

Each round starts one plain kernel (the venv's ``python3`` kernelspec) and one sandboxed
kernel (:func:`instructor.sandbox.kernel_manager`), alternately so that the load of a shared
machine weighs on both alike. Two times per kernel: until it answers ``kernel_info``, and
until it has also run ``import course_utils`` (numpy and matplotlib included), which every
course notebook does first.

Usage: ``python benchmarks/sandbox_startup.py [--repeat N]``.
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from instructor.sandbox import kernel_manager, sandbox_problem

EXTRA_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]  # as nbgrader starts kernels


async def time_kernel(km):
    """Seconds until ``km``'s kernel is ready, then until it has imported course_utils."""
    start = time.perf_counter()
    # Both discard the kernel's own stdout and stderr (the sandbox always does).
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    await km.start_kernel(extra_arguments=EXTRA_ARGUMENTS, **quiet)
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        ready = time.perf_counter() - start
        reply = await client.execute_interactive("import course_utils", timeout=120)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"import course_utils failed: {reply['content']}")
        imported = time.perf_counter() - start
    finally:
        client.stop_channels()
        await km.shutdown_kernel()
    return ready, imported


async def measure(repeat):
    times = {"plain": [], "sandbox": []}
    for _ in range(repeat):
        times["plain"].append(await time_kernel(AsyncKernelManager(kernel_name="python3")))
        with tempfile.TemporaryDirectory(prefix="sandbox-startup-") as work:
            times["sandbox"].append(await time_kernel(kernel_manager(work)))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    problem = sandbox_problem()
    if problem:
        sys.exit(f"no sandbox here: {problem}")
    times = asyncio.run(measure(args.repeat))
    print(f"{args.repeat} rounds, medians in seconds")
    print(f"{'':24} {'plain':>7} {'sandbox':>8} {'ratio':>6}")
    for index, label in enumerate(["ready (kernel_info)", "import course_utils"]):
        plain = statistics.median(t[index] for t in times["plain"])
        boxed = statistics.median(t[index] for t in times["sandbox"])
        print(f"{label:24} {plain:7.2f} {boxed:8.2f} {boxed / plain:5.2f}x")


if __name__ == "__main__":
    main()
