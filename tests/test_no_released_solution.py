"""No released file solves a graded cell.

Students read the release notebooks and install ``course_utils``. A function there that
computed a graded function's answer would score when pasted into the answer cell (or
imported). For each graded function (the top-level functions of the source notebooks' solution
cells, as the judge names them), every function a student is handed is substituted wherever
it fits:

* each function defined in a release notebook, its source pasted into the graded notebook
  (with the definitions of its own notebook that the graded one lacks), as a student would;
* each public function of a ``course_utils`` module, called as it is;

each called with the graded call's positional arguments, or through a wrapper with the graded
signature that passes them by parameter name, and may hand on one function the reference
solution itself calls (``centered_gradient(forward, X, Y, parameters, epsilon)`` wrapped as
``numerical_gradient_n`` with ``forward=forward_propagation_n``).

The graded function's hidden tests then run on the substitute, the way the judge runs them
(``instructor.judge``: the grader-side namespace of ``course_utils``, the notebook's given
definitions and the other graded functions, the test cell's code after its visible checks),
and each substitute must fail them. The harness is proven able to pass: the reference
solutions pass the same hidden tests through it, each way.

The test reads the notebooks when it runs: a function added to a release notebook or to
``course_utils`` later is tried too.
"""

import ast
import contextlib
import functools
import importlib
import inspect
import io
import pkgutil
import signal
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

import course_utils
from course_utils import CheckFailed, HiddenChecks
from instructor import cells, judge

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "gradient_checking"
RELEASE = ROOT / "release" / "gradient_checking"
# A substitute still running after this long is stopped; it fails, as a call past the judge's
# time limit does.
RUN_SECONDS = 5
# Graded functions whose answer is their first argument, unchanged (dJ/dtheta = x for
# J = theta x): any function that hands back its first argument answers them, whatever it was
# written for (course_utils.wire's encode and decode do, for numbers: plain data crosses the
# sandbox's wall as it is). Such a substitute is no released solution; any other still fails.
ANSWER_IS_THE_FIRST_ARGUMENT = {"01:backward_propagation"}
IDENTITY_PROBES = [(2.0, 4.0), (-3.0, 0.25), (1e3, -1e-3), (7, -2)]


class FirstFailure(Exception):
    """Raised at a hidden test's first failed check: the cell already scores nothing."""


class StopAtFirstFailure(HiddenChecks):
    """HiddenChecks that stops at the first failure (one failure zeroes the cell; the rest of
    the hidden tests would only cost time)."""

    def expect(self, label, ok, **details):
        if not super().expect(label, ok, **details):
            raise FirstFailure(label)
        return True

    def fail(self, label, **details):
        super().fail(label, **details)
        raise FirstFailure(label)


@dataclass(frozen=True)
class GradedFunction:
    """A graded function and the test code the judge runs on it."""

    notebook: str
    name: str
    required: int  # required positional arguments of the reference solution
    signature: str  # the reference's parameter list, as written
    parameters: tuple  # its parameter names
    helpers: tuple  # names the reference solution reads: what a wrapper could hand on
    setup: str  # the visible part of the test cell without its visible-check calls
    hidden: str  # the hidden part: the hidden tests and hidden.finish()

    def __str__(self):
        return f"{self.notebook[:2]}:{self.name}"


def _is_visible_check(node):
    """A top-level call of a visible check: ``<something>_test(...)``."""
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id.endswith("_test"))


def _reference_arguments(source, name):
    """(required positional count, parameter list, parameter names, names read) of the
    reference solution."""
    (node,) = [n for n in ast.parse(source).body
               if isinstance(n, ast.FunctionDef) and n.name == name]
    arguments = node.args
    names = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
    required = len(arguments.posonlyargs) + len(arguments.args) - len(arguments.defaults)
    read = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                   and isinstance(n.ctx, ast.Load)} - set(names) - {name})
    return required, ast.unparse(arguments), tuple(names), tuple(read)


def _solution_sources(nb):
    return [cell.source for cell in nb.cells if cells.is_autograded_answer(cell)]


@functools.cache
def graded_functions():
    """Every graded function of the source notebooks, with its test cell's code."""
    graded = []
    for path in sorted(SOURCE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in judge.test_cells(nb)}
        solutions = "\n".join(_solution_sources(nb))
        for name in judge.student_functions(nb):
            visible, hidden = judge.split_test(cells[f"{name}_tests"].source)
            tree = ast.parse(visible)
            tree.body = [node for node in tree.body if not _is_visible_check(node)]
            graded.append(GradedFunction(path.name, name, *_reference_arguments(solutions, name),
                                         ast.unparse(tree), hidden))
    return graded


@functools.cache
def _reference_namespace(notebook):
    """The grader's namespace for a notebook's tests, with the reference solutions in it."""
    nb = nbformat.read(SOURCE / notebook, as_version=4)
    namespace = {"__name__": "__substitution__", "np": np}
    with contextlib.redirect_stdout(io.StringIO()):
        exec("from course_utils import *", namespace)
        for source in [*judge.given_definitions(nb), *_solution_sources(nb)]:
            exec(compile(source, f"<{notebook}>", "exec"), namespace)
    return namespace


@dataclass(frozen=True)
class Candidate:
    """A function a student is handed, and how it would reach the answer cell."""

    origin: str  # "release/<notebook>" or the course_utils module
    name: str
    source: str | None = None  # the definition to paste (release notebooks)
    support: tuple = ()  # the definitions of its notebook, pasted with it when missing
    function: object = None  # the function itself (course_utils)

    def __str__(self):
        return f"{self.origin}:{self.name}"


def _definitions(cell_source):
    """Top-level imports, classes, functions and constant assignments of a code cell."""
    lines = [line for line in cell_source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    kept = []
    for node in tree.body:
        constant = (isinstance(node, ast.Assign) and all(
            isinstance(sub, ast.Constant | ast.Tuple | ast.UnaryOp | ast.operator | ast.unaryop
                       | ast.expr_context | ast.BinOp) for sub in ast.walk(node.value)))
        definition = ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef
        if isinstance(node, definition) or constant:
            kept.append(node)
    return kept


@functools.cache
def release_candidates():
    """Every top-level function of every release notebook (given, stub or demo cell)."""
    candidates = []
    for path in sorted(RELEASE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nodes = [node for cell in nb.cells if cell.cell_type == "code"
                 for node in _definitions(cell.source)]
        support = tuple(ast.unparse(node) for node in nodes)
        for node in nodes:
            if isinstance(node, ast.FunctionDef):
                candidates.append(Candidate(f"release/{path.name}", node.name,
                                            source=ast.unparse(node), support=support))
    return candidates


@functools.cache
def course_utils_candidates():
    """Every public function defined in a course_utils module."""
    candidates, seen = [], set()
    for module_info in pkgutil.iter_modules(course_utils.__path__):
        module = importlib.import_module(f"course_utils.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            if id(function) not in seen:
                seen.add(id(function))
                candidates.append(Candidate(module.__name__, name, function=function))
    return candidates


def _defined_name(source):
    node = ast.parse(source).body[0]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [node.name]


def _by_name(graded, function, namespace, helper=None):
    """A wrapper with the graded function's signature that passes ``function`` the arguments
    named as its parameters are, and ``helper`` (a function the reference solution calls, by
    name) for the one required parameter left; None when the parameters do not work out so.

    Defined in the notebook's namespace, as a student's wrapper around a handed-out function
    would be: names the checks swap reach the wrapper's globals, not the function's."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    passed, left = [], []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name in graded.parameters and parameter.kind != parameter.POSITIONAL_ONLY:
            passed.append(f"{parameter.name}={parameter.name}")
        elif parameter.default is parameter.empty:
            left.append(parameter)
    if helper is not None:
        if len(left) != 1 or left[0].kind == left[0].POSITIONAL_ONLY:
            return None
        passed.append(f"{left[0].name}={helper}")
    elif left or not passed:
        return None
    namespace["handed_out_function"] = function
    call = ", ".join(passed)
    exec(f"def {graded.name}({graded.signature}):\n    return handed_out_function({call})",
         namespace)
    return namespace[graded.name]


def substituted_namespace(graded, candidate, by_name=False, helper=None):
    """The grader's namespace with ``candidate`` standing for ``graded``: called with the
    graded call's positional arguments, or (``by_name``) through a wrapper that passes them by
    name (and ``helper`` for one more); None when they do not bind to it."""
    namespace = dict(_reference_namespace(graded.notebook))
    if candidate.function is not None:
        function = candidate.function
    else:
        # Pasted into the answer cell: it shares the notebook's globals, as a student's would,
        # with whatever of its own notebook it needs and the graded notebook lacks.
        with contextlib.redirect_stdout(io.StringIO()):
            for source in candidate.support:
                if not set(_defined_name(source)) <= set(namespace):
                    with contextlib.suppress(Exception):
                        exec(source, namespace)
            exec(candidate.source, namespace)
        function = namespace[candidate.name]
    if by_name:
        function = _by_name(graded, function, namespace, helper)
        if function is None:
            return None
    else:
        try:
            inspect.signature(function).bind(*range(graded.required))
        except (TypeError, ValueError):
            return None
    namespace[graded.name] = function
    return namespace


def _interrupt(signum, frame):
    raise KeyboardInterrupt("ran past the substitution test's time limit")


def hidden_tests_pass(graded, namespace):
    """Run the graded function's hidden tests in ``namespace``: True when they all pass."""
    namespace["HiddenChecks"] = StopAtFirstFailure
    previous = signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, RUN_SECONDS)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                np.errstate(all="ignore"):
            exec(compile(graded.setup, f"<{graded} setup>", "exec"), namespace)
            exec(compile(graded.hidden, f"<{graded} hidden>", "exec"), namespace)
    except (FirstFailure, CheckFailed, KeyboardInterrupt):
        return False
    except Exception:  # the grader could not finish the cell: it scores nothing
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        plt.close("all")
    return True


def test_every_notebook_has_graded_functions_and_handed_out_functions():
    """The inputs the substitution test runs on exist: a vacuous run would prove nothing."""
    graded = graded_functions()
    assert {g.notebook for g in graded} == {p.name for p in SOURCE.glob("*.ipynb")}
    assert all(g.hidden.strip() for g in graded)
    assert {c.origin for c in release_candidates()} == {
        f"release/{p.name}" for p in RELEASE.glob("*.ipynb")}
    assert len(course_utils_candidates()) > 20


def _returns_its_first_argument(function):
    try:
        return all(function(*probe) is probe[0] or function(*probe) == probe[0]
                   for probe in IDENTITY_PROBES)
    except Exception:
        return False


@pytest.mark.parametrize(
    ("graded", "by_name"),
    # A function without parameters is called the same way both ways.
    [(g, by_name) for g in graded_functions() for by_name in (False, True)
     if g.parameters or not by_name],
    ids=lambda value: {False: "positional", True: "by name"}.get(value, str(value)),
)
def test_a_pasted_solution_passes_through_the_substitution(graded, by_name):
    """The harness can report a pass: the reference solution, pasted under another name as a
    handed-out function would be, passes the hidden tests."""
    nb = nbformat.read(SOURCE / graded.notebook, as_version=4)
    (node,) = [n for source in _solution_sources(nb) for n in ast.parse(source).body
               if isinstance(n, ast.FunctionDef) and n.name == graded.name]
    node.name = "pasted_solution"
    candidate = Candidate("the source notebook", node.name, source=ast.unparse(node))
    namespace = substituted_namespace(graded, candidate, by_name)
    assert namespace is not None and hidden_tests_pass(graded, namespace)


def _callable_helpers(graded):
    """The functions the reference solution reads, by name (not classes, not numpy)."""
    reference = _reference_namespace(graded.notebook)
    return [name for name in graded.helpers if inspect.isfunction(reference.get(name))]


@pytest.mark.parametrize("graded", [g for g in graded_functions() if _callable_helpers(g)],
                         ids=str)
def test_a_pasted_solution_taking_a_helper_passes_through_the_substitution(graded):
    """The third way can report a pass: the reference solution with a helper it calls made a
    parameter (as notebook 4's centered_gradient takes its forward function), wrapped."""
    helper = _callable_helpers(graded)[0]
    nb = nbformat.read(SOURCE / graded.notebook, as_version=4)
    (node,) = [n for source in _solution_sources(nb) for n in ast.parse(source).body
               if isinstance(n, ast.FunctionDef) and n.name == graded.name]
    node.name = "pasted_solution"
    node.args.args.insert(0, ast.arg(helper))
    candidate = Candidate("the source notebook", node.name, source=ast.unparse(node))
    namespace = substituted_namespace(graded, candidate, by_name=True, helper=helper)
    assert namespace is not None and hidden_tests_pass(graded, namespace)


@pytest.mark.parametrize("name", sorted(ANSWER_IS_THE_FIRST_ARGUMENT))
def test_the_exempt_answers_are_the_first_argument(name):
    """The exemption holds only where the reference solution hands back its first argument."""
    (graded,) = [g for g in graded_functions() if str(g) == name]
    assert _returns_its_first_argument(_reference_namespace(graded.notebook)[graded.name])


@pytest.mark.parametrize("graded", graded_functions(), ids=str)
def test_no_handed_out_function_passes_the_hidden_tests(graded):
    """Every release-notebook and course_utils function that fits fails the hidden tests."""
    passing, tried = [], 0
    ways = [(False, None), (True, None),
            *((True, helper) for helper in _callable_helpers(graded))]
    for candidate in [*release_candidates(), *course_utils_candidates()]:
        for by_name, helper in ways:
            namespace = substituted_namespace(graded, candidate, by_name, helper)
            if namespace is None:
                continue
            tried += 1
            if not hidden_tests_pass(graded, namespace):
                continue
            if str(graded) in ANSWER_IS_THE_FIRST_ARGUMENT and _returns_its_first_argument(
                    namespace[graded.name]):
                continue
            way = f"by name, with {helper}" if helper else "by name" if by_name else "positional"
            passing.append(f"{candidate} ({way})")
    assert tried > 0
    assert not passing, f"{graded} is solved by handed-out functions: {passing}"


def hands_back_its_first_argument(x, theta):
    """A module-level function, as a course_utils one is, that returns its first argument."""
    return x


def test_a_module_function_that_returns_the_answer_passes_through_the_substitution():
    """The course_utils path can report a pass too: a module-level function computing the
    answer of a graded function (here backward_propagation's) passes its hidden tests."""
    (graded,) = [g for g in graded_functions() if str(g) == "01:backward_propagation"]
    candidate = Candidate(__name__, "hands_back_its_first_argument",
                          function=hands_back_its_first_argument)
    namespace = substituted_namespace(graded, candidate)
    assert namespace is not None and hidden_tests_pass(graded, namespace)
