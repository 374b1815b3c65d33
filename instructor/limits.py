"""Grading's named limits, defined once: time-outs, caps, budgets and batches.

Each module that enforces one imports it from here; :class:`instructor.sandbox.Limits`
takes its defaults from the ``KERNEL_*`` caps below.
"""

# Time-outs and budgets.
# A looping cell is interrupted after this many seconds, and a call a test makes into the
# student's kernel gets as long; later cells still run (nbgrader_config.py: Execute.timeout).
CELL_TIMEOUT_SECONDS = 15
# How long the kernel gets to answer an interrupt before it is stopped for good.
INTERRUPT_GRACE_SECONDS = 5.0
# What all the calls the tests of one notebook make may take together.
NOTEBOOK_BUDGET_SECONDS = 240.0
# What running all of one notebook's cells may take together: past it, the cells left are not
# run and the status says so. Without it, cells that each stop just short of the cell
# timeout (a student may add any number) would hold a worker for as long as they like.
NOTEBOOK_RUN_SECONDS = 300.0

# What the judge takes from the kernel and gives back.
# What the kernel may ask of the grader's own functions (callbacks) during one call.
MAX_CALLBACKS_PER_CALL = 5000
MAX_CALLBACK_REQUEST_CHARS = 4 * 2**20
MAX_CALLBACK_REPLY_CHARS = 16 * 2**20
# What one test cell may print on the grader's side (visible-check lines).
MAX_REPORT_CHARS = 20_000

# One sandboxed kernel (the defaults of instructor.sandbox.Limits; see its docstring).
KERNEL_MEMORY_BYTES = 2 * 2**30
KERNEL_PROCESSES = 64
KERNEL_CPU_SECONDS = 120
KERNEL_FILE_SIZE_BYTES = 16 * 2**20
# Output a notebook may produce (streams and displays) in the sandbox.
KERNEL_OUTPUT_BYTES = 2**20
KERNEL_DISK_BYTES = 32 * 2**20
KERNEL_DISK_FILES = 10_000
# Open files of each process: memfd and pipe memory escapes the address-space cap.
KERNEL_OPEN_FILES = 128
# What a trusted class's kernel may print when it runs without the sandbox's limits.
UNSANDBOXED_OUTPUT_BYTES = 2 * 2**20
# The largest message the grader accepts from a kernel, and how many unread messages each
# of its sockets may hold: whatever a kernel sends, a channel holds at most their product
# (a notebook's whole output is capped at far less; results and callbacks are small).
MAX_KERNEL_MESSAGE_BYTES = 8 * 2**20
MAX_QUEUED_MESSAGES = 8
# A folder with less room left than this is full (a file's last block may not fit).
DISK_FULL_MARGIN_BYTES = 256 * 2**10
# The most entries of the caller's work folder copied into the sandbox.
MAX_COPIED_ENTRIES = 1000

# What the grader reads and writes.
# A submitted notebook larger than this is not read (the course's are a few hundred kB).
MAX_NOTEBOOK_BYTES = 20 * 2**20
# A submitted notebook with more cells than this is not read (the course's have under 60).
# Each cell costs the grader time and feedback pages size of its own, so many tiny cells
# cost far more than their bytes: 100,000 cells (7 MB) took 50 s to grade and 26 MB of
# feedback, where the notebook alone takes a few seconds.
MAX_NOTEBOOK_CELLS = 2000
# Each student-controlled part of a status (a file name, an exception's message) is cut to
# this, so that it cannot crowd out the rest.
MAX_DETAIL_CHARS = 200
# The single writer commits this many students in one transaction, or what came in this
# many seconds, whichever is first.
BATCH_STUDENTS = 50
BATCH_SECONDS = 5.0
