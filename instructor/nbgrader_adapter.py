"""The course's pieces for nbgrader: its sanitizing chain, a faster metadata check, shared
gradebook engines, and ``TrustedExecute`` for nbgrader's own ``autograde`` command.

``make grade`` runs the stages of :mod:`instructor.grade` and uses nbgrader's preprocessors
from ``nbgrader_config.py`` directly. ``TrustedExecute`` takes the place of nbgrader's
``Execute`` in ``c.Autograde.autograde_preprocessors``, so that ``nbgrader autograde`` run by
hand in a course folder grades the same way: the kernel runs in the sandbox (unless
``TrustedExecute.sandbox = False``), and test cells run on the grader's side, from the
instructor's source notebook, their outputs the judge's report alone.
"""

from __future__ import annotations

import functools
import json
import traceback
from pathlib import Path

import jsonschema
import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    OverwriteCells,
    OverwriteKernelspec,
)
from traitlets import Bool, List, Unicode

from instructor import execution

REPORT_PREFIX = ".judge-"


# jsonschema validators of nbgrader's cell schemas, by schema version.
_SCHEMA_VALIDATORS: dict[int, object] = {}


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's schema validation of one cell's metadata, the schema itself checked once.

    ``jsonschema.validate``, which nbgrader calls for every cell, first checks the schema
    against its metaschema: three quarters of an autograde's time went there. Every cell
    is still validated against the schema; a cell of another schema version goes to
    nbgrader's own code, and its own errors.
    """

    def validate_cell(self, cell):
        meta = cell.metadata.get("nbgrader")
        if not isinstance(meta, dict) or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)
        validator = _SCHEMA_VALIDATORS.get(self.schema_version)
        if validator is None:
            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            validator = _SCHEMA_VALIDATORS[self.schema_version] = kind(self.schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(meta))
        if error is not None:
            raise error
        return None


class FastMetadataValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's MetadataValidator (all its rules) over the once-checked schema."""


class CheckCellMetadataOnce(CheckCellMetadata):
    """nbgrader's CheckCellMetadata, validating with :class:`FastMetadataValidator`."""

    def preprocess(self, nb, resources):
        try:
            FastMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message) from None
        return nb, resources


# nbgrader's default sanitizing chain (Autograde.sanitize_preprocessors), metadata checked
# by the faster, equivalent preprocessor.
SANITIZE = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadataOnce
]

def share_gradebook_engines() -> None:
    """Give every nbgrader Gradebook of this process one SQLAlchemy engine per database URL.

    nbgrader's ``Gradebook`` creates an engine each time it is opened (some forty times per
    student while grading: autograde, its preprocessors, feedback) and disposes of it on
    close. SQLAlchemy caches compiled SQL per engine, so every query was compiled again each
    time. A shared engine keeps that cache; closing a Gradebook still closes its connections
    (``dispose`` empties the pool, and the engine makes a new one when next used).
    """
    import nbgrader.api

    if getattr(nbgrader.api.create_engine, "shared_per_url", False):
        return
    # nbgrader passes the URL and hashable options (echo, future): they are the cache's key.
    shared_engine = functools.cache(nbgrader.api.create_engine)
    shared_engine.shared_per_url = True
    nbgrader.api.create_engine = shared_engine


class TrustedExecute(Execute):
    """Run a submission in the sandbox and judge its test cells outside it."""

    sandbox = Bool(
        True, help="Run student kernels in the bubblewrap sandbox (False only for a trusted class)."
    ).tag(config=True)
    hide = List(
        Unicode(), help="Folders the kernel must not see (the course folder is always hidden)."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        """Execute ``nb`` and replace its test cells' outputs with the judge's reports."""
        info = resources["nbgrader"]
        source_nb = self._source_notebook(info["assignment"], info["notebook"])
        coursedir = CourseDirectory(config=self.config)
        run = execution.execute_and_judge(
            nb,
            source_nb,
            sandboxed=self.sandbox,
            timeout=self.timeout,
            hide=[coursedir.root, *self.hide],
        )
        for problem in run.problems:
            self.log.warning("%s: %s", info["notebook"], problem)
        return run.notebook, resources

    def _source_notebook(self, assignment, notebook):
        """The instructor's copy: the course folder's source notebook (never the student's)."""
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        return nbformat.read(path / f"{notebook}.ipynb", as_version=4)


class GradebookSnapshot:
    """What nbgrader's sanitizing reads from the gradebook, read once: one assignment's
    notebooks (kernelspec) and cells (source, type, locked, checksum, points).

    The gradebook's record of an assignment does not change while a class is graded (it is
    checked against the sources first), and the sanitizing chain asked it a dozen queries
    per notebook.
    """

    def __init__(self, db_url: str, course_id: str, assignment: str):
        from types import SimpleNamespace as Record

        from nbgrader.api import Gradebook

        self.assignment = assignment
        self.notebooks = {}
        with Gradebook(db_url, course_id) as gb:
            for nb in gb.find_assignment(assignment).notebooks:
                self.notebooks[nb.name] = Record(
                    name=nb.name,
                    kernelspec=nb.kernelspec,
                    source_cells=[
                        Record(name=c.name, cell_type=c.cell_type, locked=c.locked,
                               checksum=c.checksum, source=c.source)
                        for c in nb.source_cells
                    ],
                    grade_cells=[
                        Record(name=c.name, max_score=c.max_score, cell_type=c.cell_type)
                        for c in nb.grade_cells
                    ],
                    solution_cells=[Record(name=c.name) for c in nb.solution_cells],
                    task_cells=[
                        Record(name=c.name, max_score=c.max_score, cell_type=c.cell_type)
                        for c in nb.task_cells
                    ],
                )

    def find_notebook(self, notebook: str, assignment: str):
        from nbgrader.api import MissingEntry

        if assignment != self.assignment or notebook not in self.notebooks:
            raise MissingEntry()
        return self.notebooks[notebook]

    def _find(self, kinds, name, notebook, assignment):
        from nbgrader.api import MissingEntry

        found = self.find_notebook(notebook, assignment)
        for kind in kinds:
            for cell in getattr(found, kind):
                if cell.name == name:
                    return cell
        raise MissingEntry()

    def find_source_cell(self, name, notebook, assignment):
        return self._find(["source_cells"], name, notebook, assignment)

    def find_graded_cell(self, name, notebook, assignment):
        return self._find(["grade_cells", "task_cells"], name, notebook, assignment)


class OverwriteCellsFromSnapshot(OverwriteCells):
    """nbgrader's OverwriteCells, reading a :class:`GradebookSnapshot` (``snapshot``)."""

    snapshot = None

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.gradebook = self.snapshot
        nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class OverwriteKernelspecFromSnapshot(OverwriteKernelspec):
    """nbgrader's OverwriteKernelspec, reading a :class:`GradebookSnapshot` (``snapshot``)."""

    snapshot = None

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        kernelspec = self.snapshot.find_notebook(info["notebook"], info["assignment"]).kernelspec
        if kernelspec is not None:
            kernelspec = json.loads(kernelspec)
        if kernelspec:
            nb.metadata["kernelspec"] = kernelspec
        return nb, resources


def sanitizers(config, snapshot: GradebookSnapshot) -> list:
    """nbgrader's sanitizing chain of ``config``, reading the gradebook from ``snapshot``."""
    chain = []
    for kind in config.Autograde.get("sanitize_preprocessors", SANITIZE):
        for theirs, ours in ((OverwriteCells, OverwriteCellsFromSnapshot),
                             (OverwriteKernelspec, OverwriteKernelspecFromSnapshot)):
            if kind is theirs:
                kind = ours
        preprocessor = kind(config=config)
        if hasattr(kind, "snapshot"):
            preprocessor.snapshot = snapshot
        chain.append(preprocessor)
    return chain
