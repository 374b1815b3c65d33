"""Keep hidden tests out of feedback tracebacks.

nbgrader's ClearHiddenTests removes the hidden block from a test cell's source, but
the cell's error output still quotes the source around the failing line: a failing
visible assert shows the hidden lines below it, a failing hidden assert shows
itself. This preprocessor, run before ClearHiddenTests in GenerateFeedback, blanks
those quoted lines.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
PLACEHOLDER = "    (hidden test line)"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def hidden_lines(source: str) -> list[str]:
    """Return the stripped, non-blank lines between the hidden-test delimiters of `source`."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def scrub(text: str, hidden: list[str]) -> str:
    """Replace every line of `text` that quotes a hidden line (ANSI colours ignored)."""
    kept = []
    for line in text.split("\n"):
        plain = ANSI.sub("", line)
        kept.append(PLACEHOLDER if any(h in plain for h in hidden) else line)
    return "\n".join(kept)


class ScrubHiddenTracebacks(NbGraderPreprocessor):
    """Blank hidden-test source lines quoted in the error outputs of a test cell."""

    def preprocess_cell(self, cell, resources, index):
        hidden = hidden_lines(cell.source) if cell.cell_type == "code" else []
        for output in cell.get("outputs", []) if hidden else []:
            if output.get("output_type") == "error":
                output.traceback = [scrub(entry, hidden) for entry in output.traceback]
        return cell, resources
