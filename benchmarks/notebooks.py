"""How long each source notebook takes to run, kernel start-up included.

The lesson promises every notebook runs in under 10 seconds. Timings on shared machines are
noisy, so this is measured here rather than asserted in a test.

Usage: ``python benchmarks/notebooks.py [--repeat N]``.
"""

import argparse
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"
BUDGET_SECONDS = 10.0


def run_once(path):
    """Execute one notebook in a fresh kernel; return the wall-clock seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, kernel_name="python3", resources=resources).execute()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'notebook':34} {'median s':>9} {'min s':>7}  budget {BUDGET_SECONDS:g} s")
    for path in sorted(SOURCE.glob("*.ipynb")):
        times = [run_once(path) for _ in range(args.repeat)]
        median = statistics.median(times)
        print(f"{path.name:34} {median:9.2f} {min(times):7.2f}  "
              f"{median / BUDGET_SECONDS:.0%} of budget")


if __name__ == "__main__":
    main()
