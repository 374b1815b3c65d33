"""The example class: good and bad submissions generated from the notebooks themselves.

Every student starts from the released notebooks; answer cells are filled from the
source solutions (matched by grade_id, solution regions only, so hidden tests are
never copied). Each student then breaks one thing on purpose. Because nothing is
typed in by hand, the class follows the notebooks when they change.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat

from course_utils import PUBLISHED_DIFFERENCE_1D, PUBLISHED_DIFFERENCE_N_BUGGY
from instructor.cells import BEGIN_SOLUTION, END_SOLUTION, grade_id, is_answer, is_test
from instructor.course import CONFIG_FILE, notebook_names
from instructor.limits import MAX_KERNEL_MESSAGE_BYTES

# The function the wrong_types student breaks, and the published numbers the
# hard_coded student pastes instead of computing them.
WRONG_TYPE_FUNCTION = "gradient_check"
PUBLISHED_RESULTS = {
    "gradient_check": PUBLISHED_DIFFERENCE_1D,
    "gradient_check_n": PUBLISHED_DIFFERENCE_N_BUGGY,
}

Notebooks = dict[str, object]  # file name -> NotebookNode, raw text (str), Symlink or absent


class Symlink(str):
    """A submitted entry that is a symbolic link to this target, not a file."""


# Code the attacking students add to a cell. Each tries what a determined student would,
# and must get nowhere: grading runs it in the sandbox and judges tests outside it.
PATCH_CHECKS = """
import course_utils, course_utils.runner, os
# Make every check, visible or hidden, pass whatever the answers (and only when graded).
if os.environ.get("NBGRADER_EXECUTION", "autograde") == "autograde":
    course_utils.runner.Checker.finish = lambda self: None
    course_utils.runner.HiddenChecks.finish = lambda self: None
    for _name in dir(course_utils):
        if _name.endswith("_test"):
            globals()[_name] = lambda *args, **kwargs: None
"""
SHADOW_PACKAGE = (
    '"""A planted course_utils: every check passes."""\n\n\n'
    "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"
)
SHADOW_LAUNCHER = "raise SystemExit('a planted ipykernel_launcher ran')\n"
TOUCH_THE_CLASS = """
import glob, os
# Look for the gradebook, grades, classmates' folders and the instructor's notebooks, and
# spoil what can be found.
_found = []
for _pattern in ("/proc/*/cwd", "/tmp", "/work", "/root", "/home", ".."):
    for _root in glob.glob(_pattern)[:50]:
        for _name in ("gradebook.db", "grades.csv", "submitted", "feedback", "notebooks"):
            _found += glob.glob(os.path.join(_root, "*", _name))[:20]
            _found += glob.glob(os.path.join(_root, _name))
for _path in _found:
    try:
        if os.path.isdir(_path):
            open(os.path.join(_path, "planted.txt"), "w").write("spoiled")
        else:
            open(_path, "a").write("spoiled")
    except OSError:
        pass
"""
LEAK_SECRETS = """
import glob
# Print the instructor's notebooks (hidden tests, solutions) into my own feedback.
for _root in ("/work", "/tmp", "/root", "/home", ".."):
    for _path in glob.glob(_root + "/**/notebooks/gradient_checking/*.ipynb", recursive=True)[:5]:
        try:
            print(open(_path).read()[:100000])
        except OSError:
            pass
print(globals().get("In", ""))
"""
KILL_THE_GRADER = """
import os, signal
for _pid in (os.getppid(), 1):
    try:
        os.kill(_pid, signal.SIGKILL)
    except OSError:
        pass
"""
LINGER = """
import os, time
# A daemon that outlives the kernel and rewrites the grades after grading ends.
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3)
        for _path in ("../../grades.csv", "/tmp/grades.csv"):
            try:
                open(_path, "a").write("forged,99,99\\n")
            except OSError:
                pass
    os._exit(0)
"""
HOG = """
try:
    _hog = bytearray(64 * 2**30)  # more memory than the machine has
except MemoryError:
    _hog = None
import os
for _ in range(500):  # a fork bomb, bounded by the sandbox's process cap
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        import time
        time.sleep(5)
        os._exit(0)
"""
# Script for the instructor's browser: Formgrader and feedback pages show what a cell displayed.
SCRIPT_MARK = "studentPayload"
SCRIPT_IN_OUTPUTS = f"""
from IPython.display import HTML, display
display(HTML("<script>{SCRIPT_MARK}()</script><img src=x onerror='{SCRIPT_MARK}()'>"))
display({{"image/png": "iVBORw0KGgo="}}, raw=True,
        metadata={{"image/png": {{"width": "1 onerror={SCRIPT_MARK}()"}}}})
"""
SCRIPT_IN_MARKDOWN = (
    f'My notes <script>{SCRIPT_MARK}()</script> <img src=x onerror="{SCRIPT_MARK}()">'
)
# Publishes only when the judge calls (from course_utils.wire's serve, after the notebook's
# last cell): messages over the grader's size cap and many within it, in the hope that the
# grader keeps them all. Every function the cell defines is wrapped; format with sizes=[...].
SWELL_WHEN_JUDGED = """
import functools as _functools, sys as _sys
from IPython.display import display as _display
_SWOLLEN = []
def _swelling(function, sizes):
    @_functools.wraps(function)
    def swollen(*args, **kwargs):
        frame, judged = _sys._getframe(1), False
        while frame is not None:
            judged = judged or frame.f_code.co_name == "_serve"
            frame = frame.f_back
        if judged and not _SWOLLEN:
            _SWOLLEN.append(True)
            for size in sizes:
                _display({{"text/plain": "x" * size}}, raw=True)
        return function(*args, **kwargs)
    return swollen
for _name, _value in list(globals().items()):
    if callable(_value) and getattr(_value, "__module__", None) == "__main__" \\
            and not _name.startswith("_"):
        globals()[_name] = _swelling(_value, {sizes})
"""
# The example class's swelling student: 200 messages of 1 MiB, then one over the cap on a
# kernel's message (twice it, so the cap, not a rounding, refuses it).
SWELL_SIZES = [2**20] * 200 + [2 * MAX_KERNEL_MESSAGE_BYTES]
# 64 files of 16 MiB less a byte (under the file-size cap) in the work folder: 1 GiB.
FILL_THE_DISK = """
try:
    for _number in range(64):
        with open(f"fill-{_number}.bin", "wb") as _fill:
            for _ in range(16):
                _fill.write(bytes(2**20 - (_ == 15)))
except OSError:
    pass
"""
# check_gradients (notebook 4) that checks nothing. Each tries one way to learn the verdicts
# from the grader's functions instead; each must score nothing on the hidden cases.
CHEAT_HEAD = '''
def check_gradients(forward_propagation_n, backward_propagation_n, parameters, X, Y):
    """Verdicts learnt from the grader's functions, not from any gradient check."""
    import numpy as np
    names = list(parameters)
'''
# The visible checks' functions said where the bug was (logcosh_backward_n_doubled_W2).
CHEAT_BY_NAME = CHEAT_HEAD + '''
    said = " ".join(str(getattr(backward_propagation_n, attribute, "") or "")
                    for attribute in ("__name__", "__qualname__", "__doc__"))
    verdicts = {name: "ok" for name in names}
    if "buggy" in said:
        verdicts.update(W2="bug", b1="bug")
    for name in names:
        if f"_{name}" in said or f" d{name}" in said:
            verdicts[name] = "bug"
    return verdicts
'''
# Keep every backprop the grader hands over and, in each later call, ask the earlier ones
# (a correct reference among them) on this call's cache, to compare with the one under test.
CHEAT_KEEP_REFERENCE = CHEAT_HEAD + '''
    kept = globals().setdefault("_KEPT_BACKWARD", [])
    _, cache = forward_propagation_n(X, Y, parameters)
    mine = backward_propagation_n(X, Y, cache)
    verdicts = {name: "ok" for name in names}
    for earlier in kept:
        try:
            reference = earlier(X, Y, cache)
            verdicts = {name: "ok" if np.shape(mine.get("d" + name))
                        == np.shape(reference["d" + name])
                        and np.allclose(mine["d" + name], reference["d" + name]) else "bug"
                        for name in names}
        except Exception:
            continue
    if getattr(backward_propagation_n, "__module__", "") == "course_utils.wire":
        kept.append(backward_propagation_n)
    return verdicts
'''
# Provoke the grader's function into an error and read the case in its message.
CHEAT_ERROR_TEXT = CHEAT_HEAD + '''
    try:
        backward_propagation_n(X, Y, "which case is this?")
        said = ""
    except Exception as error:
        said = str(error)
    return {name: "bug" if f"d{name}" in said else "ok" for name in names}
'''
# Make the grader's backprop work on a crafted 3 MB cache of int8 and long double arrays
# (no BLAS for those), shaped to broadcast into large products.
CHEAT_CALLBACK_ABUSE = CHEAT_HEAD + '''
    big = [np.ones((1, 1500), dtype=np.int8), np.ones((1500, 1), dtype=np.longdouble)] * 6
    for _ in range(3):
        try:
            backward_propagation_n(np.ones((1500, 1)), np.ones((1, 1500)), tuple(big))
        except Exception:
            pass
    return {name: "ok" for name in names}
'''
# The student of each, and the function of notebook 4 it answers.
CHEATED_FUNCTION = "check_gradients"
NOTEBOOK_4_CHEATS = {
    "cheat_by_name": CHEAT_BY_NAME,
    "cheat_keeps_reference": CHEAT_KEEP_REFERENCE,
    "cheat_error_text": CHEAT_ERROR_TEXT,
    "callback_abuse": CHEAT_CALLBACK_ABUSE,
}
FORGE_CSV = 'raise type("Forged\\nmallory,22,22,22,22,ok", (Exception,), {})("row")'
DEBUG_TO_STDERR = 'import sys\nprint("debug: checking", file=sys.stderr)\n'

def _stubs(config_file: Path = CONFIG_FILE) -> tuple[list[str], list[str]]:
    """Return the code and text stubs nbgrader puts where solutions were, as lines."""
    from traitlets.config import PyFileConfigLoader

    config = PyFileConfigLoader(Path(config_file).name, path=str(Path(config_file).parent))
    solutions = config.load_config().ClearSolutions
    default_code = "# YOUR CODE HERE\nraise NotImplementedError()"
    code = solutions.get("code_stub", {}).get("python", default_code)
    text = solutions.get("text_stub", "YOUR ANSWER HERE")
    return code.splitlines(), text.splitlines()


def solution_regions(source: str) -> list[list[str]] | None:
    """Return the lines between each BEGIN/END SOLUTION pair, or None when there are no markers."""
    regions, current = [], None
    for line in source.splitlines():
        # Found as nbgrader's ClearSolutions finds them: anywhere in a line.
        if BEGIN_SOLUTION in line:
            current = []
        elif END_SOLUTION in line:
            regions.append(current or [])
            current = None
        elif current is not None:
            current.append(line)
    return regions if regions else None


def fill_answer(released: str, source: str, stub: list[str]) -> str:
    """Put the source's solution regions where the release has stubs.

    Parameters
    ----------
    released : str
        The released answer cell (stubs in place of solutions).
    source : str
        The same cell (same grade_id) in the instructor's source notebook.
    stub : list of str
        The stub lines nbgrader wrote for each solution region.
    """
    regions = solution_regions(source)
    if regions is None:
        # Without markers nbgrader replaces the whole cell by the stub.
        return source
    lines, out, index = released.splitlines(), [], 0
    i = 0
    while i < len(lines):
        window = [line.strip() for line in lines[i : i + len(stub)]]
        if window == [s.strip() for s in stub] and index < len(regions):
            out.extend(regions[index])
            index += 1
            i += len(stub)
        else:
            out.append(lines[i])
            i += 1
    if index != len(regions):
        raise ValueError(
            f"answer cell has {len(regions)} solution regions in the source but "
            f"{index} stubs in the release:\n{released}"
        )
    return "\n".join(out)


def solve(released, source, config_file: Path = CONFIG_FILE):
    """Return a copy of the released notebook with every answer cell solved from `source`."""
    code_stub, text_stub = _stubs(config_file)
    solutions = {grade_id(c): c for c in source.cells if is_answer(c)}
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if not is_answer(cell):
            continue
        answer_id = grade_id(cell)
        if answer_id not in solutions:
            raise KeyError(f"answer cell {answer_id!r} of the release is not in the source")
        stub = code_stub if cell.cell_type == "code" else text_stub
        cell.source = fill_answer(cell.source, solutions[answer_id].source, stub)
    return nb


def _first(cells, predicate, what: str, name: str):
    for cell in cells:
        if predicate(cell):
            return cell
    raise ValueError(f"{name} has no {what}; the example class needs one")


def _function_cell(notebooks: Notebooks, function: str):
    """Return the answer cell that defines `function`."""
    pattern = re.compile(rf"^\s*def {re.escape(function)}\(", re.MULTILINE)
    for nb in notebooks.values():
        for cell in getattr(nb, "cells", []):
            if is_answer(cell) and cell.cell_type == "code" and pattern.search(cell.source):
                return cell
    raise ValueError(
        f"no answer cell defines {function}() in {sorted(notebooks)}; "
        "update the example class in instructor/example_class.py"
    )


def _defines(nb, function: str) -> bool:
    """Whether an answer cell of ``nb`` defines ``function``."""
    try:
        _function_cell({"nb": nb}, function)
    except ValueError:
        return False
    return True


def _function_node(source: str, function: str) -> ast.FunctionDef:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return node
    raise ValueError(f"{function}() not found in:\n{source}")


def _replace_segments(source: str, nodes, rewrite: Callable[[str], str]) -> str:
    """Rewrite the source text of each AST node, last first so offsets stay valid."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    # ast offsets count UTF-8 bytes; the sources here are ASCII around returns.
    spans = sorted(
        (
            (starts[n.lineno - 1] + n.col_offset, starts[n.end_lineno - 1] + n.end_col_offset)
            for n in nodes
        ),
        reverse=True,
    )
    for begin, end in spans:
        source = source[:begin] + rewrite(source[begin:end]) + source[end:]
    return source


def return_as_matrix(cell, function: str) -> None:
    """Make `function` return np.array([[value]]) instead of value (a wrong type)."""
    node = _function_node(cell.source, function)
    values = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
    cell.source = "import numpy as np\n" + _replace_segments(
        cell.source, values, lambda text: f"np.array([[{text}]])"
    )


def return_constant(cell, function: str, value: float) -> None:
    """Replace the body of `function` by `return value` (a hard-coded answer)."""
    node = _function_node(cell.source, function)
    lines = cell.source.splitlines()
    body = node.body
    indent = " " * body[0].col_offset
    lines[body[0].lineno - 1 : node.end_lineno] = [f"{indent}return {value!r}"]
    cell.source = "\n".join(lines)


# The visible_only student's mistake: the norm of the sum instead of the sum of the norms.
# It agrees whenever grad and gradapprox point the same way, as in every visible check,
# and breaks when they do not (a hidden test flips a gradient's sign).
SUM_OF_NORMS = "np.linalg.norm(grad) + np.linalg.norm(gradapprox)"
NORM_OF_SUM = "np.linalg.norm(grad + gradapprox)"


def replace_text(cell, old: str, new: str, function: str) -> None:
    """Replace `old` by `new` in the answer cell defining `function`, which must contain it."""
    if old not in cell.source:
        raise ValueError(
            f"the solution of {function}() no longer contains {old!r}; "
            "update the example class in instructor/example_class.py"
        )
    cell.source = cell.source.replace(old, new)


def _append(cell, code: str) -> None:
    cell.source = cell.source.rstrip() + "\n" + code


def example_class(solved: Notebooks, blank: Notebooks, source_dir=None) -> dict[str, Notebooks]:
    """Define the example students: student_id -> {notebook file name: content}.

    A content is a NotebookNode, or a str written as is (for a notebook that is not
    JSON); a notebook left out of the dict is missing from the submission.
    """
    names = sorted(solved)
    first, second = names[0], names[1] if len(names) > 1 else names[0]
    last = names[-1]

    def students_copy() -> Notebooks:
        return copy.deepcopy(solved)

    def first_answer(nbs: Notebooks, name: str):
        return _first(
            nbs[name].cells, lambda c: is_answer(c) and c.cell_type == "code", "answer cell", name
        )

    def first_test(nbs: Notebooks, name: str):
        return _first(nbs[name].cells, is_test, "test cell", name)

    students: dict[str, Notebooks] = {}
    students["full_solution"] = students_copy()
    students["first_notebook_only"] = {**copy.deepcopy(blank), first: copy.deepcopy(solved[first])}
    students["blank_release"] = copy.deepcopy(blank)

    nbs = students_copy()
    return_as_matrix(_function_cell(nbs, WRONG_TYPE_FUNCTION), WRONG_TYPE_FUNCTION)
    students["wrong_types"] = nbs

    nbs = students_copy()
    for function, value in PUBLISHED_RESULTS.items():
        return_constant(_function_cell(nbs, function), function, value)
    students["hard_coded"] = nbs

    nbs = students_copy()
    for function in PUBLISHED_RESULTS:
        replace_text(_function_cell(nbs, function), SUM_OF_NORMS, NORM_OF_SUM, function)
    students["visible_only"] = nbs

    nbs = students_copy()
    # After the solution, so the loop is the only thing wrong: the timeout must
    # interrupt it and let the rest of the notebook run.
    _append(first_answer(nbs, first), "while True:\n    pass")
    students["infinite_loop"] = nbs

    nbs = students_copy()
    for cell in nbs[first].cells:
        if is_answer(cell) and cell.cell_type == "code":
            _append(cell, "def unfinished(:")
    students["syntax_error"] = nbs

    nbs = students_copy()
    first_test(nbs, first).source = "pass"
    students["test_cell_edited"] = nbs

    nbs = students_copy()
    nbs[first].cells.remove(first_test(nbs, first))
    students["test_cell_deleted"] = nbs

    nbs = students_copy()
    first_test(nbs, first).metadata.nbgrader.points = 100
    students["points_raised"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, second), "import os\nos._exit(1)")
    students["kernel_dies"] = nbs

    nbs = students_copy()
    text = nbformat.writes(nbs[last])
    nbs[last] = text[: len(text) // 2]  # cut mid-file, as an interrupted upload would
    students["invalid_json"] = nbs

    nbs = students_copy()
    del nbs[second]
    students["missing_notebook"] = nbs

    nbs = students_copy()
    # Every test cell of the first notebook then dies on a NameError, whose traceback
    # quotes the whole cell, hidden tests included: feedback must still not show them.
    nbs[first].cells.remove(
        _first(nbs[first].cells, lambda c: "import" in c.source and c.cell_type == "code",
               "code cell with imports", first)
    )
    students["imports_deleted"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), "print('x' * 4_000_000)")
    students["huge_output"] = nbs

    # Attacks: each must score what its answers deserve (nothing, for blank answers).
    nbs = copy.deepcopy(blank)
    _append(first_answer(nbs, first), PATCH_CHECKS)
    students["patched_checks"] = nbs

    nbs = copy.deepcopy(blank)
    nbs["course_utils/__init__.py"] = SHADOW_PACKAGE
    nbs["ipykernel_launcher.py"] = SHADOW_LAUNCHER
    students["shadow_package"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), TOUCH_THE_CLASS)
    students["touches_the_class"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, last), LEAK_SECRETS)
    students["leak_attempt"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), KILL_THE_GRADER)
    students["kills_the_grader"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), LINGER)
    students["lingering_daemon"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), HOG)
    students["resource_hog"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), FORGE_CSV)
    students["forged_csv_row"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), SWELL_WHEN_JUDGED.format(sizes=SWELL_SIZES))
    students["swells_when_judged"] = nbs

    nbs = students_copy()
    _append(first_answer(nbs, first), FILL_THE_DISK)
    students["fills_the_disk"] = nbs

    # Notebook 4's checker, answered from the grader's functions instead of by checking.
    if any(_defines(nb, CHEATED_FUNCTION) for nb in solved.values()):
        for student, cheat in NOTEBOOK_4_CHEATS.items():
            nbs = students_copy()
            cell = _function_cell(nbs, CHEATED_FUNCTION)
            cell.source = cheat.strip() + "\n"
            students[student] = nbs

    nbs = students_copy()
    answer = first_answer(nbs, first)
    _append(answer, SCRIPT_IN_OUTPUTS)
    notes = nbformat.v4.new_markdown_cell(SCRIPT_IN_MARKDOWN)
    nbs[first].cells.insert(nbs[first].cells.index(answer) + 1, notes)
    students["script_for_the_grader"] = nbs

    if source_dir is not None:
        # A link to the instructor's copy (solutions, hidden tests): it must not be followed.
        nbs = students_copy()
        nbs[first] = Symlink(Path(source_dir).resolve() / first)
        students["symlinked_source"] = nbs

    # Honest quirks: right answers, odd notebooks; none may cost a point.
    nbs = students_copy()
    cell = _function_cell(nbs, WRONG_TYPE_FUNCTION)
    node = _function_node(cell.source, WRONG_TYPE_FUNCTION)
    lines = cell.source.splitlines()
    indent = " " * node.body[0].col_offset
    debug = [indent + line for line in DEBUG_TO_STDERR.splitlines()]
    lines[node.body[0].lineno - 1 : node.body[0].lineno - 1] = debug
    cell.source = "\n".join(lines)
    students["stderr_debug_print"] = nbs

    nbs = students_copy()
    answer = first_answer(nbs, first)
    pasted = copy.deepcopy(answer)  # JupyterLab's copy-paste: new cell id, same metadata
    pasted["id"] = f"{answer.get('id', 'cell')}-copy"[:64]
    nbs[first].cells.insert(nbs[first].cells.index(answer) + 1, pasted)
    students["duplicated_cell"] = nbs

    nbs = students_copy()
    for cell in nbs[first].cells:
        cell.metadata.pop("nbgrader", None)
    students["stripped_metadata"] = nbs
    return students



def build_example_class(
    release_dir, source_dir, dest, assignment: str | None = None, config_file=CONFIG_FILE
) -> list[str]:
    """Write the example class as ``dest/<student_id>/<assignment>/<notebook>.ipynb``.

    Parameters
    ----------
    release_dir : path-like
        Released notebooks of one assignment (``release/<assignment>``).
    source_dir : path-like
        The instructor's source notebooks of the same assignment.
    dest : path-like
        Submissions folder to create (existing student folders are replaced).
    assignment : str, optional
        Folder name under each student; default is the release folder's name.

    Returns
    -------
    list of str
        The student ids written.
    """
    release_dir, source_dir, dest = Path(release_dir), Path(source_dir), Path(dest)
    assignment = assignment or release_dir.name
    names = notebook_names(release_dir)
    if not names:
        raise ValueError(f"no released notebooks in {release_dir}; run `make release` first")
    blank = {name: nbformat.read(release_dir / name, as_version=4) for name in names}
    solved = {
        name: solve(blank[name], nbformat.read(source_dir / name, as_version=4), config_file)
        for name in names
    }
    students = example_class(solved, blank, source_dir)
    for student_id, notebooks in students.items():
        folder = dest / student_id / assignment
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name, content in notebooks.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Symlink):
                path.symlink_to(content)
            elif isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                nbformat.write(content, path)
    return sorted(students)
