"""What a notebook cell is for grading, decided in one place, on nbgrader's own rules.

nbgrader marks a cell's role in its metadata (``nbgrader.utils``: ``is_grade``,
``is_solution``, ``is_locked``, ``is_task``); the roles below name the combinations the
course uses. Every function takes any cell a student could hand in: metadata that is
missing, not a dict, or has no grade_id makes a cell no role at all (nbgrader's own
functions raise on some of these).
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

# nbgrader's delimiters, as its ClearSolutions and ClearHiddenTests find them in a line.
BEGIN_SOLUTION = ClearSolutions.begin_solution_delimeter.default_value
END_SOLUTION = ClearSolutions.end_solution_delimeter.default_value
BEGIN_HIDDEN = ClearHiddenTests.begin_test_delimeter.default_value
END_HIDDEN = ClearHiddenTests.end_test_delimeter.default_value


def hidden_lines(source: str) -> list[str]:
    """The stripped, non-blank lines between the hidden-test delimiters of ``source``."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def meta(cell) -> dict:
    """A cell's nbgrader metadata, ``{}`` when absent or not a dict."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    found = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def grade_id(cell) -> str | None:
    """A cell's grade_id when it is a non-empty string, else None."""
    found = meta(cell).get("grade_id")
    return found if isinstance(found, str) and found else None


def _nbgrader(cell) -> bool:
    """True when nbgrader's ``utils`` can read the cell's role."""
    return bool(meta(cell)) and isinstance(cell.get("metadata"), dict)


def is_test(cell) -> bool:
    """An autograder test: a graded code cell that is not an answer."""
    return (
        _nbgrader(cell)
        and cell.get("cell_type") == "code"
        and utils.is_grade(cell)
        and not utils.is_solution(cell)
    )


def is_answer(cell) -> bool:
    """A cell the student writes (code or text)."""
    return _nbgrader(cell) and utils.is_solution(cell)


def is_autograded_answer(cell) -> bool:
    """Code the student writes and the tests grade (no points of its own): the functions
    the judge calls."""
    return (
        _nbgrader(cell)
        and cell.get("cell_type") == "code"
        and utils.is_solution(cell)
        and not utils.is_grade(cell)
    )


def is_graded(cell) -> bool:
    """A cell with points: a test, a written or coded answer graded by hand, or a task."""
    return _nbgrader(cell) and (utils.is_grade(cell) or utils.is_task(cell))


def is_given(cell) -> bool:
    """Locked code the notebook gives (imports, the network), neither test nor answer."""
    return (
        _nbgrader(cell)
        and cell.get("cell_type") == "code"
        and utils.is_locked(cell)
        and not utils.is_grade(cell)
        and not utils.is_solution(cell)
    )


def is_locked(cell) -> bool:
    """A cell nbgrader restores from the gradebook into every submission: a test or given
    code or text (an answer never is)."""
    return _nbgrader(cell) and utils.is_locked(cell)


def has_comment(cell) -> bool:
    """A cell that gets a comment in the gradebook: an answer or a task."""
    return _nbgrader(cell) and (utils.is_solution(cell) or utils.is_task(cell))
