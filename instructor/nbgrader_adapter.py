"""nbgrader's autograde step with the sandboxed kernel and the trusted judge plugged in.

``TrustedExecute`` takes the place of nbgrader's ``Execute`` in
``c.Autograde.autograde_preprocessors`` (see nbgrader_config.py), so nbgrader's own
sanitizing before it (restoring locked and test cells from the gradebook) and its scoring,
gradebook writes and feedback after it stay as they are. What it changes:

- the kernel runs in the sandbox (unless ``TrustedExecute.sandbox = False``);
- test cells run on the grader's side, from the instructor's source notebook, and their
  outputs are the judge's report alone (so no stderr of the student's, and no text the
  student printed, can change a score);
- what happened (time-outs, a dead kernel, output cut) is written beside the graded notebook
  as ``.judge-<notebook>.json`` for the grader's status column.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Bool

from instructor import execution

REPORT_PREFIX = ".judge-"


def report_path(autograded_folder: Path, notebook: str) -> Path:
    """Where TrustedExecute leaves its report for ``notebook`` (a name without .ipynb)."""
    return Path(autograded_folder) / f"{REPORT_PREFIX}{notebook}.json"


class TrustedExecute(Execute):
    """Run a submission in the sandbox and judge its test cells outside it."""

    sandbox = Bool(
        True, help="Run student kernels in the bubblewrap sandbox (False only for a trusted class)."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        """Execute ``nb`` and replace its test cells' outputs with the judge's reports."""
        info = resources["nbgrader"]
        source_nb = self._source_notebook(info["assignment"], info["notebook"])
        run = execution.execute_and_judge(
            nb, source_nb, sandboxed=self.sandbox, timeout=self.timeout
        )
        folder = resources.get("metadata", {}).get("path")
        if folder:
            report = {
                "problems": run.problems,
                "sandbox": bool(self.sandbox),
                "failed_tests": [v.grade_id for v in run.verdicts if not v.passed],
            }
            report_path(folder, info["notebook"]).write_text(json.dumps(report, indent=1))
        return run.notebook, resources

    def _source_notebook(self, assignment, notebook):
        """The instructor's copy: the course folder's source notebook (never the student's)."""
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        return nbformat.read(path / f"{notebook}.ipynb", as_version=4)
