"""nbgrader configuration: maps nbgrader's course folders onto this repository."""

import sys
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

# nbgrader's console scripts (and the lab extension) do not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from instructor.feedback import (
    FeedbackExporter,
    InertOutputMetadata,
    SanitizedMarkdown,
    ScrubHiddenTracebacks,
)
from instructor.limits import CELL_TIMEOUT_SECONDS
from instructor.nbgrader_adapter import SANITIZE, CheckCellMetadataOnce, TrustedExecute

c = get_config()

c.CourseDirectory.course_id = "gradient-checking"
# notebooks/ is the only editable copy; release/ is generated from it by `make release`.
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.release_directory = "release"

# A looping answer cell is interrupted after this many seconds; later cells still run.
c.Execute.timeout = CELL_TIMEOUT_SECONDS

# Student code runs only in a sandboxed kernel, and tests are judged outside it: nbgrader's
# Execute is replaced by TrustedExecute (instructor/nbgrader_adapter.py). CheckCellMetadata
# is replaced by CheckCellMetadataOnce (the same rules, the schema checked once, not once a
# cell); the rest of nbgrader's autograde chain is unchanged.
c.Autograde.sanitize_preprocessors = SANITIZE
c.Autograde.autograde_preprocessors = [
    TrustedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadataOnce,
]

# A deleted test cell is put back from the gradebook instead of becoming "needs manual grade".
c.OverwriteCells.add_missing_cells = True

# Feedback must never show hidden tests: nbgrader's default feedback keeps them, and even
# with ClearHiddenTests a traceback (say, a NameError in a test cell) quotes the whole cell,
# so quoted hidden lines are blanked first.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ScrubHiddenTracebacks,
    ClearHiddenTests,
    CSSHTMLHeaderPreprocessor,
]
# The same pages as nbgrader's HTMLExporter makes, in half the time (instructor/feedback.py).
c.GenerateFeedback.exporter_class = FeedbackExporter

# Feedback and Formgrader pages are served from the course's Jupyter server: nothing a student
# wrote or displayed may become script there (it would run with the instructor's session).
# These settings reach every HTMLExporter nbgrader makes, Formgrader's included.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"markdown2html": SanitizedMarkdown}
c.HTMLExporter.preprocessors = [InertOutputMetadata]

# Each kernel would otherwise print ipykernel's "running over TCP" warning into the log.
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# `nbgrader export` in a course folder rewrites its grades.csv from the gradebook (manual grades
# from Formgrader included), and canvas.csv too when ROSTER names a roster. The string is
# imported only when the export runs.
c.ExportApp.plugin_class = "instructor.export.GradesExportPlugin"
