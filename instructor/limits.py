"""Grading's named limits, defined once: time-outs, sizes and batches.

The sandbox's own caps (memory, processes, CPU, disk, output of a sandboxed kernel) are
:class:`instructor.sandbox.Limits`; the judge's budgets are in :mod:`instructor.judge`.
"""

# A looping cell is interrupted after this many seconds, and a call a test makes into the
# student's kernel gets as long; later cells still run (nbgrader_config.py: Execute.timeout).
CELL_TIMEOUT_SECONDS = 15
# A submitted notebook larger than this is not read (the course's are a few hundred kB).
MAX_NOTEBOOK_BYTES = 20 * 2**20
# Each student-controlled part of a status (a file name, an exception's message) is cut to
# this, so that it cannot crowd out the rest.
MAX_DETAIL_CHARS = 200
# The single writer commits this many students in one transaction, or what came in this
# many seconds, whichever is first.
BATCH_STUDENTS = 50
BATCH_SECONDS = 5.0
