"""nbgrader configuration: maps nbgrader's course folders onto this repository."""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()

c.CourseDirectory.course_id = "gradient-checking"
# notebooks/ is the only editable copy; release/ is generated from it by `make release`.
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.release_directory = "release"

# A looping answer cell is interrupted after this many seconds; later cells still run.
c.Execute.timeout = 15

# A deleted test cell is put back from the gradebook instead of becoming "needs manual grade".
c.OverwriteCells.add_missing_cells = True

# Feedback must never show hidden tests (nbgrader's default feedback keeps them).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
