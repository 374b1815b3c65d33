"""Tests for course_utils.network: the notebooks' copies equal it, it reproduces the classic
numbers, and the correct backprop is nowhere a student can read it."""

import ast
import inspect
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import course_utils
from course_utils import (
    PUBLISHED_DIFFERENCE_N_BUGGY,
    gradient_check_n_test_case,
    gradients_to_vector,
    network,
)
from instructor.cells import is_locked
from instructor.references import backward_propagation_n as reference_backward

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "gradient_checking"
RELEASE = ROOT / "release" / "gradient_checking"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.DOTALL)
SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.DOTALL)
# The two lines the classic bugs spoil, written correctly (any spacing).
CORRECT_LINES = [
    re.compile(r"dW2\s*=\s*1\s*/\s*m\s*\*\s*np\.dot\(\s*dZ2\s*,\s*A1\.T\s*\)\s*$", re.MULTILINE),
    re.compile(r"db1\s*=\s*1\s*/\s*m\s*\*\s*np\.sum\(\s*dZ1\b"),
]


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _function_defs(source):
    """{name: ast dump} of the top-level functions of a code cell."""
    tree = ast.parse(source)
    return {node.name: ast.dump(node) for node in tree.body if isinstance(node, ast.FunctionDef)}


def _module_def(function):
    return ast.dump(ast.parse(inspect.getsource(function)).body[0])


@pytest.mark.parametrize(
    ("notebook", "names"),
    [
        ("02_gradient_check_nd.ipynb", ["forward_propagation_n", "buggy_backward_propagation_n"]),
    ],
)
def test_notebook_copies_equal_the_package(notebook, names):
    """Where a notebook shows the network, its code is course_utils.network's, line for line."""
    shown = {}
    for cell in _cells(SOURCE / notebook):
        if cell.cell_type == "code" and is_locked(cell):
            shown.update(_function_defs(cell.source))
    for name in names:
        assert shown[name] == _module_def(getattr(network, name)), name


def test_the_buggy_backprop_gives_the_published_difference_and_differs_from_the_reference():
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = network.forward_propagation_n(X, Y, parameters)
    buggy = network.buggy_backward_propagation_n(X, Y, cache)
    reference = reference_backward(X, Y, cache)
    for block in ("dW1", "db2", "dW3", "db3"):
        np.testing.assert_allclose(buggy[block], reference[block], rtol=1e-12)
    np.testing.assert_allclose(buggy["dW2"], 2 * reference["dW2"], rtol=1e-12)
    np.testing.assert_allclose(buggy["db1"], 4 * reference["db1"], rtol=1e-12)
    assert PUBLISHED_DIFFERENCE_N_BUGGY > 0.2


def _student_readable_texts():
    """(where, text) of every file a student gets: course_utils and the release notebooks."""
    for path in sorted(Path(course_utils.__file__).parent.glob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted(RELEASE.glob("*.ipynb")):
        for index, cell in enumerate(_cells(path)):
            yield f"{path.relative_to(ROOT)} cell {index}", cell.source


def test_the_correct_backprop_is_not_written_anywhere_a_student_reads():
    for where, text in _student_readable_texts():
        for line in CORRECT_LINES:
            assert not line.search(text), f"{where} writes a corrected line: {line.pattern}"
        assert "instructor" not in text, where


def test_in_the_source_notebooks_it_lives_only_in_solutions_and_hidden_tests():
    """The instructor's model fix (a solution) and the hidden tests' imports of the reference
    are the only places; both are stripped from the release."""
    written = 0
    for path in sorted(SOURCE.glob("*.ipynb")):
        for cell in _cells(path):
            outside = SOLUTION.sub("", HIDDEN.sub("", cell.source))
            for line in CORRECT_LINES:
                assert not line.search(outside), f"{path.name}: {cell.source[:60]}"
                written += bool(line.search(cell.source))
            assert "instructor" not in outside, path.name
    # Notebook 3's model fix writes both lines out (never "divide the buggy outputs").
    assert written >= 2


def _numbers_in(source):
    """Every numeric literal in some code."""
    tree = ast.parse(source)
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and type(node.value) in (int, float)}


def test_the_hunted_backprop_has_no_odd_constant_and_wrong_blocks_of_its_own(load_notebook):
    """Notebook 3's backprop: no stray factor for a glance to find (the classic's `* 2` and
    `4 / m`), and its bugs are wrong blocks the classic's are not."""
    name = "subtly_buggy_backward_propagation_n"
    (given,) = [c.source for c in _cells(SOURCE / "03_debug_buggy_backprop.ipynb")
                if c.metadata.get("nbgrader", {}).get("grade_id") == name]
    subtle = load_notebook("03")[name]
    assert _numbers_in(given) <= {0.0, 1}  # axis=1 and np.where's 0.0 only
    assert _numbers_in(inspect.getsource(network.buggy_backward_propagation_n)) >= {2, 4}
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = network.forward_propagation_n(X, Y, parameters)
    reference = reference_backward(X, Y, cache)

    def wrong(gradients):
        return {k for k in reference if not np.allclose(gradients[k], reference[k])}

    assert wrong(network.buggy_backward_propagation_n(X, Y, cache)) == {"dW2", "db1"}
    hunted = wrong(subtle(X, Y, cache))
    assert 2 <= len(hunted) < len(reference) and not hunted & {"dW2"}


def test_no_backprop_a_student_can_read_passes_the_course_case():
    """Every (X, Y, cache) function in course_utils or a release notebook fails the reference."""
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = network.forward_propagation_n(X, Y, parameters)
    expected = gradients_to_vector(reference_backward(X, Y, cache))
    candidates = [
        function
        for module in vars(course_utils).values()
        if inspect.ismodule(module) and module.__name__.startswith("course_utils.")
        for function in vars(module).values()
        if inspect.isfunction(function)
        and list(inspect.signature(function).parameters) == ["X", "Y", "cache"]
    ]
    namespace = {"np": np, **vars(course_utils)}
    for path in sorted(RELEASE.glob("*.ipynb")):
        for cell in _cells(path):
            if cell.cell_type != "code" or "def " not in cell.source:
                continue
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef) and [a.arg for a in node.args.args] == [
                    "X", "Y", "cache"
                ]:
                    exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
                    candidates.append(namespace[node.name])
    assert len(candidates) >= 2  # the package's buggy backprop and the release stub at least
    for function in candidates:
        try:
            grad = gradients_to_vector(function(X, Y, cache))
        except (NotImplementedError, AttributeError, KeyError, TypeError, ValueError):
            # A stub, or a backprop of another network (notebook 4's stand-ins): either way
            # it does not give the course network's correct gradients.
            continue
        assert not np.allclose(grad, expected, rtol=1e-5, atol=1e-8), function.__qualname__
