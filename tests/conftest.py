"""Shared test helpers: the instructor notebooks' code, loaded as the notebooks would run it."""

import contextlib
import functools
import io
import json
from pathlib import Path

import matplotlib
import nbformat
import pytest

# Headless and in-process only: an MPLBACKEND variable would also reach Jupyter kernels that
# other tests start, and take their inline figures away.
matplotlib.use("Agg")

import matplotlib.pyplot as plt

from instructor import cells

# A real PostgreSQL server (postgresql_url) and the export tests' small gradebook.
pytest_plugins = ["postgres"]

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks" / "gradient_checking"


def _kept(cell):
    """True for solution cells and locked given code; false for graded tests and demo cells."""
    return cells.is_autograded_answer(cell) or cells.is_given(cell)


@functools.cache
def _notebook_code(prefix):
    """The kept cells' sources of the one source notebook whose name starts with prefix."""
    (path,) = NOTEBOOKS.glob(f"{prefix}_*.ipynb")
    # nbgrader's role functions read attributes: the cells as nbformat's nodes, not plain dicts.
    found = nbformat.from_dict(json.loads(path.read_text(encoding="utf-8"))["cells"])
    sources = ["".join(cell["source"]) for cell in found if _kept(cell)]
    return path.name, tuple(sources)


def load_notebook_namespace(prefix):
    """Exec a source notebook's solution and given code into one fresh dict and return it.

    One dict serves as every function's ``__globals__``, as in a kernel, so that checks
    which swap ``forward_propagation`` and friends by name reach the functions' lookups.
    """
    name, sources = _notebook_code(prefix)
    namespace = {"__name__": f"notebook_{prefix}"}
    # Given demo cells (the epsilon sweep) print and draw; keep both out of the tests' capsys.
    with contextlib.redirect_stdout(io.StringIO()):
        for index, source in enumerate(sources):
            exec(compile(source, f"<{name} kept cell {index}>", "exec"), namespace)
    plt.close("all")
    return namespace


@pytest.fixture
def load_notebook():
    """``load_notebook("01")`` -> a fresh namespace of notebooks/gradient_checking/01_*.ipynb."""
    return load_notebook_namespace
